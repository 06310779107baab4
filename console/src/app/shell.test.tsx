import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { act, render, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { MemoryRouter, Route, Routes } from "react-router-dom";
import { describe, expect, it, vi } from "vitest";

import type { LiveEvent } from "@/lib/live";
import { renderScreen, serve, signInAs } from "@/test/api";

import { Shell } from "./Shell";

const feed = vi.hoisted(() => ({ handler: null as ((e: LiveEvent) => void) | null, stops: 0 }));

vi.mock("@/lib/live", () => ({
  openLiveFeed: (handler: (e: LiveEvent) => void) => {
    feed.handler = handler;
    return () => {
      feed.stops++;
      feed.handler = null;
    };
  },
}));

const alert = (id: string, title: string, status = "open") => ({
  kind: "alert" as const,
  item: {
    id,
    title,
    status,
    branch_id: "br_1",
    rule_id: "rule_1",
    trigger: "days_past_due",
    detail: "",
    subject_type: "loan",
    subject_id: "loan_1",
    assignee_id: null,
  },
});

function show(path: string) {
  return renderScreen(
    <Routes>
      <Route element={<Shell />}>
        <Route path="*" element={<p>page</p>} />
      </Route>
    </Routes>,
    path,
  );
}

describe("the shell's live feed", () => {
  it("announces a new alert and counts the open ones on the Alerts link until the queue is opened", async () => {
    signInAs({ role: "branch_manager", permissions: ["alerts:read", "notifications:read", "loans:read"] });
    serve({});
    show("/loans");
    const nav = screen.getByRole("navigation");
    const link = within(nav).getByRole("link", { name: "Alerts" });
    expect(screen.queryByRole("status")).toBeNull();
    expect(feed.handler).not.toBeNull();

    act(() => feed.handler!(alert("alr_1", "Loan 8 days past due")));
    expect(screen.getByRole("status")).toHaveTextContent("New alert: Loan 8 days past due");
    act(() => feed.handler!(alert("alr_2", "Branch PAR30 at 12.50%")));
    expect(screen.getByRole("status")).toHaveTextContent("New alert: Branch PAR30 at 12.50%");
    expect(within(nav).getByRole("link", { name: "Alerts" })).toHaveAccessibleDescription("2 new open alerts");
    // A change of one (acknowledged elsewhere) is no new alert, and it is no longer open.
    act(() => feed.handler!(alert("alr_1", "Loan 8 days past due", "acknowledged")));
    expect(screen.getByRole("status")).toHaveTextContent("New alert: Branch PAR30 at 12.50%");
    expect(within(nav).getByRole("link", { name: "Alerts" })).toHaveAccessibleDescription("1 new open alerts");

    await userEvent.click(link);
    expect(within(nav).getByRole("link", { name: "Alerts" })).not.toHaveAccessibleDescription();
  });

  it("stops the feed on sign-out", async () => {
    signInAs({ role: "agent", permissions: ["alerts:read", "notifications:read", "loans:read"] });
    serve({ "POST /v1/auth/logout": async () => ({ response: new Response(null, { status: 204 }) }) });
    const before = feed.stops;
    show("/loans");
    expect(feed.handler).not.toBeNull();
    await userEvent.click(screen.getByRole("button", { name: "Sign out" }));
    expect(feed.stops).toBe(before + 1);
  });

  it("opens no feed for a role that may read neither alerts nor messages", () => {
    signInAs({ role: "platform_admin", permissions: ["institutions:create"] });
    serve({});
    feed.handler = null;
    show("/institutions");
    expect(feed.handler).toBeNull();
    expect(screen.queryByRole("link", { name: "Alerts" })).toBeNull();
  });

  it("refreshes the lists a message or an alert belongs to, and every list on reconnecting", () => {
    signInAs({ role: "agent", permissions: ["alerts:read", "notifications:read", "loans:read"] });
    serve({});
    const client = new QueryClient();
    const refreshed = vi.spyOn(client, "invalidateQueries");
    render(
      <QueryClientProvider client={client}>
        <MemoryRouter initialEntries={["/loans"]}>
          <Routes>
            <Route element={<Shell />}>
              <Route path="*" element={<p>page</p>} />
            </Route>
          </Routes>
        </MemoryRouter>
      </QueryClientProvider>,
    );
    const keys = () => refreshed.mock.calls.map(([filters]) => filters?.queryKey);
    act(() => feed.handler!({ kind: "connected", again: false }));
    expect(keys()).toEqual([]);
    act(() =>
      feed.handler!({
        kind: "notification",
        item: { id: "ntf_1", borrower_id: "brw_1", loan_id: "loan_1", channel: "sms", template: "loan_approved", status: "sent" },
      }),
    );
    expect(keys()).toEqual([
      ["notifications", "borrower", "brw_1"],
      ["notifications", "loan", "loan_1"],
      ["loan", "loan_1"],
      ["loans", { borrower_id: "brw_1" }],
    ]);
    refreshed.mockClear();
    act(() => feed.handler!(alert("alr_1", "Loan 8 days past due")));
    expect(keys()).toEqual([["alerts"]]);
    refreshed.mockClear();
    act(() => feed.handler!({ kind: "connected", again: true }));
    expect(keys()).toEqual([["alerts"], ["notifications"]]);
  });
});
