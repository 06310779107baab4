"""Scorecard versions, cut-offs, bands and scoring with explanations."""

from __future__ import annotations

from typing import Any

import pytest

from scoring_service.domain.errors import (
    BASE_SCORE_INVALID,
    CUTOFFS_INVALID,
    FIELD_INVALID,
    ILLEGAL_TRANSITION,
    NO_PUBLISHED_VERSION,
    RULE_INVALID,
    SCORECARD_EMPTY,
    VERSION_NOT_FOUND,
    DomainError,
)
from scoring_service.domain.scorecard import (
    Band,
    Contribution,
    Cutoffs,
    RuleInvalid,
    Scorecard,
    ScorecardVersion,
    VersionPublished,
    VersionStatus,
    build_version,
    compile_version,
    evaluate,
)

pytestmark = pytest.mark.unit

CUTOFFS = {"AA": 800, "A": 650, "B": 550, "C": 450}
RULES: list[dict[str, Any]] = [
    {"name": "income", "when": "borrower.monthly_income >= 500", "points": 80},
    {"name": "late", "when": "history.max_days_past_due > 30", "points": -150},
    {
        "name": "affordable",
        "when": "loan.installment_amount / borrower.monthly_income <= 0.3",
        "points": 40,
    },
    {"name": "group", "when": "group.is_member and group.size >= 5", "points": 30},
    {"name": "written off", "when": "history.loans_written_off > 0", "points": -400},
]


def new_card() -> Scorecard:
    return Scorecard("sc-1", "inst-1", "Retail")


def version(**overrides: Any) -> ScorecardVersion:
    spec: dict[str, Any] = {"base_score": 500, "rules": RULES, "cutoffs": CUTOFFS}
    spec.update(overrides)
    return build_version(scorecard_id="sc-1", number=1, **spec)


def test_score_band_and_contributions_hand_computed() -> None:
    applicant = {
        "borrower": {"monthly_income": "600.00"},
        "loan": {"installment_amount": "180"},
        "history": {"max_days_past_due": 0, "loans_written_off": 0},
        "group": {"is_member": True, "size": 6},
    }
    result = evaluate(version(), applicant)
    # 500 + 80 (income) + 40 (180/600 = 0.3 <= 0.3) + 30 (group) = 650 -> A (A starts at 650)
    assert result.score == 650
    assert result.band is Band.A
    assert result.total == 650
    assert result.contributions == (
        Contribution("income", 80, True, "matched"),
        Contribution("late", 0, False, "not matched"),
        Contribution("affordable", 40, True, "matched"),
        Contribution("group", 30, True, "matched"),
        Contribution("written off", 0, False, "not matched"),
    )
    assert result.to_dict()["contributions"][0] == {
        "rule": "income",
        "points": 80,
        "matched": True,
        "note": "matched",
    }


def test_missing_data_contributes_zero_and_says_why() -> None:
    result = evaluate(version(), {"history": {"max_days_past_due": 45}})
    # 500 - 150 (late); everything else needs missing data
    assert result.score == 350
    assert result.band is Band.D
    notes = {c.rule: c.note for c in result.contributions}
    assert notes == {
        "income": "skipped: borrower.monthly_income missing",
        "late": "matched",
        "affordable": "skipped: loan.installment_amount missing",
        "group": "skipped: group.is_member missing",
        "written off": "skipped: history.loans_written_off missing",
    }
    assert [c.skipped for c in result.contributions] == [True, False, True, True, True]


def test_score_is_clamped() -> None:
    low = evaluate(version(), {"history": {"max_days_past_due": 90, "loans_written_off": 2}})
    assert (low.total, low.score, low.band) == (-50, 0, Band.D)
    high = version(
        base_score=990, rules=[{"name": "x", "when": "true", "points": 50}], cutoffs=CUTOFFS
    )
    result = evaluate(high, {})
    assert (result.total, result.score, result.band) == (1040, 1000, Band.AA)


@pytest.mark.parametrize(
    ("score", "band"),
    [
        (1000, Band.AA),
        (800, Band.AA),
        (799, Band.A),
        (650, Band.A),
        (649, Band.B),
        (550, Band.B),
        (549, Band.C),
        (450, Band.C),
        (449, Band.D),
        (0, Band.D),
    ],
)
def test_band_boundaries(score: int, band: Band) -> None:
    assert Cutoffs(800, 650, 550, 450).band_for(score) is band


