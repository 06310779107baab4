/** Suspense: money received that matched no loan, each assigned to its loan by someone who
 * may record repayments (it is then applied as a repayment of that loan, once). */
import { useState, type FormEvent } from "react";

import type { components } from "@/api/schema";
import { ConfirmButton } from "@/components/Confirm";
import { Busy, ErrorAlert, fieldError } from "@/components/Feedback";
import { Field } from "@/components/Field";
import { Loading } from "@/components/Loading";
import { LoadMore } from "@/components/LoadMore";
import { MoneyCell } from "@/components/Money";
import { t } from "@/i18n";
import { isoDate } from "@/lib/format";
import { can, useMe } from "@/lib/session";

import { useAssign, useSuspensePages } from "./api";

type Payment = components["schemas"]["Repayment"];

function Assign({ payment, onDone }: { payment: Payment; onDone: (message: string) => void }) {
  const [loanId, setLoanId] = useState("");
  const [missing, setMissing] = useState(false);
  const assign = useAssign();
  const submit = (event?: FormEvent) => {
    event?.preventDefault();
    if (!loanId.trim()) return setMissing(true);
    assign.mutate(
      { paymentId: payment.id, loanId: loanId.trim() },
      { onSuccess: () => onDone(t("suspense.assigned", { reference: payment.reference ?? payment.id })) },
    );
  };
  return (
    <form onSubmit={submit} className="assign">
      <Field
        label={t("suspense.loan")}
        required
        autoComplete="off"
        value={loanId}
        onChange={(e) => {
          setLoanId(e.target.value);
          setMissing(false);
        }}
        hint={t("suspense.loanHint")}
        error={missing ? t("suspense.loanRequired") : fieldError(assign.error, "loan_id")}
      />
      <ConfirmButton
        question={t("suspense.question", { loan: loanId.trim() || "…" })}
        onConfirm={() => submit()}
        disabled={assign.isPending}
      >
        {t("suspense.assign")}
      </ConfirmButton>
      {assign.isPending && <Busy label={t("suspense.assigning")} />}
      <ErrorAlert error={assign.error} fields={["loan_id"]} />
    </form>
  );
}

export default function SuspensePage() {
  const me = useMe();
  const pages = useSuspensePages();
  const [done, setDone] = useState("");
  const assigns = can(me, "repayments:create");
  return (
    <>
      <h1>{t("suspense.title")}</h1>
      <p className="hint">{t("suspense.intro")}</p>
      {done && <p role="status">{done}</p>}
      <Loading query={pages}>
        {(data) => {
          const payments = data.pages.flatMap((page) => page.items);
          if (!payments.length) return <p>{t("suspense.none")}</p>;
          return (
            <div className="table-wrap">
              <table>
                <thead>
                  <tr>
                    <th scope="col">{t("suspense.reference")}</th>
                    <th scope="col" className="date">
                      {t("suspense.paidOn")}
                    </th>
                    <th scope="col">{t("suspense.channel")}</th>
                    <th scope="col" className="num">
                      {t("suspense.amount")}
                    </th>
                    {assigns && <th scope="col">{t("suspense.action")}</th>}
                  </tr>
                </thead>
                <tbody>
                  {payments.map((p) => (
                    <tr key={p.id}>
                      <th scope="row">{p.reference ?? p.id}</th>
                      <td className="date">{isoDate(p.paid_on)}</td>
                      <td>{p.channel}</td>
                      <MoneyCell amount={p.amount} currency={p.currency} />
                      {assigns && (
                        <td>
                          <Assign payment={p} onDone={setDone} />
                        </td>
                      )}
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          );
        }}
      </Loading>
      <LoadMore query={pages} />
    </>
  );
}
