/** The audit log: who changed what, when, with which request, and a check that nobody edited
 * or removed entries since. */
import { Busy, ErrorAlert } from "@/components/Feedback";
import { Loading } from "@/components/Loading";
import { LoadMore } from "@/components/LoadMore";
import { t } from "@/i18n";

import { useAuditLog, useVerifyChain } from "./api";
import { AuditTable } from "./AuditTable";
import "./audit.css";

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
        {(data) => <AuditTable entries={data.pages.flatMap((p) => p.items)} />}
      </Loading>
      <LoadMore query={entries} />
    </>
  );
}
