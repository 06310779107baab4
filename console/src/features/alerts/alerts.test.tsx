import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";

import { ok, refused, renderScreen, serve, signInAs } from "@/test/api";

import Alerts from "./index";

const MANAGER = ["alerts:read", "alerts:handle", "users:read", "loans:read", "borrowers:read", "branches:read"];

const alert = (over: Record<string, unknown> = {}) => ({
  id: "alr_1",
  branch_id: "br_1",
  rule_id: "rule_1",
  trigger: "days_past_due",
  title: "Loan 8 days past due",
  detail: "Loan loan_1 has been past due since 2026-07-01 (8 days); KES 4,100.00 outstanding.",
  subject_type: "loan",
  subject_id: "loan_1",
  status: "open",
  assignee_id: null,
  roles: ["branch_manager"],
  history: [{ action: "raised", actor_id: "", time: "2026-07-09T21:00:02Z", note: "", assignee_id: null }],
  create_time: "2026-07-09T21:00:02Z",
  update_time: null,
  ...over,
});

const users = [
  { id: "usr_me", full_name: "Baraka Manager", role: "branch_manager", branch_id: "br_1", disabled: false },
  { id: "usr_agent", full_name: "Otieno Agent", role: "agent", branch_id: "br_1", disabled: false },
  { id: "usr_other", full_name: "Wafula Manager", role: "branch_manager", branch_id: "br_2", disabled: false },
  { id: "usr_admin", full_name: "Amina Admin", role: "admin", branch_id: null, disabled: false },
  { id: "usr_gone", full_name: "Gone Manager", role: "branch_manager", branch_id: "br_1", disabled: true },
].map((u) => ({ email: `${u.id}@mfi.test`, institution_id: "inst_1", mfa_enabled: false, must_change_password: false, create_time: "2026-01-01T00:00:00Z", ...u }));

function gateway(extra: Parameters<typeof serve>[0] = {}) {
  return serve({
    "GET /v1/branches": () => ok({ items: [{ id: "br_1", institution_id: "inst_1", name: "Kisumu" }], next_page_token: "" }),
    "GET /v1/users": () => ok({ items: users, next_page_token: "" }),
    "GET /v1/users/{user_id}": (init) => ok(users.find((u) => u.id === init.params?.path?.user_id)),
    "GET /v1/loans/{loan_id}": () => ok({ id: "loan_1", borrower_id: "brw_1" }),
    "GET /v1/borrowers/{borrower_id}": () => ok({ id: "brw_1", first_name: "Achieng", last_name: "Odhiambo" }),
    ...extra,
  });
}

const rowOf = async (title: string) => (await screen.findByText(title)).closest("tr")!;

