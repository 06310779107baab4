import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { Route, Routes } from "react-router-dom";
import { describe, expect, it } from "vitest";

import { ok, refused, renderScreen, serve, signInAs } from "@/test/api";

import Borrowers from "../index";

const AGENT = ["borrowers:read", "borrowers:create", "borrowers:update", "loans:read", "branches:read"];

const group = (over: Record<string, unknown> = {}) => ({
  id: "grp_1",
  institution_id: "inst_1",
  branch_id: "br_1",
  center_id: "ctr_1",
  name: "Tumaini",
  status: "active",
  member_ids: ["brw_1", "brw_2"],
  members: [
    { borrower_id: "brw_1", joined_on: "2026-03-01", join_reason: "founding member", left_on: null, leave_reason: "" },
    { borrower_id: "brw_2", joined_on: "2026-03-01", join_reason: "founding member", left_on: null, leave_reason: "" },
    { borrower_id: "brw_3", joined_on: "2026-03-01", join_reason: "founding member", left_on: "2026-04-01", leave_reason: "moved" },
  ],
  leader_id: "brw_1",
  secretary_id: "",
  treasurer_id: "brw_2",
  meeting_day: "thursday",
  version: 2,
  create_time: "2026-03-01T09:00:00Z",
  ...over,
});

const person = (id: string, first: string) => ({ id, first_name: first, last_name: "Otieno" });

function gateway(extra: Parameters<typeof serve>[0] = {}) {
  return serve({
    "GET /v1/institutions/{institution_id}": () => ok({ id: "inst_1", name: "MFI", currency: "KES" }),
    "GET /v1/centers": () => ok({ items: [{ id: "ctr_1", name: "Soko centre", meeting_day: "thursday" }], next_page_token: "" }),
    "GET /v1/groups": (init) =>
      ok({ items: init.params?.query?.q === "zzz" ? [] : [group({ name: "<i>Tumaini</i>" })], next_page_token: "" }),
    "GET /v1/groups/{group_id}": () => ok(group()),
    "GET /v1/borrowers/{borrower_id}": (init) =>
      ok(person(String(init.params?.path?.borrower_id), { brw_1: "Akinyi", brw_2: "Wanjiru", brw_3: "Nafula" }[String(init.params?.path?.borrower_id)] ?? "X")),
    "GET /v1/group-loans": () =>
      ok({
        items: [
          {
            id: "gln_1",
            group_id: "grp_1",
            center_id: "ctr_1",
            product_id: "prd_1",
            term: 4,
            status: "active",
            joint_liability: true,
            loans: [{ borrower_id: "brw_1", loan_id: "loan_1", principal: "10000.00", status: "active", outstanding: "8000.00", days_past_due: 19 }],
            outstanding: "8000.00",
            days_past_due: 19,
            create_time: "2026-03-02T09:00:00Z",
          },
        ],
        next_page_token: "",
      }),
    ...extra,
  });
}

function show(path: string) {
  return renderScreen(
    <Routes>
      <Route path="/borrowers/*" element={<Borrowers />} />
    </Routes>,
    path,
  );
}

