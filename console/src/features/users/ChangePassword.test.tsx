import { screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";

import { session } from "@/lib/session";
import { ok, refused, renderScreen, serve, signInAs } from "@/test/api";

import ChangePassword from "./ChangePassword";

describe("ChangePassword", () => {
  it("says beside the field what the server refused", async () => {
    signInAs({ role: "agent", permissions: [], must_change_password: true });
    serve({
      "POST /v1/me/password": () =>
        refused(422, {
          detail: "The current password is wrong.",
          errors: [{ field: "current_password", message: "The current password is wrong." }],
        }),
    });
    renderScreen(<ChangePassword />);
    await userEvent.type(screen.getByLabelText("Current password"), "wrong");
    await userEvent.type(screen.getByLabelText("New password"), "Fresh-Start-2026!");
    await userEvent.click(screen.getByRole("button", { name: "Change password" }));
    expect(await screen.findByText("The current password is wrong.")).toBeInTheDocument();
    expect(screen.getByLabelText("Current password")).toHaveAccessibleDescription("The current password is wrong.");
    expect(screen.queryByRole("alert")).toBeNull();
  });

  it("tells that other sessions ended, then carries on with the renewed account", async () => {
    const me = signInAs({ role: "agent", permissions: ["loans:read"], must_change_password: true });
    const calls = serve({
      "POST /v1/me/password": () => ok(undefined, 204),
      "GET /v1/me": () => ok({ ...me, must_change_password: false }),
    });
    renderScreen(<ChangePassword />);
    await userEvent.type(screen.getByLabelText("Current password"), "Temporary-Pass-1");
    await userEvent.type(screen.getByLabelText("New password"), "Fresh-Start-2026!");
    await userEvent.click(screen.getByRole("button", { name: "Change password" }));
    expect(await screen.findByRole("status")).toHaveTextContent(/other sessions have ended: sign in again there/);
    expect(calls[0].init.body).toEqual({ current_password: "Temporary-Pass-1", new_password: "Fresh-Start-2026!" });
    await userEvent.click(screen.getByRole("button", { name: "Continue" }));
    await waitFor(() => expect(session.get().me?.must_change_password).toBe(false));
  });
});
