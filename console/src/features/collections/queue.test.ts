import { describe, expect, it } from "vitest";

import { ApiProblem } from "@/api/problem";

import { MemoryQueue } from "./fakes";
import { createSyncer, newKey, outcomeOf, syncQueue, type Collection, type Outcome } from "./queue";

let clock = 0;

function collection(changes: Partial<Collection> = {}): Collection {
  clock += 1;
  return {
    key: newKey(),
    userId: "usr_agent",
    loanId: "loan_1",
    installmentNumber: 1,
    borrowerName: "Achieng Odhiambo",
    amount: "500.00",
    paidOn: "2026-03-31",
    queuedAt: new Date(Date.UTC(2026, 2, 31, 8, 0, clock)).toISOString(),
    state: "waiting",
    ...changes,
  };
}

async function queueOf(...collections: Collection[]): Promise<MemoryQueue> {
  const store = new MemoryQueue();
  for (const c of collections) await store.put(c);
  return store;
}

/** A server that answers each loan as told and records every key it was sent. */
function server(answers: Record<string, Outcome> = {}) {
  const keys: string[] = [];
  const send = async (c: Collection): Promise<Outcome> => {
    keys.push(c.key);
    await Promise.resolve();
    return answers[c.loanId] ?? { kind: "sent" };
  };
  return { keys, send };
}

describe("the queue of collections", () => {
  it("sends the user's collections oldest first and forgets what was recorded", async () => {
    const first = collection({ loanId: "loan_1" });
    const second = collection({ loanId: "loan_2" });
    const someoneElses = collection({ userId: "usr_other" });
    const store = await queueOf(second, someoneElses, first);
    const { keys, send } = server();
    expect(await syncQueue(store, send, "usr_agent")).toEqual({ sent: 2, refused: 0, stopped: null });
    expect(keys).toEqual([first.key, second.key]);
    expect([...store.collections.values()]).toEqual([someoneElses]);
  });

  it("keeps a refusal for the agent to resolve and never sends it again", async () => {
    const closed = collection({ loanId: "loan_closed" });
    const fine = collection({ loanId: "loan_ok" });
    const store = await queueOf(closed, fine);
    const { keys, send } = server({ loan_closed: { kind: "refused", message: "the loan is closed" } });
    expect(await syncQueue(store, send, "usr_agent")).toEqual({ sent: 1, refused: 1, stopped: null });
    expect(await store.list("usr_agent")).toEqual([{ ...closed, state: "refused", refusal: "the loan is closed" }]);
    await syncQueue(store, send, "usr_agent");
    expect(keys).toEqual([closed.key, fine.key]);
  });

  it("stops at the first collection without an answer, or when signed out, keeping the rest", async () => {
    for (const kind of ["retry", "signed-out"] as const) {
      const stuck = collection({ loanId: "loan_stuck" });
      const after = collection({ loanId: "loan_after" });
      const store = await queueOf(stuck, after);
      const { keys, send } = server({ loan_stuck: { kind } });
      expect(await syncQueue(store, send, "usr_agent")).toEqual({ sent: 0, refused: 0, stopped: kind });
      expect(keys).toEqual([stuck.key]);
      expect(await store.list("usr_agent")).toEqual([stuck, after]);
    }
  });

  it("sends each collection once however often the sync is asked for", async () => {
    const a = collection({ loanId: "loan_a" });
    const b = collection({ loanId: "loan_b" });
    const store = await queueOf(a, b);
    const { keys, send } = server();
    const sync = createSyncer(store, send);
    const runs = [sync("usr_agent"), sync("usr_agent"), sync("usr_agent")];
    const late = collection({ loanId: "loan_late" });
    await store.put(late); // queued while the first run is under way
    await Promise.all(runs);
    await sync("usr_agent");
    expect(keys).toEqual([a.key, b.key, late.key]);
    expect(await store.list("usr_agent")).toEqual([]);
  });

  it("keeps the same key on every attempt until the server answers", async () => {
    const c = collection();
    const store = await queueOf(c);
    let online = false;
    const keys: string[] = [];
    const send = async (sent: Collection): Promise<Outcome> => {
      keys.push(sent.key);
      return online ? { kind: "sent" } : { kind: "retry" };
    };
    await syncQueue(store, send, "usr_agent");
    await syncQueue(store, send, "usr_agent");
    online = true;
    await syncQueue(store, send, "usr_agent");
    expect(keys).toEqual([c.key, c.key, c.key]);
    expect(await store.list("usr_agent")).toEqual([]);
  });

  it("tells a refusal from a failure to answer", () => {
    expect(outcomeOf(new TypeError("Failed to fetch"))).toEqual({ kind: "retry" });
    expect(outcomeOf(new ApiProblem(503, { detail: "unavailable" }))).toEqual({ kind: "retry" });
    expect(outcomeOf(new ApiProblem(429, { detail: "slow down" }))).toEqual({ kind: "retry" });
    expect(outcomeOf(new ApiProblem(409, { reason: "IDEMPOTENCY_REQUEST_IN_PROGRESS" }))).toEqual({ kind: "retry" });
    expect(outcomeOf(new ApiProblem(401, { detail: "expired" }))).toEqual({ kind: "signed-out" });
    expect(outcomeOf(new ApiProblem(409, { detail: "the loan is closed" }))).toEqual({
      kind: "refused",
      message: "the loan is closed",
    });
    expect(
      outcomeOf(
        new ApiProblem(422, { detail: "invalid", errors: [{ field: "amount", message: "is more than is owed" }] }),
      ),
    ).toEqual({ kind: "refused", message: "is more than is owed" });
  });

  it("makes keys that are random UUIDs", () => {
    const keys = new Set(Array.from({ length: 100 }, newKey));
    expect(keys.size).toBe(100);
    for (const key of keys) expect(key).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});
