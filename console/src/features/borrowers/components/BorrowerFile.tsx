/** A borrower's file: who they are, their consent, their loans, every change to their profile
 * and assignment, and (for those who may read the audit log) the audit entries about them. */
import { Link, useLocation, useNavigate, useParams } from "react-router-dom";

import { Busy, ErrorAlert } from "@/components/Feedback";
import { Loading } from "@/components/Loading";
import { Money, MoneyCell } from "@/components/Money";
import { ProductName, StaffName, useBorrower, useCurrency } from "@/components/Lookups";
import { AuditTrail } from "@/features/audit/AuditTrail";
import { Messages } from "@/features/notifications/Messages";
import { t } from "@/i18n";
import { isoDate } from "@/lib/format";
import { can, useMe } from "@/lib/session";

import { BorrowerDocuments } from "./BorrowerDocuments";
import { NotificationPreferences } from "./NotificationPreferences";
import {
  CONSENT_KIND,
  useBorrowerLoans,
  useBorrowerVersions,
  useBranches,
  useRecordConsent,
  type Borrower,
} from "../api";

export function BorrowerFile() {
  const { id = "" } = useParams();
  return <Loading query={useBorrower(id)}>{(b) => <File borrower={b} />}</Loading>;
}

function File({ borrower: b }: { borrower: Borrower }) {
  const me = useMe();
  const navigate = useNavigate();
  const currency = useCurrency();
  const branches = useBranches().data;
  const branchName = (id: string) => branches?.find((x) => x.id === id)?.name ?? id;
  // Registration could not record the message preferences chosen on the form.
  const preferencesError = (useLocation().state as { preferencesError?: string } | null)?.preferencesError;

  return (
    <>
      <h1>
        {b.first_name} {b.last_name}
      </h1>
      {can(me, "loans:create") && (
        <div className="actions">
          <button type="button" onClick={() => navigate(`/loans/new?borrower=${encodeURIComponent(b.id)}`)}>
            {t("borrowers.newLoan")}
          </button>
        </div>
      )}
      <dl className="facts">
        <dt>{t("borrowers.field.nationalId")}</dt>
        <dd>{b.national_id}</dd>
        <dt>{t("borrowers.field.phone")}</dt>
        <dd>{b.phone}</dd>
        <dt>{t("borrowers.field.dateOfBirth")}</dt>
        <dd>{isoDate(b.date_of_birth)}</dd>
        <dt>{t("borrowers.field.gender")}</dt>
        <dd>{b.gender ? t(`borrowers.gender.${b.gender}`) : "—"}</dd>
        <dt>{t("borrowers.field.monthlyIncome")}</dt>
        <dd>{b.monthly_income ? <Money amount={b.monthly_income} currency={currency} /> : "—"}</dd>
        <dt>{t("borrowers.field.businessType")}</dt>
        <dd>{b.business_type || "—"}</dd>
        <dt>{t("borrowers.field.householdSize")}</dt>
        <dd>{b.household_size ?? "—"}</dd>
        <dt>{t("borrowers.field.branch")}</dt>
        <dd>{branchName(b.branch_id)}</dd>
        <dt>{t("borrowers.agent")}</dt>
        <dd>{b.agent_id ? <StaffName id={b.agent_id} /> : "—"}</dd>
        <dt>{t("borrowers.registered")}</dt>
        <dd>{isoDate(b.create_time)}</dd>
        <dt>{t("borrowers.field.consent")}</dt>
        <dd>
          <Consent borrower={b} />
        </dd>
      </dl>

      <h2>{t("borrowers.loans")}</h2>
      <Loans id={b.id} />

      <BorrowerDocuments borrower={b} />

      {can(me, "notifications:read") && (
        <>
          <section aria-labelledby="messages-title">
            <h2 id="messages-title">{t("notifications.messages")}</h2>
            <Messages of={{ borrower_id: b.id }} />
          </section>
          <section aria-labelledby="preferences-title">
            <h2 id="preferences-title">{t("notifications.preferences")}</h2>
            {preferencesError && (
              <div role="alert" className="alert">
                {t("notifications.registerFailed", { detail: preferencesError })}
              </div>
            )}
            <NotificationPreferences borrowerId={b.id} />
          </section>
        </>
      )}

      <h2>{t("borrowers.versions")}</h2>
      <Versions borrower={b} />

      <h2>{t("borrowers.assignments")}</h2>
      <div className="table-wrap">
        <table>
          <thead>
            <tr>
              <th scope="col">{t("borrowers.col.when")}</th>
              <th scope="col">{t("borrowers.field.branch")}</th>
              <th scope="col">{t("borrowers.agent")}</th>
              <th scope="col">{t("borrowers.col.reason")}</th>
              <th scope="col">{t("borrowers.col.by")}</th>
            </tr>
          </thead>
          <tbody>
            {b.assignments.map((a) => (
              <tr key={`${a.time}-${a.branch_id}-${a.agent_id}`}>
                <td className="date">{isoDate(a.time)}</td>
                <td>{branchName(a.branch_id)}</td>
                <td>{a.agent_id ? <StaffName id={a.agent_id} /> : "—"}</td>
                <td>{a.reason}</td>
                <td>
                  <StaffName id={a.changed_by} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>

      {can(me, "audit:read") && (
        <>
          <h2>{t("borrowers.audit")}</h2>
          <AuditTrail target={{ target_kind: "borrowers", target_id: b.id }} />
        </>
      )}
    </>
  );
}

function Consent({ borrower }: { borrower: Borrower }) {
  const me = useMe();
  const record = useRecordConsent(borrower.id);
  const given = borrower.consents.filter((c) => c.kind === CONSENT_KIND).at(-1);
  if (given) return <>{t("borrowers.consentGiven", { date: isoDate(given.time) })}</>;
  return (
    <>
      {t("borrowers.consentMissing")}
      {can(me, "borrowers:update") && (
        <>
          <p className="consent-text">{t("borrowers.consentText")}</p>
          <button type="button" className="secondary" disabled={record.isPending} onClick={() => record.mutate()}>
            {t("borrowers.recordConsent")}
          </button>
        </>
      )}
      {record.isPending && <Busy label={t("common.saving")} />}
      <ErrorAlert error={record.error} />
    </>
  );
}

function Loans({ id }: { id: string }) {
  const loans = useBorrowerLoans(id);
  return (
    <Loading query={loans}>
      {(items) =>
        items.length === 0 ? (
          <p>{t("borrowers.noLoans")}</p>
        ) : (
          <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">{t("borrowers.col.product")}</th>
                  <th scope="col">{t("borrowers.col.status")}</th>
                  <th scope="col" className="num">
                    {t("borrowers.col.principal")}
                  </th>
                  <th scope="col" className="num">
                    {t("borrowers.col.outstanding")}
                  </th>
                  <th scope="col" className="num">
                    {t("borrowers.col.dpd")}
                  </th>
                  <th scope="col">{t("borrowers.col.applied")}</th>
                </tr>
              </thead>
              <tbody>
                {items.map((loan) => (
                  <tr key={loan.id}>
                    <th scope="row">
                      <Link to={`/loans/${loan.id}`}>
                        <ProductName id={loan.product_id} />
                      </Link>
                    </th>
                    <td>{t(`borrowers.status.${loan.status}`)}</td>
                    <MoneyCell amount={loan.principal} currency={loan.currency} />
                    <MoneyCell amount={loan.outstanding.total || "0"} currency={loan.currency} />
                    <td className="num">{loan.days_past_due}</td>
                    <td className="date">{isoDate(loan.create_time)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )
      }
    </Loading>
  );
}

function Versions({ borrower }: { borrower: Borrower }) {
  const versions = useBorrowerVersions(borrower.id);
  return (
    <Loading query={versions}>
      {(items) =>
        items.length === 0 ? (
          <p>{t("borrowers.noEdits", { date: isoDate(borrower.create_time) })}</p>
        ) : (
          <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">{t("borrowers.col.version")}</th>
                  <th scope="col">{t("borrowers.col.when")}</th>
                  <th scope="col">{t("borrowers.col.by")}</th>
                  <th scope="col">{t("borrowers.col.changes")}</th>
                </tr>
              </thead>
              <tbody>
                {items.map((v) => (
                  <tr key={v.version}>
                    <td>{v.version}</td>
                    <td className="date">{isoDate(v.time)}</td>
                    <td>
                      <StaffName id={v.changed_by} />
                    </td>
                    <td>
                      <ul className="changes">
                        {Object.entries(v.changes).map(([field, [before, after]]) => (
                          <li key={field}>
                            {t("borrowers.change", { field, before: String(before ?? "—"), after: String(after ?? "—") })}
                          </li>
                        ))}
                      </ul>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )
      }
    </Loading>
  );
}
