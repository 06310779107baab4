"""Properties that hold for any applicant document and any valid scorecard."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scoring_service.domain.scorecard import (
    BANDS_BEST_FIRST,
    Band,
    Cutoffs,
    build_version,
    evaluate,
)

pytestmark = pytest.mark.unit

RULES = [
    {"name": "income", "when": "borrower.monthly_income >= 500", "points": 80},
    {"name": "young", "when": "borrower.age < 25", "points": -30},
    {"name": "household", "when": "between(borrower.household_size, 2, 6)", "points": 15},
    {"name": "female", "when": "borrower.gender == 'female'", "points": 10},
    {"name": "trade", "when": "borrower.business_type in ['retail', 'services']", "points": 20},
    {"name": "big loan", "when": "loan.principal > 10 * borrower.monthly_income", "points": -60},
    {
        "name": "affordable",
        "when": "loan.installment_amount / borrower.monthly_income <= 0.35",
        "points": 50,
    },
    {"name": "short", "when": "loan.term <= 12", "points": 10},
    {"name": "purpose", "when": "loan.purpose != 'consumption'", "points": 5},
    {"name": "late", "when": "history.max_days_past_due > 30", "points": -200},
    {"name": "repeat", "when": "min(history.loans_repaid, 5) * 12 > 20", "points": 40},
    {"name": "written off", "when": "history.loans_written_off > 0", "points": -400},
    {"name": "open", "when": "abs(history.open_loans - 1) >= 2", "points": -25},
    {"name": "group", "when": "group.is_member and group.size >= 5", "points": 30},
    {"name": "no income", "when": "borrower.monthly_income == null", "points": -40},
]
VERSION = build_version(
    scorecard_id="prop",
    number=1,
    base_score=500,
    rules=RULES,
    cutoffs={"AA": 800, "A": 650, "B": 550, "C": 450},
)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.decimals(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(["0", "0.00", "1e999999", "-1e999999", "NaN", "Infinity", "female", ""]),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)
FIELD_NAMES = {
    "borrower": [
        "monthly_income",
        "age",
        "household_size",
        "gender",
        "business_type",
        "years_in_business",
    ],
    "loan": ["principal", "term", "installment_amount", "purpose"],
    "history": ["max_days_past_due", "loans_repaid", "loans_written_off", "open_loans"],
    "group": ["size", "is_member"],
}
sections = {
    section: st.one_of(
        values,
        st.fixed_dictionaries({}, optional={name: values for name in names}),
    )
    for section, names in FIELD_NAMES.items()
}
applicants = st.one_of(
    values,
    st.fixed_dictionaries({}, optional=sections),  # type: ignore[arg-type]
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(applicants)
def test_evaluation_never_raises_and_score_stays_in_range(applicant: Any) -> None:
    result = evaluate(VERSION, applicant)
    assert 0 <= result.score <= 1000
    assert result.band is VERSION.cutoffs.band_for(result.score)
    assert len(result.contributions) == len(RULES)
    awarded = sum(c.points for c in result.contributions)
    assert result.total == VERSION.base_score + awarded
    for contribution, rule in zip(result.contributions, RULES, strict=True):
        assert contribution.rule == rule["name"]
        if contribution.matched:
            assert contribution.points == rule["points"]
            assert contribution.note == "matched"
        else:
            assert contribution.points == 0
            assert contribution.note == "not matched" or contribution.note.startswith("skipped: ")


numbers = st.one_of(
    st.integers(min_value=-(10**6), max_value=10**6),
    st.decimals(min_value=-(10**6), max_value=10**6, places=2, allow_nan=False),
)


@given(
    base=st.integers(min_value=0, max_value=1000),
    points=st.lists(st.integers(min_value=-1000, max_value=1000), min_size=1, max_size=8),
    income=numbers,
    term=numbers,
)
def test_any_scorecard_scores_within_range(
    base: int, points: list[int], income: Any, term: Any
) -> None:
    rules = [
        {
            "name": f"r{i}",
            "when": f"borrower.monthly_income > {i * 100} or loan.term < {i}",
            "points": p,
        }
        for i, p in enumerate(points)
    ]
    version = build_version(
        scorecard_id="p",
        number=1,
        base_score=base,
        rules=rules,
        cutoffs={"AA": 900, "A": 700, "B": 500, "C": 300},
    )
    applicant = {"borrower": {"monthly_income": income}, "loan": {"term": term}}
    result = evaluate(version, applicant)
    expected = base
    for i, p in enumerate(points):
        if Decimal(income) > i * 100 or Decimal(term) < i:
            expected += p
    assert result.total == expected
    assert result.score == min(max(expected, 0), 1000)


cutoff_sets = (
    st.lists(st.integers(min_value=1, max_value=1000), min_size=4, max_size=4, unique=True)
    .map(lambda xs: sorted(xs, reverse=True))
    .map(lambda xs: Cutoffs(*xs))
)


@given(cutoffs=cutoff_sets, a=st.integers(0, 1000), b=st.integers(0, 1000))
def test_band_is_monotone_in_score(cutoffs: Cutoffs, a: int, b: int) -> None:
    low, high = min(a, b), max(a, b)
    assert cutoffs.band_for(low).rank <= cutoffs.band_for(high).rank


@given(cutoffs=cutoff_sets)
def test_every_band_is_reachable_and_ranges_tile_0_to_1000(cutoffs: Cutoffs) -> None:
    bands = [cutoffs.band_for(score) for score in range(1001)]
    assert set(bands) == set(BANDS_BEST_FIRST)
    # ranges are contiguous: the band never goes back up as the score falls
    ranks = [band.rank for band in bands]
    assert ranks == sorted(ranks)
    assert bands[0] is Band.D
    assert bands[cutoffs.aa] is Band.AA and bands[cutoffs.aa - 1] is Band.A
    assert bands[cutoffs.c] is Band.C and bands[cutoffs.c - 1] is Band.D
