import { afterEach, describe, expect, it, vi } from "vitest";

import { session } from "@/lib/session";
import { signInAs } from "@/test/api";

import { openLiveFeed, type LiveEvent } from "./live";

/** A stream the test writes to, chunk by chunk, and ends. */
function stream() {
  let push!: (text: string) => void;
  let end!: () => void;
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      const encoder = new TextEncoder();
      push = (text) => controller.enqueue(encoder.encode(text));
      end = () => controller.close();
    },
  });
  return { response: new Response(body, { status: 200, headers: { "Content-Type": "text/event-stream" } }), push, end };
}

type Opened = { token: string; push: (text: string) => void; end: () => void };

function fakeServer() {
  const opened: Opened[] = [];
  const fetch = vi.fn(async (_url: RequestInfo | URL, init?: RequestInit) => {
    const s = stream();
    const headers = new Headers(init?.headers);
    opened.push({ token: headers.get("Authorization") ?? "", push: s.push, end: s.end });
    init?.signal?.addEventListener("abort", () => {
      try {
        s.end();
      } catch {
        // closed already
      }
    });
    return s.response;
  });
  return { opened, fetch: fetch as unknown as typeof globalThis.fetch };
}

let stop: (() => void) | undefined;
afterEach(() => stop?.());

describe("the live feed", () => {
  it("hands on notifications and alerts, whatever the chunks, and ignores comments and other events", async () => {
    signInAs({ role: "branch_manager", permissions: ["alerts:read", "notifications:read"] });
    const server = fakeServer();
    const events: LiveEvent[] = [];
    stop = openLiveFeed((e) => events.push(e), { fetch: server.fetch });
    await vi.waitFor(() => expect(server.opened).toHaveLength(1));
    const [first] = server.opened;
    expect(first.token).toBe("Bearer token");
    first.push(": subscribed\n\nevent: alert\nid: alr_1\nda");
    first.push('ta: {"id":"alr_1","title":"Loan 8 days past due","status":"open"}\n\n: ping\n\n');
    first.push('event: notification\nid: ntf_1\ndata: {"id":"ntf_1","borrower_id":"brw_1","loan_id":"loan_1","status":"sent"}\r\n\r\n');
    first.push("event: something_else\ndata: {}\n\nevent: alert\ndata: not json\n\n");
    await vi.waitFor(() => expect(events).toHaveLength(3));
    expect(events).toEqual([
      { kind: "connected", again: false },
      { kind: "alert", item: { id: "alr_1", title: "Loan 8 days past due", status: "open" } },
      { kind: "notification", item: { id: "ntf_1", borrower_id: "brw_1", loan_id: "loan_1", status: "sent" } },
    ]);
  });

  it("renews the token when the stream ends with it, and opens it again with the new one", async () => {
    signInAs({ role: "agent", permissions: ["notifications:read"] });
    const server = fakeServer();
    const events: LiveEvent[] = [];
    const renew = vi.fn(async () => {
      session.set({ accessToken: "renewed" });
      return true;
    });
    stop = openLiveFeed((e) => events.push(e), { fetch: server.fetch, renew, delays: [10] });
    await vi.waitFor(() => expect(server.opened).toHaveLength(1));
    server.opened[0].push(": TOKEN_EXPIRED\n\n");
    server.opened[0].end();
    await vi.waitFor(() => expect(server.opened).toHaveLength(2));
    expect(renew).toHaveBeenCalledTimes(1);
    expect(server.opened[1].token).toBe("Bearer renewed");
    await vi.waitFor(() => expect(events).toContainEqual({ kind: "connected", again: true }));
  });

  it("opens the stream again after a pause when the connection fails, and stops on sign-out", async () => {
    signInAs({ role: "agent", permissions: ["notifications:read"] });
    let calls = 0;
    const server = fakeServer();
    const flaky = vi.fn(async (url: RequestInfo | URL, init?: RequestInit) => {
      if (calls++ === 0) throw new TypeError("Failed to fetch");
      return server.fetch(url, init);
    }) as unknown as typeof fetch;
    const renew = vi.fn(async () => true);
    stop = openLiveFeed(() => undefined, { fetch: flaky, renew, delays: [10] });
    await vi.waitFor(() => expect(server.opened).toHaveLength(1));
    expect(renew).not.toHaveBeenCalled();

    session.clear();
    await new Promise((r) => setTimeout(r, 50));
    expect(calls).toBe(2);
  });

  it("asks to sign in again when the session cannot be renewed, and waits for it", async () => {
    signInAs({ role: "agent", permissions: ["notifications:read"] });
    const server = fakeServer();
    const renew = vi.fn(async () => false);
    stop = openLiveFeed(() => undefined, { fetch: server.fetch, renew, delays: [10] });
    await vi.waitFor(() => expect(server.opened).toHaveLength(1));
    server.opened[0].push(": TOKEN_REVOKED\n\n");
    server.opened[0].end();
    await vi.waitFor(() => expect(session.get().expired).toBe(true));
    await new Promise((r) => setTimeout(r, 50));
    expect(server.opened).toHaveLength(1);

    session.set({ accessToken: "signed-in-again", expired: false });
    await vi.waitFor(() => expect(server.opened).toHaveLength(2));
    expect(server.opened[1].token).toBe("Bearer signed-in-again");
  });
});
