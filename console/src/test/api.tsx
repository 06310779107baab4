/**
 * Screens under test talk to a fake gateway. `serve` answers the typed client's calls by
 * "METHOD /path/{template}" (as the screens name them) and records each call;
 * `signInAs` puts someone in the session; `renderScreen` wraps a screen in the providers
 * App gives it. Every test starts signed out with a real client again.
 */
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { cleanup, render } from "@testing-library/react";
import type { ReactElement } from "react";
import { MemoryRouter } from "react-router-dom";
import { afterEach, vi } from "vitest";

import { api } from "@/api/client";
import type { ProblemBody } from "@/api/problem";
import { session, type Me } from "@/lib/session";

export type Init = {
  params?: { path?: Record<string, string>; query?: Record<string, unknown> };
  body?: unknown;
};
export type Reply = { data?: unknown; error?: unknown; response: Response };
export type Call = { route: string; init: Init };

export const ok = (data?: unknown, status = 200): Reply => ({ data, response: new Response(null, { status }) });

export const refused = (status: number, body: ProblemBody): Reply => ({
  error: body,
  response: new Response(null, { status }),
});

export function serve(routes: Record<string, (init: Init) => Reply | Promise<Reply>>): Call[] {
  const calls: Call[] = [];
  for (const method of ["GET", "POST", "PUT", "DELETE"] as const) {
    const fake = async (path: string, init?: Init): Promise<Reply> => {
      const route = `${method} ${path}`;
      calls.push({ route, init: init ?? {} });
      const answer = routes[route];
      return answer ? answer(init ?? {}) : refused(404, { detail: `no fake for ${route}` });
    };
    // The client's methods are generic over every path; the fake answers any of them.
    vi.spyOn(api, method).mockImplementation(fake as never);
  }
  return calls;
}

export function signInAs(me: Pick<Me, "role" | "permissions"> & Partial<Me>): Me {
  const full: Me = {
    id: "usr_me",
    email: "me@mfi.test",
    full_name: "Signed In",
    institution_id: "inst_1",
    branch_id: null,
    mfa_enabled: false,
    must_change_password: false,
    ...me,
  };
  session.set({ accessToken: "token", refreshToken: "refresh", me: full });
  return full;
}

export function renderScreen(screen: ReactElement, path = "/") {
  const client = new QueryClient({ defaultOptions: { queries: { retry: false }, mutations: { retry: false } } });
  return render(
    <QueryClientProvider client={client}>
      <MemoryRouter initialEntries={[path]}>{screen}</MemoryRouter>
    </QueryClientProvider>,
  );
}

afterEach(() => {
  cleanup();
  vi.restoreAllMocks();
  session.clear();
});
