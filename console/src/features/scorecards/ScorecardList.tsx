/** Every version of every scorecard of the institution, with its state. */
import { Link, useNavigate } from "react-router-dom";

import { Busy, ErrorAlert } from "@/components/Feedback";
import { LoadMore } from "@/components/LoadMore";
import { t } from "@/i18n";
import { isoDate } from "@/lib/format";
import { can, useMe } from "@/lib/session";

import { useScorecards } from "./api";

export function ScorecardList() {
  const manage = can(useMe(), "scorecards:manage");
  const navigate = useNavigate();
  const list = useScorecards();
  const versions = list.data?.pages.flatMap((p) => p.items) ?? [];
  return (
    <>
      <h1>{t("scorecards.title")}</h1>
      {manage && (
        <div className="actions">
          <button type="button" onClick={() => navigate("/scorecards/new")}>
            {t("scorecards.new")}
          </button>
        </div>
      )}
      {list.isPending && <Busy />}
      {list.isError && !list.isFetchNextPageError && <ErrorAlert error={list.error} />}
      {list.isSuccess && !versions.length && <p>{t("scorecards.none")}</p>}
      {versions.length > 0 && (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">{t("scorecards.name")}</th>
                <th scope="col" className="num">
                  {t("scorecards.version")}
                </th>
                <th scope="col">{t("scorecards.status")}</th>
                <th scope="col">{t("scorecards.created")}</th>
                <th scope="col">{t("scorecards.publishedOn")}</th>
              </tr>
            </thead>
            <tbody>
              {versions.map((v) => (
                <tr key={v.id}>
                  <th scope="row">
                    <Link to={`/scorecards/${encodeURIComponent(v.id)}`}>{v.name}</Link>
                  </th>
                  <td className="num">{v.version}</td>
                  <td>
                    <span className={`scorecard-state ${v.state}`}>{t(`scorecards.state.${v.state}`)}</span>
                  </td>
                  <td>{isoDate(v.create_time)}</td>
                  <td>{isoDate(v.publish_time)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <LoadMore query={list} />
    </>
  );
}
