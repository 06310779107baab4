/** The portfolio today at a glance: its size and quality as cards, portfolio at risk and the
 * arrears of each branch as bars, with the arrears also as a table; and the portfolio over
 * time (disbursed, collected, PAR) as charts. */
import { useId, type ReactNode } from "react";

import type { components } from "@/api/schema";
import { Loading } from "@/components/Loading";
import { Money, MoneyCell } from "@/components/Money";
import { t } from "@/i18n";
import { isoDate, money, percent } from "@/lib/format";

import { useArrears, useBranchNames, usePortfolio } from "./api";
import { addDecimals, byBranch } from "./arrears";
import { BarChart } from "./BarChart";
import { Trends } from "./Trends";
import "./dashboard.css";

type Portfolio = components["schemas"]["PortfolioReport"];
type Arrears = components["schemas"]["ArrearsReport"];

const PAR = ["par1", "par30", "par60", "par90"] as const;

/** One figure, named by its label so that a screen reader says "PAR30, 2.00%". */
function Card({ label, hint, children }: { label: string; hint?: string; children: ReactNode }) {
  const id = useId();
  return (
    <div className="card" role="group" aria-labelledby={id}>
      <div id={id}>{label}</div>
      <div className="value">{children}</div>
      {hint && <div className="hint">{hint}</div>}
    </div>
  );
}

function PortfolioCards({ report }: { report: Portfolio }) {
  const { currency } = report;
  return (
    <>
      <p>{t("dashboard.asOf", { date: isoDate(report.as_of) })}</p>
      <div className="cards dashboard-cards">
        <Card label={t("dashboard.activeLoans")}>{report.active_loans}</Card>
        <Card label={t("dashboard.grossPortfolio")}>
          <Money amount={report.gross_portfolio} currency={currency} />
        </Card>
        {PAR.map((key) => (
          <Card key={key} label={t(`dashboard.${key}`)} hint={t(`dashboard.${key}Hint`)}>
            {percent(report[key])}
          </Card>
        ))}
        <Card label={t("dashboard.disbursed")}>
          <Money amount={report.disbursed} currency={currency} />
        </Card>
        <Card label={t("dashboard.repaid")}>
          <Money amount={report.repaid} currency={currency} />
        </Card>
      </div>
      <BarChart
        caption={t("dashboard.parChart")}
        bars={PAR.map((key) => ({ label: t(`dashboard.${key}`), value: Number(report[key]), shown: percent(report[key]) }))}
      />
    </>
  );
}

function ArrearsByBranch({ report, names }: { report: Arrears; names?: Map<string, string> }) {
  if (!report.items.length) return <p>{t("dashboard.noArrears")}</p>;
  const { currency } = report;
  const rows = byBranch(report.items);
  const name = (id: string) => names?.get(id) ?? id;
  return (
    <>
      <BarChart
        caption={t("dashboard.arrearsChart")}
        bars={rows.map((r) => ({ label: name(r.branchId), value: Number(r.overdue), shown: money(r.overdue, currency) }))}
      />
      <div className="table-wrap">
        <table>
          <thead>
            <tr>
              <th scope="col">{t("dashboard.branch")}</th>
              <th scope="col" className="num">
                {t("dashboard.loansInArrears")}
              </th>
              <th scope="col" className="num">
                {t("dashboard.overdue")}
              </th>
              <th scope="col" className="num">
                {t("dashboard.outstanding")}
              </th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => (
              <tr key={r.branchId}>
                <th scope="row">{name(r.branchId)}</th>
                <td className="num">{r.loans}</td>
                <MoneyCell amount={r.overdue} currency={currency} />
                <MoneyCell amount={r.outstanding} currency={currency} />
              </tr>
            ))}
          </tbody>
          {rows.length > 1 && (
            <tfoot>
              <tr>
                <th scope="row">{t("dashboard.total")}</th>
                <td className="num">{report.items.length}</td>
                <MoneyCell amount={addDecimals(rows.map((r) => r.overdue))} currency={currency} />
                <MoneyCell amount={addDecimals(rows.map((r) => r.outstanding))} currency={currency} />
              </tr>
            </tfoot>
          )}
        </table>
      </div>
    </>
  );
}

export default function Dashboard() {
  const portfolio = usePortfolio();
  const arrears = useArrears();
  const names = useBranchNames();
  return (
    <>
      <h1>{t("dashboard.title")}</h1>
      <Loading query={portfolio}>{(report) => <PortfolioCards report={report} />}</Loading>
      <Trends />
      <h2>{t("dashboard.arrearsTitle")}</h2>
      <Loading query={arrears}>{(report) => <ArrearsByBranch report={report} names={names.data} />}</Loading>
    </>
  );
}
