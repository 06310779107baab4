/** The loans in the caller's scope, filtered by status (kept in the address, so a filtered
 * list can be bookmarked and Back returns to it). */
import { Link, useNavigate, useSearchParams } from "react-router-dom";

import { Busy, ErrorAlert } from "@/components/Feedback";
import { SelectField } from "@/components/Field";
import { LoadMore } from "@/components/LoadMore";
import { MoneyCell } from "@/components/Money";
import { BorrowerName, ProductName } from "@/components/Lookups";
import { t } from "@/i18n";
import { isoDate } from "@/lib/format";
import { can, useMe } from "@/lib/session";

import { STATUSES, useLoans, type LoanStatus } from "../api";

export function LoansPage() {
  const me = useMe();
  const navigate = useNavigate();
  const [params, setParams] = useSearchParams();
  const wanted = params.get("status") ?? "";
  const status = (STATUSES as string[]).includes(wanted) ? (wanted as LoanStatus) : "";
  const loans = useLoans(status);
  const rows = loans.data?.pages.flatMap((p) => p.items) ?? [];

  return (
    <>
      <h1>{t("loans.title")}</h1>
      {can(me, "loans:create") && (
        <div className="actions">
          <button type="button" onClick={() => navigate("/loans/new")}>
            {t("loans.new")}
          </button>
        </div>
      )}
      <div className="filters">
        <SelectField
          label={t("loans.filter.status")}
          value={status}
          onChange={(e) => setParams(e.target.value ? { status: e.target.value } : {}, { replace: true })}
        >
          <option value="">{t("loans.filter.all")}</option>
          {STATUSES.map((s) => (
            <option key={s} value={s}>
              {t(`loans.status.${s}`)}
            </option>
          ))}
        </SelectField>
      </div>
      {loans.isPending && <Busy />}
      <ErrorAlert error={loans.error} />
      {loans.isSuccess && rows.length === 0 && <p>{t("loans.none")}</p>}
      {rows.length > 0 && (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">{t("loans.col.borrower")}</th>
                <th scope="col">{t("loans.field.product")}</th>
                <th scope="col">{t("loans.col.status")}</th>
                <th scope="col" className="num">
                  {t("loans.col.principal")}
                </th>
                <th scope="col" className="num">
                  {t("loans.col.outstanding")}
                </th>
                <th scope="col" className="num">
                  {t("loans.col.dpd")}
                </th>
                <th scope="col">{t("loans.col.applied")}</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((loan) => (
                <tr key={loan.id}>
                  <th scope="row">
                    <Link to={`/loans/${loan.id}`}>
                      <BorrowerName id={loan.borrower_id} link={false} />
                    </Link>
                  </th>
                  <td>
                    <ProductName id={loan.product_id} />
                  </td>
                  <td>{t(`loans.status.${loan.status}`)}</td>
                  <MoneyCell amount={loan.principal} currency={loan.currency} />
                  <MoneyCell amount={loan.outstanding.total || "0"} currency={loan.currency} />
                  <td className="num">{loan.days_past_due}</td>
                  <td className="date">{isoDate(loan.create_time)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <LoadMore query={loans} />
    </>
  );
}
