import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { Route, Routes } from "react-router-dom";
import { describe, expect, it } from "vitest";

import { ok, refused, renderScreen, serve, signInAs } from "@/test/api";

import Scorecards from "./index";

const RISK = ["scorecards:read", "scorecards:manage"];

const version = (over: Record<string, unknown> = {}) => ({
  id: "scv_1",
  scorecard_key: "sc_1",
  institution_id: "inst_1",
  name: "Retail",
  version: 1,
  state: "draft",
  base_score: 400,
  rules: [{ name: "income", when: "borrower.monthly_income >= 20000", points: 300 }],
  cutoffs: [
    { band: "AA", min_score: 800 },
    { band: "A", min_score: 650 },
    { band: "B", min_score: 550 },
    { band: "C", min_score: 450 },
    { band: "D", min_score: 0 },
  ],
  create_time: "2026-03-31T09:30:00.123Z",
  publish_time: null,
  ...over,
});

function open(path: string) {
  return renderScreen(
    <Routes>
      <Route path="/scorecards/*" element={<Scorecards />} />
    </Routes>,
    path,
  );
}

async function fillRule(n: number, name: string, when: string, points: string) {
  const rule = screen.getByRole("group", { name: `Rule ${n}` });
  await userEvent.type(within(rule).getByLabelText("Rule name"), name);
  // Brackets start a key descriptor for user-event: paste the condition instead.
  await userEvent.click(within(rule).getByLabelText("Condition"));
  await userEvent.paste(when);
  await userEvent.type(within(rule).getByLabelText("Points"), points);
}

