"""Train a statistical scorecard: binning, WoE, logistic regression, points scaling.

Steps (the classic application-scorecard recipe, e.g. Siddiqi, *Credit Risk Scorecards*):

1. Stratified split into training and holdout sets with a fixed seed.
2. On the training set only: bin each characteristic and compute WoE/IV
   (`scoring_service.training.binning`); keep characteristics with IV >= `min_iv`.
3. Fit a logistic regression of P(bad) on the WoE values. With WoE = ln(good/bad) every
   coefficient should be negative; a characteristic with a positive (counter-intuitive)
   coefficient is dropped and the model refitted.
4. Scale to points with "points to double the odds": ``score = offset + factor * ln(odds)``
   with odds = good:bad, ``factor = PDO / ln 2`` and ``offset = base_points - factor *
   ln(base_odds)`` (so base_points at base_odds, PDO more points per doubling). Since
   ``ln(odds) = -(b0 + sum b_j * WoE_j)``, the base score is ``offset - factor * b0`` and a bin
   is worth ``-factor * b_j * WoE``. Each is rounded to a whole point with ROUND_HALF_UP
   (halves away from zero) and the total clamped to 0..1000, exactly as the rule engine does.
5. Report AUC, Gini and KS on the holdout set, both for the model's probability and for the
   integer points the scorecard actually gives.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Final

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

from scoring_service.domain.fields import FieldType
from scoring_service.training.binning import Characteristic, Kind, bin_categorical, bin_numeric
from scoring_service.training.metrics import Metrics, evaluate_scores

MIN_SCORE: Final = 0
MAX_SCORE: Final = 1000


@dataclass(frozen=True, slots=True)
class Scaling:
    """``base_points`` at odds ``base_odds``:1 (good:bad); ``pdo`` points double the odds."""

    base_points: float = 600.0
    base_odds: float = 50.0
    pdo: float = 20.0

    @property
    def factor(self) -> float:
        return self.pdo / math.log(2)

    @property
    def offset(self) -> float:
        return self.base_points - self.factor * math.log(self.base_odds)


@dataclass(frozen=True, slots=True)
class Feature:
    """A characteristic to train on: its field path (as the rules will read it) and kind."""

    path: str
    kind: Kind
    description: str = ""

    @property
    def field_type(self) -> FieldType:
        return FieldType.NUMBER if self.kind is Kind.NUMERIC else FieldType.STRING


@dataclass(frozen=True, slots=True)
class TrainingConfig:
    holdout_share: float = 0.3
    seed: int = 42
    max_bins: int = 6
    min_bin_share: float = 0.05
    min_iv: float = 0.02
    monotonic: bool = True
    regularisation_c: float = 1.0
    """Inverse L2 strength of the logistic regression (scikit-learn's ``C``)."""
    scaling: Scaling = field(default_factory=Scaling)


def round_points(value: float) -> int:
    """Whole points, halves away from zero (ROUND_HALF_UP), through the decimal repr."""
    return int(Decimal(repr(value)).quantize(Decimal(1), rounding=ROUND_HALF_UP))


@dataclass(frozen=True)
class TrainedScorecard:
    features: tuple[Feature, ...]
    characteristics: tuple[Characteristic, ...]
    intercept: float
    coefficients: tuple[float, ...]
    scaling: Scaling
    base_score: int
    bin_points: tuple[tuple[int, ...], ...]
    """bin_points[j][k]: whole points of bin k of characteristic j."""

    def woe_row(self, row: Mapping[str, object]) -> list[float]:
        return [c.woe(row.get(c.path)) for c in self.characteristics]

    def probability_bad(self, row: Mapping[str, object]) -> float:
        logit = self.intercept + sum(
            b * w for b, w in zip(self.coefficients, self.woe_row(row), strict=True)
        )
        return 1.0 / (1.0 + math.exp(-logit))

    def raw_score(self, row: Mapping[str, object]) -> float:
        """The unrounded, unclamped points: offset + factor * ln(odds good:bad)."""
        logit = self.intercept + sum(
            b * w for b, w in zip(self.coefficients, self.woe_row(row), strict=True)
        )
        return self.scaling.offset - self.scaling.factor * logit

    def points(self, row: Mapping[str, object]) -> list[tuple[str, str, int]]:
        """(characteristic, bin label, points) for each characteristic the row falls in."""
        out = []
        for j, characteristic in enumerate(self.characteristics):
            index = characteristic.bin_index(row.get(characteristic.path))
            if index is not None:
                label = characteristic.bins[index].bin.label
                out.append((characteristic.path, label, self.bin_points[j][index]))
        return out

    def score(self, row: Mapping[str, object]) -> int:
        total = self.base_score + sum(p for _, _, p in self.points(row))
        return min(max(total, MIN_SCORE), MAX_SCORE)


@dataclass(frozen=True)
class TrainingResult:
    model: TrainedScorecard
    train_metrics: Metrics
    holdout_metrics: Metrics
    """Of the model's probability of bad (as ``-P(bad)``: higher is safer)."""
    holdout_points_metrics: Metrics
    """Of the integer scorecard points, as the rule engine computes them."""
    information_values: Mapping[str, float]
    """IV of every candidate characteristic, on the training set."""
    dropped: Mapping[str, str]
    """Candidate characteristics left out, with why."""
    train_rows: tuple[int, ...]
    holdout_rows: tuple[int, ...]


def _bin(
    feature: Feature, values: Sequence[object], bad: Sequence[int], cfg: TrainingConfig
) -> Characteristic:
    if feature.kind is Kind.NUMERIC:
        return bin_numeric(
            feature.path,
            values,
            bad,
            max_bins=cfg.max_bins,
            min_share=cfg.min_bin_share,
            monotonic=cfg.monotonic,
        )
    return bin_categorical(
        feature.path, values, bad, max_bins=cfg.max_bins, min_share=cfg.min_bin_share
    )


def train_scorecard(
    rows: Sequence[Mapping[str, object]],
    bad: Sequence[int],
    features: Sequence[Feature],
    config: TrainingConfig | None = None,
) -> TrainingResult:
    """Train on flat rows keyed by field path; ``bad[i]`` is 1 for bad, 0 for good."""
    cfg = config or TrainingConfig()
    if len(rows) != len(bad):
        raise ValueError("rows and labels differ in length")
    if set(bad) - {0, 1}:
        raise ValueError("labels must be 1 (bad) or 0 (good)")
    indices = np.arange(len(rows))
    train_idx, holdout_idx = train_test_split(
        indices,
        test_size=cfg.holdout_share,
        stratify=np.asarray(bad),
        random_state=cfg.seed,
    )
    train_idx = np.sort(train_idx)
    holdout_idx = np.sort(holdout_idx)
    y_train = [int(bad[i]) for i in train_idx]

    dropped: dict[str, str] = {}
    ivs: dict[str, float] = {}
    candidates: list[tuple[Feature, Characteristic]] = []
    for feature in features:
        characteristic = _bin(feature, [rows[i].get(feature.path) for i in train_idx], y_train, cfg)
        ivs[feature.path] = characteristic.iv
        if len(characteristic.bins) < 2:
            dropped[feature.path] = "a single bin: no information"
        elif characteristic.iv < cfg.min_iv:
            dropped[feature.path] = f"IV {characteristic.iv:.4f} below {cfg.min_iv}"
        else:
            candidates.append((feature, characteristic))

    while True:
        if not candidates:
            raise ValueError("no characteristic carries enough information to train on")
        x_train = np.array([[c.woe(rows[i].get(c.path)) for _, c in candidates] for i in train_idx])
        regression = LogisticRegression(C=cfg.regularisation_c, max_iter=1000)
        regression.fit(x_train, np.asarray(y_train))
        coefficients = [float(b) for b in regression.coef_[0]]
        worst = max(range(len(coefficients)), key=lambda j: coefficients[j])
        if coefficients[worst] <= 0:
            break
        path = candidates[worst][0].path
        dropped[path] = "positive coefficient on WoE (counter-intuitive sign) once combined"
        del candidates[worst]

    intercept = float(regression.intercept_[0])
    scaling = cfg.scaling
    base_score = round_points(scaling.offset - scaling.factor * intercept)
    bin_points = tuple(
        tuple(round_points(-scaling.factor * b * stats.woe) for stats in c.bins)
        for b, (_, c) in zip(coefficients, candidates, strict=True)
    )
    model = TrainedScorecard(
        features=tuple(f for f, _ in candidates),
        characteristics=tuple(c for _, c in candidates),
        intercept=intercept,
        coefficients=tuple(coefficients),
        scaling=scaling,
        base_score=base_score,
        bin_points=bin_points,
    )

    def metrics_of(idx: np.ndarray, *, points: bool) -> Metrics:
        labels = [int(bad[i]) for i in idx]
        if points:
            scores = [float(model.score(rows[i])) for i in idx]
        else:
            scores = [-model.probability_bad(rows[i]) for i in idx]
        return evaluate_scores(scores, labels)

    return TrainingResult(
        model=model,
        train_metrics=metrics_of(train_idx, points=False),
        holdout_metrics=metrics_of(holdout_idx, points=False),
        holdout_points_metrics=metrics_of(holdout_idx, points=True),
        information_values=ivs,
        dropped=dropped,
        train_rows=tuple(int(i) for i in train_idx),
        holdout_rows=tuple(int(i) for i in holdout_idx),
    )
