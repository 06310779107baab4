/**
 * What the signed-in person may do to the loan now, by their permissions (from /v1/me) and the
 * loan's status: approve or reject an application, disburse an approved loan, record a
 * repayment, refund a credit balance, write off. One form is open at a time. Money-moving
 * requests carry an Idempotency-Key made once per opened form, so a double click or a retry
 * after a lost answer is applied once.
 */
import { useState } from "react";

import { ApiProblem } from "@/api/problem";
import { Busy, fieldError } from "@/components/Feedback";
import { Field, SelectField } from "@/components/Field";
import { useBorrower } from "@/components/Lookups";
import { t } from "@/i18n";
import { money, today } from "@/lib/format";
import { can, useMe } from "@/lib/session";

import {
  CHANNELS,
  newKey,
  useApprove,
  useDisburse,
  useRefund,
  useReject,
  useRepay,
  useReschedule,
  useWriteOff,
  type Channel,
  type Loan,
} from "../api";
import { ActionError, ActionPanel } from "./ActionPanel";

type Open = "reject" | "disburse" | "repay" | "refund" | "reschedule" | "write-off" | null;

const AMOUNT = /^\d+(\.\d{1,2})?$/;

/** A key for one form's request: kept across retries, replaced after a refusal of the input
 * (the server applied nothing, and the corrected body would be a different request). */
function useIdempotencyKey(): [string, (error: unknown) => void] {
  const [key, setKey] = useState(newKey);
  const refused = (error: unknown) => {
    if (error instanceof ApiProblem && (error.status === 400 || error.status === 422)) setKey(newKey());
  };
  return [key, refused];
}

export function LoanActions({ loan, onDone }: { loan: Loan; onDone: (message: string) => void }) {
  const me = useMe();
  const [open, setOpen] = useState<Open>(null);
  // Approval is one click; the server judges maker-checker, the role's limit and eligibility.
  const approve = useApprove(loan.id);
  const approved = () => onDone(t("loans.done.approved"));
  const overriding =
    approve.error instanceof ApiProblem && approve.error.reason === "NOT_ELIGIBLE" && can(me, "loans:override_eligibility");
  const close = () => setOpen(null);
  const finish = (message: string) => {
    setOpen(null);
    onDone(message);
  };
  const s = loan.status;
  const props = { loan, onCancel: close, onDone: finish };

  if (open === "reject") return <Reject {...props} />;
  if (open === "disburse") return <Disburse {...props} />;
  if (open === "repay") return <Repay {...props} />;
  if (open === "refund") return <Refund {...props} />;
  if (open === "reschedule") return <Reschedule {...props} />;
  if (open === "write-off") return <WriteOff {...props} />;

  const credit = Number(loan.credit_balance || "0") > 0;
  const buttons: [boolean, Exclude<Open, null>, string][] = [
    [s === "submitted" && can(me, "loans:reject"), "reject", t("loans.reject")],
    [s === "approved" && can(me, "loans:disburse"), "disburse", t("loans.disburse")],
    [s === "active" && can(me, "repayments:create"), "repay", t("loans.repay")],
    [(s === "active" || s === "closed") && credit && can(me, "repayments:reverse"), "refund", t("loans.refund")],
    [s === "active" && can(me, "loans:reschedule"), "reschedule", t("loans.reschedule")],
    [s === "active" && can(me, "loans:write_off"), "write-off", t("loans.writeOff")],
  ];
  const approving = s === "submitted" && can(me, "loans:approve");
  if (!approving && !buttons.some(([allowed]) => allowed)) return null;
  return (
    <>
      {approving && loan.created_by === me.id && <p className="note">{t("loans.makerChecker")}</p>}
      <div className="actions">
        {approving && (
          <button type="button" disabled={approve.isPending} onClick={() => approve.mutate({}, { onSuccess: approved })}>
            {t("loans.approve")}
          </button>
        )}
        {buttons
          .filter(([allowed]) => allowed)
          .map(([, name, label]) => (
            <button key={name} type="button" className={name === "write-off" ? "danger" : undefined} onClick={() => setOpen(name)}>
              {label}
            </button>
          ))}
      </div>
      {approve.isPending && <Busy label={t("loans.working")} />}
      <ActionError error={approve.error} />
      {overriding && <Override onOverride={(reason) => approve.mutate({ override_reason: reason }, { onSuccess: approved })} pending={approve.isPending} />}
    </>
  );
}

