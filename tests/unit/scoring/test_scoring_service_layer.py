"""The pure parts of scoring_service's use cases: request parsing, state folding, outcomes."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from scoring_service.domain.errors import WHATIF_INVALID, ScoringInvalid
from scoring_service.domain.scorecard import Band
from scoring_service.domain.whatif import Outcome
from scoring_service.entrypoints.events import loan_status
from scoring_service.service_layer.handlers import (
    DEFAULT_CUTOFFS,
    approval_band,
    cutoffs_from_request,
    parse_applicant,
    view,
)
from scoring_service.service_layer.outcomes import fold, is_default, outcome_of
from shared.errors import ValidationError

pytestmark = pytest.mark.unit

T0 = datetime(2026, 1, 5, tzinfo=UTC)


def test_cutoffs_from_the_request_list() -> None:
    assert cutoffs_from_request([]) == (dict(DEFAULT_CUTOFFS), [], {})
    mapping, problems, where = cutoffs_from_request(
        [
            {"band": "aa", "min_score": 800},
            {"band": "A", "min_score": 650},
            {"band": "B", "min_score": 550},
            {"band": "C", "min_score": 450},
            {"band": "D", "min_score": 0},
        ]
    )
    assert mapping == {"AA": 800, "A": 650, "B": 550, "C": 450}
    assert (problems, where) == ([], {"AA": 0, "A": 1, "B": 2, "C": 3})
    _, problems, _ = cutoffs_from_request(
        [
            {"band": "AA", "min_score": 800},
            {"band": "AA", "min_score": 700},
            {"band": "D", "min_score": 10},
            {"band": "Z", "min_score": 1},
        ]
    )
    assert [field for field, _ in problems] == [
        "cutoffs[1].band",
        "cutoffs[2].min_score",
        "cutoffs[3].band",
    ]


def test_applicant_json_is_an_object_with_exact_numbers() -> None:
    applicant = parse_applicant('{"borrower": {"monthly_income": 1500.10}}')
    assert applicant["borrower"]["monthly_income"] == Decimal("1500.10")
    for text, needle in [
        ("", "is required"),
        ("[1, 2]", "must be a JSON object"),
        ("{", "is not valid JSON"),
        ('{"x": NaN}', "NaN is not a JSON number"),
    ]:
        with pytest.raises(ValidationError) as caught:
            parse_applicant(text)
        assert caught.value.field_errors[0][0] == "applicant_json"
        assert needle in caught.value.field_errors[0][1]


def test_approval_band() -> None:
    assert approval_band("") is Band.C
    assert approval_band(" aa ") is Band.AA
    with pytest.raises(ScoringInvalid) as caught:
        approval_band("E")
    assert caught.value.reason == WHATIF_INVALID


def _doc() -> dict[str, object]:
    return {
        "_id": "scv_1",
        "version": {"status": "draft", "base_score": 500},
        "create_time": T0,
    }


def test_a_versions_state_is_derived_from_its_transitions() -> None:
    draft = view(_doc(), [])
    assert (draft["state"], draft["revision"], draft["publish_time"]) == ("draft", 1, None)
    published_at = {"version_id": "scv_1", "state": "published", "seq": 7, "time": T0}
    published = view(_doc(), [published_at, {"version_id": "scv_2", "state": "retired"}])
    assert (published["state"], published["revision"], published["publish_seq"]) == (
        "published",
        2,
        7,
    )
    assert published["version"]["status"] == "published"
    retired = view(
        _doc(), [{"version_id": "scv_1", "state": "retired", "seq": 7, "time": T0}, published_at]
    )
    assert (retired["state"], retired["revision"], retired["retire_time"]) == ("retired", 3, T0)


def snapshot(version: int, status: str, dpd: int) -> dict[str, object]:
    return {
        "loan_id": "loan_1",
        "institution_id": "inst",
        "loan_version": version,
        "status": status,
        "days_past_due": dpd,
    }


def test_outcome_folds_snapshots_in_any_order() -> None:
    snapshots = [snapshot(3, "closed", 0), snapshot(1, "active", 95), snapshot(2, "active", 10)]
    outcome = fold(snapshots)
    assert outcome is not None
    assert (outcome["status"], outcome["max_days_past_due"], outcome["loan_version"]) == (
        "closed",
        95,
        3,
    )
    assert fold(list(reversed(snapshots))) == outcome
    assert fold([]) is None


@pytest.mark.parametrize(
    ("status", "max_dpd", "expected"),
    [
        ("closed", 0, Outcome.GOOD),
        ("closed", 90, Outcome.GOOD),  # exactly 90 days is not yet a default
        ("closed", 91, Outcome.BAD),
        ("written_off", 0, Outcome.BAD),
        ("active", 120, None),  # not matured: unknown, whatever the arrears
        ("rejected", 0, None),
    ],
)
def test_default_definition(status: str, max_dpd: int, expected: Outcome | None) -> None:
    outcome = {"status": status, "max_days_past_due": max_dpd}
    assert outcome_of(outcome) == expected
    if expected is not None:
        assert is_default(outcome) is (expected is Outcome.BAD)


def test_loan_status_names() -> None:
    assert loan_status(5) == "closed"
    assert loan_status(6) == "written_off"
    assert loan_status(99) == "unspecified"
