/** The sheet as a form: a row per installment due, by group, each with the amount collected;
 * saving queues every amount entered (see ./queue) and asks for it to be sent. */
import { useRef, useState, type FormEvent } from "react";

import { ConfirmButton } from "@/components/Confirm";
import { ErrorAlert } from "@/components/Feedback";
import { Money } from "@/components/Money";
import { t } from "@/i18n";
import { isoDate, money } from "@/lib/format";

import { amountError, minorUnits } from "./amount";
import { queueStore, type Sheet } from "./db";
import { newKey, type Collection } from "./queue";
import { requestSync } from "./sync";

type Item = Sheet["items"][number];

export function rowKey(loanId: string, installmentNumber: number): string {
  return `${loanId}:${installmentNumber}`;
}

/** The items by group, in the server's order (groups by name, individuals last). */
function byGroup(items: Item[]): { id: string; name: string; items: Item[] }[] {
  const groups: { id: string; name: string; items: Item[] }[] = [];
  for (const item of items) {
    const id = item.group_id ?? "";
    let group = groups.at(-1);
    if (!group || group.id !== id) {
      group = { id, name: id ? item.group_name || id : t("collections.noGroup"), items: [] };
      groups.push(group);
    }
    group.items.push(item);
  }
  return groups;
}

/** What became of a collection queued from a row: waiting, or refused (edit or discard). */
export function CollectionNote({
  collection,
  currency,
  onEdit,
  id,
}: {
  collection: Collection;
  currency: string | null | undefined;
  onEdit?: (collection: Collection) => void;
  /** Of its text, for the input it describes. */
  id?: string;
}) {
  const amount = money(collection.amount, currency);
  if (collection.state === "waiting") {
    return (
      <span id={id} className="note">
        {t("collections.entryWaiting", { amount })}
      </span>
    );
  }
  return (
    <div className="note refused">
      <span id={id} className="field-error">
        {t("collections.entryRefused", { amount, reason: collection.refusal ?? "" })}
      </span>
      <div className="note-actions">
        {onEdit && (
          <button type="button" className="secondary" onClick={() => onEdit(collection)}>
            {t("collections.edit")}
          </button>
        )}
        <ConfirmButton
          question={t("collections.discardQuestion", {
            amount,
            name: collection.borrowerName,
            date: collection.paidOn,
          })}
          onConfirm={() => void queueStore.remove(collection.key)}
        >
          {t("collections.discard")}
        </ConfirmButton>
      </div>
    </div>
  );
}

