/** The signed-in frame: the navigation the role may use, sign-out, and the page. When the
 * session ends mid-use the page stays mounted (what was typed is kept) under a sign-in. */
import { useEffect } from "react";
import { NavLink, Outlet } from "react-router-dom";

import { api } from "@/api/client";
import { SignIn } from "@/features/auth/SignIn";
import { t } from "@/i18n";
import { can, session, useSession } from "@/lib/session";

import { sections } from "./nav";

export function Shell() {
  const { me, expired } = useSession();
  const visible = sections().filter((s) => can(me, s.permission));
  const collects = can(me, "repayments:create");

  useEffect(() => {
    // Collections queued offline (maybe in an earlier session) are sent after any sign-in,
    // whichever screen opens first.
    if (collects) void import("@/features/collections/sync").then((m) => m.startBackgroundSync());
  }, [collects]);

  async function signOut() {
    try {
      await api.POST("/v1/auth/logout");
    } finally {
      session.clear();
    }
  }

  return (
    <div className="shell">
      <header>
        <span className="brand">{t("app.name")}</span>
        <nav aria-label={t("nav.label")}>
          <ul>
            {visible.map((s) => (
              <li key={s.path}>
                <NavLink to={s.path}>{s.label}</NavLink>
              </li>
            ))}
          </ul>
        </nav>
        <span className="who">{me?.full_name}</span>
        <button type="button" onClick={signOut}>
          {t("nav.signOut")}
        </button>
      </header>
      <main className="page" inert={expired || undefined}>
        <Outlet />
      </main>
      {expired && (
        <div className="overlay" role="dialog" aria-modal="true" aria-label={t("auth.expired")}>
          <p>{t("auth.expired")}</p>
          <SignIn heading={t("auth.title")} />
        </div>
      )}
    </div>
  );
}
