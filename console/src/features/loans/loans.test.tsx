import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { Route, Routes, useLocation } from "react-router-dom";
import { describe, expect, it } from "vitest";

import { ok, refused, renderScreen, serve, signInAs, type Init } from "@/test/api";

import Loans from "./index";

const AGENT = ["loans:read", "loans:create", "borrowers:read", "loan_products:read", "repayments:create", "repayments:read"];
const MANAGER = [...AGENT, "loans:approve", "loans:reject", "loans:disburse", "loans:score", "repayments:reverse", "users:read"];

const product = {
  id: "prd_1",
  name: "Biashara monthly",
  currency: "KES",
  min_principal: "1000",
  max_principal: "500000",
  min_term: 1,
  max_term: 24,
  annual_interest_rate: "24",
  interest_method: "declining_balance",
  repayment_frequency: "monthly",
};

const achieng = { id: "brw_1", first_name: "Achieng", last_name: "Odhiambo", national_id: "12345678", phone: "+254712345678", branch_id: "br_1" };

function quote(principal: string) {
  return {
    installments: [
      { number: 1, due_date: "2026-04-30", principal, interest: "1000.00", fees: "0.00", total: "11000.00", balance: "0.00" },
    ],
    total_interest: "1000.00",
    total_fees: "0.00",
    total_repayment: "11000.00",
    apr: "26.82",
    eir: "26.82",
  };
}

const installment = { number: 1, due_date: "2026-04-30", principal: "50000.00", interest: "1000.00", fees: "0.00", penalties: "0.00", total: "51000.00", balance: "0.00", principal_paid: "0.00", interest_paid: "0.00", fees_paid: "0.00", penalties_paid: "0.00", total_paid: "0.00", paid: false, days_past_due: 0 };

function loan(over: Record<string, unknown> = {}) {
  return {
    id: "loan_1",
    institution_id: "inst_1",
    borrower_id: "brw_1",
    branch_id: "br_1",
    product_id: "prd_1",
    principal: "50000.00",
    term: 1,
    currency: "KES",
    status: "submitted",
    annual_interest_rate: "24",
    created_by: "usr_agent",
    approved_by: null,
    create_time: "2026-03-02T07:45:12Z",
    update_time: "2026-03-02T07:45:12Z",
    disbursement_date: "2026-03-31",
    first_repayment_date: null,
    schedule: [installment],
    outstanding: { principal: "", interest: "", fees: "", penalties: "", total: "" },
    days_past_due: 0,
    delinquency_bucket: "",
    credit_balance: "0",
    written_off_principal: "",
    pricing: { apr: "26.82", eir: "26.82", total_interest: "1000.00", total_fees: "0.00", total_repayment: "51000.00" },
    history: [{ status: "submitted", time: "2026-03-02T07:45:12Z", actor_id: "usr_agent", note: "" }],
    classification_history: [],
    repayments: [],
    score: null,
    rescheduled: false,
    override_reason: null,
    purpose: null,
    oldest_unpaid_due_date: null,
    ...over,
  };
}

function gateway(extra: Parameters<typeof serve>[0] = {}) {
  return serve({
    "GET /v1/loan-products": () => ok({ items: [product], next_page_token: "" }),
    "GET /v1/borrowers": () => ok({ items: [achieng], next_page_token: "" }),
    "GET /v1/borrowers/{borrower_id}": () => ok(achieng),
    "GET /v1/users/{user_id}": () => ok({ id: "usr_agent", full_name: "Otieno Agent" }),
    "GET /v1/loans/{loan_id}/repayments": () => ok({ items: [], next_page_token: "" }),
    "GET /v1/loans/{loan_id}/payoff-quote": () => ok({ principal: "50000.00", interest: "0.00", fees: "0.00", penalties: "0.00", total: "50000.00" }),
    ...extra,
  });
}

function Where() {
  return <p data-testid="where">{useLocation().pathname}</p>;
}