/** A failed eligibility rule (NOT_ELIGIBLE) may be overridden by whoever holds
 * loans:override_eligibility, with a written reason. */
function Override({ onOverride, pending }: { onOverride: (reason: string) => void; pending: boolean }) {
  const [reason, setReason] = useState("");
  const [missing, setMissing] = useState(false);
  return (
    <form
      noValidate
      className="panel"
      onSubmit={(e) => {
        e.preventDefault();
        if (!reason.trim()) return setMissing(true);
        onOverride(reason.trim());
      }}
    >
      <Field
        label={t("loans.field.overrideReason")}
        required
        value={reason}
        onChange={(e) => {
          setReason(e.target.value);
          setMissing(false);
        }}
        error={missing ? t("loans.error.required") : undefined}
      />
      <button type="submit" disabled={pending}>
        {t("loans.approveOverride")}
      </button>
    </form>
  );
}

type ActionProps = { loan: Loan; onCancel: () => void; onDone: (message: string) => void };

function Reject({ loan, onCancel, onDone }: ActionProps) {
  const reject = useReject(loan.id);
  const [reason, setReason] = useState("");
  const [missing, setMissing] = useState(false);
  return (
    <ActionPanel
      label={t("loans.reject")}
      question={t("loans.rejectQuestion")}
      onCancel={onCancel}
      pending={reject.isPending}
      error={reject.error}
      fields={["reason"]}
      onConfirm={() => {
        if (!reason.trim()) return setMissing(true);
        reject.mutate(reason.trim(), { onSuccess: () => onDone(t("loans.done.rejected")) });
      }}
    >
      <Field
        label={t("loans.field.reason")}
        required
        value={reason}
        onChange={(e) => {
          setReason(e.target.value);
          setMissing(false);
        }}
        error={missing ? t("loans.error.required") : fieldError(reject.error, "reason")}
      />
    </ActionPanel>
  );
}

function ChannelField({ value, onChange }: { value: Channel; onChange: (channel: Channel) => void }) {
  return (
    <SelectField label={t("loans.field.channel")} value={value} onChange={(e) => onChange(e.target.value as Channel)}>
      {CHANNELS.map((c) => (
        <option key={c} value={c}>
          {t(`loans.channel.${c}`)}
        </option>
      ))}
    </SelectField>
  );
}

function Disburse({ loan, onCancel, onDone }: ActionProps) {
  const disburse = useDisburse(loan.id);
  const borrower = useBorrower(loan.borrower_id).data;
  const [key, refused] = useIdempotencyKey();
  const [date, setDate] = useState(today());
  const [channel, setChannel] = useState<Channel>("cash");
  const [missing, setMissing] = useState(false);
  const amount = money(loan.principal, loan.currency);
  return (
    <ActionPanel
      label={t("loans.disburse")}
      question={t("loans.disburseQuestion", {
        amount,
        name: borrower ? `${borrower.first_name} ${borrower.last_name}` : loan.borrower_id,
        date: date || "—",
      })}
      onCancel={onCancel}
      pending={disburse.isPending}
      error={disburse.error}
      fields={["disbursement_date", "channel"]}
      onConfirm={() => {
        if (!date) return setMissing(true);
        disburse.mutate(
          { key, disbursement_date: date, channel },
          { onSuccess: () => onDone(t("loans.done.disbursed", { amount })), onError: refused },
        );
      }}
    >
      <Field
        label={t("loans.field.disbursementDate")}
        type="date"
        required
        value={date}
        onChange={(e) => {
          setDate(e.target.value);
          setMissing(false);
        }}
        error={missing ? t("loans.error.required") : fieldError(disburse.error, "disbursement_date")}
      />
      <ChannelField value={channel} onChange={setChannel} />
    </ActionPanel>
  );
}

type Payment = { amount: string; paid_on: string; channel: Channel; reference: string };

