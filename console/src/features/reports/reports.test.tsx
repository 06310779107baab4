import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";

import { ok, refused, renderScreen, serve, signInAs, type Init } from "@/test/api";

import { fileName } from "./download";
import Reports from "./index";

const portfolio = (as_of: string) => ({
  as_of,
  currency: "KES",
  active_loans: 12,
  gross_portfolio: "150000.00",
  par1: "0.0376",
  par30: "0.02",
  par60: "0.01",
  par90: "0",
  disbursed: "200000.00",
  repaid: "50000.00",
});

const arrears = {
  as_of: "2026-03-31",
  currency: "KES",
  items: [
    {
      loan_id: "loan_1",
      borrower_id: "brw_1",
      borrower_name: "",
      branch_id: "br_1",
      bucket: "31-60",
      days_past_due: 35,
      overdue_principal: "2000.00",
      overdue_interest: "150.50",
      overdue_total: "2150.50",
      outstanding_principal: "8000.00",
    },
  ],
};

function gateway(extra: Parameters<typeof serve>[0] = {}) {
  return serve({
    "GET /v1/reports/portfolio": (init) => ok(portfolio(String(init.params?.query?.as_of))),
    "GET /v1/reports/arrears": () => ok(arrears),
    "GET /v1/branches": () => ok({ items: [{ id: "br_1", institution_id: "inst_1", name: "Kisumu" }], next_page_token: "" }),
    "GET /v1/borrowers/{borrower_id}": () => ok({ id: "brw_1", first_name: "Achieng", last_name: "Odhiambo" }),
    ...extra,
  });
}

describe("reports", () => {
  it("names the borrowers the report names without asking for each", async () => {
    signInAs({ role: "risk_officer", permissions: ["reports:read", "branches:read", "borrowers:read"] });
    const named = { ...arrears, items: [{ ...arrears.items[0], borrower_name: "Achieng Odhiambo" }] };
    const calls = gateway({ "GET /v1/reports/arrears": () => ok(named) });
    renderScreen(<Reports />);
    const row = (await screen.findByRole("link", { name: "loan_1" })).closest("tr")!;
    expect(within(row).getByRole("link", { name: "Achieng Odhiambo" })).toHaveAttribute("href", "/borrowers/brw_1");
    expect(calls.filter((c) => c.route === "GET /v1/borrowers/{borrower_id}")).toEqual([]);
  });

  it("shows the portfolio and the arrears as of the date chosen", async () => {
    signInAs({ role: "risk_officer", permissions: ["reports:read", "branches:read", "borrowers:read"] });
    const calls = gateway();
    renderScreen(<Reports />);
    const asOf = screen.getByLabelText("As of");
    await userEvent.clear(asOf);
    await userEvent.type(asOf, "2026-03-31");
    expect(await screen.findByRole("rowheader", { name: "PAR30 (more than 30 days late)" })).toBeInTheDocument();
    expect(screen.getByRole("rowheader", { name: /PAR1 / }).closest("tr")).toHaveTextContent("3.76%");
    await waitFor(() =>
      expect(calls.filter((c) => c.route === "GET /v1/reports/arrears").at(-1)?.init.params?.query).toEqual({
        as_of: "2026-03-31",
        format: "json",
      }),
    );
    const row = (await screen.findByRole("link", { name: "loan_1" })).closest("tr")!;
    expect(await within(row).findByRole("link", { name: "Achieng Odhiambo" })).toBeInTheDocument();
    expect(within(row).getAllByRole("cell").map((c) => c.textContent?.replace(/\s/g, " "))).toEqual([
      "loan_1",
      "Achieng Odhiambo",
      "Kisumu",
      "35",
      "KES 2,000.00",
      "KES 150.50",
      "KES 2,150.50",
      "KES 8,000.00",
      "31-60",
    ]);
  });

  it("downloads the arrears as CSV under the server's file name", async () => {
    signInAs({ role: "auditor", permissions: ["reports:read", "branches:read"] });
    const blob = new Blob(["loan_id\nloan_1\n"], { type: "text/csv" });
    let release: () => void = () => undefined;
    const calls = gateway({
      "GET /v1/reports/arrears": (init: Init) =>
        init.params?.query?.format === "json"
          ? ok(arrears)
          : new Promise((resolve) => {
              release = () =>
                resolve({
                  data: blob,
                  response: new Response(null, {
                    headers: { "Content-Disposition": 'attachment; filename="arrears-2026-03-31.csv"' },
                  }),
                });
            }),
    });
    const created = vi.fn(() => "blob:report");
    URL.createObjectURL = created;
    URL.revokeObjectURL = vi.fn();
    const clicked = vi.spyOn(HTMLAnchorElement.prototype, "click").mockImplementation(function (this: HTMLAnchorElement) {
      expect(this.download).toBe("arrears-2026-03-31.csv");
      expect(this.href).toBe("blob:report");
    });
    renderScreen(<Reports />);
    await userEvent.click(screen.getByRole("button", { name: "Download CSV" }));
    expect(await screen.findByRole("progressbar", { name: "Downloading CSV…" })).toBeInTheDocument();
    expect(screen.getByRole("button", { name: "Download XLSX" })).toBeDisabled();
    release();
    await waitFor(() => expect(clicked).toHaveBeenCalledTimes(1));
    expect(created).toHaveBeenCalledWith(blob);
    expect(await screen.findByText("Saved arrears-2026-03-31.csv.")).toBeInTheDocument();
    const download = calls.find((c) => c.init.params?.query?.format === "csv")!;
    expect((download.init as Init & { parseAs?: string }).parseAs).toBe("blob");
  });

  it("says a refused download in an alert", async () => {
    signInAs({ role: "auditor", permissions: ["reports:read"] });
    gateway({
      "GET /v1/reports/arrears": (init: Init) =>
        init.params?.query?.format === "json" ? ok(arrears) : refused(403, { detail: "read reports" }),
    });
    renderScreen(<Reports />);
    await userEvent.click(screen.getByRole("button", { name: "Download XLSX" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("read reports");
  });
});

describe("fileName", () => {
  it("reads the name a server gives a download, never a path", () => {
    expect(fileName('attachment; filename="arrears-2026-03-31.csv"', "x")).toBe("arrears-2026-03-31.csv");
    expect(fileName("attachment; filename=arrears.xlsx", "x")).toBe("arrears.xlsx");
    expect(fileName("attachment; filename=\"a.csv\"; filename*=UTF-8''r%C3%A9sum%C3%A9.csv", "x")).toBe("résumé.csv");
    expect(fileName('attachment; filename="../../etc/passwd"', "x")).toBe(".._.._etc_passwd");
    expect(fileName(null, "arrears-2026-03-31.csv")).toBe("arrears-2026-03-31.csv");
  });
});
