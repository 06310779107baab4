import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";

import { ok, refused, renderScreen, serve, signInAs } from "@/test/api";

import InstitutionsPage from "./index";

const PLATFORM = ["institutions:create", "institutions:read", "users:create"];

describe("institutions", () => {
  it("creates an institution, then its first admin", async () => {
    signInAs({ role: "platform_admin", permissions: PLATFORM, institution_id: null });
    const made: { id: string; name: string; currency: string }[] = [];
    const calls = serve({
      "GET /v1/institutions": () => ok({ items: [...made], next_page_token: "" }),
      "POST /v1/institutions": (init) => {
        const body = init.body as { name: string; currency: string };
        made.push({ id: "inst_9", ...body });
        return ok(made[0], 201);
      },
      "POST /v1/users": (init) => ok({ id: "usr_9", ...(init.body as object) }, 201),
    });
    renderScreen(<InstitutionsPage />);
    await userEvent.click(await screen.findByRole("button", { name: "New institution" }));
    await userEvent.type(screen.getByLabelText("Name"), "Umoja Microfinance");
    await userEvent.type(screen.getByLabelText("Currency"), "kes");
    await userEvent.click(screen.getByRole("button", { name: "Create institution" }));
    const form = await screen.findByRole("form", { name: "Admin of Umoja Microfinance" });
    await userEvent.type(within(form).getByLabelText("Full name"), "Amina Admin");
    await userEvent.type(within(form).getByLabelText("Email"), "amina@umoja.test");
    await userEvent.type(within(form).getByLabelText("Initial password"), "Correct-Horse-Battery-9");
    await userEvent.click(within(form).getByRole("button", { name: "Create admin" }));
    expect(await screen.findByRole("status")).toHaveTextContent("amina@umoja.test is an admin of Umoja Microfinance");
    expect(calls.find((c) => c.route === "POST /v1/institutions")?.init.body).toEqual({
      name: "Umoja Microfinance",
      currency: "KES",
    });
    expect(calls.find((c) => c.route === "POST /v1/users")?.init.body).toEqual({
      full_name: "Amina Admin",
      email: "amina@umoja.test",
      password: "Correct-Horse-Battery-9",
      role: "admin",
      institution_id: "inst_9",
    });
    const row = (await screen.findByRole("cell", { name: "Umoja Microfinance" })).closest("tr")!;
    expect(within(row).getByRole("button", { name: "Add admin" })).toBeInTheDocument();
  });

  it("shows the server's refusal of the currency beside it", async () => {
    signInAs({ role: "platform_admin", permissions: PLATFORM, institution_id: null });
    serve({
      "GET /v1/institutions": () => ok({ items: [], next_page_token: "" }),
      "POST /v1/institutions": () =>
        refused(422, { detail: "bad currency", errors: [{ field: "currency", message: "not an ISO 4217 code" }] }),
    });
    renderScreen(<InstitutionsPage />);
    await userEvent.click(await screen.findByRole("button", { name: "New institution" }));
    await userEvent.type(screen.getByLabelText("Name"), "Umoja");
    await userEvent.type(screen.getByLabelText("Currency"), "XYZ");
    await userEvent.click(screen.getByRole("button", { name: "Create institution" }));
    await waitFor(() =>
      expect(screen.getByLabelText("Currency")).toHaveAccessibleDescription(
        expect.stringContaining("not an ISO 4217 code"),
      ),
    );
  });
});
