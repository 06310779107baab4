import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";

import { ok, refused, renderScreen, serve, signInAs } from "@/test/api";

import Suspense from "./index";

const received = {
  id: "pay_1",
  loan_id: "",
  amount: "1500.00",
  currency: "KES",
  paid_on: "2026-03-31",
  channel: "mobile_money",
  reference: "QK7H2XJ9",
  status: "in_suspense",
};

describe("suspense", () => {
  it("assigns a payment to the loan named, after asking, and shows a refusal beside the field", async () => {
    signInAs({ role: "branch_manager", permissions: ["repayments:read", "repayments:create", "repayments:reverse"] });
    const calls = serve({
      "GET /v1/suspense": () => ok({ items: [received], next_page_token: "" }),
      "POST /v1/suspense/{payment_id}/assign": () =>
        refused(404, { detail: "loan loan_x not found", reason: "LOAN_NOT_FOUND", errors: [{ field: "loan_id", message: "no such loan" }] }),
    });
    renderScreen(<Suspense />);
    const row = (await screen.findByRole("rowheader", { name: "QK7H2XJ9" })).closest("tr")!;
    expect(row).toHaveTextContent("KES");
    await userEvent.click(within(row).getByRole("button", { name: "Assign to loan" }));
    await userEvent.click(within(row).getByRole("button", { name: "Confirm" }));
    expect(within(row).getByLabelText("Loan ID")).toHaveAccessibleDescription(/Enter the loan/);
    expect(calls.some((c) => c.route.startsWith("POST"))).toBe(false);

    await userEvent.type(within(row).getByLabelText("Loan ID"), "loan_x");
    await userEvent.click(within(row).getByRole("button", { name: "Assign to loan" }));
    expect(within(row).getByRole("alertdialog")).toHaveAccessibleName(/loan loan_x/);
    await userEvent.click(within(row).getByRole("button", { name: "Confirm" }));
    await waitFor(() => expect(within(row).getByLabelText("Loan ID")).toHaveAccessibleDescription(/no such loan/));
    const sent = calls.find((c) => c.route === "POST /v1/suspense/{payment_id}/assign")!;
    expect(sent.init).toMatchObject({ params: { path: { payment_id: "pay_1" } }, body: { loan_id: "loan_x" } });
  });

  it("shows the list without assigning to a role that may not record repayments", async () => {
    signInAs({ role: "auditor", permissions: ["repayments:read"] });
    serve({ "GET /v1/suspense": () => ok({ items: [received], next_page_token: "" }) });
    renderScreen(<Suspense />);
    expect(await screen.findByRole("rowheader", { name: "QK7H2XJ9" })).toBeInTheDocument();
    expect(screen.queryByRole("button", { name: "Assign to loan" })).toBeNull();
  });
});
