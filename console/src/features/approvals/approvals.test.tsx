import { screen, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";

import { ok, renderScreen, serve, signInAs } from "@/test/api";

import Approvals from "./index";

const MANAGER = ["loans:read", "loans:approve", "settings:read", "users:read", "loan_products:read", "borrowers:read"];

const waiting = (over: Record<string, unknown>) => ({
  borrower_id: "brw_1",
  product_id: "prd_1",
  principal: "50000.00",
  currency: "KES",
  status: "submitted",
  created_by: "usr_agent",
  create_time: "2026-03-02T07:45:12Z",
  score: null,
  ...over,
});

describe("approvals", () => {
  it("lists the submitted applications with who submitted them, their band, and the approver's limit", async () => {
    signInAs({ role: "branch_manager", permissions: MANAGER, id: "usr_me", branch_id: "br_1" });
    const calls = serve({
      "GET /v1/loans": () =>
        ok({
          items: [
            waiting({ id: "loan_1", score: { band: "A", score: 640, contributions: [], scorecard_id: "sc", scorecard_version: 1 } }),
            waiting({ id: "loan_2", borrower_id: "brw_2", principal: "900000.00", created_by: "usr_me" }),
          ],
          next_page_token: "",
        }),
      "GET /v1/institutions/{institution_id}/loan-settings": () =>
        ok({ institution_id: "inst_1", approval_limits: { branch_manager: "500000", admin: null }, delinquency_buckets: [], business_date: null }),
      "GET /v1/institutions/{institution_id}": () => ok({ id: "inst_1", name: "MFI", currency: "KES" }),
      "GET /v1/borrowers/{borrower_id}": (init) =>
        ok(
          init.params?.path?.borrower_id === "brw_1"
            ? { id: "brw_1", first_name: "Achieng", last_name: "Odhiambo" }
            : { id: "brw_2", first_name: "Baraka", last_name: "Mwangi" },
        ),
      "GET /v1/users/{user_id}": () => ok({ id: "usr_agent", full_name: "Otieno Agent" }),
      "GET /v1/loan-products": () => ok({ items: [{ id: "prd_1", name: "Biashara monthly" }], next_page_token: "" }),
    });
    renderScreen(<Approvals />);
    const first = (await screen.findByRole("link", { name: "Achieng Odhiambo" })).closest("tr")!;
    expect(within(first).getByRole("link")).toHaveAttribute("href", "/loans/loan_1");
    expect(await within(first).findByText("Otieno Agent")).toBeInTheDocument();
    expect(within(first).getByText("A")).toBeInTheDocument();
    expect(within(first).getByText("Biashara monthly")).toBeInTheDocument();
    const second = (await screen.findByRole("link", { name: "Baraka Mwangi" })).closest("tr")!;
    expect(within(second).getByText(/You submitted it/)).toBeInTheDocument();
    expect(within(second).getByText(/Above your approval limit/)).toBeInTheDocument();
    expect(await screen.findByText(/You may approve applications up to KES\s500,000\.00/)).toBeInTheDocument();
    expect(calls.find((c) => c.route === "GET /v1/loans")?.init.params?.query).toMatchObject({ status: "submitted" });
  });
});
