import { screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";

import { ok, refused, renderScreen, serve, signInAs } from "@/test/api";

import AuditLogPage from "./index";

const entry = (seq: number, over: Record<string, unknown> = {}) => ({
  seq,
  institution_id: "inst_1",
  actor_id: "usr_1",
  actor_role: "admin",
  action: "branches.create",
  target_kind: "branches",
  target_id: "",
  request_id: `req${seq}`,
  time: "2026-03-31T09:30:00.123Z",
  summary_json: '{"name":"Kisumu"}',
  prev_hash: "0".repeat(64),
  hash: "a".repeat(64),
  ...over,
});

function gateway(verification: Record<string, unknown>) {
  return serve({
    "GET /v1/audit-log": (init) =>
      init.params?.query?.page_token
        ? ok({ items: [entry(1, { actor_id: "usr_platform", actor_role: "platform_admin" })], next_page_token: "" })
        : ok({ items: [entry(2, { action: "loans.approve", target_kind: "loans", target_id: "loan_9" })], next_page_token: "p2" }),
    "GET /v1/audit-log/verify": () => ok(verification),
    "GET /v1/users/{user_id}": (init) =>
      init.params?.path?.user_id === "usr_1"
        ? ok({ id: "usr_1", full_name: "Amina Admin" })
        : refused(404, { detail: "no such user" }),
  });
}

describe("audit log", () => {
  it("lists entries with who, what and the request, paging with Load more", async () => {
    signInAs({ role: "auditor", permissions: ["audit:read", "users:read"] });
    gateway({ ok: true, checked: 2, first_bad_seq: 0, reason: "" });
    renderScreen(<AuditLogPage />);
    const first = (await screen.findByText("req2")).closest("tr")!;
    expect(within(first).getByText("2026-03-31 09:30:00 UTC")).toBeInTheDocument();
    expect(await within(first).findByText("Amina Admin")).toBeInTheDocument();
    expect(within(first).getByText("loans.approve")).toBeInTheDocument();
    expect(within(first).getByText("loan_9")).toBeInTheDocument();
    await userEvent.click(screen.getByRole("button", { name: "Load more" }));
    const older = (await screen.findByText("req1")).closest("tr")!;
    // Someone outside the institution's staff (the platform administrator) shows as their id.
    expect(within(older).getByText("usr_platform")).toBeInTheDocument();
    expect(within(older).getByText(/Platform admin/)).toBeInTheDocument();
    expect(screen.queryByRole("button", { name: "Load more" })).toBeNull();
  });

  it("says the chain is intact", async () => {
    signInAs({ role: "auditor", permissions: ["audit:read"] });
    gateway({ ok: true, checked: 1842, first_bad_seq: 0, reason: "" });
    renderScreen(<AuditLogPage />);
    await userEvent.click(screen.getByRole("button", { name: "Verify chain" }));
    expect(await screen.findByRole("status")).toHaveTextContent("The chain is intact: 1842 entries checked.");
  });

  it("says where the chain is broken and why, as an alert", async () => {
    signInAs({ role: "auditor", permissions: ["audit:read"] });
    gateway({ ok: false, checked: 41, first_bad_seq: 42, reason: "HASH_MISMATCH" });
    renderScreen(<AuditLogPage />);
    await userEvent.click(screen.getByRole("button", { name: "Verify chain" }));
    expect(await screen.findByRole("alert")).toHaveTextContent(
      "The chain is broken at entry 42: the entry was edited. The 41 entries before it are intact.",
    );
  });
});
