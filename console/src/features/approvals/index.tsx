/** Approvals: the applications waiting for a decision (submitted loans), each
 * opening the loan's page where Approve and Reject live. The approver's limit (lending
 * settings) and maker-checker are said beforehand; the server enforces both. */
import { useInfiniteQuery, useQuery } from "@tanstack/react-query";
import { Link } from "react-router-dom";

import { api, call } from "@/api/client";
import { Busy, ErrorAlert } from "@/components/Feedback";
import { LoadMore } from "@/components/LoadMore";
import { BorrowerName, ProductName, StaffName, useCurrency } from "@/components/Lookups";
import { MoneyCell } from "@/components/Money";
import { t } from "@/i18n";
import { isoDate, money } from "@/lib/format";
import { can, useMe } from "@/lib/session";

function useQueue() {
  return useInfiniteQuery({
    queryKey: ["loans", { status: "submitted" }],
    queryFn: ({ pageParam }) =>
      call(api.GET("/v1/loans", { params: { query: { status: "submitted", page_size: 25, page_token: pageParam } } })),
    initialPageParam: "",
    getNextPageParam: (last) => last.next_page_token || undefined,
  });
}

/** The largest principal the caller's role may approve: a decimal string, null for no limit,
 * undefined while unknown (or the settings are not readable). */
function useApprovalLimit(): string | null | undefined {
  const me = useMe();
  const id = me.institution_id ?? "";
  const settings = useQuery({
    queryKey: ["loan-settings", id],
    queryFn: () =>
      call(api.GET("/v1/institutions/{institution_id}/loan-settings", { params: { path: { institution_id: id } } })),
    enabled: !!id && can(me, "settings:read"),
  }).data;
  return settings && (settings.approval_limits[me.role] ?? null);
}

export default function Approvals() {
  const me = useMe();
  const queue = useQueue();
  const limit = useApprovalLimit();
  const currency = useCurrency();
  const rows = queue.data?.pages.flatMap((p) => p.items) ?? [];
  const above = (principal: string) => !!limit && Number(principal) > Number(limit);

  return (
    <>
      <h1>{t("approvals.title")}</h1>
      <p>
        {limit === undefined
          ? t("approvals.limitApplies")
          : limit === null
            ? t("approvals.noLimit")
            : t("approvals.limit", { limit: money(limit, currency) })}{" "}
        {t("approvals.makerChecker")}
      </p>
      {queue.isPending && <Busy />}
      <ErrorAlert error={queue.error} />
      {queue.isSuccess && rows.length === 0 && <p>{t("approvals.empty")}</p>}
      {rows.length > 0 && (
        <>
          <h2 id="queue-title">{t("approvals.caption", { count: rows.length })}</h2>
          <div className="table-wrap">
            <table aria-labelledby="queue-title">
              <thead>
                <tr>
                  <th scope="col">{t("approvals.col.borrower")}</th>
                  <th scope="col" className="num">
                    {t("approvals.col.principal")}
                  </th>
                  <th scope="col">{t("approvals.col.product")}</th>
                  <th scope="col">{t("approvals.col.submittedBy")}</th>
                  <th scope="col">{t("approvals.col.submittedOn")}</th>
                  <th scope="col">{t("approvals.col.band")}</th>
                  <th scope="col">{t("approvals.col.notes")}</th>
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
                    <MoneyCell amount={loan.principal} currency={loan.currency} />
                    <td>
                      <ProductName id={loan.product_id} />
                    </td>
                    <td>
                      <StaffName id={loan.created_by} />
                    </td>
                    <td className="date">{isoDate(loan.create_time)}</td>
                    <td>{loan.score?.band ?? t("approvals.notScored")}</td>
                    <td>
                      {[
                        loan.created_by === me.id && t("approvals.yours"),
                        above(loan.principal) && t("approvals.aboveLimit"),
                      ]
                        .filter(Boolean)
                        .join(" ")}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      )}
      <LoadMore query={queue} />
    </>
  );
}
