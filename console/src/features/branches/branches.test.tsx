import { screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";

import { ok, refused, renderScreen, serve, signInAs } from "@/test/api";

import BranchesPage from "./index";

describe("branches", () => {
  it("creates a branch and lists it", async () => {
    signInAs({ role: "admin", permissions: ["branches:read", "branches:create"] });
    const branches = [{ id: "br_1", institution_id: "inst_1", name: "Kisumu" }];
    serve({
      "GET /v1/branches": () => ok({ items: [...branches], next_page_token: "" }),
      "POST /v1/branches": (init) => {
        const made = { id: "br_2", institution_id: "inst_1", ...(init.body as { name: string }) };
        branches.push(made);
        return ok(made, 201);
      },
    });
    renderScreen(<BranchesPage />);
    await screen.findByRole("cell", { name: "Kisumu" });
    await userEvent.click(screen.getByRole("button", { name: "New branch" }));
    await userEvent.type(screen.getByLabelText("Name"), "Eldoret");
    await userEvent.click(screen.getByRole("button", { name: "Create branch" }));
    expect(await screen.findByRole("status")).toHaveTextContent("Branch Eldoret created.");
    expect(await within(screen.getByRole("table")).findByRole("cell", { name: "Eldoret" })).toBeInTheDocument();
  });

  it("says a refusal beside the name", async () => {
    signInAs({ role: "admin", permissions: ["branches:read", "branches:create"] });
    serve({
      "GET /v1/branches": () => ok({ items: [], next_page_token: "" }),
      "POST /v1/branches": () =>
        refused(409, { detail: "A branch of that name exists.", errors: [{ field: "name", message: "already exists" }] }),
    });
    renderScreen(<BranchesPage />);
    await userEvent.click(await screen.findByRole("button", { name: "New branch" }));
    await userEvent.type(screen.getByLabelText("Name"), "Kisumu");
    await userEvent.click(screen.getByRole("button", { name: "Create branch" }));
    expect(await screen.findByText("already exists")).toBeInTheDocument();
    expect(screen.getByLabelText("Name")).toHaveAccessibleDescription("already exists");
  });

  it("pages with Load more, and offers no new branch to a reader", async () => {
    signInAs({ role: "agent", permissions: ["branches:read"] });
    serve({
      "GET /v1/branches": (init) =>
        init.params?.query?.page_token
          ? ok({ items: [{ id: "br_2", institution_id: "inst_1", name: "Eldoret" }], next_page_token: "" })
          : ok({ items: [{ id: "br_1", institution_id: "inst_1", name: "Kisumu" }], next_page_token: "p2" }),
    });
    renderScreen(<BranchesPage />);
    await userEvent.click(await screen.findByRole("button", { name: "Load more" }));
    expect(await screen.findByRole("cell", { name: "Eldoret" })).toBeInTheDocument();
    expect(screen.queryByRole("button")).toBeNull();
  });
});
