/** The reports as of a chosen date: the portfolio's size and quality, and every loan in arrears,
 * which can also be downloaded as CSV or XLSX. */
import { useState, type ReactNode } from "react";
import { Link } from "react-router-dom";

import type { components } from "@/api/schema";
import { Busy, ErrorAlert, fieldError } from "@/components/Feedback";
import { Field } from "@/components/Field";
import { Loading } from "@/components/Loading";
import { Money, MoneyCell } from "@/components/Money";
import { BorrowerName } from "@/components/Lookups";
import { t } from "@/i18n";
import { percent, today } from "@/lib/format";

import { useArrears, useArrearsDownload, useBranchNames, usePortfolio, type FileFormat } from "./api";

type Portfolio = components["schemas"]["PortfolioReport"];
type Arrears = components["schemas"]["ArrearsReport"];

const ISO_DATE = /^\d{4}-\d{2}-\d{2}$/;

function PortfolioTable({ report }: { report: Portfolio }) {
  const amount = (value: string) => <Money amount={value} currency={report.currency} />;
  const rows: [string, ReactNode][] = [
    ["reports.activeLoans", report.active_loans],
    ["reports.grossPortfolio", amount(report.gross_portfolio)],
    ["reports.par1", percent(report.par1)],
    ["reports.par30", percent(report.par30)],
    ["reports.par60", percent(report.par60)],
    ["reports.par90", percent(report.par90)],
    ["reports.disbursed", amount(report.disbursed)],
    ["reports.repaid", amount(report.repaid)],
  ];
  return (
    <div className="table-wrap">
      <table>
        <thead>
          <tr>
            <th scope="col">{t("reports.figure")}</th>
            <th scope="col" className="num">
              {t("reports.value")}
            </th>
          </tr>
        </thead>
        <tbody>
          {rows.map(([key, value]) => (
            <tr key={key}>
              <th scope="row">{t(key)}</th>
              <td className="num">{value}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function ArrearsTable({ report, names }: { report: Arrears; names?: Map<string, string> }) {
  if (!report.items.length) return <p>{t("reports.noArrears")}</p>;
  const amount = (value: string) => (
    <MoneyCell amount={value} currency={report.currency} />
  );
  return (
    <>
      <p>{t("reports.arrearsCount", { count: report.items.length })}</p>
      <div className="table-wrap">
        <table>
          <thead>
            <tr>
              <th scope="col">{t("reports.loan")}</th>
              <th scope="col">{t("reports.borrower")}</th>
              <th scope="col">{t("reports.branch")}</th>
              <th scope="col" className="num">
                {t("reports.daysPastDue")}
              </th>
              <th scope="col" className="num">
                {t("reports.overduePrincipal")}
              </th>
              <th scope="col" className="num">
                {t("reports.overdueInterest")}
              </th>
              <th scope="col" className="num">
                {t("reports.overdueTotal")}
              </th>
              <th scope="col" className="num">
                {t("reports.outstandingPrincipal")}
              </th>
              <th scope="col">{t("reports.bucket")}</th>
            </tr>
          </thead>
          <tbody>
            {report.items.map((line) => (
              <tr key={line.loan_id}>
                <td>
                  <Link to={`/loans/${encodeURIComponent(line.loan_id)}`}>{line.loan_id}</Link>
                </td>
                <td>
                  <BorrowerName id={line.borrower_id} name={line.borrower_name} />
                </td>
                <td>{names?.get(line.branch_id) ?? line.branch_id}</td>
                <td className="num">{line.days_past_due}</td>
                {amount(line.overdue_principal)}
                {amount(line.overdue_interest)}
                {amount(line.overdue_total)}
                {amount(line.outstanding_principal)}
                <td>{line.bucket || "—"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </>
  );
}

function Downloads({ asOf, disabled }: { asOf: string; disabled: boolean }) {
  const download = useArrearsDownload();
  const formats: [FileFormat, string][] = [
    ["csv", t("reports.downloadCsv")],
    ["xlsx", t("reports.downloadXlsx")],
  ];
  return (
    <>
      <div className="actions">
        {formats.map(([format, label]) => (
          <button
            key={format}
            type="button"
            className="secondary"
            disabled={disabled || download.isPending}
            onClick={() => download.mutate({ asOf, format })}
          >
            {label}
          </button>
        ))}
      </div>
      {download.isPending && (
        <Busy label={t("reports.downloading", { format: download.variables.format.toUpperCase() })} />
      )}
      {download.isSuccess && (
        <p role="status">{t("reports.downloaded", { file: download.data })}</p>
      )}
      <ErrorAlert error={download.error} />
    </>
  );
}

export default function Reports() {
  const [asOf, setAsOf] = useState(today());
  const valid = ISO_DATE.test(asOf);
  const portfolio = usePortfolio(asOf, valid);
  const arrears = useArrears(asOf, valid);
  const names = useBranchNames();
  const asOfError = valid ? fieldError(portfolio.error, "as_of") : t("reports.asOfRequired");
  return (
    <>
      <h1>{t("reports.title")}</h1>
      <Field
        label={t("reports.asOf")}
        type="date"
        required
        value={asOf}
        onChange={(e) => setAsOf(e.target.value)}
        hint={t("reports.asOfHint")}
        error={asOfError}
      />
      <h2>{t("reports.portfolio")}</h2>
      {valid && <Loading query={portfolio}>{(report) => <PortfolioTable report={report} />}</Loading>}
      <h2>{t("reports.arrears")}</h2>
      <Downloads asOf={asOf} disabled={!valid} />
      {valid && (
        <Loading query={arrears}>{(report) => <ArrearsTable report={report} names={names.data} />}</Loading>
      )}
    </>
  );
}
