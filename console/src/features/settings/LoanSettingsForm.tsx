/** Who may approve how much, and how late loans are classified: approval limits per role and
 * an editable table of delinquency buckets. */
import { useId, useState, type FormEvent, type InputHTMLAttributes } from "react";

import { Busy, ErrorAlert, fieldError } from "@/components/Feedback";
import { Field } from "@/components/Field";
import { t } from "@/i18n";
import { isoDate } from "@/lib/format";
import { can, useMe } from "@/lib/session";

import { useLoanSettings, useSaveLoanSettings, type LoanSettings } from "./api";
import { bodyOf, bucketField, check, draftOf, withBucket, type BucketDraft, type LoanDraft } from "./loanDraft";

export function LoanSettingsSection({ institutionId, currency }: { institutionId: string; currency: string }) {
  const me = useMe();
  const settings = useLoanSettings(institutionId);
  if (settings.isPending) return <Busy />;
  if (settings.isError) return <ErrorAlert error={settings.error} />;
  return (
    <LoanSettingsForm
      institutionId={institutionId}
      currency={currency}
      settings={settings.data}
      editable={can(me, "settings:manage")}
    />
  );
}

/** An input in a table cell: the column header shows its label, the accessible name says
 * which row; its error is text beside it that it references. */
function CellInput({ label, error, ...input }: { label: string; error?: string } & InputHTMLAttributes<HTMLInputElement>) {
  const id = useId();
  return (
    <td>
      <input
        aria-label={label}
        aria-invalid={error ? true : undefined}
        aria-describedby={error ? `${id}-error` : undefined}
        {...input}
      />
      {error && (
        <span id={`${id}-error`} className="field-error">
          {error}
        </span>
      )}
    </td>
  );
}

function LoanSettingsForm({
  institutionId,
  currency,
  settings,
  editable,
}: {
  institutionId: string;
  currency: string;
  settings: LoanSettings;
  editable: boolean;
}) {
  const [draft, setDraft] = useState<LoanDraft>(() => draftOf(settings));
  const [local, setLocal] = useState<Record<string, string>>({});
  const save = useSaveLoanSettings(institutionId);
  const error = (field: string) => local[field] ?? fieldError(save.error, field);
  const shownBeside = [
    ...Object.keys(draft.limits).map((role) => `approval_limits.${role}`),
    ...draft.buckets.flatMap((_, row) => (["name", "min_days", "max_days"] as const).map((p) => bucketField(row, p))),
  ];

  function edit(change: Partial<LoanDraft>) {
    setDraft({ ...draft, ...change });
    save.reset();
  }

  function editBucket(row: number, change: Partial<BucketDraft>) {
    edit({ buckets: draft.buckets.map((b, i) => (i === row ? { ...b, ...change } : b)) });
  }

  function submit(event: FormEvent) {
    event.preventDefault();
    const errors = check(draft);
    setLocal(errors);
    if (Object.keys(errors).length) return;
    save.mutate(bodyOf(draft), { onSuccess: (saved) => setDraft(draftOf(saved)) });
  }

  const readOnly = !editable;
  return (
    <form onSubmit={submit} noValidate>
      <p>
        {settings.business_date
          ? t("settings.businessDate", { date: isoDate(settings.business_date) })
          : t("settings.noBusinessDate")}
      </p>
      <h3>{t("settings.limits")}</h3>
      <div className="limits">
        {Object.keys(draft.limits).map((role) => (
          <Field
            key={role}
            label={t("settings.limit", { role: t(`role.${role}`) })}
            inputMode="decimal"
            readOnly={readOnly}
            placeholder={t("settings.noLimit")}
            value={draft.limits[role]}
            onChange={(e) => edit({ limits: { ...draft.limits, [role]: e.target.value } })}
            hint={t("settings.limitHint", { currency })}
            error={error(`approval_limits.${role}`)}
          />
        ))}
      </div>
      <h3 id="buckets-title">{t("settings.buckets")}</h3>
      <p className="hint" id="buckets-hint">
        {t("settings.bucketsHint")}
      </p>
      <div className="table-wrap">
        <table className="buckets" aria-labelledby="buckets-title" aria-describedby="buckets-hint">
          <thead>
            <tr>
              <th scope="col">{t("settings.bucketName")}</th>
              <th scope="col" className="num">
                {t("settings.minDays")}
              </th>
              <th scope="col" className="num">
                {t("settings.maxDays")}
              </th>
              {editable && <td />}
            </tr>
          </thead>
          <tbody>
            {draft.buckets.map((bucket, i) => {
              const row = i + 1;
              const cell = (column: string) => t("settings.bucketCell", { column, row });
              return (
                <tr key={i}>
                  <CellInput
                    label={cell(t("settings.bucketName"))}
                    readOnly={readOnly}
                    maxLength={40}
                    value={bucket.name}
                    onChange={(e) => editBucket(i, { name: e.target.value })}
                    error={error(bucketField(i, "name"))}
                  />
                  <CellInput
                    label={cell(t("settings.minDays"))}
                    inputMode="numeric"
                    readOnly={readOnly}
                    value={bucket.min}
                    onChange={(e) => editBucket(i, { min: e.target.value })}
                    error={error(bucketField(i, "min_days"))}
                  />
                  <CellInput
                    label={cell(t("settings.maxDays"))}
                    inputMode="numeric"
                    readOnly={readOnly}
                    placeholder={t("settings.openEnded")}
                    value={bucket.max}
                    onChange={(e) => editBucket(i, { max: e.target.value })}
                    error={error(bucketField(i, "max_days"))}
                  />
                  {editable && (
                    <td>
                      <button
                        type="button"
                        className="secondary"
                        aria-label={t("settings.removeBucketLabel", { row })}
                        onClick={() => edit({ buckets: draft.buckets.filter((_, j) => j !== i) })}
                      >
                        {t("settings.removeBucket")}
                      </button>
                    </td>
                  )}
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
      {editable && (
        <div className="actions">
          <button type="button" className="secondary" onClick={() => edit({ buckets: withBucket(draft.buckets) })}>
            {t("settings.addBucket")}
          </button>
          <button type="submit" disabled={save.isPending}>
            {t("settings.saveLoans")}
          </button>
        </div>
      )}
      {save.isPending && <Busy label={t("common.saving")} />}
      {save.isSuccess && <p role="status">{t("settings.saved")}</p>}
      <ErrorAlert error={save.error} fields={shownBeside} />
    </form>
  );
}