/** The fields of money received or paid back: amount, date, channel, reference. */
function PaymentFields({
  value,
  onChange,
  errors,
  dateLabel,
}: {
  value: Payment;
  onChange: (change: Partial<Payment>) => void;
  errors: Partial<Record<keyof Payment, string>>;
  dateLabel: string;
}) {
  return (
    <>
      <Field
        label={t("loans.field.amount")}
        inputMode="decimal"
        autoComplete="off"
        required
        value={value.amount}
        onChange={(e) => onChange({ amount: e.target.value })}
        error={errors.amount}
      />
      <Field
        label={dateLabel}
        type="date"
        required
        max={today()}
        value={value.paid_on}
        onChange={(e) => onChange({ paid_on: e.target.value })}
        error={errors.paid_on}
      />
      <ChannelField value={value.channel} onChange={(channel) => onChange({ channel })} />
      <Field
        label={t("loans.field.reference")}
        autoComplete="off"
        value={value.reference}
        onChange={(e) => onChange({ reference: e.target.value })}
        error={errors.reference}
      />
    </>
  );
}

function checkPayment(p: Payment): Partial<Record<keyof Payment, string>> {
  const errors: Partial<Record<keyof Payment, string>> = {};
  const amount = p.amount.trim();
  if (!amount) errors.amount = t("loans.error.required");
  else if (!AMOUNT.test(amount) || Number(amount) <= 0) errors.amount = t("loans.error.amount");
  if (!p.paid_on) errors.paid_on = t("loans.error.required");
  return errors;
}

/** A payment form's state, the browser's checks and the server's field errors together. */
function usePayment(initial: Partial<Payment>, error: unknown) {
  const [value, setValue] = useState<Payment>({ amount: "", paid_on: today(), channel: "cash", reference: "", ...initial });
  const [errors, setErrors] = useState<Partial<Record<keyof Payment, string>>>({});
  const change = (c: Partial<Payment>) => {
    setValue((v) => ({ ...v, ...c }));
    setErrors({});
  };
  const server = error instanceof ApiProblem ? error.fields : {};
  const shown = { ...server, ...errors } as Partial<Record<keyof Payment, string>>;
  const valid = () => {
    const found = checkPayment(value);
    setErrors(found);
    return Object.keys(found).length === 0;
  };
  const body = {
    amount: value.amount.trim(),
    paid_on: value.paid_on,
    channel: value.channel,
    reference: value.reference.trim() || null,
  };
  return { value, change, shown, valid, body };
}

const PAYMENT_FIELDS = ["amount", "paid_on", "channel", "reference"];

function Repay({ loan, onCancel, onDone }: ActionProps) {
  const repay = useRepay(loan.id);
  const [key, refused] = useIdempotencyKey();
  const payment = usePayment({}, repay.error);
  const next = loan.schedule.find((i) => !i.paid);
  return (
    <ActionPanel
      label={t("loans.repay")}
      confirm={t("loans.repay")}
      danger={false}
      onCancel={onCancel}
      pending={repay.isPending}
      error={repay.error}
      fields={PAYMENT_FIELDS}
      onConfirm={() => {
        if (!payment.valid()) return;
        const amount = money(payment.body.amount, loan.currency);
        repay.mutate(
          { key, body: payment.body },
          { onSuccess: () => onDone(t("loans.done.repaid", { amount })), onError: refused },
        );
      }}
    >
      {next && (
        <p className="hint">
          {t("loans.nextDue", { number: next.number, date: next.due_date, amount: money(next.total, loan.currency) })}
        </p>
      )}
      <PaymentFields value={payment.value} onChange={payment.change} errors={payment.shown} dateLabel={t("loans.field.paidOn")} />
    </ActionPanel>
  );
}

function Refund({ loan, onCancel, onDone }: ActionProps) {
  const refund = useRefund(loan.id);
  const [key, refused] = useIdempotencyKey();
  const payment = usePayment({ amount: loan.credit_balance }, refund.error);
  const amount = money(payment.body.amount || "0", loan.currency);
  return (
    <ActionPanel
      label={t("loans.refund")}
      question={t("loans.refundQuestion", { amount, credit: money(loan.credit_balance, loan.currency) })}
      onCancel={onCancel}
      pending={refund.isPending}
      error={refund.error}
      fields={PAYMENT_FIELDS}
      onConfirm={() => {
        if (!payment.valid()) return;
        refund.mutate(
          { key, body: payment.body },
          { onSuccess: () => onDone(t("loans.done.refunded", { amount })), onError: refused },
        );
      }}
    >
      <PaymentFields value={payment.value} onChange={payment.change} errors={payment.shown} dateLabel={t("loans.field.refundedOn")} />
    </ActionPanel>
  );
}

