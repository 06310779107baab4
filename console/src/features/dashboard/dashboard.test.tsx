import { screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";

import { ok, renderScreen, serve, signInAs } from "@/test/api";

import { addDecimals, byBranch } from "./arrears";
import Dashboard from "./index";

const line = (loan_id: string, branch_id: string, overdue_total: string, outstanding_principal: string) => ({
  loan_id,
  borrower_id: "brw_1",
  borrower_name: "Achieng Odhiambo",
  branch_id,
  bucket: "1-30",
  days_past_due: 5,
  overdue_principal: overdue_total,
  overdue_interest: "0",
  overdue_total,
  outstanding_principal,
});

describe("the dashboard", () => {
  it("shows today's portfolio as cards and charts, and the arrears by branch", async () => {
    signInAs({ role: "admin", permissions: ["reports:read", "branches:read"] });
    serve({
      "GET /v1/reports/portfolio": () =>
        ok({
          as_of: "2026-03-31",
          currency: "KES",
          active_loans: 12,
          gross_portfolio: "150000.00",
          par1: "0.0376",
          par30: "0.02",
          par60: "0.01",
          par90: "0",
          disbursed: "200000.00",
          repaid: "50000.00",
        }),
      "GET /v1/reports/arrears": () =>
        ok({
          as_of: "",
          currency: "KES",
          items: [line("l1", "br_1", "0.10", "100"), line("l2", "br_2", "500.00", "900"), line("l3", "br_1", "0.20", "50.5")],
        }),
      "GET /v1/branches": () =>
        ok({
          items: [
            { id: "br_1", institution_id: "inst_1", name: "Kisumu" },
            { id: "br_2", institution_id: "inst_1", name: "Nakuru" },
          ],
          next_page_token: "",
        }),
    });
    renderScreen(<Dashboard />);
    expect(await screen.findByRole("group", { name: "PAR30" })).toHaveTextContent("2.00%");
    expect(screen.getByText("Portfolio as of 2026-03-31")).toBeInTheDocument();
    expect(screen.getByRole("group", { name: "PAR1" })).toHaveTextContent("3.76%");
    expect(screen.getByRole("group", { name: "Active loans" })).toHaveTextContent("12");
    expect(screen.getByRole("group", { name: "Gross portfolio" })).toHaveTextContent(/KES.150,000\.00/);
    expect(screen.getByRole("img", { name: "PAR1: 3.76%; PAR30: 2.00%; PAR60: 1.00%; PAR90: 0.00%" })).toBeInTheDocument();
    expect(screen.getByRole("figure", { name: /Portfolio at risk/ })).toBeInTheDocument();

    const kisumu = (await screen.findByRole("rowheader", { name: "Kisumu" })).closest("tr")!;
    expect(within(kisumu).getAllByRole("cell").map((c) => c.textContent?.replace(/\s/g, " "))).toEqual([
      "2",
      "KES 0.30",
      "KES 150.50",
    ]);
    const rows = screen.getAllByRole("rowheader").map((h) => h.textContent);
    expect(rows).toEqual(["Nakuru", "Kisumu", "Total"]);
    expect(screen.getByRole("img", { name: /^Nakuru: KES.500\.00; Kisumu: KES.0\.30$/ })).toBeInTheDocument();
  });
});

describe("the portfolio over time", () => {
  const row = (date: string, disbursed: string, collected: string, par30: string) => ({
    date,
    gross_portfolio: "1000.00",
    par1: par30,
    par30,
    par90: "0.0000",
    disbursed,
    collected,
  });

  it("charts disbursed and collected per period and PAR, with the figures in a table", async () => {
    signInAs({ role: "risk_officer", permissions: ["reports:read"] });
    const calls = serve({
      "GET /v1/reports/portfolio": () => ok({ as_of: "2026-03-31", currency: "KES", active_loans: 0, gross_portfolio: "0", par1: "0", par30: "0", par60: "0", par90: "0", disbursed: "0", repaid: "0" }),
      "GET /v1/reports/arrears": () => ok({ as_of: "", currency: "KES", items: [] }),
      "GET /v1/branches": () => ok({ items: [], next_page_token: "" }),
      "GET /v1/reports/trends": ({ params }) =>
        ok({
          currency: "KES",
          interval: params?.query?.interval,
          from: "2026-01-01",
          to: "2026-03-31",
          items:
            params?.query?.interval === "month"
              ? [row("2026-01-01", "5000.00", "0.00", "0.0000"), row("2026-02-01", "0.00", "1250.50", "0.1250")]
              : [row("2026-03-30", "0.00", "10.00", "0.0000"), row("2026-03-31", "0.00", "0.00", "0.0000")],
        }),
    });
    renderScreen(<Dashboard />);
    expect(await screen.findByRole("figure", { name: "Disbursed and collected in each period" })).toHaveTextContent(
      /2026-03-30.*2026-03-31/,
    );

    await userEvent.selectOptions(screen.getByLabelText("Period"), "Last 12 months, by month");
    const feb = (await screen.findByRole("rowheader", { name: "2026-02-01" })).closest("tr")!;
    expect(within(feb).getAllByRole("cell").map((c) => c.textContent?.replace(/\s/g, " "))).toEqual([
      "KES 1,000.00",
      "12.50%",
      "12.50%",
      "0.00%",
      "KES 0.00",
      "KES 1,250.50",
    ]);
    // The scale of the flows chart is the largest amount of any period.
    expect(screen.getByRole("figure", { name: "Disbursed and collected in each period" })).toHaveTextContent("KES 5,000.00");
    expect(screen.getByRole("figure", { name: "PAR 1, 30 and 90 at the end of each period" })).toHaveTextContent("12.50%");
    expect(calls.filter((c) => c.route === "GET /v1/reports/trends").map((c) => c.init.params?.query?.interval)).toEqual([
      "day",
      "month",
    ]);
  });
});

describe("arrears by branch", () => {
  it("adds amounts exactly", () => {
    expect(addDecimals(["0.1", "0.2"])).toBe("0.3");
    expect(addDecimals(["1250.50", "-0.505", "3"])).toBe("1252.995");
    expect(addDecimals(["-5", "2.25"])).toBe("-2.75");
    expect(addDecimals([])).toBe("0");
  });

  it("groups the loans in arrears per branch, the most overdue first", () => {
    expect(byBranch([line("a", "x", "1", "2"), line("b", "y", "10", "20"), line("c", "x", "0.5", "1")])).toEqual([
      { branchId: "y", loans: 1, overdue: "10", outstanding: "20" },
      { branchId: "x", loans: 2, overdue: "1.5", outstanding: "3" },
    ]);
  });
});
