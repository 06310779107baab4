import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";

import { ok, refused, renderScreen, serve, signInAs } from "@/test/api";

import UsersPage from "./index";

const ADMIN = ["users:read", "users:create", "users:disable", "users:reset_password", "branches:read"];

const user = (over: Record<string, unknown>) => ({
  institution_id: "inst_1",
  branch_id: null,
  mfa_enabled: false,
  must_change_password: false,
  disabled: false,
  create_time: "2026-03-02T07:45:12.031Z",
  ...over,
});

const staff = [
  user({ id: "usr_me", email: "me@mfi.test", full_name: "Amina Admin", role: "admin", mfa_enabled: true }),
  user({ id: "usr_2", email: "otieno@mfi.test", full_name: "Otieno Agent", role: "agent", branch_id: "br_1" }),
];

function gateway(extra: Parameters<typeof serve>[0] = {}) {
  return serve({
    "GET /v1/users": () => ok({ items: staff, next_page_token: "" }),
    "GET /v1/branches": () => ok({ items: [{ id: "br_1", institution_id: "inst_1", name: "Kisumu" }], next_page_token: "" }),
    ...extra,
  });
}

describe("users", () => {
  it("lists the staff with role, branch name, second factor and status", async () => {
    signInAs({ role: "admin", permissions: ADMIN });
    gateway();
    renderScreen(<UsersPage />);
    const row = (await screen.findByRole("rowheader", { name: "Otieno Agent" })).closest("tr")!;
    expect(within(row).getByText("Agent")).toBeInTheDocument();
    expect(within(row).getByText("Kisumu")).toBeInTheDocument();
    expect(within(row).getByText("Active")).toBeInTheDocument();
    // One's own account has no actions: an admin cannot lock themself out here.
    const mine = screen.getByRole("rowheader", { name: /Amina Admin/ }).closest("tr")!;
    expect(within(mine).queryByRole("button")).toBeNull();
  });

  it("offers only the roles the caller may create, and a branch for those working in one", async () => {
    signInAs({ role: "admin", permissions: ADMIN });
    const calls = gateway({
      "POST /v1/users": (init) => ok(user({ id: "usr_3", ...(init.body as object) }), 201),
    });
    renderScreen(<UsersPage />);
    await userEvent.click(await screen.findByRole("button", { name: "New user" }));
    const role = screen.getByLabelText("Role");
    expect(within(role).getAllByRole("option").map((o) => o.getAttribute("value"))).toEqual([
      "agent",
      "branch_manager",
      "risk_officer",
      "auditor",
      "admin",
    ]);
    await userEvent.type(screen.getByLabelText("Full name"), "Wanjiru Otieno");
    await userEvent.type(screen.getByLabelText("Email"), "wanjiru@mfi.test");
    await userEvent.selectOptions(screen.getByLabelText("Branch"), "Kisumu");
    await userEvent.type(screen.getByLabelText("Initial password"), "Correct-Horse-Battery-9");
    await userEvent.click(screen.getByRole("button", { name: "Create user" }));
    expect(await screen.findByRole("status")).toHaveTextContent("Wanjiru Otieno (wanjiru@mfi.test) can sign in now.");
    expect(calls.find((c) => c.route === "POST /v1/users")?.init.body).toEqual({
      full_name: "Wanjiru Otieno",
      email: "wanjiru@mfi.test",
      role: "agent",
      password: "Correct-Horse-Battery-9",
      branch_id: "br_1",
    });
  });

  it("sends no branch for an institution-wide role and shows the server's errors beside the fields", async () => {
    signInAs({ role: "admin", permissions: ADMIN });
    const calls = gateway({
      "POST /v1/users": () =>
        refused(422, {
          detail: "The user cannot be created",
          errors: [
            { field: "email", message: "Enter a valid e-mail address, like name@example.org." },
            { field: "password", message: "Use at least 12 characters (this one has 5)." },
          ],
        }),
    });
    renderScreen(<UsersPage />);
    await userEvent.click(await screen.findByRole("button", { name: "New user" }));
    await userEvent.selectOptions(screen.getByLabelText("Role"), "auditor");
    expect(screen.queryByLabelText("Branch")).toBeNull();
    await userEvent.type(screen.getByLabelText("Full name"), "Auma");
    await userEvent.type(screen.getByLabelText("Email"), "auma@localhost");
    await userEvent.type(screen.getByLabelText("Initial password"), "short");
    await userEvent.click(screen.getByRole("button", { name: "Create user" }));
    await waitFor(() =>
      expect(screen.getByLabelText("Email")).toHaveAccessibleDescription(
        "Enter a valid e-mail address, like name@example.org.",
      ),
    );
    expect(screen.getByLabelText("Initial password")).toHaveAccessibleDescription(
      expect.stringContaining("Use at least 12 characters (this one has 5)."),
    );
    expect(screen.queryByRole("alert")).toBeNull();
    expect(calls.find((c) => c.route === "POST /v1/users")?.init.body).not.toHaveProperty("branch_id");
  });

  it("disables an account only once confirmed", async () => {
    signInAs({ role: "admin", permissions: ADMIN });
    const calls = gateway({ "POST /v1/users/{user_id}/disable": () => ok(user({ ...staff[1], disabled: true })) });
    renderScreen(<UsersPage />);
    const row = (await screen.findByRole("rowheader", { name: "Otieno Agent" })).closest("tr")!;
    await userEvent.click(within(row).getByRole("button", { name: "Disable" }));
    const ask = within(row).getByRole("alertdialog", { name: /Disable Otieno Agent\?/ });
    expect(calls.some((c) => c.route.includes("disable"))).toBe(false);
    await userEvent.click(within(ask).getByRole("button", { name: "Confirm" }));
    await waitFor(() =>
      expect(calls.find((c) => c.route === "POST /v1/users/{user_id}/disable")?.init.params?.path).toEqual({
        user_id: "usr_2",
      }),
    );
  });

  it("sets a temporary password, asking first", async () => {
    signInAs({ role: "admin", permissions: ADMIN });
    const calls = gateway({
      "POST /v1/users/{user_id}/reset-password": () => ok(user({ ...staff[1], must_change_password: true })),
    });
    renderScreen(<UsersPage />);
    const row = (await screen.findByRole("rowheader", { name: "Otieno Agent" })).closest("tr")!;
    await userEvent.click(within(row).getByRole("button", { name: "Reset password" }));
    await userEvent.click(within(row).getByRole("button", { name: "Set temporary password" }));
    await userEvent.click(within(row).getByRole("button", { name: "Confirm" }));
    expect(within(row).getByLabelText("Temporary password")).toHaveAccessibleDescription(
      expect.stringContaining("Required."),
    );
    await userEvent.type(within(row).getByLabelText("Temporary password"), "Fresh-Start-2026!");
    await userEvent.click(within(row).getByRole("button", { name: "Set temporary password" }));
    await userEvent.click(within(row).getByRole("button", { name: "Confirm" }));
    expect(await within(row).findByRole("status")).toHaveTextContent("Otieno Agent has a temporary password now");
    expect(calls.find((c) => c.route === "POST /v1/users/{user_id}/reset-password")?.init.body).toEqual({
      temporary_password: "Fresh-Start-2026!",
    });
  });

  it("shows a reader no way to change anyone", async () => {
    signInAs({ role: "auditor", permissions: ["users:read", "branches:read"] });
    gateway();
    renderScreen(<UsersPage />);
    await screen.findByRole("rowheader", { name: "Otieno Agent" });
    expect(screen.queryByRole("button")).toBeNull();
  });
});
