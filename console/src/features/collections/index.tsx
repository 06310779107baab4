/**
 * Collections: the field agent's sheet for a day, which keeps working without a connection.
 * The sheet is saved on the device each time it is fetched and shown from there offline;
 * what the agent collects is queued on the device and sent as repayments when there is a
 * connection (./sync), each exactly once. A `status` region says what waits to be sent.
 */
import { useQueryClient } from "@tanstack/react-query";
import { useEffect, useState } from "react";

import { isOffline } from "@/api/problem";
import { Busy, ErrorAlert } from "@/components/Feedback";
import { Field } from "@/components/Field";
import { t } from "@/i18n";
import { MoneyCell } from "@/components/Money";
import { isoDate, today } from "@/lib/format";
import { useOnline } from "@/lib/online";
import { useMe } from "@/lib/session";

import { SHEETS, useCollectionSheet, type ShownSheet } from "./api";
import "./collections.css";
import { useQueue } from "./hooks";
import type { Collection } from "./queue";
import { CollectionNote, rowKey, SheetForm } from "./Sheet";
import { onSynced, startBackgroundSync } from "./sync";
import { SyncStatus } from "./SyncStatus";

const ISO_DATE = /^\d{4}-\d{2}-\d{2}$/;

/** Queued collections that no row of the shown sheet holds: of other days, or of loans no
 * longer due (a loan closed meanwhile is refused, and must still be resolved). */
function Elsewhere({ collections, currency }: { collections: Collection[]; currency: string | null | undefined }) {
  if (!collections.length) return null;
  return (
    <section aria-labelledby="collections-elsewhere">
      <h2 id="collections-elsewhere">{t("collections.elsewhere")}</h2>
      <p className="hint">{t("collections.elsewhereHint")}</p>
      <div className="table-wrap">
        <table>
          <thead>
            <tr>
              <th scope="col">{t("collections.borrower")}</th>
              <th scope="col">{t("collections.collectedOn")}</th>
              <th scope="col" className="num">
                {t("collections.amount")}
              </th>
              <th scope="col">{t("collections.state")}</th>
            </tr>
          </thead>
          <tbody>
            {collections.map((c) => (
              <tr key={c.key}>
                <th scope="row">{c.borrowerName}</th>
                <td className="nowrap">{c.paidOn}</td>
                <MoneyCell amount={c.amount} currency={currency} />
                <td>
                  <CollectionNote collection={c} currency={currency} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}

function SheetView({ shown, queue }: { shown: ShownSheet; queue: Collection[] }) {
  const { sheet, date, userId } = shown;
  const onSheet = new Set(sheet.items.map((i) => rowKey(i.loan_id, i.installment_number)));
  const here = queue.filter((c) => c.paidOn === date && onSheet.has(rowKey(c.loanId, c.installmentNumber)));
  return (
    <>
      {shown.fromDevice && (
        <p className="hint">{t("collections.fromDevice", { time: shown.savedAt.slice(0, 16).replace("T", " ") })}</p>
      )}
      {sheet.items.length ? (
        <SheetForm key={date} userId={userId} date={date} sheet={sheet} queued={here} />
      ) : (
        <p>{t("collections.nothingDue", { date: isoDate(sheet.date) })}</p>
      )}
      <Elsewhere collections={queue.filter((c) => !here.includes(c))} currency={sheet.currency} />
    </>
  );
}

export default function CollectionsPage() {
  const me = useMe();
  const [date, setDate] = useState(today());
  const valid = ISO_DATE.test(date);
  const sheet = useCollectionSheet(me.id, valid ? date : "");
  const queue = useQueue(me.id);
  const online = useOnline();
  const queries = useQueryClient();

  useEffect(() => {
    startBackgroundSync();
    // What was recorded (or refused: a loan closed meanwhile) changes what is due.
    return onSynced((result) => {
      if (result.sent || result.refused) void queries.invalidateQueries({ queryKey: SHEETS });
    });
  }, [queries]);

  // One `status` region at a time: the wait for the sheet, then what waits to be sent.
  const loading = valid && sheet.isPending;
  let content;
  if (!valid || sheet.isPending) content = null;
  else if (sheet.isError && isOffline(sheet.error))
    content = (
      <p role="alert" className="alert">
        {t("collections.noCopy", { date })}
      </p>
    );
  else if (sheet.isError) content = <ErrorAlert error={sheet.error} />;
  else content = <SheetView shown={sheet.data} queue={queue ?? []} />;

  return (
    <div className="collections">
      <h1>{t("collections.title")}</h1>
      <p className="hint">{t("collections.intro")}</p>
      {loading ? <Busy /> : <SyncStatus queue={queue} online={online} />}
      <div className="sheet-date">
        <Field
          label={t("collections.date")}
          type="date"
          required
          value={date}
          onChange={(event) => setDate(event.target.value)}
          error={valid ? undefined : t("collections.dateRequired")}
        />
      </div>
      {content}
    </div>
  );
}