function show(path: string) {
  return renderScreen(
    <Routes>
      <Route path="/loans/*" element={<Loans />} />
      <Route path="*" element={<Where />} />
    </Routes>,
    path,
  );
}

describe("a loan application", () => {
  it("finds the borrower, quotes the schedule and follows the figures, then submits", async () => {
    signInAs({ role: "agent", permissions: AGENT, branch_id: "br_1" });
    const calls = gateway({
      "POST /v1/loan-quotes": (init) => ok(quote((init.body as { principal: string }).principal)),
      "POST /v1/loans": () => ok(loan({ id: "loan_9" }), 201),
    });
    show("/loans/new");
    const picker = screen.getByRole("combobox", { name: "Borrower" });
    await userEvent.type(picker, "achi");
    await userEvent.click(await screen.findByRole("option", { name: /Achieng Odhiambo/ }));
    expect(picker).toHaveValue("Achieng Odhiambo");
    expect(picker).toHaveAccessibleDescription("National ID 12345678, phone +254712345678.");
    await waitFor(() => expect(screen.queryByText(/Borrowers found/)).toBeNull());
    // One product: chosen already, with its limits said.
    await waitFor(() => expect(screen.getByLabelText("Product")).toHaveValue("prd_1"));
    expect(screen.getByLabelText("Product")).toHaveAccessibleDescription(/KES\s1,000\.00 to KES\s500,000\.00/);

    await userEvent.type(screen.getByLabelText("Principal"), "600000");
    await userEvent.type(screen.getByLabelText("Term"), "12");
    await userEvent.click(screen.getByRole("button", { name: "Get quote" }));
    expect(screen.getByLabelText("Principal")).toHaveAccessibleDescription(expect.stringContaining("lends from"));
    expect(calls.some((c) => c.route === "POST /v1/loan-quotes")).toBe(false);

    await userEvent.clear(screen.getByLabelText("Principal"));
    await userEvent.type(screen.getByLabelText("Principal"), "10000");
    await userEvent.click(screen.getByRole("button", { name: "Get quote" }));
    const table = await screen.findByRole("table");
    for (const name of ["Due date", "Principal", "Interest", "Total"]) {
      expect(within(table).getByRole("columnheader", { name })).toBeInTheDocument();
    }
    expect(screen.getByText("APR").nextElementSibling).toHaveTextContent("26.82% a year");

    await userEvent.type(screen.getByLabelText("Principal"), "0");
    await waitFor(() => expect(within(screen.getByRole("table")).getByText("KES 100,000.00")).toBeInTheDocument());
    const quoted = calls.filter((c) => c.route === "POST /v1/loan-quotes").map((c) => (c.init.body as { principal: string }).principal);
    expect(quoted).toEqual(["10000", "100000"]);

    await userEvent.click(screen.getByRole("button", { name: "Submit application" }));
    await waitFor(() => expect(calls.some((c) => c.route === "POST /v1/loans")).toBe(true));
    expect(calls.find((c) => c.route === "POST /v1/loans")?.init.body).toMatchObject({
      borrower_id: "brw_1",
      product_id: "prd_1",
      principal: "100000",
      term: 12,
    });
  });

  it("takes the only borrower matching what was typed once the person moves on", async () => {
    signInAs({ role: "agent", permissions: AGENT, branch_id: "br_1" });
    gateway();
    show("/loans/new");
    const picker = screen.getByRole("combobox", { name: "Borrower" });
    await userEvent.type(picker, "Achieng Odhiambo");
    await userEvent.tab();
    await waitFor(() => expect(picker).toHaveAccessibleDescription("National ID 12345678, phone +254712345678."));
  });

  it("starts with the borrower whose file it came from", async () => {
    signInAs({ role: "agent", permissions: AGENT, branch_id: "br_1" });
    gateway();
    show("/loans/new?borrower=brw_1");
    await waitFor(() => expect(screen.getByRole("combobox", { name: "Borrower" })).toHaveValue("Achieng Odhiambo"));
  });
});

