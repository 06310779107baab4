import { act, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";

import { ok, refused, renderScreen, serve, signInAs, type Init } from "@/test/api";

import { queueStore } from "./db";
import type { MemoryQueue } from "./fakes";
import CollectionsPage from "./index";

// jsdom has no IndexedDB: the device's storage is kept in memory.
vi.mock("./db", async () => (await import("./fakes")).memoryDevice());

const queue = queueStore as unknown as MemoryQueue;

const item = {
  loan_id: "loan_1",
  borrower_id: "bor_1",
  borrower_name: "Achieng Odhiambo",
  group_id: "grp_1",
  group_name: "Tumaini",
  phone: "+254712345678",
  installment_number: 1,
  due_date: "2026-03-15",
  amount_due: "1040.26",
  arrears: "1040.26",
  days_past_due: 16,
};
const sheet = {
  date: "2026-03-31",
  currency: "KES",
  items: [
    item,
    { ...item, installment_number: 2, due_date: "2026-03-31", amount_due: "1040.27" },
    { ...item, loan_id: "loan_2", borrower_id: "bor_2", borrower_name: "Juma Hassan", group_id: null, group_name: null },
  ],
};

function setOnline(online: boolean) {
  vi.spyOn(navigator, "onLine", "get").mockReturnValue(online);
  act(() => void window.dispatchEvent(new Event(online ? "online" : "offline")));
}

async function rowOf(name: string, due: string) {
  const rows = await screen.findAllByRole("row", { name: new RegExp(name) });
  const row = rows.find((r) => within(r).queryByText(due));
  if (!row) throw new Error(`no row of ${name} due ${due}`);
  return row;
}

afterEach(() => queue.collections.clear());

describe("collections", () => {
  it("shows a row per installment by group and records each amount entered once, with its own key", async () => {
    signInAs({ id: "usr_agent", role: "agent", permissions: ["repayments:read", "repayments:create"] });
    const calls = serve({
      "GET /v1/collection-sheets": () => ok(sheet),
      "POST /v1/loans/{loan_id}/repayments": () => ok({}, 201),
    });
    renderScreen(<CollectionsPage />);
    expect(await screen.findByRole("rowheader", { name: "Tumaini" })).toBeInTheDocument();
    expect(screen.getByRole("rowheader", { name: "No group" })).toBeInTheDocument();
    expect(screen.getAllByLabelText("Amount collected")).toHaveLength(3);
    expect(screen.getAllByLabelText("Amount collected").every((i) => (i as HTMLInputElement).value === "")).toBe(true);

    await userEvent.type(within(await rowOf("Achieng", "2026-03-15")).getByLabelText("Amount collected"), "500");
    await userEvent.type(within(await rowOf("Juma", "2026-03-15")).getByLabelText("Amount collected"), "20.5");
    await userEvent.click(screen.getByRole("button", { name: "Save collections" }));

    expect(await screen.findByRole("status")).toHaveTextContent("All collections sent");
    const posts = calls.filter((c) => c.route.startsWith("POST"));
    expect(posts.map((c) => (c.init as Init & { body: unknown }).body)).toEqual([
      { amount: "500", paid_on: expect.any(String), channel: "cash", reference: "collection-sheet" },
      { amount: "20.5", paid_on: expect.any(String), channel: "cash", reference: "collection-sheet" },
    ]);
    expect(posts.map((c) => c.init.params?.path?.loan_id)).toEqual(["loan_1", "loan_2"]);
    const keys = posts.map((c) => (c.init.params as { header: Record<string, string> }).header["Idempotency-Key"]);
    expect(new Set(keys).size).toBe(2);
    expect(screen.getAllByLabelText("Amount collected").every((i) => (i as HTMLInputElement).value === "")).toBe(true);
  });

  it("queues what is saved offline, says how many wait, and sends it once back online", async () => {
    signInAs({ id: "usr_agent", role: "agent", permissions: ["repayments:read", "repayments:create"] });
    let network = true;
    const offline = () => Promise.reject(new TypeError("Failed to fetch"));
    const calls = serve({
      "GET /v1/collection-sheets": () => (network ? ok(sheet) : offline()),
      "POST /v1/loans/{loan_id}/repayments": () => (network ? ok({}, 201) : offline()),
    });
    renderScreen(<CollectionsPage />);
    const input = within(await rowOf("Achieng", "2026-03-31")).getByLabelText("Amount collected");

    network = false;
    setOnline(false);
    await userEvent.type(input, "1040.27");
    await userEvent.click(screen.getByRole("button", { name: "Save collections" }));
    expect(await screen.findByText("Offline: 1 collection waiting to be sent.")).toHaveRole("status");
    expect(await screen.findByText("Waiting to be sent: KES 1,040.27")).toBeInTheDocument();

    network = true;
    setOnline(true);
    expect(await screen.findByText("All collections sent")).toHaveRole("status");
    const keys = calls
      .filter((c) => c.route.startsWith("POST"))
      .map((c) => (c.init.params as { header: Record<string, string> }).header["Idempotency-Key"]);
    expect(new Set(keys).size).toBe(1);
    expect(queue.collections.size).toBe(0);
  });

  it("keeps a refusal on its row, to edit and save again or to discard", async () => {
    signInAs({ id: "usr_agent", role: "agent", permissions: ["repayments:read", "repayments:create"] });
    let answer = refused(409, { detail: "the loan is closed", reason: "ILLEGAL_TRANSITION" });
    const calls = serve({
      "GET /v1/collection-sheets": () => ok(sheet),
      "POST /v1/loans/{loan_id}/repayments": () => answer,
    });
    renderScreen(<CollectionsPage />);
    const row = await rowOf("Juma", "2026-03-15");
    await userEvent.type(within(row).getByLabelText("Amount collected"), "300");
    await userEvent.click(screen.getByRole("button", { name: "Save collections" }));
    expect(await within(row).findByText("Refused (KES 300.00): the loan is closed")).toBeInTheDocument();
    expect(screen.getByRole("status")).toHaveTextContent("1 collection was refused");
    expect(within(row).getByLabelText("Amount collected")).toHaveAccessibleDescription(
      /^Refused \(KES\s300.00\): the loan is closed$/,
    );

    await userEvent.click(within(row).getByRole("button", { name: "Edit" }));
    expect(within(row).getByLabelText("Amount collected")).toHaveValue("300");
    answer = ok({}, 201);
    await userEvent.click(screen.getByRole("button", { name: "Save collections" }));
    expect(await screen.findByText("All collections sent")).toBeInTheDocument();
    const keys = calls
      .filter((c) => c.route.startsWith("POST"))
      .map((c) => (c.init.params as { header: Record<string, string> }).header["Idempotency-Key"]);
    expect(keys).toHaveLength(2);
    expect(keys[0]).not.toBe(keys[1]); // an edited collection is a new request

    answer = refused(422, { detail: "invalid", errors: [{ field: "amount", message: "is more than is owed" }] });
    await userEvent.type(within(row).getByLabelText("Amount collected"), "99999");
    await userEvent.click(screen.getByRole("button", { name: "Save collections" }));
    await userEvent.click(await within(row).findByRole("button", { name: "Discard" }));
    await userEvent.click(within(row).getByRole("button", { name: "Confirm" }));
    expect(await screen.findByText("All collections sent")).toBeInTheDocument();
    expect(queue.collections.size).toBe(0);
  });

  it("checks each amount beside its input and queues nothing until all are right", async () => {
    signInAs({ id: "usr_agent", role: "agent", permissions: ["repayments:read", "repayments:create"] });
    const calls = serve({ "GET /v1/collection-sheets": () => ok(sheet) });
    renderScreen(<CollectionsPage />);
    await userEvent.click(await screen.findByRole("button", { name: "Save collections" }));
    expect(screen.getByRole("alert")).toHaveTextContent("Enter at least one amount collected.");

    const input = within(await rowOf("Achieng", "2026-03-15")).getByLabelText("Amount collected");
    await userEvent.type(input, "12.345");
    await userEvent.type(within(await rowOf("Juma", "2026-03-15")).getByLabelText("Amount collected"), "10");
    await userEvent.click(screen.getByRole("button", { name: "Save collections" }));
    expect(input).toHaveAccessibleDescription("Enter an amount greater than zero, like 1250.50.");
    expect(input).toHaveFocus();
    expect(queue.collections.size).toBe(0);
    expect(calls.filter((c) => c.route.startsWith("POST"))).toEqual([]);
  });

  it("shows the sheet saved on the device when offline, and says when there is none", async () => {
    signInAs({ id: "usr_agent", role: "agent", permissions: ["repayments:read"] });
    let network = true;
    serve({
      "GET /v1/collection-sheets": () => (network ? ok(sheet) : Promise.reject(new TypeError("Failed to fetch"))),
    });
    const first = renderScreen(<CollectionsPage />);
    await screen.findByRole("rowheader", { name: "Tumaini" });
    first.unmount();

    network = false;
    renderScreen(<CollectionsPage />);
    expect(await screen.findByRole("rowheader", { name: "Tumaini" })).toBeInTheDocument();
    expect(screen.getByText(/Offline: this is the sheet saved on this device/)).toBeInTheDocument();

    const date = screen.getByLabelText("Collection date");
    await userEvent.clear(date);
    await userEvent.type(date, "2020-01-01");
    expect(await screen.findByRole("alert")).toHaveTextContent("the sheet of 2020-01-01 is not saved on this device");
  });
});
