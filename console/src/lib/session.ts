/**
 * Who is signed in. Tokens live in memory only: nothing a script injected through user-supplied
 * text could read survives in localStorage or sessionStorage. Closing the tab signs out; work
 * queued offline (collections) is kept in IndexedDB without any token and sent after the next
 * sign-in.
 */
import { useSyncExternalStore } from "react";

import type { components } from "@/api/schema";

export type Me = components["schemas"]["Me"];

export type Session = {
  accessToken: string | null;
  refreshToken: string | null;
  me: Me | null;
  /** The tokens stopped working mid-use: the page stays as it is and asks to sign in again. */
  expired: boolean;
  /** Signed in with a token that only allows enrolling a second factor. */
  mfaEnrolmentRequired: boolean;
  /** Working without a connection as the device's last collector, with no token at all: only
   * what the device holds (the collection sheet and its queue) until they sign in again. */
  offline: boolean;
};

const empty: Session = {
  accessToken: null,
  refreshToken: null,
  me: null,
  expired: false,
  mfaEnrolmentRequired: false,
  offline: false,
};

let current: Session = empty;
const listeners = new Set<() => void>();

export const session = {
  get: (): Session => current,
  set(change: Partial<Session>): void {
    current = { ...current, ...change };
    listeners.forEach((l) => l());
  },
  clear(): void {
    current = empty;
    listeners.forEach((l) => l());
  },
  subscribe(listener: () => void): () => void {
    listeners.add(listener);
    return () => listeners.delete(listener);
  },
};

export function useSession(): Session {
  return useSyncExternalStore(session.subscribe, session.get);
}

export function can(me: Me | null, permission: string): boolean {
  return !!me && me.permissions.includes(permission);
}

/** The signed-in user, for screens that only render once signed in. */
export function useMe(): Me {
  const { me } = useSession();
  if (!me) throw new Error("useMe outside a signed-in screen");
  return me;
}

const PROFILE = "kopa.offline-profile";

/**
 * Who last collected repayments on this device: a profile (name, role, permissions), nothing
 * that authenticates, kept so that the console can open their collection sheet without a
 * connection after it was closed. Signing out forgets it.
 */
export const deviceProfile = {
  remember(me: Me): void {
    if (can(me, "repayments:create")) localStorage.setItem(PROFILE, JSON.stringify(me));
  },
  recall(): Me | null {
    try {
      return JSON.parse(localStorage.getItem(PROFILE) ?? "null") as Me | null;
    } catch {
      return null;
    }
  },
  forget(): void {
    localStorage.removeItem(PROFILE);
  },
};
