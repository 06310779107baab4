/** The signed-in frame: the navigation the role may use, sign-out, and the page. When the
 * session ends mid-use the page stays mounted (what was typed is kept) under a sign-in. */
import { useQueryClient } from "@tanstack/react-query";
import { useEffect } from "react";
import { NavLink, Outlet, useLocation } from "react-router-dom";

import { api } from "@/api/client";
import { SignIn } from "@/features/auth/SignIn";
import { t } from "@/i18n";
import { today } from "@/lib/format";
import { useOnline } from "@/lib/online";
import { can, deviceProfile, session, useSession } from "@/lib/session";

import { useLiveFeed } from "./live";
import { ALERTS_PATH, sections } from "./nav";

export function Shell() {
  const { me, expired, offline } = useSession();
  const queries = useQueryClient();
  const online = useOnline();
  // Working offline, only what the device holds can be shown: the collection sheet.
  const visible = sections().filter(
    (s) => can(me, s.permission) && (!offline || s.path === "/collections"),
  );
  const mustSignIn = expired || (offline && online);
  const collects = can(me, "repayments:create");
  const onAlerts = useLocation().pathname.startsWith(ALERTS_PATH);
  const live = useLiveFeed(onAlerts);

  useEffect(() => {
    if (!collects || !me) return;
    // Collections queued offline (maybe in an earlier session) are sent after any sign-in,
    // whichever screen opens first.
    void import("@/features/collections/sync").then((m) => m.startBackgroundSync());
    // The collection sheet is where a collector spends the day: its screen and today's sheet
    // are fetched while they look at the first one.
    void import("@/features/collections");
    void import("@/features/collections/api").then((m) =>
      queries.prefetchQuery(m.sheetQuery(me.id, today())),
    );
  }, [collects, me, queries]);

  async function signOut() {
    try {
      if (!offline) await api.POST("/v1/auth/logout");
    } finally {
      deviceProfile.forget();
      session.clear();
    }
  }

  return (
    <div className="shell">
      <header>
        <span className="brand">{t("app.name")}</span>
        <nav aria-label={t("nav.label")}>
          <ul>
            {visible.map((s) =>
              s.path === ALERTS_PATH && live.openAlerts > 0 ? (
                <li key={s.path}>
                  <NavLink to={s.path} aria-describedby="alerts-badge">
                    {s.label}
                  </NavLink>{" "}
                  <span id="alerts-badge" className="badge">
                    <span aria-hidden="true">{live.openAlerts}</span>
                    <span className="visually-hidden">{t("alerts.badge", { count: live.openAlerts })}</span>
                  </span>
                </li>
              ) : (
                <li key={s.path}>
                  <NavLink to={s.path}>{s.label}</NavLink>
                </li>
              ),
            )}
          </ul>
        </nav>
        <span className="who">{me?.full_name}</span>
        <button type="button" onClick={signOut}>
          {t("nav.signOut")}
        </button>
      </header>
      {live.announcement && (
        <p role="status" className="announcement">
          {live.announcement}
        </p>
      )}
      <main className="page" inert={mustSignIn || undefined}>
        <Outlet />
      </main>
      {mustSignIn && (
        <div className="overlay" role="dialog" aria-modal="true" aria-label={t("auth.title")}>
          <p>{offline ? t("auth.backOnline") : t("auth.expired")}</p>
          <SignIn heading={t("auth.title")} />
        </div>
      )}
    </div>
  );
}