export function SheetForm({
  userId,
  date,
  sheet,
  queued,
}: {
  userId: string;
  date: string;
  sheet: Sheet;
  /** The user's queued collections of this date. */
  queued: Collection[];
}) {
  const [amounts, setAmounts] = useState<Record<string, string>>({});
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [saving, setSaving] = useState(false);
  const [problem, setProblem] = useState<unknown>(null);
  const [notice, setNotice] = useState("");
  const inputs = useRef(new Map<string, HTMLInputElement>());
  const decimals = minorUnits(sheet.currency);

  function entered(item: Item): string {
    return (amounts[rowKey(item.loan_id, item.installment_number)] ?? "").trim();
  }

  async function save(event: FormEvent) {
    event.preventDefault();
    setProblem(null);
    setNotice("");
    const rows = sheet.items.filter((item) => entered(item));
    const found: Record<string, string> = {};
    for (const item of rows) {
      const why = amountError(entered(item), decimals);
      if (why) found[rowKey(item.loan_id, item.installment_number)] = why;
    }
    setErrors(found);
    if (!rows.length) {
      setNotice(t("collections.nothingEntered"));
      return;
    }
    const firstBad = Object.keys(found)[0];
    if (firstBad) {
      inputs.current.get(firstBad)?.focus();
      return;
    }
    setSaving(true);
    try {
      const queuedAt = new Date().toISOString();
      for (const item of rows) {
        await queueStore.put({
          key: newKey(),
          userId,
          loanId: item.loan_id,
          installmentNumber: item.installment_number,
          borrowerName: item.borrower_name || item.borrower_id,
          amount: entered(item),
          paidOn: date,
          queuedAt,
          state: "waiting",
        });
      }
      setAmounts({});
      void requestSync();
    } catch (error) {
      setProblem(error);
    } finally {
      setSaving(false);
    }
  }

  function edit(collection: Collection) {
    const key = rowKey(collection.loanId, collection.installmentNumber);
    setAmounts((now) => ({ ...now, [key]: collection.amount }));
    void queueStore.remove(collection.key);
    inputs.current.get(key)?.focus();
  }

  return (
    <form onSubmit={save} noValidate>
      <div className="table-wrap">
        <table className="sheet">
          <thead>
            <tr>
              <th scope="col">{t("collections.borrower")}</th>
              <th scope="col">{t("collections.phone")}</th>
              <th scope="col">{t("collections.dueDate")}</th>
              <th scope="col" className="num">
                {t("collections.amountDue")}
              </th>
              <th scope="col" className="num">
                {t("collections.arrears")}
              </th>
              <th scope="col">{t("collections.amountCollected")}</th>
            </tr>
          </thead>
          {byGroup(sheet.items).map((group) => (
            <tbody key={group.id}>
              <tr className="group">
                <th scope="rowgroup" colSpan={6}>
                  {group.name}
                </th>
              </tr>
              {group.items.map((item) => {
                const key = rowKey(item.loan_id, item.installment_number);
                const mine = queued.filter((c) => rowKey(c.loanId, c.installmentNumber) === key);
                const errorId = `collected-${key}-error`;
                const noteId = (c: Collection) => `collected-${c.key}`;
                const described = [errors[key] ? errorId : "", ...mine.map(noteId)].filter(Boolean).join(" ");
                return (
                  <tr key={key}>
                    <th scope="row">{item.borrower_name || item.borrower_id}</th>
                    <td data-label={t("collections.phone")}>
                      <a href={`tel:${item.phone}`}>{item.phone}</a>
                    </td>
                    <td className="nowrap" data-label={t("collections.dueDate")}>
                      {isoDate(item.due_date)}
                    </td>
                    <td className="num" data-label={t("collections.amountDue")}>
                      <Money amount={item.amount_due} currency={sheet.currency} />
                    </td>
                    <td className="num" data-label={t("collections.arrears")}>
                      <Money amount={item.arrears} currency={sheet.currency} />
                      {item.days_past_due > 0 && (
                        <span className="hint late">{t("collections.daysLate", { days: item.days_past_due })}</span>
                      )}
                    </td>
                    <td className="collected" data-label={t("collections.amountCollected")}>
                      <input
                        ref={(element) => {
                          if (element) inputs.current.set(key, element);
                          else inputs.current.delete(key);
                        }}
                        aria-label={t("collections.amountCollected")}
                        inputMode="decimal"
                        autoComplete="off"
                        value={amounts[key] ?? ""}
                        onChange={(event) => setAmounts((now) => ({ ...now, [key]: event.target.value }))}
                        aria-invalid={errors[key] ? true : undefined}
                        aria-describedby={described || undefined}
                      />
                      {errors[key] && (
                        <span id={errorId} className="field-error">
                          {errors[key]}
                        </span>
                      )}
                      {mine.map((c) => (
                        <CollectionNote
                          key={c.key}
                          id={noteId(c)}
                          collection={c}
                          currency={sheet.currency}
                          onEdit={edit}
                        />
                      ))}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          ))}
        </table>
      </div>
      {notice && (
        <p role="alert" className="alert">
          {notice}
        </p>
      )}
      <ErrorAlert error={problem} />
      <div className="actions save-bar">
        <button type="submit" disabled={saving}>
          {saving ? t("collections.saving") : t("collections.save")}
        </button>
      </div>
    </form>
  );
}
