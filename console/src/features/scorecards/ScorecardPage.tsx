/** One version: its rules and cut-offs, publishing or retiring it, the what-if comparison with
 * the published version, and how the loans it scored turned out. */
import { useState, type FormEvent } from "react";
import { Link, useNavigate, useParams } from "react-router-dom";

import type { components } from "@/api/schema";
import { ConfirmButton } from "@/components/Confirm";
import { Busy, ErrorAlert } from "@/components/Feedback";
import { SelectField } from "@/components/Field";
import { Loading } from "@/components/Loading";
import { t } from "@/i18n";
import { isoDate, percent } from "@/lib/format";
import { can, useMe } from "@/lib/session";

import { useGovernance, useLifecycle, useScorecard, useWhatIf, type ScoreBand } from "./api";

type Scorecard = components["schemas"]["Scorecard"];

const ALL_BANDS: ScoreBand[] = ["AA", "A", "B", "C", "D"];

export function ScorecardPage() {
  const id = useParams().id ?? "";
  const scorecard = useScorecard(id);
  return <Loading query={scorecard}>{(version) => <Version version={version} />}</Loading>;
}

function Version({ version }: { version: Scorecard }) {
  const manage = can(useMe(), "scorecards:manage");
  const named = { name: version.name, version: version.version };
  return (
    <>
      <p>
        <Link to="/scorecards">{t("scorecards.all")}</Link>
      </p>
      <h1>{t("scorecards.heading", named)}</h1>
      <dl className="facts">
        <dt>{t("scorecards.status")}</dt>
        <dd>{t(`scorecards.state.${version.state}`)}</dd>
        <dt>{t("scorecards.baseScore")}</dt>
        <dd>{version.base_score}</dd>
        <dt>{t("scorecards.created")}</dt>
        <dd>{isoDate(version.create_time)}</dd>
        <dt>{t("scorecards.publishedOn")}</dt>
        <dd>{isoDate(version.publish_time)}</dd>
      </dl>
      {manage && <Actions version={version} />}
      <h2>{t("scorecards.rules")}</h2>
      {version.rules.length ? (
        <div className="table-wrap">
          <table className="scorecard-rules">
            <thead>
              <tr>
                <th scope="col">{t("scorecards.ruleName")}</th>
                <th scope="col">{t("scorecards.condition")}</th>
                <th scope="col" className="num">
                  {t("scorecards.points")}
                </th>
              </tr>
            </thead>
            <tbody>
              {version.rules.map((rule) => (
                <tr key={rule.name}>
                  <th scope="row">{rule.name}</th>
                  <td>
                    <code>{rule.when}</code>
                  </td>
                  <td className="num">{rule.points > 0 ? `+${rule.points}` : rule.points}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : (
        <p>{t("scorecards.noRules")}</p>
      )}
      <h2>{t("scorecards.cutoffs")}</h2>
      <div className="table-wrap">
        <table className="scorecard-narrow">
          <thead>
            <tr>
              <th scope="col">{t("scorecards.band")}</th>
              <th scope="col" className="num">
                {t("scorecards.minScore")}
              </th>
            </tr>
          </thead>
          <tbody>
            {version.cutoffs.map((cutoff) => (
              <tr key={cutoff.band}>
                <th scope="row">{cutoff.band}</th>
                <td className="num">{cutoff.min_score}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {manage && version.state !== "published" && <WhatIf id={version.id} />}
      {version.state !== "draft" && <Governance id={version.id} />}
    </>
  );
}

function Actions({ version }: { version: Scorecard }) {
  const lifecycle = useLifecycle(version.id);
  const navigate = useNavigate();
  const named = { name: version.name, version: version.version };
  return (
    <>
      <div className="actions">
        {version.state === "draft" && (
          <ConfirmButton
            question={t("scorecards.publishQuestion", named)}
            onConfirm={() => lifecycle.mutate("publish")}
            disabled={lifecycle.isPending}
          >
            {t("scorecards.publish")}
          </ConfirmButton>
        )}
        {version.state === "published" && (
          <ConfirmButton
            question={t("scorecards.retireQuestion", named)}
            onConfirm={() => lifecycle.mutate("retire")}
            disabled={lifecycle.isPending}
          >
            {t("scorecards.retire")}
          </ConfirmButton>
        )}
        <button
          type="button"
          className="secondary"
          onClick={() => navigate(`/scorecards/new?from=${encodeURIComponent(version.id)}`)}
        >
          {t("scorecards.newVersion")}
        </button>
      </div>
      {lifecycle.isPending && (
        <Busy label={t(lifecycle.variables === "publish" ? "scorecards.publishing" : "scorecards.retiring")} />
      )}
      {lifecycle.isSuccess && (
        <p role="status">{t(`scorecards.done.${lifecycle.data.state}`, named)}</p>
      )}
      <ErrorAlert error={lifecycle.error} />
    </>
  );
}

function WhatIf({ id }: { id: string }) {
  const [band, setBand] = useState<ScoreBand>("C");
  const whatIf = useWhatIf(id);
  const submit = (event: FormEvent) => {
    event.preventDefault();
    whatIf.mutate(band);
  };
  const report = whatIf.data;
  const count = (rows: { band: ScoreBand; count: number }[], b: ScoreBand) =>
    rows.length ? (rows.find((r) => r.band === b)?.count ?? 0) : "—";
  return (
    <section aria-labelledby="what-if">
      <h2 id="what-if">{t("scorecards.whatIf")}</h2>
      <p>{t("scorecards.whatIfIntro")}</p>
      <form onSubmit={submit} className="scorecard-what-if">
        <SelectField
          label={t("scorecards.approvalBand")}
          hint={t("scorecards.approvalBandHint")}
          value={band}
          onChange={(e) => setBand(e.target.value as ScoreBand)}
        >
          {ALL_BANDS.map((b) => (
            <option key={b} value={b}>
              {b}
            </option>
          ))}
        </SelectField>
        <div className="actions">
          <button type="submit" disabled={whatIf.isPending}>
            {t("scorecards.runWhatIf")}
          </button>
        </div>
      </form>
      {whatIf.isPending && <Busy label={t("scorecards.runningWhatIf")} />}
      <ErrorAlert error={whatIf.error} />
      {report && (
        <>
          <p role="status">{t("scorecards.applications", { count: report.applications })}</p>
          <div className="table-wrap">
            <table className="scorecard-narrow">
              <thead>
                <tr>
                  <th scope="col">{t("scorecards.band")}</th>
                  <th scope="col" className="num">
                    {t("scorecards.currentVersion")}
                  </th>
                  <th scope="col" className="num">
                    {t("scorecards.thisVersion")}
                  </th>
                </tr>
              </thead>
              <tbody>
                {ALL_BANDS.map((b) => (
                  <tr key={b}>
                    <th scope="row">{b}</th>
                    <td className="num">{count(report.current, b)}</td>
                    <td className="num">{count(report.proposed, b)}</td>
                  </tr>
                ))}
              </tbody>
              <tfoot>
                <tr>
                  <th scope="row">{t("scorecards.approvalRate", { band: whatIf.variables })}</th>
                  <td className="num">{percent(report.current_approval_rate)}</td>
                  <td className="num">{percent(report.proposed_approval_rate)}</td>
                </tr>
              </tfoot>
            </table>
          </div>
        </>
      )}
    </section>
  );
}

function Governance({ id }: { id: string }) {
  const governance = useGovernance(id);
  return (
    <section aria-labelledby="governance">
      <h2 id="governance">{t("scorecards.governance")}</h2>
      <p>{t("scorecards.governanceIntro")}</p>
      <Loading query={governance}>
        {(report) => (
          <>
            <p>{t("scorecards.applicationsScored", { count: report.applications_scored })}</p>
            <div className="table-wrap">
              <table>
                <thead>
                  <tr>
                    <th scope="col">{t("scorecards.band")}</th>
                    <th scope="col" className="num">
                      {t("scorecards.scored")}
                    </th>
                    <th scope="col" className="num">
                      {t("scorecards.matured")}
                    </th>
                    <th scope="col" className="num">
                      {t("scorecards.defaulted")}
                    </th>
                    <th scope="col" className="num">
                      {t("scorecards.defaultRate")}
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {report.bands.map((b) => (
                    <tr key={b.band}>
                      <th scope="row">{b.band}</th>
                      <td className="num">{b.scored}</td>
                      <td className="num">{b.matured}</td>
                      <td className="num">{b.defaulted}</td>
                      <td className="num">{percent(b.default_rate)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          </>
        )}
      </Loading>
    </section>
  );
}
