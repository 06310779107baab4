/** Writing a draft: a new scorecard, or (with `?from=<version id>`) the next version of one,
 * starting from that version's rules. What the server refuses shows beside the input it names,
 * a rule's condition included (`rules[2].when`, with the line and column). */
import { useEffect, useRef, useState, type FormEvent } from "react";
import { Link, useNavigate, useSearchParams } from "react-router-dom";

import type { components } from "@/api/schema";
import { Busy, ErrorAlert, fieldError } from "@/components/Feedback";
import { Field } from "@/components/Field";
import { Loading } from "@/components/Loading";
import { t } from "@/i18n";

import { useCreateScorecard, useScorecard } from "./api";
import { BANDS, blankRule, check, emptyDraft, nextVersion, toBody, type Draft, type RuleDraft } from "./draft";
import { RuleHelp } from "./RuleHelp";

type Scorecard = components["schemas"]["Scorecard"];

export function ScorecardEditor() {
  const [params] = useSearchParams();
  const from = params.get("from") ?? "";
  const base = useScorecard(from);
  if (!from) return <EditorForm initial={emptyDraft()} />;
  return <Loading query={base}>{(scorecard) => <EditorForm initial={nextVersion(scorecard)} basedOn={scorecard} />}</Loading>;
}

function EditorForm({ initial, basedOn }: { initial: Draft; basedOn?: Scorecard }) {
  const [draft, setDraft] = useState(initial);
  const [checked, setChecked] = useState(false);
  const create = useCreateScorecard();
  const navigate = useNavigate();
  const form = useRef<HTMLFormElement>(null);

  const local = checked ? check(draft) : {};
  const error = (field: string) => local[field] ?? fieldError(create.error, field);
  const shown = [
    "name",
    "base_score",
    ...draft.rules.flatMap((_, i) => [`rules[${i}].name`, `rules[${i}].when`, `rules[${i}].points`]),
    ...BANDS.map((band) => `cutoffs.${band}`),
  ];

  // Someone who pressed Save and was refused lands on the first field to fix, and hears why.
  const [refusals, setRefusals] = useState(0);
  useEffect(() => {
    if (refusals) form.current?.querySelector<HTMLElement>('[aria-invalid="true"]')?.focus();
  }, [refusals]);

  function submit(event: FormEvent) {
    event.preventDefault();
    setChecked(true);
    if (Object.keys(check(draft)).length) {
      setRefusals((n) => n + 1);
      return;
    }
    create.mutate(toBody(draft), {
      onSuccess: (saved) => navigate(`/scorecards/${encodeURIComponent(saved.id)}`),
      onError: () => setRefusals((n) => n + 1),
    });
  }

  const change = (patch: Partial<Draft>) => setDraft((d) => ({ ...d, ...patch }));
  const changeRule = (key: number, patch: Partial<RuleDraft>) =>
    setDraft((d) => ({ ...d, rules: d.rules.map((r) => (r.key === key ? { ...r, ...patch } : r)) }));
  // The server names rules by position: once a rule goes, its errors would sit beside the wrong ones.
  const removeRule = (key: number) => {
    create.reset();
    change({ rules: draft.rules.filter((r) => r.key !== key) });
  };

  return (
    <>
      <p>
        <Link to={basedOn ? `/scorecards/${encodeURIComponent(basedOn.id)}` : "/scorecards"}>
          {basedOn ? t("scorecards.heading", { name: basedOn.name, version: basedOn.version }) : t("scorecards.all")}
        </Link>
      </p>
      <h1>{basedOn ? t("scorecards.newVersionTitle", { name: basedOn.name }) : t("scorecards.newTitle")}</h1>
      <form ref={form} onSubmit={submit} noValidate className="scorecard-editor">
        <Field
          label={t("scorecards.scorecardName")}
          required
          maxLength={120}
          value={draft.name}
          onChange={(e) => change({ name: e.target.value })}
          error={error("name")}
        />
        <Field
          label={t("scorecards.baseScore")}
          type="number"
          inputMode="numeric"
          required
          min={0}
          max={1000}
          step={1}
          value={draft.baseScore}
          onChange={(e) => change({ baseScore: e.target.value })}
          hint={t("scorecards.baseScoreHint")}
          error={error("base_score")}
        />
        <h2>{t("scorecards.rules")}</h2>
        <p className="hint">{t("scorecards.rulesHint")}</p>
        <RuleHelp />
        {draft.rules.map((rule, i) => (
          <fieldset key={rule.key} className="rule">
            <legend>{t("scorecards.ruleLegend", { n: i + 1 })}</legend>
            <Field
              label={t("scorecards.ruleName")}
              required
              maxLength={120}
              value={rule.name}
              onChange={(e) => changeRule(rule.key, { name: e.target.value })}
              error={error(`rules[${i}].name`)}
            />
            <Field
              label={t("scorecards.condition")}
              className="code"
              required
              maxLength={1000}
              spellCheck={false}
              autoCapitalize="off"
              autoCorrect="off"
              autoComplete="off"
              value={rule.when}
              onChange={(e) => changeRule(rule.key, { when: e.target.value })}
              error={error(`rules[${i}].when`)}
            />
            <Field
              label={t("scorecards.points")}
              type="number"
              inputMode="numeric"
              required
              min={-1000}
              max={1000}
              step={1}
              value={rule.points}
              onChange={(e) => changeRule(rule.key, { points: e.target.value })}
              error={error(`rules[${i}].points`)}
            />
            <button
              type="button"
              className="secondary"
              aria-label={t("scorecards.removeRuleNumbered", { n: i + 1 })}
              onClick={() => removeRule(rule.key)}
            >
              {t("scorecards.removeRule")}
            </button>
          </fieldset>
        ))}
        <div className="actions">
          <button type="button" className="secondary" onClick={() => change({ rules: [...draft.rules, blankRule()] })}>
            {t("scorecards.addRule")}
          </button>
        </div>
        <fieldset className="cutoffs">
          <legend>{t("scorecards.cutoffs")}</legend>
          <p className="hint">{t("scorecards.cutoffsHint")}</p>
          {BANDS.map((band) => (
            <Field
              key={band}
              label={t("scorecards.cutoffLabel", { band })}
              type="number"
              inputMode="numeric"
              required
              min={1}
              max={1000}
              step={1}
              value={draft.cutoffs[band]}
              onChange={(e) => change({ cutoffs: { ...draft.cutoffs, [band]: e.target.value } })}
              error={error(`cutoffs.${band}`)}
            />
          ))}
        </fieldset>
        {basedOn && <p>{t("scorecards.newVersionIntro")}</p>}
        <div className="actions">
          <button type="submit" disabled={create.isPending}>
            {t("scorecards.save")}
          </button>
        </div>
        {create.isPending && <Busy label={t("scorecards.saving")} />}
        <ErrorAlert error={create.error} fields={shown} />
      </form>
    </>
  );
}
