import { screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";

import { ok, refused, renderScreen, serve, signInAs, type Init } from "@/test/api";

import SettingsPage from "./index";
import { bodyOf, check, draftOf, withBucket } from "./loanDraft";

const ADMIN = ["settings:read", "settings:manage", "security_policy:read", "security_policy:manage", "institutions:read"];

const settings = {
  institution_id: "inst_1",
  approval_limits: { admin: null, branch_manager: "50000.00" },
  delinquency_buckets: [
    { name: "current", min_days: 0, max_days: 0 },
    { name: "1-30", min_days: 1, max_days: 30 },
    { name: "over_30", min_days: 31, max_days: null },
  ],
  business_date: null,
};

function gateway(put: (init: Init) => ReturnType<typeof ok> = (init) => ok({ ...settings, ...(init.body as object) })) {
  return serve({
    "GET /v1/institutions/{institution_id}": () => ok({ id: "inst_1", name: "Umoja", currency: "KES" }),
    "GET /v1/institutions/{institution_id}/security-policy": () =>
      ok({ institution_id: "inst_1", mfa_required_roles: ["admin"], update_time: null, updated_by: null }),
    "PUT /v1/institutions/{institution_id}/security-policy": (init) =>
      ok({ institution_id: "inst_1", ...(init.body as object), update_time: "2026-03-31T09:30:00Z", updated_by: "usr_me" }),
    "GET /v1/institutions/{institution_id}/loan-settings": () => ok(settings),
    "PUT /v1/institutions/{institution_id}/loan-settings": put,
  });
}

describe("loan settings draft", () => {
  it("round-trips the settings, an empty limit or max meaning none", () => {
    const draft = draftOf(settings);
    expect(draft.limits).toEqual({ admin: "", branch_manager: "50000.00" });
    expect(draft.buckets[2]).toEqual({ name: "over_30", min: "31", max: "" });
    expect(bodyOf(draft)).toEqual({
      approval_limits: settings.approval_limits,
      delinquency_buckets: settings.delinquency_buckets,
    });
  });

  it("checks formats under the server's field names", () => {
    const draft = draftOf(settings);
    draft.limits.admin = "lots";
    draft.buckets[1] = { name: " ", min: "1", max: "3.5" };
    expect(check(draft)).toEqual({
      "approval_limits.admin": "Enter an amount like 50000 or 50000.50.",
      "delinquency_buckets[1].name": "Required.",
      "delinquency_buckets[1].max_days": "Enter a whole number of days (0 or more).",
    });
  });

  it("starts a new bucket the day after the last closed one", () => {
    expect(withBucket([{ name: "a", min: "0", max: "9" }])).toEqual([
      { name: "a", min: "0", max: "9" },
      { name: "", min: "10", max: "" },
    ]);
  });
});

describe("settings", () => {
  it("shows the server's bucket error beside the cell it names", async () => {
    signInAs({ role: "admin", permissions: ADMIN });
    const calls = gateway(() =>
      refused(422, {
        detail: "the delinquency buckets are invalid",
        errors: [{ field: "delinquency_buckets[1].max_days", message: "must not be below min_days" }],
      }),
    );
    renderScreen(<SettingsPage />);
    const max = await screen.findByLabelText("Max days, bucket 2");
    await userEvent.clear(max);
    await userEvent.type(max, "0");
    await userEvent.click(screen.getByRole("button", { name: "Save loan settings" }));
    await waitFor(() => expect(max).toHaveAccessibleDescription("must not be below min_days"));
    expect(max).toHaveAttribute("aria-invalid", "true");
    expect(screen.queryByRole("alert")).toBeNull();
    const sent = calls.find((c) => c.route.startsWith("PUT") && c.route.endsWith("loan-settings"));
    expect((sent?.init.body as { delinquency_buckets: unknown[] }).delinquency_buckets[1]).toEqual({
      name: "1-30",
      min_days: 1,
      max_days: 0,
    });
  });

  it("checks formats before sending, and saves limits and buckets together", async () => {
    signInAs({ role: "admin", permissions: ADMIN });
    const calls = gateway();
    renderScreen(<SettingsPage />);
    const limit = await screen.findByLabelText("Approval limit: Branch manager");
    await userEvent.clear(limit);
    await userEvent.type(limit, "a lot");
    await userEvent.click(screen.getByRole("button", { name: "Save loan settings" }));
    expect(limit).toHaveAccessibleDescription(expect.stringContaining("Enter an amount like 50000"));
    expect(calls.some((c) => c.route.startsWith("PUT"))).toBe(false);
    await userEvent.clear(limit);
    await userEvent.click(screen.getByRole("button", { name: "Remove bucket 3" }));
    await userEvent.clear(screen.getByLabelText("Max days, bucket 2"));
    await userEvent.click(screen.getByRole("button", { name: "Save loan settings" }));
    expect(await screen.findByRole("status")).toHaveTextContent("Saved.");
    expect(calls.find((c) => c.route.startsWith("PUT"))?.init.body).toEqual({
      approval_limits: { admin: null, branch_manager: null },
      delinquency_buckets: [
        { name: "current", min_days: 0, max_days: 0 },
        { name: "1-30", min_days: 1, max_days: null },
      ],
    });
  });

  it("saves which roles must use a second factor", async () => {
    signInAs({ role: "admin", permissions: ADMIN });
    const calls = gateway();
    renderScreen(<SettingsPage />);
    expect(await screen.findByRole("checkbox", { name: "Admin" })).toBeChecked();
    await userEvent.click(screen.getByRole("checkbox", { name: "Branch manager" }));
    await userEvent.click(screen.getByRole("button", { name: "Save security policy" }));
    expect(await screen.findByText("Last changed 2026-03-31.")).toBeInTheDocument();
    expect(calls.find((c) => c.route.endsWith("security-policy") && c.route.startsWith("PUT"))?.init.body).toEqual({
      mfa_required_roles: ["admin", "branch_manager"],
    });
  });

  it("is read-only for a role that may only read, without asking for the security policy", async () => {
    signInAs({ role: "branch_manager", permissions: ["settings:read", "institutions:read"] });
    const calls = gateway();
    renderScreen(<SettingsPage />);
    expect(await screen.findByLabelText("Max days, bucket 2")).toHaveAttribute("readonly");
    expect(screen.queryByRole("button")).toBeNull();
    expect(screen.queryByRole("heading", { name: "Security policy" })).toBeNull();
    expect(calls.some((c) => c.route.endsWith("security-policy"))).toBe(false);
  });
});
