/** The audit entries about one resource, newest first, for the resource's own page. */
import { Loading } from "@/components/Loading";
import { LoadMore } from "@/components/LoadMore";

import { useAuditLog, type AuditTarget } from "./api";
import { AuditTable } from "./AuditTable";
import "./audit.css";

export function AuditTrail({ target }: { target: AuditTarget }) {
  const entries = useAuditLog(target);
  return (
    <>
      <Loading query={entries}>{(data) => <AuditTable entries={data.pages.flatMap((p) => p.items)} />}</Loading>
      <LoadMore query={entries} />
    </>
  );
}
