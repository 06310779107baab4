/** The portfolio over time: what was disbursed and collected in each period as columns, and
 * portfolio at risk as lines, with every figure in a table for screen readers and for reading
 * exact amounts. */
import { useState } from "react";

import { SelectField } from "@/components/Field";
import { Loading } from "@/components/Loading";
import { MoneyCell } from "@/components/Money";
import { t } from "@/i18n";
import { money, percent } from "@/lib/format";

import { useTrends, type Interval, type Trends as TrendsReport } from "./api";
import { TimeChart } from "./TimeChart";

const FLOW_COLOURS = { disbursed: "#14532d", collected: "#60a5fa" };
const PAR_COLOURS = { par1: "#f59e0b", par30: "#dc2626", par90: "#7f1d1d" };

function Charts({ report }: { report: TrendsReport }) {
  const { currency, items } = report;
  if (!items.length) return <p>{t("common.none")}</p>;
  const dates = items.map((r) => r.date);
  const flows = (["disbursed", "collected"] as const).map((key) => ({
    name: t(`dashboard.${key}`),
    colour: FLOW_COLOURS[key],
    values: items.map((r) => Number(r[key])),
  }));
  const pars = (["par1", "par30", "par90"] as const).map((key) => ({
    name: t(`dashboard.${key}`),
    colour: PAR_COLOURS[key],
    values: items.map((r) => Number(r[key])),
  }));
  const topFlow = Math.max(0, ...flows.flatMap((s) => s.values));
  const topPar = Math.max(0, ...pars.flatMap((s) => s.values));
  return (
    <>
      <div className="trend-charts">
        <TimeChart
          caption={t("dashboard.flowsChart")}
          kind="columns"
          dates={dates}
          series={flows}
          top={{ value: topFlow, shown: money(String(topFlow), currency) }}
        />
        <TimeChart
          caption={t("dashboard.parTrendChart")}
          kind="lines"
          dates={dates}
          series={pars}
          top={{ value: topPar, shown: percent(String(topPar)) }}
        />
      </div>
      <details>
        <summary>{t("dashboard.trendFigures")}</summary>
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">{t("dashboard.period")}</th>
                <th scope="col" className="num">{t("dashboard.grossPortfolio")}</th>
                <th scope="col" className="num">{t("dashboard.par1")}</th>
                <th scope="col" className="num">{t("dashboard.par30")}</th>
                <th scope="col" className="num">{t("dashboard.par90")}</th>
                <th scope="col" className="num">{t("dashboard.disbursed")}</th>
                <th scope="col" className="num">{t("dashboard.collected")}</th>
              </tr>
            </thead>
            <tbody>
              {items.map((r) => (
                <tr key={r.date}>
                  <th scope="row" className="date">{r.date}</th>
                  <MoneyCell amount={r.gross_portfolio} currency={currency} />
                  <td className="num">{percent(r.par1)}</td>
                  <td className="num">{percent(r.par30)}</td>
                  <td className="num">{percent(r.par90)}</td>
                  <MoneyCell amount={r.disbursed} currency={currency} />
                  <MoneyCell amount={r.collected} currency={currency} />
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </details>
    </>
  );
}

export function Trends() {
  const [interval, setPeriod] = useState<Interval>("day");
  const trends = useTrends(interval);
  return (
    <section aria-labelledby="trends-title">
      <h2 id="trends-title">{t("dashboard.trendsTitle")}</h2>
      <SelectField label={t("dashboard.period")} value={interval} onChange={(e) => setPeriod(e.target.value as Interval)}>
        <option value="day">{t("dashboard.lastDays")}</option>
        <option value="month">{t("dashboard.lastMonths")}</option>
      </SelectField>
      <Loading query={trends}>{(report) => <Charts report={report} />}</Loading>
    </section>
  );
}
