/**
 * Collections waiting to be sent: what an agent collected, kept on the device until the
 * server has recorded it as a repayment. Each carries the Idempotency-Key it was given when
 * queued and is sent with it every time, so however often (and from however many tabs) the
 * queue is sent, the server records it once and answers a repeat with the first answer.
 *
 * The sending logic works on any `QueueStore` (IndexedDB in the app, memory in tests).
 */
import { ApiProblem, isOffline } from "@/api/problem";

export type Collection = {
  /** The Idempotency-Key of its repayment; also its key in the queue. */
  key: string;
  /** Who collected it: only their session sends it. No token is kept. */
  userId: string;
  loanId: string;
  /** The sheet's row it was entered on (a repayment is of the loan as a whole). */
  installmentNumber: number;
  borrowerName: string;
  /** Decimal string in major units. */
  amount: string;
  /** The collection date: the repayment's `paid_on`. */
  paidOn: string;
  /** When it was queued (ISO timestamp): the queue is sent in this order. */
  queuedAt: string;
  /** Refused collections wait for the agent to edit or discard them; they are never resent. */
  state: "waiting" | "refused";
  refusal?: string;
};

export interface QueueStore {
  /** The user's collections, oldest first. */
  list(userId: string): Promise<Collection[]>;
  put(collection: Collection): Promise<void>;
  remove(key: string): Promise<void>;
}

/** What became of one attempt to send a collection. */
export type Outcome =
  | { kind: "sent" }
  | { kind: "refused"; message: string }
  /** No answer (offline, server down, busy): try again later. */
  | { kind: "retry" }
  /** The session has ended: the rest waits for the next sign-in. */
  | { kind: "signed-out" };

export type Send = (collection: Collection) => Promise<Outcome>;

export type SyncResult = { sent: number; refused: number; stopped: "retry" | "signed-out" | null };

/** An Idempotency-Key: a random UUID (v4). `crypto.getRandomValues`, unlike `randomUUID`,
 * also exists on pages not served over HTTPS. */
export function newKey(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The outcome of a failed attempt (its error as the typed client throws it). */
export function outcomeOf(error: unknown): Outcome {
  // Offline, or something unexpected: the server has not answered, so try again.
  if (!(error instanceof ApiProblem) || isOffline(error)) return { kind: "retry" };
  if (error.status === 401) return { kind: "signed-out" };
  const transient =
    error.status === 408 ||
    error.status === 429 ||
    error.status >= 500 ||
    error.reason === "IDEMPOTENCY_REQUEST_IN_PROGRESS";
  if (transient) return { kind: "retry" };
  return { kind: "refused", message: error.field("amount") ?? error.message };
}

/** Sends the user's waiting collections, oldest first, until one gets no answer. */
export async function syncQueue(store: QueueStore, send: Send, userId: string): Promise<SyncResult> {
  const result: SyncResult = { sent: 0, refused: 0, stopped: null };
  for (const collection of await store.list(userId)) {
    if (collection.state !== "waiting") continue;
    const outcome = await send(collection);
    if (outcome.kind === "sent") {
      await store.remove(collection.key);
      result.sent += 1;
    } else if (outcome.kind === "refused") {
      await store.put({ ...collection, state: "refused", refusal: outcome.message });
      result.refused += 1;
    } else {
      result.stopped = outcome.kind;
      break;
    }
  }
  return result;
}

/** `syncQueue` that runs once at a time: a call during a run waits for it and then runs once
 * more (for what was queued meanwhile), so no collection is in flight twice from one tab. */
export function createSyncer(store: QueueStore, send: Send): (userId: string) => Promise<SyncResult> {
  let running: Promise<SyncResult> | null = null;
  let next: Promise<SyncResult> | null = null;
  return function sync(userId: string): Promise<SyncResult> {
    if (running === null) {
      running = syncQueue(store, send, userId).finally(() => (running = null));
      return running;
    }
    const again = () => {
      next = null;
      return sync(userId);
    };
    next ??= running.then(again, again);
    return next;
  };
}