describe("the rule editor", () => {
  it("says the server's refusal of a condition beside that rule's condition", async () => {
    signInAs({ role: "risk_officer", permissions: RISK });
    const calls = serve({
      "POST /v1/scorecards": () =>
        refused(422, {
          detail: "the scorecard has invalid rules",
          reason: "RULE_INVALID",
          errors: [{ field: "rules[1].when", message: "rule 'age', line 1, column 10: unknown field borrower.agee" }],
        }),
    });
    open("/scorecards/new");
    await userEvent.type(screen.getByLabelText("Scorecard name"), "Retail");
    await fillRule(1, "income", "borrower.monthly_income >= 20000", "300");
    await userEvent.click(screen.getByRole("button", { name: "Add rule" }));
    await fillRule(2, "age", "borrower.agee > 25", "-50");
    await userEvent.click(screen.getByRole("button", { name: "Save draft" }));

    const second = within(screen.getByRole("group", { name: "Rule 2" })).getByLabelText("Condition");
    await waitFor(() => expect(second).toHaveAccessibleDescription(/line 1, column 10: unknown field/));
    expect(second).toHaveAttribute("aria-invalid", "true");
    expect(second).toHaveFocus();
    const first = within(screen.getByRole("group", { name: "Rule 1" })).getByLabelText("Condition");
    expect(first).not.toHaveAttribute("aria-invalid");
    // Shown beside its field, the error is not repeated in an alert.
    expect(screen.queryByRole("alert")).toBeNull();
    expect(calls.at(-1)?.init.body).toEqual({
      name: "Retail",
      base_score: 500,
      rules: [
        { name: "income", when: "borrower.monthly_income >= 20000", points: 300 },
        { name: "age", when: "borrower.agee > 25", points: -50 },
      ],
      cutoffs: [
        { band: "AA", min_score: 800 },
        { band: "A", min_score: 650 },
        { band: "B", min_score: 550 },
        { band: "C", min_score: 450 },
      ],
    });
  });

  it("checks what it can before sending", async () => {
    signInAs({ role: "risk_officer", permissions: RISK });
    const calls = serve({});
    open("/scorecards/new");
    // The hint lists the fields a condition may read, with their meaning.
    expect(screen.getByText("history.max_days_past_due")).toBeInTheDocument();
    expect(screen.getByText(/Worst days past due on any earlier loan/)).toBeInTheDocument();
    const aa = screen.getByLabelText("Band AA minimum score");
    const b = screen.getByLabelText("Band B minimum score");
    await userEvent.clear(b);
    await userEvent.type(b, "900");
    await userEvent.type(within(screen.getByRole("group", { name: "Rule 1" })).getByLabelText("Points"), "1.5");
    await userEvent.click(screen.getByRole("button", { name: "Save draft" }));

    expect(screen.getByLabelText("Scorecard name")).toHaveAccessibleDescription("Required.");
    expect(screen.getByLabelText("Scorecard name")).toHaveFocus();
    expect(screen.getByLabelText("Band B minimum score")).toHaveAccessibleDescription(
      "Must be below band A's minimum (650).",
    );
    expect(aa).not.toHaveAttribute("aria-invalid");
    const rule = screen.getByRole("group", { name: "Rule 1" });
    expect(within(rule).getByLabelText("Condition")).toHaveAccessibleDescription("Required.");
    expect(within(rule).getByLabelText("Points")).toHaveAccessibleDescription("A whole number from -1000 to 1000.");
    expect(calls).toEqual([]);

    // Fixed as typed: the message goes once the value is right.
    await userEvent.type(screen.getByLabelText("Scorecard name"), "Retail");
    expect(screen.getByLabelText("Scorecard name")).not.toHaveAttribute("aria-invalid");
  });

  it("removes a rule, and the server's errors with it (they name rules by position)", async () => {
    signInAs({ role: "risk_officer", permissions: RISK });
    serve({
      "POST /v1/scorecards": () =>
        refused(422, { detail: "bad", errors: [{ field: "rules[0].when", message: "rule 'a', line 1, column 1: bad" }] }),
    });
    open("/scorecards/new");
    await userEvent.type(screen.getByLabelText("Scorecard name"), "Retail");
    await fillRule(1, "a", "x", "1");
    await userEvent.click(screen.getByRole("button", { name: "Add rule" }));
    await fillRule(2, "b", "loan.term > 3", "2");
    await userEvent.click(screen.getByRole("button", { name: "Save draft" }));
    await screen.findByText(/column 1: bad/);
    await userEvent.click(screen.getByRole("button", { name: "Remove rule 1" }));
    expect(screen.queryByRole("group", { name: "Rule 2" })).toBeNull();
    const left = within(screen.getByRole("group", { name: "Rule 1" }));
    expect(left.getByLabelText("Rule name")).toHaveValue("b");
    expect(left.getByLabelText("Condition")).not.toHaveAttribute("aria-invalid");
  });

  it("saves the next version of a scorecard from its rules and opens it", async () => {
    signInAs({ role: "risk_officer", permissions: RISK });
    const calls = serve({
      "GET /v1/scorecards/{scorecard_id}": (init) =>
        ok(init.params?.path?.scorecard_id === "scv_2" ? version({ id: "scv_2", version: 2 }) : version({ state: "published" })),
      "POST /v1/scorecards": () => ok(version({ id: "scv_2", version: 2 }), 201),
    });
    open("/scorecards/new?from=scv_1");
    expect(await screen.findByRole("heading", { name: "New version of Retail" })).toBeInTheDocument();
    expect(within(screen.getByRole("group", { name: "Rule 1" })).getByLabelText("Condition")).toHaveValue(
      "borrower.monthly_income >= 20000",
    );
    await userEvent.click(screen.getByRole("button", { name: "Save draft" }));
    expect(await screen.findByRole("heading", { name: "Retail, version 2" })).toBeInTheDocument();
    const sent = calls.find((c) => c.route === "POST /v1/scorecards")!.init.body as Record<string, unknown>;
    expect(sent.scorecard_key).toBe("sc_1");
    expect(sent.base_score).toBe(400);
  });
});

