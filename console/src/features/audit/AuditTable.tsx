/** Audit entries as a table: when, who, what, on which resource, by which request, with the
 * request's body on demand. The audit log shows the whole trail; a borrower's file or a loan's
 * page shows the entries about it. */
import { StaffName } from "@/components/Lookups";
import { t } from "@/i18n";

import type { AuditEntry } from "./api";

/** `2026-03-31T09:30:00.123Z` as `2026-03-31 09:30:00 UTC`: ISO, to the second. */
function when(time: string): string {
  return `${time.slice(0, 10)} ${time.slice(11, 19)} UTC`;
}

export function AuditTable({ entries }: { entries: AuditEntry[] }) {
  if (!entries.length) return <p>{t("common.none")}</p>;
  return (
      <div className="table-wrap">
        <table className="audit">
          <thead>
            <tr>
              <th scope="col" className="num">
                {t("audit.colSeq")}
              </th>
              <th scope="col">{t("audit.colTime")}</th>
              <th scope="col">{t("audit.colActor")}</th>
              <th scope="col">{t("audit.colAction")}</th>
              <th scope="col">{t("audit.colResource")}</th>
              <th scope="col">{t("audit.colRequest")}</th>
              <th scope="col">{t("audit.colDetails")}</th>
            </tr>
          </thead>
          <tbody>
            {entries.map((entry) => (
              <tr key={entry.seq}>
                <td className="num">{entry.seq}</td>
                <td>{when(entry.time)}</td>
                <td>
                  <StaffName id={entry.actor_id} />
                  <span className="hint"> ({t(`role.${entry.actor_role}`)})</span>
                </td>
                <td>
                  <code>{entry.action}</code>
                </td>
                <td>
                  {entry.target_kind}
                  {entry.target_id && (
                    <>
                      {" "}
                      <code className="id">{entry.target_id}</code>
                    </>
                  )}
                </td>
                <td>
                  <code className="id">{entry.request_id}</code>
                </td>
                <td>
                  {entry.summary_json && entry.summary_json !== "{}" && (
                    <details>
                      <summary>{t("audit.details")}</summary>
                      <pre>{entry.summary_json}</pre>
                    </details>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    );
}
