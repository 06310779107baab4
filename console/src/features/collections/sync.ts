/**
 * Sends the queue in the background for as long as the app runs: at start, whenever the
 * connection comes back, after each sign-in, after collections are queued, and every half
 * minute while the server does not answer. A 401 leaves the queue for the next sign-in.
 */
import { session, type Session } from "@/lib/session";

import { sendCollection } from "./api";
import { queueStore } from "./db";
import { createSyncer, type SyncResult } from "./queue";

const RETRY_MS = 30_000;

const sync = createSyncer(queueStore, sendCollection);
const listeners = new Set<(result: SyncResult) => void>();
let retry: ReturnType<typeof setTimeout> | undefined;
let started = false;

function signedIn(s: Session): boolean {
  return !!(s.me && s.accessToken && !s.expired && !s.mfaEnrolmentRequired);
}

/** Sends the signed-in user's waiting collections now (nothing when signed out). */
export async function requestSync(): Promise<SyncResult | null> {
  const current = session.get();
  if (!signedIn(current) || !current.me) return null;
  clearTimeout(retry);
  const result = await sync(current.me.id);
  if (result.stopped === "retry" && navigator.onLine) retry = setTimeout(requestSync, RETRY_MS);
  listeners.forEach((listener) => listener(result));
  return result;
}

/** Called after every send, e.g. to fetch the sheets again once something was recorded. */
export function onSynced(listener: (result: SyncResult) => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** Starts the background sending (once; later calls do nothing). */
export function startBackgroundSync(): void {
  if (started) return;
  started = true;
  window.addEventListener("online", () => void requestSync());
  let was = signedIn(session.get());
  session.subscribe(() => {
    const now = signedIn(session.get());
    if (now && !was) void requestSync();
    was = now;
  });
  void requestSync();
}