@pytest.mark.parametrize(
    ("cutoffs", "field", "needle"),
    [
        ({"AA": 800, "A": 650, "B": 550}, "cutoffs.C", "required"),
        ({"AA": 800, "A": 800, "B": 550, "C": 450}, "cutoffs.A", "must be below AA's"),
        ({"AA": 800, "A": 650, "B": 700, "C": 450}, "cutoffs.B", "must be below A's"),
        ({"AA": 1001, "A": 650, "B": 550, "C": 450}, "cutoffs.AA", "within 1..1000"),
        ({"AA": 800, "A": 650, "B": 550, "C": 0}, "cutoffs.C", "within 1..1000"),
        ({"AA": 800, "A": 650, "B": 550, "C": 450.5}, "cutoffs.C", "whole number"),
        ({"AA": 800, "A": 650, "B": 550, "C": 450, "D": 0}, "cutoffs.D", "D has no minimum"),
        ({"AA": 800, "A": 650, "B": 550, "C": 450, "E": 1}, "cutoffs.E", "unknown band"),
        ([800, 650, 550, 450], "cutoffs", "an object"),
    ],
)
def test_cutoffs_validation(cutoffs: object, field: str, needle: str) -> None:
    with pytest.raises(DomainError) as caught:
        version(cutoffs=cutoffs)
    assert caught.value.reason == CUTOFFS_INVALID
    assert any(f == field and needle in m for f, m in caught.value.details), caught.value.details


def test_rule_errors_name_rule_field_and_position() -> None:
    rules = [
        {"name": "ok", "when": "borrower.age > 18", "points": 10},
        {"name": "typo", "when": "borrower.age > 18 and\n loan.princpal > 100", "points": 5},
        {"name": "ok", "when": "true", "points": 1},
        {"name": "frac", "when": "true", "points": 2.5},
        {"name": "", "when": "true", "points": 1},
        {"name": "extra", "when": "true", "points": 1, "weight": 3},
    ]
    with pytest.raises(RuleInvalid) as caught:
        version(rules=rules, cutoffs={"AA": 1, "A": 2, "B": 3, "C": 4})
    error = caught.value
    assert error.reason == RULE_INVALID
    assert error.details[:5] == [
        (
            "rules[1].when",
            "rule 'typo', line 2, column 2: unknown field 'loan.princpal'; "
            "did you mean 'loan.principal'?",
        ),
        ("rules[2].name", "rule name 'ok' is used twice"),
        ("rules[3].points", "rule 'frac': points must be a whole number"),
        ("rules[4].name", "a rule needs a name"),
        ("rules[5]", "unknown key(s) weight"),
    ]
    # cut-off problems are reported in the same error
    assert any(field.startswith("cutoffs.") for field, _ in error.details)
    assert [(i.rule, i.line, i.column) for i in error.issues] == [("typo", 2, 2)]


def test_points_range_and_rule_count() -> None:
    with pytest.raises(DomainError) as caught:
        version(rules=[{"name": "x", "when": "true", "points": 1001}])
    assert caught.value.details == [("rules[0].points", "rule 'x': points must be within ±1000")]
    many = [{"name": f"r{i}", "when": "true", "points": 1} for i in range(201)]
    with pytest.raises(DomainError) as caught:
        version(rules=many)
    assert caught.value.details == [("rules", "at most 200 rules, got 201")]


@pytest.mark.parametrize("base", [-1, 1001, 500.0, "500", True])
def test_base_score_validation(base: object) -> None:
    with pytest.raises(DomainError) as caught:
        version(base_score=base)
    assert caught.value.reason == BASE_SCORE_INVALID


def test_scorecard_specific_fields() -> None:
    fields = [{"path": "borrower.savings", "type": "string", "description": "savings band"}]
    rules = [{"name": "no savings", "when": "borrower.savings == 'none'", "points": -20}]
    v = version(rules=rules, fields=fields)
    assert evaluate(v, {"borrower": {"savings": "none"}}).score == 480
    with pytest.raises(DomainError) as caught:
        version(rules=rules, fields=[{"path": "borrower.age", "type": "string"}])
    assert caught.value.reason == FIELD_INVALID
    with pytest.raises(DomainError) as caught:
        version(rules=rules, fields=[{"path": "Savings", "type": "string"}])
    assert caught.value.reason == FIELD_INVALID
    with pytest.raises(DomainError) as caught:
        version(rules=rules, fields=[{"path": "borrower.savings", "type": "text"}])
    assert caught.value.reason == FIELD_INVALID