describe("a loan's page", () => {
  it("explains maker-checker to the person who submitted, and shows the server's refusal", async () => {
    signInAs({ role: "branch_manager", permissions: MANAGER, id: "usr_agent", branch_id: "br_1" });
    gateway({
      "GET /v1/loans/{loan_id}": () => ok(loan()),
      "POST /v1/loans/{loan_id}/approve": () =>
        refused(403, { detail: "the approver must not be the loan's creator", reason: "MAKER_CHECKER_VIOLATION" }),
    });
    show("/loans/loan_1");
    expect(await screen.findByText(/someone else must approve it/)).toBeInTheDocument();
    await userEvent.click(screen.getByRole("button", { name: "Approve" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("the approver must not be the loan's creator");
  });

  it("approves in one click and shows only what the status allows", async () => {
    signInAs({ role: "branch_manager", permissions: MANAGER, branch_id: "br_1" });
    let status = "submitted";
    const calls = gateway({
      "GET /v1/loans/{loan_id}": () => ok(loan({ status })),
      "POST /v1/loans/{loan_id}/approve": () => {
        status = "approved";
        return ok(loan({ status }));
      },
    });
    show("/loans/loan_1");
    expect(await screen.findByRole("heading", { level: 1, name: "Loan to Achieng Odhiambo" })).toBeInTheDocument();
    expect(screen.getByRole("button", { name: "Reject" })).toBeInTheDocument();
    expect(screen.queryByRole("button", { name: "Disburse" })).toBeNull();
    await userEvent.click(screen.getByRole("button", { name: "Approve" }));
    expect(await screen.findByRole("button", { name: "Disburse" })).toBeInTheDocument();
    expect(screen.queryByRole("button", { name: "Approve" })).toBeNull();
    expect(calls.filter((c) => c.route === "POST /v1/loans/{loan_id}/approve")).toHaveLength(1);
  });

  it("reschedules after checking the figures, and shows the server's refusal beside the field", async () => {
    signInAs({ role: "branch_manager", permissions: [...MANAGER, "loans:reschedule"], branch_id: "br_1" });
    const calls = gateway({
      "GET /v1/loans/{loan_id}": () => ok(loan({ status: "active" })),
      "POST /v1/loans/{loan_id}/reschedule": () =>
        refused(422, { detail: "new_term: too long", errors: [{ field: "new_term", message: "at most 120 installments" }] }),
    });
    show("/loans/loan_1");
    await userEvent.click(await screen.findByRole("button", { name: "Reschedule" }));
    const ask = screen.getByRole("alertdialog", { name: "Reschedule" });
    await userEvent.click(within(ask).getByRole("button", { name: "Confirm" }));
    expect(within(ask).getByLabelText("New term")).toHaveAccessibleDescription(/whole number/);
    expect(calls.some((c) => c.route === "POST /v1/loans/{loan_id}/reschedule")).toBe(false);
    await userEvent.type(within(ask).getByLabelText("New term"), "500");
    await userEvent.type(within(ask).getByLabelText("Reason"), "Harvest failed");
    await userEvent.click(within(ask).getByRole("button", { name: "Confirm" }));
    expect(await within(ask).findByText("at most 120 installments")).toBeInTheDocument();
    const sent = calls.find((c) => c.route === "POST /v1/loans/{loan_id}/reschedule")!.init as Init;
    expect(sent.body).toMatchObject({ new_term: 500, grace_on_principal: 0, reason: "Harvest failed", new_annual_interest_rate: null });
  });

  it("disburses after a confirmation naming the amount", async () => {
    signInAs({ role: "branch_manager", permissions: MANAGER, branch_id: "br_1" });
    const calls = gateway({
      "GET /v1/loans/{loan_id}": () => ok(loan({ status: "approved" })),
      "POST /v1/loans/{loan_id}/disburse": () => ok(loan({ status: "active" })),
    });
    show("/loans/loan_1");
    await userEvent.click(await screen.findByRole("button", { name: "Disburse" }));
    const ask = screen.getByRole("alertdialog", { name: "Disburse" });
    expect(ask).toHaveAccessibleDescription(/Pay out KES\s50,000\.00 to Achieng Odhiambo/);
    await userEvent.clear(within(ask).getByLabelText("Disbursement date"));
    await userEvent.type(within(ask).getByLabelText("Disbursement date"), "2026-03-31");
    await userEvent.click(within(ask).getByRole("button", { name: "Confirm" }));
    await waitFor(() => expect(calls.some((c) => c.route === "POST /v1/loans/{loan_id}/disburse")).toBe(true));
    const sent = calls.find((c) => c.route === "POST /v1/loans/{loan_id}/disburse")!.init as Init & {
      params: { header: Record<string, string> };
    };
    expect(sent.body).toEqual({ disbursement_date: "2026-03-31", channel: "cash" });
    expect(sent.params.header["Idempotency-Key"]).toMatch(/^[0-9a-f]{32}$/);
  });

  it("records a repayment with one key per form: a retry sends the same key, a correction a new one", async () => {
    signInAs({ role: "agent", permissions: AGENT, branch_id: "br_1" });
    let attempt = 0;
    const calls = gateway({
      "GET /v1/loans/{loan_id}": () => ok(loan({ status: "active" })),
      "POST /v1/loans/{loan_id}/repayments": () => {
        attempt += 1;
        if (attempt === 1) throw new TypeError("Failed to fetch");
        if (attempt === 2) return refused(422, { detail: "amount: too many decimals", errors: [{ field: "amount", message: "too many decimals" }] });
        return ok({ id: "pay_1" }, 201);
      },
    });
    show("/loans/loan_1");
    await userEvent.click(await screen.findByRole("button", { name: "Record repayment" }));
    await userEvent.type(screen.getByLabelText("Amount"), "5100");
    const submit = screen.getByRole("button", { name: "Record repayment" });
    await userEvent.click(submit);
    expect(await screen.findByRole("alert")).toHaveTextContent("offline");
    await userEvent.click(submit);
    await waitFor(() => expect(screen.getByLabelText("Amount")).toHaveAccessibleDescription("too many decimals"));
    await userEvent.click(submit);
    expect(await screen.findByRole("status", { name: "" })).toHaveTextContent("Repayment of KES 5,100.00 recorded.");
    const keys = calls
      .filter((c) => c.route === "POST /v1/loans/{loan_id}/repayments")
      .map((c) => (c.init.params as { header: Record<string, string> }).header["Idempotency-Key"]);
    expect(keys).toHaveLength(3);
    expect(keys[1]).toBe(keys[0]);
    expect(keys[2]).not.toBe(keys[1]);
  });

  it("shows the loan's messages to those who may read them", async () => {
    signInAs({ role: "branch_manager", permissions: [...MANAGER, "notifications:read"], branch_id: "br_1" });
    const calls = gateway({
      "GET /v1/loans/{loan_id}": () => ok(loan({ status: "approved" })),
      "GET /v1/notifications": () =>
        ok({
          items: [
            {
              id: "ntf_1",
              channel: "sms",
              recipient: "+254712345678",
              template: "loan_approved",
              status: "suppressed",
              failure_reason: "no_consent",
              text: "Dear Achieng, your loan application for KES 50,000.00 has been approved.",
              create_time: "2026-03-31T09:30:01.120Z",
              borrower_id: "brw_1",
              loan_id: "loan_1",
            },
          ],
          next_page_token: "",
        }),
    });
    show("/loans/loan_1");
    const region = await screen.findByRole("region", { name: "Messages" });
    const row = (await within(region).findByText(/has been approved/)).closest("tr")!;
    expect(row).toHaveTextContent("suppressed: no consent");
    expect(calls.find((c) => c.route === "GET /v1/notifications")?.init.params?.query).toMatchObject({ loan_id: "loan_1" });
  });
});
