/** Loan actions that need more than a click: the button opens what the action needs (a date,
 * a reason, an amount) with the question naming what will happen, and a confirm button. */
import { useEffect, useId, useRef, type ReactNode } from "react";

import { ApiProblem } from "@/api/problem";
import { Busy, ErrorAlert } from "@/components/Feedback";
import { t } from "@/i18n";

// Refusals a person can act on, explained beyond the server's sentence.
const EXPLAINED = ["MAKER_CHECKER_VIOLATION", "APPROVAL_LIMIT_EXCEEDED", "NOT_ELIGIBLE", "IDEMPOTENCY_KEY_REUSED"];

export function ActionError({ error, fields }: { error: unknown; fields?: string[] }) {
  if (error instanceof ApiProblem && EXPLAINED.includes(error.reason)) {
    return (
      <div role="alert" className="alert">
        {t(`loans.refused.${error.reason}`)} ({error.message})
      </div>
    );
  }
  return <ErrorAlert error={error} fields={fields} />;
}

export function ActionPanel({
  label,
  question,
  confirm = t("common.confirm"),
  danger = true,
  onConfirm,
  onCancel,
  pending,
  error,
  fields,
  children,
}: {
  label: string;
  question?: string;
  confirm?: string;
  danger?: boolean;
  onConfirm: () => void;
  onCancel: () => void;
  pending: boolean;
  error: unknown;
  fields?: string[];
  children?: ReactNode;
}) {
  const id = useId();
  const form = useRef<HTMLFormElement>(null);
  useEffect(() => {
    form.current?.querySelector<HTMLElement>("input, select, button")?.focus();
  }, []);
  return (
    <form
      ref={form}
      role="alertdialog"
      aria-labelledby={`${id}-title`}
      aria-describedby={question ? `${id}-question` : undefined}
      className="panel"
      noValidate
      onSubmit={(e) => {
        e.preventDefault();
        if (!pending) onConfirm();
      }}
      onKeyDown={(e) => {
        if (e.key === "Escape") onCancel();
      }}
    >
      <h3 id={`${id}-title`}>{label}</h3>
      {children}
      {question && <p id={`${id}-question`}>{question}</p>}
      <div className="actions">
        <button type="submit" className={danger ? "danger" : undefined} disabled={pending}>
          {confirm}
        </button>
        <button type="button" className="secondary" onClick={onCancel}>
          {t("common.cancel")}
        </button>
      </div>
      {pending && <Busy label={t("common.saving")} />}
      <ActionError error={error} fields={fields} />
    </form>
  );
}