def test_version_roundtrip_and_fingerprint() -> None:
    v = version(fields=[{"path": "borrower.savings", "type": "string"}])
    again = ScorecardVersion.from_dict(v.to_dict())
    assert again == v
    assert again.fingerprint == v.fingerprint
    changed = version(base_score=501)
    assert changed.fingerprint != v.fingerprint
    tampered = v.to_dict() | {"base_score": 400}
    with pytest.raises(DomainError):
        ScorecardVersion.from_dict(tampered)


def test_life_cycle() -> None:
    card = new_card()
    v1 = card.create_draft(base_score=500, rules=RULES, cutoffs=CUTOFFS)
    assert (v1.number, v1.status) == (1, VersionStatus.DRAFT)
    v1 = card.revise_draft(1, base_score=520, rules=RULES, cutoffs=CUTOFFS)
    assert card.version(1).base_score == 520
    assert card.publish(1).status is VersionStatus.PUBLISHED
    v2 = card.create_draft(base_score=480, rules=RULES[:2], cutoffs=CUTOFFS)
    assert v2.number == 2
    assert card.published is not None and card.published.number == 1
    card.publish(2)
    assert [v.status for v in card.versions] == [VersionStatus.RETIRED, VersionStatus.PUBLISHED]
    assert card.events[-1] == VersionPublished("sc-1", "inst-1", 2, v2.fingerprint, 1)
    assert card.score({}).version == 2
    card.retire(2)
    assert card.published is None
    with pytest.raises(DomainError) as caught:
        card.score({})
    assert caught.value.reason == NO_PUBLISHED_VERSION


@pytest.mark.parametrize(
    "action",
    [
        lambda card: card.publish(1),  # published -> published
        lambda card: card.revise_draft(1, base_score=1, rules=RULES, cutoffs=CUTOFFS),
        lambda card: card.retire(2),  # draft -> retired
    ],
)
def test_illegal_transitions(action: Any) -> None:
    card = new_card()
    card.create_draft(base_score=500, rules=RULES, cutoffs=CUTOFFS)
    card.publish(1)
    card.create_draft(base_score=500, rules=RULES, cutoffs=CUTOFFS)
    with pytest.raises(DomainError) as caught:
        action(card)
    assert caught.value.reason == ILLEGAL_TRANSITION
    assert caught.value.details[0][0] == "status"


def test_retired_is_final() -> None:
    card = new_card()
    card.create_draft(base_score=500, rules=RULES, cutoffs=CUTOFFS)
    card.publish(1)
    card.retire(1)
    for action in (lambda: card.publish(1), lambda: card.retire(1)):
        with pytest.raises(DomainError) as caught:
            action()
        assert caught.value.reason == ILLEGAL_TRANSITION


def test_publishing_an_empty_scorecard_is_refused() -> None:
    card = new_card()
    card.create_draft(base_score=500, rules=[], cutoffs=CUTOFFS)
    with pytest.raises(DomainError) as caught:
        card.publish(1)
    assert caught.value.reason == SCORECARD_EMPTY
    assert card.version(1).status is VersionStatus.DRAFT


def test_unknown_version() -> None:
    with pytest.raises(DomainError) as caught:
        new_card().publish(7)
    assert caught.value.reason == VERSION_NOT_FOUND


def test_compiled_versions_are_cached_by_content() -> None:
    v = version()
    assert compile_version(v) is compile_version(ScorecardVersion.from_dict(v.to_dict()))
    assert compile_version(v) is not compile_version(version(base_score=1))


def test_decision_is_reproducible_from_stored_version_and_inputs() -> None:
    applicant = {"borrower": {"monthly_income": 700}, "history": {"max_days_past_due": 31}}
    original = evaluate(version(), applicant)
    stored = version().to_dict()
    replayed = evaluate(ScorecardVersion.from_dict(stored), applicant)
    assert replayed == original
    assert replayed.fingerprint == stored["fingerprint"]
