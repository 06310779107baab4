/**
 * The live feed: `GET /v1/events/stream`, Server-Sent Events read with `fetch` (EventSource
 * cannot send the Authorization header), parsed by eventsource-parser. Each `notification` and
 * `alert` event is handed on with its JSON summary; `connected` is said every time the stream
 * opens, so that the screens reload what they show (nothing is replayed).
 *
 * The stream ends when the access token expires or the session ends (a last comment names why,
 * `: TOKEN_EXPIRED`): the token is renewed and the stream opened again at once. After any other
 * end or a network error it is opened again after a growing pause. Signing out stops it; a
 * session that cannot be renewed waits for the next sign-in.
 */
import { createParser } from "eventsource-parser";

import { renewSession } from "@/api/client";
import { session } from "@/lib/session";

/** What `event: notification` carries (`GET /v1/notifications/{id}` answers the whole). */
export type LiveNotification = {
  id: string;
  borrower_id: string;
  loan_id: string | null;
  channel: string;
  template: string;
  status: string;
};

/** What `event: alert` carries (`GET /v1/alerts/{id}` answers the whole). */
export type LiveAlert = {
  id: string;
  branch_id: string | null;
  rule_id: string;
  trigger: string;
  title: string;
  detail: string;
  subject_type: string;
  subject_id: string;
  status: string;
  assignee_id: string | null;
};

export type LiveEvent =
  | { kind: "connected"; again: boolean }
  | { kind: "notification"; item: LiveNotification }
  | { kind: "alert"; item: LiveAlert };

export type LiveOptions = {
  url?: string;
  fetch?: typeof fetch;
  renew?: () => Promise<boolean>;
  /** Pauses before opening again after the n-th failure in a row, in ms (the last repeats). */
  delays?: number[];
};

export const STREAM = "/v1/events/stream";
const DELAYS = [1_000, 2_000, 5_000, 10_000, 30_000];
/** A comment that ends the stream names its reason in capitals (`TOKEN_EXPIRED`). */
const REASON = /^[A-Z][A-Z_]+$/;

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done);
  });
}

/** Resolves when the session holds an access token other than `stale` (a new sign-in), or
 * when `signal` aborts. */
function nextToken(stale: string, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const check = () => {
      const token = session.get().accessToken;
      if (signal.aborted || (token && token !== stale)) {
        stop();
        resolve();
      }
    };
    const unsubscribe = session.subscribe(check);
    const stop = () => {
      unsubscribe();
      signal.removeEventListener("abort", check);
    };
    signal.addEventListener("abort", check);
    check();
  });
}

/** Opens the feed for the signed-in user and keeps it open; returns the function that stops it. */
export function openLiveFeed(onEvent: (event: LiveEvent) => void, options: LiveOptions = {}): () => void {
  const url = options.url ?? STREAM;
  const request = options.fetch ?? ((input, init) => fetch(input, init));
  const renew = options.renew ?? renewSession;
  const delays = options.delays ?? DELAYS;
  const control = new AbortController();
  const { signal } = control;

  // Signing out (no one signed in, no token) stops the feed.
  const unsubscribe = session.subscribe(() => {
    const { me, accessToken } = session.get();
    if (!me || !accessToken) stop();
  });
  function stop() {
    unsubscribe();
    control.abort();
  }

  function dispatch(name: string | undefined, data: string) {
    if (name !== "notification" && name !== "alert") return;
    let item: unknown;
    try {
      item = JSON.parse(data);
    } catch {
      return;
    }
    if (!item || typeof item !== "object" || typeof (item as { id?: unknown }).id !== "string") return;
    if (name === "alert") onEvent({ kind: "alert", item: item as LiveAlert });
    else onEvent({ kind: "notification", item: item as LiveNotification });
  }

  async function run() {
    let failures = 0;
    let opened = 0;
    while (!signal.aborted) {
      const token = session.get().accessToken;
      if (!token) return stop();
      // Why the stream ended, when it said so or was refused for its token.
      let ended = "";
      try {
        const reply = await request(url, {
          headers: { Authorization: `Bearer ${token}`, Accept: "text/event-stream" },
          cache: "no-store",
          signal,
        });
        if (reply.status === 401) ended = "UNAUTHENTICATED";
        else if (!reply.ok || !reply.body) throw new Error(`the event stream answered ${reply.status}`);
        else {
          failures = 0;
          onEvent({ kind: "connected", again: opened++ > 0 });
          const parser = createParser({
            onEvent: (message) => dispatch(message.event, message.data),
            onComment: (comment) => {
              const reason = comment.trim();
              if (REASON.test(reason)) ended = reason;
            },
          });
          const reader = reply.body.getReader();
          const decoder = new TextDecoder();
          for (;;) {
            const { value, done } = await reader.read();
            if (done) break;
            parser.feed(decoder.decode(value, { stream: true }));
          }
        }
      } catch {
        // A network error, or the stop: judged below.
      }
      if (signal.aborted) return;
      if (ended) {
        // Renewed already (by a request of the screens meanwhile): open it again with that one.
        if (session.get().accessToken !== token) continue;
        let renewed: boolean | null;
        try {
          renewed = await renew();
        } catch {
          renewed = null; // offline: asked again after the pause
        }
        if (renewed) continue;
        if (renewed === null) {
          await pause(delays[Math.min(failures++, delays.length - 1)], signal);
          continue;
        }
        // The session is over: the console asks to sign in again, and the feed waits for it.
        if (!session.get().expired && session.get().me) session.set({ expired: true });
        await nextToken(token, signal);
        continue;
      }
      await pause(delays[Math.min(failures++, delays.length - 1)], signal);
    }
  }

  void run();
  return stop;
}