describe("the alert queue", () => {
  it("lists open alerts with what they are about, and their history on demand", async () => {
    signInAs({ role: "branch_manager", permissions: MANAGER, branch_id: "br_1", full_name: "Baraka Manager" });
    const calls = gateway({
      "GET /v1/alerts": (init) =>
        ok({
          items: init.params?.query?.status === "resolved" ? [] : [alert({ title: "<img src=x onerror=alert(1)>" })],
          next_page_token: "",
        }),
    });
    renderScreen(<Alerts />);
    expect(screen.getByRole("heading", { level: 1, name: "Alerts" })).toBeInTheDocument();
    expect(screen.getByLabelText("Status")).toHaveValue("open");
    const row = await rowOf("<img src=x onerror=alert(1)>");
    for (const header of ["Raised", "Alert", "Branch", "Status", "Assigned to"])
      expect(screen.getByRole("columnheader", { name: header })).toBeInTheDocument();
    expect(document.querySelector("img")).toBeNull();
    expect(row).toHaveTextContent("2026-07-09 21:00 UTC");
    expect(row).toHaveTextContent("Open");
    expect(await within(row).findByText("Kisumu")).toBeInTheDocument();
    expect(await within(row).findByRole("link", { name: "Loan of Achieng Odhiambo" })).toHaveAttribute("href", "/loans/loan_1");
    expect(calls.find((c) => c.route === "GET /v1/alerts")?.init.params?.query).toMatchObject({ status: "open" });

    const history = within(row).getByRole("button", { name: "History" });
    expect(history).toHaveAttribute("aria-expanded", "false");
    await userEvent.click(history);
    expect(history).toHaveAttribute("aria-expanded", "true");
    expect(within(row).getByRole("list", { name: /History of/ })).toHaveTextContent("Raised by Kopa");

    await userEvent.selectOptions(screen.getByLabelText("Status"), "Resolved");
    expect(await screen.findByText("No alerts here.")).toBeInTheDocument();
    await userEvent.selectOptions(screen.getByLabelText("Status"), "All");
    await screen.findByText("<img src=x onerror=alert(1)>");
    expect(calls.filter((c) => c.route === "GET /v1/alerts").at(-1)?.init.params?.query).not.toHaveProperty("status");
  });

  it("assigns to someone who may see the alert, acknowledges, and resolves after a confirmation naming it", async () => {
    signInAs({ role: "branch_manager", permissions: MANAGER, branch_id: "br_1", full_name: "Baraka Manager" });
    let current = alert();
    const calls = gateway({
      "GET /v1/alerts": () => ok({ items: [current], next_page_token: "" }),
      "POST /v1/alerts/{alert_id}/assign": (init) => {
        const body = init.body as { assignee_id: string; note: string };
        current = alert({ assignee_id: body.assignee_id });
        return ok(current);
      },
      "POST /v1/alerts/{alert_id}/acknowledge": () => {
        current = alert({ status: "acknowledged", assignee_id: "usr_me" });
        return ok(current);
      },
      "POST /v1/alerts/{alert_id}/resolve": () => refused(409, { detail: "The alert is resolved already." }),
    });
    renderScreen(<Alerts />);
    let row = await rowOf("Loan 8 days past due");
    await userEvent.click(within(row).getByRole("button", { name: "Assign" }));
    const panel = within(row).getByRole("alertdialog", { name: "Assign “Loan 8 days past due”" });
    const select = within(panel).getByLabelText("Assign to");
    // Those who may see it: the rule names branch managers, of this branch, and admins always.
    await waitFor(() =>
      expect(within(select).getAllByRole("option").map((o) => o.textContent)).toEqual([
        "Choose a member of staff",
        "Baraka Manager (you)",
        "Amina Admin (Admin)",
      ]),
    );
    await userEvent.click(within(panel).getByRole("button", { name: "Assign" }));
    expect(select).toHaveAccessibleDescription("Choose who takes the alert.");
    await userEvent.selectOptions(select, "Baraka Manager (you)");
    await userEvent.type(within(panel).getByLabelText("Note"), "I will visit");
    await userEvent.click(within(panel).getByRole("button", { name: "Assign" }));
    expect(await screen.findByRole("status")).toHaveTextContent("“Loan 8 days past due” assigned to Baraka Manager.");
    expect(calls.find((c) => c.route === "POST /v1/alerts/{alert_id}/assign")?.init).toMatchObject({
      params: { path: { alert_id: "alr_1" } },
      body: { assignee_id: "usr_me", note: "I will visit" },
    });
    row = await rowOf("Loan 8 days past due");
    await waitFor(() => expect(row).toHaveTextContent("Baraka Manager (you)"));

    await userEvent.click(within(row).getByRole("button", { name: "Acknowledge" }));
    await waitFor(() => expect(row).toHaveTextContent("Acknowledged"));
    expect(within(row).queryByRole("button", { name: "Acknowledge" })).toBeNull();

    await userEvent.click(within(row).getByRole("button", { name: "Resolve" }));
    const confirm = within(row).getByRole("alertdialog", { name: "Resolve the alert" });
    expect(confirm).toHaveAccessibleDescription(/Resolve the alert “Loan 8 days past due”\?/);
    await userEvent.type(within(confirm).getByLabelText("Note"), "Paid today");
    await userEvent.click(within(confirm).getByRole("button", { name: "Confirm" }));
    expect(await within(confirm).findByRole("alert")).toHaveTextContent("The alert is resolved already.");
    expect(calls.find((c) => c.route === "POST /v1/alerts/{alert_id}/resolve")?.init.body).toEqual({ note: "Paid today" });
  });

  it("offers only themselves to a role that may not list staff", async () => {
    signInAs({ role: "agent", permissions: ["alerts:read", "alerts:handle", "loans:read"], branch_id: "br_1", full_name: "Otieno Agent" });
    const calls = gateway({ "GET /v1/alerts": () => ok({ items: [alert({ roles: ["agent"] })], next_page_token: "" }) });
    renderScreen(<Alerts />);
    const row = await rowOf("Loan 8 days past due");
    await userEvent.click(within(row).getByRole("button", { name: "Assign" }));
    const select = within(row).getByLabelText("Assign to");
    await waitFor(() => expect(within(select).getAllByRole("option").map((o) => o.textContent)).toEqual(["Choose a member of staff", "Otieno Agent (you)"]));
    expect(calls.some((c) => c.route === "GET /v1/users")).toBe(false);
  });

  it("shows an auditor the queue without any action", async () => {
    signInAs({ role: "auditor", permissions: ["alerts:read", "loans:read", "users:read", "branches:read"] });
    gateway({ "GET /v1/alerts": () => ok({ items: [alert()], next_page_token: "" }) });
    renderScreen(<Alerts />);
    const row = await rowOf("Loan 8 days past due");
    expect(within(row).queryByRole("button", { name: "Assign" })).toBeNull();
    expect(within(row).queryByRole("button", { name: "Resolve" })).toBeNull();
    expect(screen.queryByRole("columnheader", { name: "Actions" })).toBeNull();
  });

  it("says in an alert region when the queue cannot be read", async () => {
    signInAs({ role: "branch_manager", permissions: MANAGER, branch_id: "br_1" });
    gateway({ "GET /v1/alerts": () => refused(503, { detail: "notification_service is unavailable" }) });
    renderScreen(<Alerts />);
    expect(await screen.findByRole("alert")).toHaveTextContent("notification_service is unavailable");
  });
});
