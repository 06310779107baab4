/** A loan: where it stands, what the signed-in person may do to it, its schedule with what has
 * been paid, its repayments, score, history, and (for whoever reads the books) its payoff
 * and statement. */
import { useState } from "react";
import { useParams } from "react-router-dom";

import { Busy, ErrorAlert } from "@/components/Feedback";
import { Field } from "@/components/Field";
import { Loading } from "@/components/Loading";
import { Money, MoneyCell } from "@/components/Money";
import { BorrowerName, ProductName, StaffName, useLoanProducts } from "@/components/Lookups";
import { AuditTrail } from "@/features/audit/AuditTrail";
import { Messages } from "@/features/notifications/Messages";
import { t } from "@/i18n";
import { isoDate, money, today } from "@/lib/format";
import { can, useMe } from "@/lib/session";

import { useLoan, usePayoff, useRepayments, useReverse, useScore, useStatement, type Loan, type Repayment } from "../api";
import { ActionError, ActionPanel } from "./ActionPanel";
import { LoanActions } from "./LoanActions";

export function LoanPage() {
  const { id = "" } = useParams();
  return <Loading query={useLoan(id)}>{(loan) => <LoanView key={loan.id} loan={loan} />}</Loading>;
}

function LoanView({ loan }: { loan: Loan }) {
  const me = useMe();
  const [done, setDone] = useState("");
  const product = useLoanProducts().data?.find((p) => p.id === loan.product_id);
  const c = loan.currency;
  const disbursed = ["active", "closed", "written_off"].includes(loan.status);

  return (
    <>
      <h1>
        {t("loans.loanTo")} <BorrowerName id={loan.borrower_id} link={false} />
      </h1>
      <dl className="facts">
        <dt>{t("loans.col.status")}</dt>
        <dd>
          <strong className={`status status-${loan.status}`}>{t(`loans.status.${loan.status}`)}</strong>
        </dd>
        <dt>{t("loans.col.borrower")}</dt>
        <dd>
          <BorrowerName id={loan.borrower_id} />
        </dd>
        <dt>{t("loans.field.product")}</dt>
        <dd>
          <ProductName id={loan.product_id} />
        </dd>
        <dt>{t("loans.col.principal")}</dt>
        <dd>
          <Money amount={loan.principal} currency={c} />
        </dd>
        <dt>{t("loans.field.term")}</dt>
        <dd>
          {loan.term} {product && t(`loans.installments.${product.repayment_frequency}`)}
        </dd>
        <dt>{t("loans.interestRate")}</dt>
        <dd>{t("loans.rate", { rate: loan.annual_interest_rate })}</dd>
        <dt>{t("loans.apr")}</dt>
        <dd>{loan.pricing.apr ? t("loans.rate", { rate: loan.pricing.apr }) : "—"}</dd>
        <dt>{t("loans.totalRepayment")}</dt>
        <dd>
          <Money amount={loan.pricing.total_repayment} currency={c} />
        </dd>
        <dt>{disbursed ? t("loans.disbursedOn") : t("loans.field.expectedDisbursement")}</dt>
        <dd>{isoDate(loan.disbursement_date)}</dd>
        <dt>{t("loans.col.outstanding")}</dt>
        <dd>
          <Money amount={loan.outstanding.total || "0"} currency={c} />
          {Number(loan.outstanding.total || "0") > 0 && (
            <span className="hint">
              {" "}
              {t("loans.outstandingParts", {
                principal: money(loan.outstanding.principal, c),
                interest: money(loan.outstanding.interest, c),
                fees: money(loan.outstanding.fees, c),
                penalties: money(loan.outstanding.penalties, c),
              })}
            </span>
          )}
        </dd>
        <dt>{t("loans.col.dpd")}</dt>
        <dd>
          {loan.days_past_due}
          {loan.delinquency_bucket && ` (${loan.delinquency_bucket})`}
        </dd>
        {Number(loan.credit_balance || "0") > 0 && (
          <>
            <dt>{t("loans.creditBalance")}</dt>
            <dd>
              <Money amount={loan.credit_balance} currency={c} />
            </dd>
          </>
        )}
        {loan.written_off_principal && (
          <>
            <dt>{t("loans.writtenOff")}</dt>
            <dd>
              <Money amount={loan.written_off_principal} currency={c} />
            </dd>
          </>
        )}
        <dt>{t("loans.submittedBy")}</dt>
        <dd>
          <StaffName id={loan.created_by} />, {isoDate(loan.create_time)}
        </dd>
        {loan.approved_by && (
          <>
            <dt>{t("loans.approvedBy")}</dt>
            <dd>
              <StaffName id={loan.approved_by} />
            </dd>
          </>
        )}
        {loan.purpose && (
          <>
            <dt>{t("loans.field.purpose")}</dt>
            <dd>{loan.purpose}</dd>
          </>
        )}
      </dl>

      <p role="status" aria-live="polite" className="done">
        {done}
      </p>
      <LoanActions loan={loan} onDone={setDone} />

      <Score loan={loan} />

      <h2>{t("loans.schedule")}</h2>
      <Schedule loan={loan} />

      <h2>{t("loans.repayments")}</h2>
      <Repayments loan={loan} />

      {loan.status === "active" && <Payoff loan={loan} />}
      {disbursed && can(me, "ledger:read") && <Statement loan={loan} />}

      {can(me, "notifications:read") && (
        <section aria-labelledby="messages-title">
          <h2 id="messages-title">{t("notifications.messages")}</h2>
          <Messages of={{ loan_id: loan.id }} />
        </section>
      )}

      <h2>{t("loans.history")}</h2>
      <div className="table-wrap">
        <table>
          <thead>
            <tr>
              <th scope="col">{t("loans.col.when")}</th>
              <th scope="col">{t("loans.col.status")}</th>
              <th scope="col">{t("loans.col.by")}</th>
              <th scope="col">{t("loans.col.note")}</th>
            </tr>
          </thead>
          <tbody>
            {loan.history.map((h) => (
              <tr key={`${h.time}-${h.status}`}>
                <td className="date">{h.time.slice(0, 16).replace("T", " ")}</td>
                <td>{t(`loans.status.${h.status}`)}</td>
                <td>
                  <StaffName id={h.actor_id} />
                </td>
                <td>{h.note}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>

      {can(me, "audit:read") && (
        <>
          <h2>{t("loans.audit")}</h2>
          <AuditTrail target={{ target_kind: "loans", target_id: loan.id }} />
        </>
      )}
    </>
  );
}

function Score({ loan }: { loan: Loan }) {
  const me = useMe();
  const score = useScore(loan.id);
  const scorable = loan.status === "submitted" && can(me, "loans:score");
  if (!loan.score && !scorable) return null;
  return (
    <section aria-labelledby="score-title">
      <h2 id="score-title">{t("loans.score")}</h2>
      {loan.score ? (
        <>
          <p>
            {t("loans.scoreIs", {
              score: loan.score.score,
              band: loan.score.band,
              version: loan.score.scorecard_version,
            })}
          </p>
          <div className="table-wrap">
            <table>
              <caption>{t("loans.scoreWhy")}</caption>
              <thead>
                <tr>
                  <th scope="col">{t("loans.col.rule")}</th>
                  <th scope="col" className="num">
                    {t("loans.col.points")}
                  </th>
                  <th scope="col">{t("loans.col.note")}</th>
                </tr>
              </thead>
              <tbody>
                {loan.score.contributions.map((r) => (
                  <tr key={r.rule}>
                    <td>{r.rule}</td>
                    <td className="num">{r.points}</td>
                    <td>{r.note}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      ) : (
        <p>{t("loans.notScored")}</p>
      )}
      {scorable && (
        <div className="actions">
          <button type="button" className="secondary" disabled={score.isPending} onClick={() => score.mutate(undefined)}>
            {t("loans.scoreButton")}
          </button>
          {score.isPending && <Busy label={t("loans.working")} />}
        </div>
      )}
      <ActionError error={score.error} />
    </section>
  );
}

function Schedule({ loan }: { loan: Loan }) {
  const c = loan.currency;
  const active = loan.status === "active";
  return (
    <div className="table-wrap">
      <table>
        <thead>
          <tr>
            <th scope="col" className="num">
              {t("loans.col.number")}
            </th>
            <th scope="col">{t("loans.col.dueDate")}</th>
            <th scope="col" className="num">
              {t("loans.col.principal")}
            </th>
            <th scope="col" className="num">
              {t("loans.col.interest")}
            </th>
            <th scope="col" className="num">
              {t("loans.col.fees")}
            </th>
            <th scope="col" className="num">
              {t("loans.col.penalties")}
            </th>
            <th scope="col" className="num">
              {t("loans.col.total")}
            </th>
            <th scope="col" className="num">
              {t("loans.col.paid")}
            </th>
            <th scope="col" className="num">
              {t("loans.col.balance")}
            </th>
            <th scope="col">{t("loans.col.state")}</th>
          </tr>
        </thead>
        <tbody>
          {loan.schedule.map((i) => (
            <tr key={i.number}>
              <td className="num">{i.number}</td>
              <td className="date">{isoDate(i.due_date)}</td>
              <MoneyCell amount={i.principal} currency={c} />
              <MoneyCell amount={i.interest} currency={c} />
              <MoneyCell amount={i.fees} currency={c} />
              <MoneyCell amount={i.penalties} currency={c} />
              <MoneyCell amount={i.total} currency={c} />
              <MoneyCell amount={i.total_paid} currency={c} />
              <MoneyCell amount={i.balance} currency={c} />
              <td>
                {i.paid
                  ? t("loans.installment.paid")
                  : active && i.days_past_due > 0
                    ? t("loans.installment.late", { days: i.days_past_due })
                    : t("loans.installment.due")}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function Repayments({ loan }: { loan: Loan }) {
  const me = useMe();
  const repayments = useRepayments(loan.id);
  const [reversing, setReversing] = useState<Repayment | null>(null);
  const mayReverse = can(me, "repayments:reverse");
  return (
    <Loading query={repayments}>
      {(items) =>
        items.length === 0 ? (
          <p>{t("loans.noRepayments")}</p>
        ) : (
          <>
            {reversing && <Reverse loan={loan} payment={reversing} onClose={() => setReversing(null)} />}
            <div className="table-wrap">
              <table>
                <thead>
                  <tr>
                    <th scope="col">{t("loans.field.paidOn")}</th>
                    <th scope="col" className="num">
                      {t("loans.field.amount")}
                    </th>
                    <th scope="col">{t("loans.field.channel")}</th>
                    <th scope="col">{t("loans.field.reference")}</th>
                    <th scope="col">{t("loans.col.allocation")}</th>
                    <th scope="col">{t("loans.col.status")}</th>
                    <th scope="col">{t("loans.col.by")}</th>
                    {mayReverse && <th scope="col">{t("loans.col.actions")}</th>}
                  </tr>
                </thead>
                <tbody>
                  {items.map((r) => (
                    <tr key={r.id}>
                      <td className="date">{isoDate(r.paid_on)}</td>
                      <MoneyCell amount={r.amount} currency={r.currency} />
                      <td>{t(`loans.channel.${r.channel}`)}</td>
                      <td>{r.reference || "—"}</td>
                      <td className="hint">
                        <Allocation payment={r} />
                      </td>
                      <td>
                        {t(`loans.payment.${r.status}`)}
                        {r.reversal_reason && `: ${r.reversal_reason}`}
                      </td>
                      <td>{r.recorded_by ? <StaffName id={r.recorded_by} /> : "—"}</td>
                      {mayReverse && (
                        <td>
                          {r.status === "posted" && !reversing && (
                            <button type="button" className="secondary" onClick={() => setReversing(r)}>
                              {t("loans.reverse")}
                            </button>
                          )}
                        </td>
                      )}
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          </>
        )
      }
    </Loading>
  );
}

const PARTS = ["principal", "interest", "fees", "penalties", "overpayment"] as const;

/** Where a payment went, the parts it paid (none before it is applied). */
function Allocation({ payment }: { payment: Repayment }) {
  const parts = PARTS.filter((p) => payment.allocation[p] && Number(payment.allocation[p]) !== 0);
  return (
    <>
      {parts
        .map((p) => t(`loans.part.${p}`, { amount: money(payment.allocation[p], payment.currency) }))
        .join(", ")}
    </>
  );
}

function Reverse({ loan, payment, onClose }: { loan: Loan; payment: Repayment; onClose: () => void }) {
  const reverse = useReverse(loan.id);
  const [reason, setReason] = useState("");
  const [missing, setMissing] = useState(false);
  return (
    <ActionPanel
      label={t("loans.reverse")}
      question={t("loans.reverseQuestion", { amount: money(payment.amount, payment.currency), date: payment.paid_on })}
      onCancel={onClose}
      pending={reverse.isPending}
      error={reverse.error}
      fields={["reason"]}
      onConfirm={() => {
        if (!reason.trim()) return setMissing(true);
        reverse.mutate({ paymentId: payment.id, reason: reason.trim() }, { onSuccess: onClose });
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
        error={missing ? t("loans.error.required") : undefined}
      />
    </ActionPanel>
  );
}

function Payoff({ loan }: { loan: Loan }) {
  const [date, setDate] = useState(today());
  const payoff = usePayoff(loan.id, date);
  const c = loan.currency;
  return (
    <section aria-labelledby="payoff-title">
      <h2 id="payoff-title">{t("loans.payoff")}</h2>
      <Field label={t("loans.field.payoffDate")} type="date" value={date} onChange={(e) => setDate(e.target.value)} />
      {payoff.isFetching && <Busy />}
      <ErrorAlert error={payoff.error} />
      {payoff.data && (
        <p>
          {t("loans.payoffIs", {
            total: money(payoff.data.total, c),
            principal: money(payoff.data.principal, c),
            interest: money(payoff.data.interest, c),
            fees: money(payoff.data.fees, c),
            penalties: money(payoff.data.penalties, c),
          })}
        </p>
      )}
    </section>
  );
}

function Statement({ loan }: { loan: Loan }) {
  const statement = useStatement(loan.id);
  const c = loan.currency;
  return (
    <section aria-labelledby="statement-title">
      <h2 id="statement-title">{t("loans.statement")}</h2>
      <Loading query={statement}>
        {(lines) => (
          <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">{t("loans.col.date")}</th>
                  <th scope="col">{t("loans.col.entry")}</th>
                  <th scope="col" className="num">
                    {t("loans.col.debit")}
                  </th>
                  <th scope="col" className="num">
                    {t("loans.col.credit")}
                  </th>
                  <th scope="col" className="num">
                    {t("loans.col.runningBalance")}
                  </th>
                </tr>
              </thead>
              <tbody>
                {lines.map((l) => (
                  <tr key={l.entry_id}>
                    <td className="date">{isoDate(l.date)}</td>
                    <td>
                      {l.source_kind.replace(/_/g, " ")}
                      {l.memo && <span className="hint"> · {l.memo}</span>}
                    </td>
                    <td className="num">{l.debit && Number(l.debit) !== 0 ? <Money amount={l.debit} currency={c} /> : ""}</td>
                    <td className="num">{l.credit && Number(l.credit) !== 0 ? <Money amount={l.credit} currency={c} /> : ""}</td>
                    <MoneyCell amount={l.running_balance} currency={c} />
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Loading>
    </section>
  );
}
