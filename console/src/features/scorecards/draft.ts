/** A scorecard version being written: what the form holds (text, as typed), the checks made
 * before sending, and the body the API takes. Problems are keyed by the names the server gives
 * its field errors (`rules[0].when`, `cutoffs.AA`), so both show in the same place. */
import type { components } from "@/api/schema";
import { t } from "@/i18n";

type Scorecard = components["schemas"]["Scorecard"];
type ScorecardBody = components["schemas"]["ScorecardBody"];

export const BANDS = ["AA", "A", "B", "C"] as const;
export type Band = (typeof BANDS)[number];

export type RuleDraft = { key: number; name: string; when: string; points: string };

export type Draft = {
  name: string;
  baseScore: string;
  rules: RuleDraft[];
  cutoffs: Record<Band, string>;
  /** Set when this draft is the next version of an existing scorecard. */
  scorecardKey?: string;
};

let nextKey = 0;

/** A blank rule, with a key of its own so React keeps each rule's inputs as they move. */
export function blankRule(): RuleDraft {
  return { key: nextKey++, name: "", when: "", points: "" };
}

export function emptyDraft(): Draft {
  return {
    name: "",
    baseScore: "500",
    rules: [blankRule()],
    // The service's defaults, shown so that they can be changed.
    cutoffs: { AA: "800", A: "650", B: "550", C: "450" },
  };
}

/** The next version of `scorecard`, starting from what it says. */
export function nextVersion(scorecard: Scorecard): Draft {
  const minimum = (band: Band) => String(scorecard.cutoffs.find((c) => c.band === band)?.min_score ?? "");
  return {
    name: scorecard.name,
    baseScore: String(scorecard.base_score),
    rules: scorecard.rules.map((r) => ({ ...blankRule(), name: r.name, when: r.when, points: String(r.points) })),
    cutoffs: { AA: minimum("AA"), A: minimum("A"), B: minimum("B"), C: minimum("C") },
    scorecardKey: scorecard.scorecard_key,
  };
}

const WHOLE = /^[-+]?\d+$/;

function whole(value: string, min: number, max: number): number | string {
  const n = WHOLE.test(value.trim()) ? Number(value) : NaN;
  return Number.isInteger(n) && n >= min && n <= max ? n : t("scorecards.wholeNumber", { min, max });
}

/** What the browser can tell before sending: missing text and numbers out of range. Whether a
 * condition parses is the server's to say (it knows the language and the fields). */
export function check(draft: Draft): Record<string, string> {
  const problems: Record<string, string> = {};
  const required = (field: string, value: string) => {
    if (!value.trim()) problems[field] = t("scorecards.required");
  };
  required("name", draft.name);
  const base = whole(draft.baseScore, 0, 1000);
  if (typeof base === "string") problems.base_score = base;
  const names = new Set<string>();
  draft.rules.forEach((rule, i) => {
    required(`rules[${i}].name`, rule.name);
    if (rule.name.trim() && names.has(rule.name.trim())) problems[`rules[${i}].name`] = t("scorecards.nameTwice");
    names.add(rule.name.trim());
    required(`rules[${i}].when`, rule.when);
    const points = whole(rule.points, -1000, 1000);
    if (typeof points === "string") problems[`rules[${i}].points`] = points;
  });
  let higher: [Band, number] | null = null;
  for (const band of BANDS) {
    const value = whole(draft.cutoffs[band], 1, 1000);
    if (typeof value === "string") {
      problems[`cutoffs.${band}`] = value;
      higher = null;
      continue;
    }
    if (higher && value >= higher[1]) {
      problems[`cutoffs.${band}`] = t("scorecards.descending", { higher: higher[0], value: higher[1] });
    }
    higher = [band, value];
  }
  return problems;
}

/** The body of POST /v1/scorecards; call after `check` found nothing. */
export function toBody(draft: Draft): ScorecardBody {
  return {
    name: draft.name.trim(),
    base_score: Number(draft.baseScore),
    rules: draft.rules.map((r) => ({ name: r.name.trim(), when: r.when, points: Number(r.points) })),
    cutoffs: BANDS.map((band) => ({ band, min_score: Number(draft.cutoffs[band]) })),
    ...(draft.scorecardKey ? { scorecard_key: draft.scorecardKey } : {}),
  };
}