/** A new schedule for what is left: a term from the date, maybe a new rate, grace on principal. */
function Reschedule({ loan, onCancel, onDone }: ActionProps) {
  const reschedule = useReschedule(loan.id);
  const [term, setTerm] = useState("");
  const [rate, setRate] = useState("");
  const [grace, setGrace] = useState("0");
  const [reason, setReason] = useState("");
  const [date, setDate] = useState(today());
  const [errors, setErrors] = useState<Record<string, string>>({});
  const check = (): Record<string, string> => {
    const found: Record<string, string> = {};
    if (!/^[0-9]{1,3}$/.test(term)) found.new_term = t("loans.error.whole");
    if (rate && !/^[0-9]{1,3}(\.[0-9]{1,4})?$/.test(rate)) found.new_annual_interest_rate = t("loans.error.rate");
    if (!/^[0-9]{1,3}$/.test(grace)) found.grace_on_principal = t("loans.error.whole");
    if (!reason.trim()) found.reason = t("loans.error.required");
    return found;
  };
  const shown = (field: string) => errors[field] ?? fieldError(reschedule.error, field);
  return (
    <ActionPanel
      label={t("loans.reschedule")}
      question={t("loans.rescheduleQuestion", { amount: money(loan.outstanding.principal || "0", loan.currency) })}
      danger={false}
      onCancel={onCancel}
      pending={reschedule.isPending}
      error={reschedule.error}
      fields={["new_term", "new_annual_interest_rate", "grace_on_principal", "reason", "date"]}
      onConfirm={() => {
        const found = check();
        setErrors(found);
        if (Object.keys(found).length) return;
        reschedule.mutate(
          {
            new_term: Number(term),
            new_annual_interest_rate: rate || null,
            grace_on_principal: Number(grace),
            reason: reason.trim(),
            date,
          },
          { onSuccess: () => onDone(t("loans.done.rescheduled")) },
        );
      }}
    >
      <Field label={t("loans.field.newTerm")} inputMode="numeric" required value={term} onChange={(e) => setTerm(e.target.value)} error={shown("new_term")} hint={t("loans.field.newTermHint")} />
      <Field label={t("loans.field.newRate")} inputMode="decimal" value={rate} onChange={(e) => setRate(e.target.value)} error={shown("new_annual_interest_rate")} hint={t("loans.field.newRateHint")} />
      <Field label={t("loans.field.grace")} inputMode="numeric" value={grace} onChange={(e) => setGrace(e.target.value)} error={shown("grace_on_principal")} />
      <Field label={t("loans.field.reason")} required value={reason} onChange={(e) => setReason(e.target.value)} error={shown("reason")} />
      <Field label={t("loans.field.rescheduleDate")} type="date" value={date} onChange={(e) => setDate(e.target.value)} error={shown("date")} />
    </ActionPanel>
  );
}

function WriteOff({ loan, onCancel, onDone }: ActionProps) {
  const writeOff = useWriteOff(loan.id);
  const [reason, setReason] = useState("");
  const [date, setDate] = useState(today());
  const [missing, setMissing] = useState(false);
  return (
    <ActionPanel
      label={t("loans.writeOff")}
      question={t("loans.writeOffQuestion", { amount: money(loan.outstanding.total || "0", loan.currency) })}
      onCancel={onCancel}
      pending={writeOff.isPending}
      error={writeOff.error}
      fields={["reason", "date"]}
      onConfirm={() => {
        if (!reason.trim()) return setMissing(true);
        writeOff.mutate({ reason: reason.trim(), date }, { onSuccess: () => onDone(t("loans.done.writtenOff")) });
      }}
    >
      <Field
        label={t("loans.field.reason")}
        required
        value={reason}
        onChange={(e) => {
          setReason(e.target.value);
          setMissing(false);
        }}
        error={missing ? t("loans.error.required") : fieldError(writeOff.error, "reason")}
      />
      <Field
        label={t("loans.field.writeOffDate")}
        type="date"
        value={date}
        onChange={(e) => setDate(e.target.value)}
        error={fieldError(writeOff.error, "date")}
      />
    </ActionPanel>
  );
}
