/**
 * The one typed API client, generated from the gateway's OpenAPI (`make console-api` writes
 * schema.d.ts). It adds the bearer token, renews it once on a 401 with the refresh token, and
 * turns every refusal into an ApiProblem.
 */
import createClient, { type Middleware } from "openapi-fetch";

import { session } from "@/lib/session";

import { ApiProblem, type ProblemBody } from "./problem";
import type { paths } from "./schema";

export const api = createClient<paths>({ baseUrl: "" });

let refreshing: Promise<boolean> | null = null;

/** Renews the access token with the refresh token, once however many ask at the same time
 * (the live feed asks when its stream ends with the token). False: the session is over. */
export function renewSession(): Promise<boolean> {
  refreshing ??= refresh().finally(() => (refreshing = null));
  return refreshing;
}

async function refresh(): Promise<boolean> {
  const token = session.get().refreshToken;
  if (!token) return false;
  const reply = await fetch("/v1/auth/refresh", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ refresh_token: token }),
  });
  if (!reply.ok) return false;
  const tokens = await reply.json();
  session.set({ accessToken: tokens.access_token, refreshToken: tokens.refresh_token });
  return true;
}

// A request's body is spent once sent: keep a copy to send again after a renewal.
const copies = new WeakMap<Request, Request>();

const auth: Middleware = {
  onRequest({ request }) {
    const token = session.get().accessToken;
    if (token) request.headers.set("Authorization", `Bearer ${token}`);
    copies.set(request, request.clone());
    return request;
  },
  async onResponse({ request, response }) {
    if (response.status !== 401 || !session.get().accessToken) return response;
    if (request.url.includes("/v1/auth/")) return response;
    if (await renewSession()) {
      const retry = copies.get(request) ?? request;
      retry.headers.set("Authorization", `Bearer ${session.get().accessToken}`);
      return fetch(retry);
    }
    session.set({ expired: true });
    return response;
  },
};

api.use(auth);

/** The answer's data, or an ApiProblem for a refusal. */
export async function call<T>(pending: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  const { data, error, response } = await pending;
  if (error !== undefined || !response.ok) {
    throw new ApiProblem(response.status, error as ProblemBody | undefined);
  }
  return data as T;
}