describe("a scorecard version", () => {
  it("publishes a draft once confirmed, naming the effect", async () => {
    signInAs({ role: "risk_officer", permissions: RISK });
    let stored = version();
    const calls = serve({
      "GET /v1/scorecards/{scorecard_id}": () => ok(stored),
      "POST /v1/scorecards/{scorecard_id}/publish": () =>
        ok((stored = version({ state: "published", publish_time: "2026-04-01T08:00:00Z" }))),
      "GET /v1/scorecards": () => ok({ items: [], next_page_token: "" }),
      "GET /v1/scorecards/{scorecard_id}/governance": () => ok({ applications_scored: 0, bands: [] }),
    });
    open("/scorecards/scv_1");
    await userEvent.click(await screen.findByRole("button", { name: "Publish" }));
    const ask = screen.getByRole("alertdialog");
    expect(ask).toHaveAccessibleName(/version published until now will be retired/);
    expect(calls.some((c) => c.route.endsWith("/publish"))).toBe(false);
    await userEvent.click(within(ask).getByRole("button", { name: "Confirm" }));
    expect(await screen.findByRole("status")).toHaveTextContent("Retail version 1 is published");
    expect(screen.getByRole("button", { name: "Retire" })).toBeInTheDocument();
    expect(screen.queryByRole("button", { name: "Publish" })).toBeNull();
  });

  it("runs a what-if at an approval band and shows its numbers", async () => {
    signInAs({ role: "risk_officer", permissions: RISK });
    const calls = serve({
      "GET /v1/scorecards/{scorecard_id}": () => ok(version()),
      "POST /v1/scorecards/{scorecard_id}/what-if": () =>
        ok({
          applications: 240,
          current: [
            { band: "AA", count: 12 },
            { band: "B", count: 228 },
          ],
          proposed: [{ band: "A", count: 240 }],
          current_approval_rate: "0.8417",
          proposed_approval_rate: "1",
        }),
    });
    open("/scorecards/scv_1");
    await userEvent.selectOptions(await screen.findByLabelText("Approval band"), "B");
    await userEvent.click(screen.getByRole("button", { name: "Run what-if" }));
    expect(await screen.findByText("240 past applications scored again.")).toBeInTheDocument();
    expect(calls.at(-1)?.init.body).toEqual({ approval_band: "B" });
    const section = within(screen.getByRole("region", { name: "What if" }));
    const row = (name: string) => within(section.getByRole("rowheader", { name }).closest("tr")!);
    expect(row("AA").getAllByRole("cell").map((c) => c.textContent)).toEqual(["12", "0"]);
    expect(row("A").getAllByRole("cell").map((c) => c.textContent)).toEqual(["0", "240"]);
    expect(row("Approved at B or better").getAllByRole("cell").map((c) => c.textContent)).toEqual([
      "84.17%",
      "100.00%",
    ]);
  });

  it("shows a published version's track record, and no actions to a role that only reads", async () => {
    signInAs({ role: "auditor", permissions: ["scorecards:read"] });
    serve({
      "GET /v1/scorecards/{scorecard_id}": () => ok(version({ state: "published" })),
      "GET /v1/scorecards/{scorecard_id}/governance": () =>
        ok({
          applications_scored: 30,
          bands: [
            { band: "AA", scored: 10, matured: 4, defaulted: 0, default_rate: "0" },
            { band: "D", scored: 20, matured: 10, defaulted: 3, default_rate: "0.3" },
          ],
        }),
    });
    open("/scorecards/scv_1");
    expect(await screen.findByText("30 loans scored with this version.")).toBeInTheDocument();
    const track = within(screen.getByRole("region", { name: "Track record" }));
    const d = within(track.getByRole("rowheader", { name: "D" }).closest("tr")!);
    expect(d.getAllByRole("cell").map((c) => c.textContent)).toEqual(["20", "10", "3", "30.00%"]);
    expect(screen.queryByRole("button")).toBeNull();
    expect(screen.queryByRole("heading", { name: "What if" })).toBeNull();
  });

  it("lists the versions with their state", async () => {
    signInAs({ role: "risk_officer", permissions: RISK });
    serve({
      "GET /v1/scorecards": () =>
        ok({ items: [version({ state: "retired" }), version({ id: "scv_2", version: 2, state: "published" })], next_page_token: "" }),
    });
    open("/scorecards");
    const rows = await screen.findAllByRole("row");
    expect(rows.slice(1).map((r) => within(r).getAllByRole("cell").map((c) => c.textContent))).toEqual([
      ["1", "retired", "2026-03-31", "—"],
      ["2", "published", "2026-03-31", "—"],
    ]);
    expect(screen.getAllByRole("link", { name: "Retail" })[1]).toHaveAttribute("href", "/scorecards/scv_2");
    expect(screen.getByRole("button", { name: "New scorecard" })).toBeInTheDocument();
  });
});