describe("groups", () => {
  it("lists and searches groups, names shown as text", async () => {
    signInAs({ role: "agent", permissions: AGENT, branch_id: "br_1" });
    const calls = gateway();
    show("/borrowers/groups");
    const row = (await screen.findByRole("rowheader", { name: "<i>Tumaini</i>" })).closest("tr")!;
    expect(await within(row).findByText("Soko centre")).toBeInTheDocument();
    expect(within(row).getByText("Thursday")).toBeInTheDocument();
    expect(document.querySelector("i")).toBeNull();
    await userEvent.type(screen.getByRole("searchbox", { name: "Search groups" }), "zzz");
    expect(await screen.findByText("No groups found.")).toBeInTheDocument();
    expect(calls.some((c) => c.route === "GET /v1/groups" && c.init.params?.query?.q === "zzz")).toBe(true);
  });

  it("shows a group's members, offices, past members and group loans, and records a member leaving", async () => {
    signInAs({ role: "agent", permissions: AGENT, branch_id: "br_1" });
    const calls = gateway({
      "POST /v1/groups/{group_id}/members/{borrower_id}/leave": () =>
        refused(409, {
          detail: "borrower brw_2 has loans not yet repaid (loan_2); they leave once the loans are repaid or transferred",
          reason: "MEMBER_HAS_OPEN_LOANS",
        }),
    });
    show("/borrowers/groups/grp_1");
    expect(await screen.findByRole("heading", { level: 1, name: "Tumaini" })).toBeInTheDocument();
    const akinyi = (await screen.findByRole("rowheader", { name: "Akinyi Otieno" })).closest("tr")!;
    expect(within(akinyi).getByText("Leader")).toBeInTheDocument();
    const nafula = (await screen.findByRole("rowheader", { name: "Nafula Otieno" })).closest("tr")!;
    expect(within(nafula).getByText("2026-04-01: moved")).toBeInTheDocument();
    expect(within(nafula).queryByRole("button", { name: "Leaves the group" })).toBeNull();
    const loan = (await screen.findByRole("rowheader", { name: "2026-03-02" })).closest("tr")!;
    expect(within(loan).getByText("19")).toBeInTheDocument();

    const wanjiru = screen.getByRole("rowheader", { name: "Wanjiru Otieno" }).closest("tr")!;
    await userEvent.click(within(wanjiru).getByRole("button", { name: "Leaves the group" }));
    await userEvent.type(within(wanjiru).getByLabelText("Reason for leaving"), "moved to Nakuru");
    await userEvent.click(within(wanjiru).getByRole("button", { name: "Record leaving" }));
    expect(await within(wanjiru).findByRole("alert")).toHaveTextContent("has loans not yet repaid (loan_2)");
    expect(calls.find((c) => c.route === "POST /v1/groups/{group_id}/members/{borrower_id}/leave")?.init.body).toEqual({
      reason: "moved to Nakuru",
      expected_version: 0,
    });
  });

  it("forms a group from borrowers found by search and opens it", async () => {
    signInAs({ role: "agent", permissions: AGENT, branch_id: "br_1" });
    const calls = gateway({
      "GET /v1/borrowers": () => ok({ items: [{ ...person("brw_1", "Akinyi"), national_id: "1", phone: "+2547", branch_id: "br_1" }, { ...person("brw_2", "Wanjiru"), national_id: "2", phone: "+2547", branch_id: "br_1" }], next_page_token: "" }),
      "POST /v1/groups": (init) => ok(group({ id: "grp_9", ...(init.body as object) }), 201),
      "GET /v1/groups/{group_id}": () => ok(group({ id: "grp_9", name: "Upendo" })),
    });
    show("/borrowers/groups");
    await userEvent.click(await screen.findByRole("button", { name: "Form group" }));
    await userEvent.type(screen.getByLabelText("Group name"), "Upendo");
    await waitFor(() => expect(screen.getByRole("option", { name: "Soko centre" })).toBeInTheDocument());
    await userEvent.selectOptions(screen.getByLabelText("Centre"), "ctr_1");
    await userEvent.type(screen.getByLabelText("Find a borrower to add"), "otieno");
    await userEvent.click(await screen.findByRole("button", { name: "Add Akinyi Otieno" }));
    await userEvent.click(screen.getByRole("button", { name: "Add Wanjiru Otieno" }));
    expect(screen.getByText("Members chosen: 2")).toBeInTheDocument();
    await userEvent.click(screen.getByRole("button", { name: "Save group" }));
    expect(await screen.findByRole("heading", { level: 1, name: "Upendo" })).toBeInTheDocument();
    expect(calls.find((c) => c.route === "POST /v1/groups")?.init.body).toMatchObject({
      name: "Upendo",
      center_id: "ctr_1",
      member_ids: ["brw_1", "brw_2"],
    });
  });
});
