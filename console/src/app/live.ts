/** What the shell does with the live feed (lib/live): refresh the lists that an item changes
 * (the alert queue, a borrower's or a loan's messages), announce each new alert, and count the
 * open alerts received live for the badge on the Alerts link (seen once the queue is open). */
import { useQueryClient } from "@tanstack/react-query";
import { useEffect, useRef, useState } from "react";

import { t } from "@/i18n";
import { openLiveFeed, type LiveEvent } from "@/lib/live";
import { can, useSession } from "@/lib/session";

/** How long an announcement stays in the status region. */
const SHOWN_MS = 60_000;

export function useLiveFeed(onAlerts: boolean): { announcement: string; openAlerts: number } {
  const { me, offline } = useSession();
  const queries = useQueryClient();
  const [announcement, setAnnouncement] = useState("");
  // Alert id -> its status, as last received live.
  const [received, setReceived] = useState<Map<string, string>>(new Map());
  // Alerts announced already (a change of an alert is no new alert).
  const announced = useRef(new Set<string>());
  const listens = !!me && !offline && (can(me, "alerts:read") || can(me, "notifications:read"));
  const userId = me?.id;

  useEffect(() => {
    if (!listens) return;
    const handle = (event: LiveEvent) => {
      if (event.kind === "connected") {
        // Nothing is replayed: what happened while the feed was closed is in the lists.
        if (event.again) {
          void queries.invalidateQueries({ queryKey: ["alerts"] });
          void queries.invalidateQueries({ queryKey: ["notifications"] });
        }
      } else if (event.kind === "alert") {
        const alert = event.item;
        void queries.invalidateQueries({ queryKey: ["alerts"] });
        const isNew = alert.status === "open" && !announced.current.has(alert.id);
        if (isNew) {
          announced.current.add(alert.id);
          setAnnouncement(t("alerts.announce", { title: alert.title }));
        }
        // The badge counts new alerts still open; a change of one seen already is not new.
        setReceived((known) => (isNew || known.has(alert.id) ? new Map(known).set(alert.id, alert.status) : known));
      } else {
        const message = event.item;
        void queries.invalidateQueries({ queryKey: ["notifications", "borrower", message.borrower_id] });
        if (message.loan_id) {
          void queries.invalidateQueries({ queryKey: ["notifications", "loan", message.loan_id] });
          // A message says something happened to the loan (approved, disbursed, paid): the
          // loan's page and the borrower's list of loans follow.
          void queries.invalidateQueries({ queryKey: ["loan", message.loan_id], exact: true });
          void queries.invalidateQueries({ queryKey: ["loans", { borrower_id: message.borrower_id }] });
        }
      }
    };
    return openLiveFeed(handle);
  }, [listens, userId, queries]);

  // The queue on screen shows them: the badge starts again from nothing.
  useEffect(() => {
    if (onAlerts) setReceived((known) => (known.size ? new Map() : known));
  }, [onAlerts, received]);


  useEffect(() => {
    if (!announcement) return;
    const timer = setTimeout(() => setAnnouncement(""), SHOWN_MS);
    return () => clearTimeout(timer);
  }, [announcement]);

  const openAlerts = [...received.values()].filter((status) => status === "open").length;
  return { announcement, openAlerts };
}
