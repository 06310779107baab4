/** A quote: the price disclosed as the law asks (APR, EIR, what the credit costs in all) and
 * the schedule it comes from. */
import { Busy } from "@/components/Feedback";
import { Money, MoneyCell } from "@/components/Money";
import { t } from "@/i18n";
import { isoDate } from "@/lib/format";

import type { Quote } from "../api";

export function QuoteView({ quote, currency, updating }: { quote: Quote; currency: string; updating: boolean }) {
  return (
    <section aria-labelledby="quote-title" aria-busy={updating}>
      <h2 id="quote-title">{t("loans.quote")}</h2>
      {updating && <Busy label={t("loans.quoting")} />}
      <dl className="facts">
        <dt>{t("loans.apr")}</dt>
        <dd>{quote.apr ? t("loans.rate", { rate: quote.apr }) : "—"}</dd>
        <dt>{t("loans.eir")}</dt>
        <dd>{quote.eir ? t("loans.rate", { rate: quote.eir }) : "—"}</dd>
        <dt>{t("loans.totalInterest")}</dt>
        <dd>
          <Money amount={quote.total_interest} currency={currency} />
        </dd>
        <dt>{t("loans.totalFees")}</dt>
        <dd>
          <Money amount={quote.total_fees} currency={currency} />
        </dd>
        <dt>{t("loans.totalRepayment")}</dt>
        <dd>
          <strong>
            <Money amount={quote.total_repayment} currency={currency} />
          </strong>
        </dd>
      </dl>
      <div className="table-wrap">
        <table>
          <caption>{t("loans.schedule")}</caption>
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
                {t("loans.col.total")}
              </th>
              <th scope="col" className="num">
                {t("loans.col.balance")}
              </th>
            </tr>
          </thead>
          <tbody>
            {quote.installments.map((i) => (
              <tr key={i.number}>
                <td className="num">{i.number}</td>
                <td className="date">{isoDate(i.due_date)}</td>
                <MoneyCell amount={i.principal} currency={currency} />
                <MoneyCell amount={i.interest} currency={currency} />
                <MoneyCell amount={i.fees} currency={currency} />
                <MoneyCell amount={i.total} currency={currency} />
                <MoneyCell amount={i.balance} currency={currency} />
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}
