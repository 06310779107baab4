/** The audit log: who changed what, when, with which request, and a check that nobody edited
 * or removed entries since. */
import { Busy, ErrorAlert } from "@/components/Feedback";
import { Loading } from "@/components/Loading";
import { LoadMore } from "@/components/LoadMore";
import { StaffName } from "@/components/Lookups";
import { t } from "@/i18n";

import { useAuditLog, useVerifyChain } from "./api";
import "./audit.css";

/** `2026-03-31T09:30:00.123Z` as `2026-03-31 09:30:00 UTC`: ISO, to the second. */
function when(time: string): string {
  return `${time.slice(0, 10)} ${time.slice(11, 19)} UTC`;
}

function Verification() {
  const verify = useVerifyChain();
  const result = verify.data;
  return (
    <div>
      <div className="actions">
        <button type="button" onClick={() => verify.mutate()} disabled={verify.isPending}>
          {t("audit.verify")}
        </button>
      </div>
      {verify.isPending && <Busy label={t("audit.verifying")} />}
      {result && !verify.isPending && result.ok && <p role="status">{t("audit.intact", { checked: result.checked })}</p>}
      {result && !verify.isPending && !result.ok && (
        <div role="alert" className="alert">
          {t("audit.broken", {
            seq: result.first_bad_seq,
            why: t(`audit.why.${result.reason}`),
            checked: result.checked,
          })}
        </div>
      )}
      <ErrorAlert error={verify.error} />
    </div>
  );
}

export default function AuditLogPage() {
  const entries = useAuditLog();

  return (
    <>
      <h1>{t("audit.title")}</h1>
      <p className="hint">{t("audit.intro")}</p>
      <Verification />
      <Loading query={entries}>
        {(data) => {
          const list = data.pages.flatMap((p) => p.items);
          if (!list.length) return <p>{t("common.none")}</p>;
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
                  {list.map((entry) => (
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
        }}
      </Loading>
      <LoadMore query={entries} />
    </>
  );
}
