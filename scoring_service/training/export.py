"""Export a trained statistical scorecard as an ordinary rule-based scorecard version.

One rule per bin — ``loan.term >= 12 and loan.term < 24`` worth that bin's points, a
category bin as ``x in [...]``, a missing bin as ``x == null`` — and the base score is the
scaled intercept. The bins of a characteristic tile its values, so exactly one of its rules
matches a present value; a missing value or a category never seen in training matches none
and scores 0, the neutral WoE. The rule engine therefore gives every applicant exactly the
model's points, and explains them the same way as a hand-written scorecard.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from scoring_service.domain.fields import STANDARD_CATALOGUE, FieldSpec
from scoring_service.domain.scorecard import (
    MAX_SCORE,
    Scorecard,
    ScorecardVersion,
    build_version,
)
from scoring_service.training.model import TrainedScorecard, TrainingResult

DEFAULT_BAND_SHARES: Mapping[str, float] = {"AA": 0.10, "A": 0.20, "B": 0.30, "C": 0.20}
"""Share of the reference population in each band, best first; D takes the rest (20%)."""


def rule_specs(model: TrainedScorecard) -> list[dict[str, Any]]:
    rules = []
    for j, characteristic in enumerate(model.characteristics):
        for k, stats in enumerate(characteristic.bins):
            rules.append(
                {
                    "name": f"{characteristic.path} bin {k + 1}",
                    "when": stats.bin.condition(characteristic.path),
                    "points": model.bin_points[j][k],
                }
            )
    return rules


def field_specs(model: TrainedScorecard) -> list[FieldSpec]:
    """The fields the model reads that the standard catalogue does not define."""
    return [
        FieldSpec(f.path, f.field_type, f.description)
        for f in model.features
        if f.path not in STANDARD_CATALOGUE
    ]


def cutoffs_from_scores(
    scores: Sequence[int], shares: Mapping[str, float] = DEFAULT_BAND_SHARES
) -> dict[str, int]:
    """Cut-offs putting about `shares` of a reference population in each band (AA best).

    Adjusted to be strictly descending within 1..1000, as the domain requires.
    """
    if not scores:
        raise ValueError("cut-offs need reference scores")
    ordered = np.sort(np.asarray(scores))
    cumulative = 0.0
    mins: dict[str, int] = {}
    for band in ("AA", "A", "B", "C"):
        cumulative += shares[band]
        index = min(len(ordered) - 1, max(0, round((1 - cumulative) * len(ordered))))
        mins[band] = int(ordered[index])
    mins["C"] = max(mins["C"], 1)
    mins["B"] = max(mins["B"], mins["C"] + 1)
    mins["A"] = max(mins["A"], mins["B"] + 1)
    mins["AA"] = max(mins["AA"], mins["A"] + 1)
    overflow = mins["AA"] - MAX_SCORE
    if overflow > 0:
        mins = {band: value - overflow for band, value in mins.items()}
    return mins


def version_spec(model: TrainedScorecard, cutoffs: Mapping[str, int]) -> dict[str, Any]:
    """``{base_score, rules, cutoffs, fields}``, ready for `Scorecard.create_draft`."""
    return {
        "base_score": model.base_score,
        "rules": rule_specs(model),
        "cutoffs": dict(cutoffs),
        "fields": field_specs(model),
    }


def export_draft(
    scorecard: Scorecard,
    result: TrainingResult,
    rows: Sequence[Mapping[str, object]],
    cutoffs: Mapping[str, int] | None = None,
) -> ScorecardVersion:
    """Add the trained model to `scorecard` as a new draft version.

    Without explicit `cutoffs`, bands are set from the training rows' scores
    (`DEFAULT_BAND_SHARES`).
    """
    model = result.model
    if cutoffs is None:
        cutoffs = cutoffs_from_scores([model.score(rows[i]) for i in result.train_rows])
    spec = version_spec(model, cutoffs)
    return scorecard.create_draft(**spec)


def export_version(
    result: TrainingResult,
    rows: Sequence[Mapping[str, object]],
    *,
    scorecard_id: str = "trained",
    number: int = 1,
    cutoffs: Mapping[str, int] | None = None,
) -> ScorecardVersion:
    """A standalone draft version of the trained model (for previews and tests)."""
    model = result.model
    if cutoffs is None:
        cutoffs = cutoffs_from_scores([model.score(rows[i]) for i in result.train_rows])
    return build_version(scorecard_id=scorecard_id, number=number, **version_spec(model, cutoffs))


def nest(row: Mapping[str, object]) -> dict[str, Any]:
    """A flat row keyed by dotted field path as the nested applicant document rules read."""
    document: dict[str, Any] = {}
    for path, value in row.items():
        *parents, leaf = path.split(".")
        node = document
        for segment in parents:
            node = node.setdefault(segment, {})
        node[leaf] = value
    return document
