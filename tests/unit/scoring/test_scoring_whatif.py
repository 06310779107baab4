"""What-if on a hand-computed example (see the table in the comments)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from scoring_service.domain.scorecard import Band, build_version
from scoring_service.domain.whatif import what_if

pytestmark = pytest.mark.unit

CUTOFFS = {"AA": 800, "A": 650, "B": 550, "C": 450}
PUBLISHED = build_version(
    scorecard_id="sc",
    number=1,
    base_score=500,
    rules=[
        {"name": "income", "when": "borrower.monthly_income >= 500", "points": 100},
        {"name": "late", "when": "history.max_days_past_due > 30", "points": -150},
    ],
    cutoffs=CUTOFFS,
)
DRAFT = build_version(
    scorecard_id="sc",
    number=2,
    base_score=500,
    rules=[
        {"name": "income", "when": "borrower.monthly_income >= 500", "points": 150},
        {"name": "low income", "when": "borrower.monthly_income < 450", "points": -100},
        {"name": "late", "when": "history.max_days_past_due > 30", "points": -100},
        {"name": "group", "when": "group.is_member", "points": 60},
    ],
    cutoffs=CUTOFFS,
)


def app(income: Any, dpd: int, member: bool | None, decision: str, outcome: str | None) -> dict:
    return {
        "applicant": {
            "borrower": {"monthly_income": income},
            "history": {"max_days_past_due": dpd},
            "group": {"is_member": member},
        },
        "decision": decision,
        "outcome": outcome,
    }


#      income dpd member     v1 score/band     v2 score/band
APPLICATIONS = [
    app(600, 0, True, "approved", "good"),  # 600 B    500+150+60=710 A
    app(400, 0, False, "approved", "bad"),  # 500 C    500-100=400 D
    app(700, 60, True, "approved", "good"),  # 450 C    500+150-100+60=610 B
    app(300, 45, False, "rejected", None),  # 350 D    500-100-100=300 D
    app(None, 0, None, "approved", "good"),  # 500 C    500 C (three rules skipped)
    app(1000, 0, False, "approved", "good"),  # 600 B    650 A
    app(450, 40, True, "rejected", None),  # 350 D    500-100+60=460 C
]


def test_what_if_approve_at_c() -> None:
    report = what_if(DRAFT, PUBLISHED, APPLICATIONS, approve_at=Band.C)
    assert report.applications == 7
    assert report.recorded_approval_rate == Decimal("0.7143")  # 5/7
    before, after = report.before, report.after
    assert before is not None
    assert dict(before.band_counts) == {Band.AA: 0, Band.A: 0, Band.B: 2, Band.C: 3, Band.D: 2}
    assert dict(after.band_counts) == {Band.AA: 0, Band.A: 2, Band.B: 1, Band.C: 2, Band.D: 2}
    assert before.band_shares[Band.C] == Decimal("0.4286")
    assert after.band_shares[Band.B] == Decimal("0.1429")
    assert (before.approved, before.approval_rate) == (5, Decimal("0.7143"))
    assert (after.approved, after.approval_rate) == (5, Decimal("0.7143"))
    assert before.mean_score == Decimal("478.57")  # 3350 / 7
    assert after.mean_score == Decimal("518.57")  # 3630 / 7
    # approved by v1: 1,2,3,5,6 (outcomes known, one bad); by v2: 1,3,5,6,7 (7 unknown)
    assert (before.approved_with_outcome, before.approved_bad) == (5, 1)
    assert before.bad_rate_approved == Decimal("0.2000")
    assert (after.approved_with_outcome, after.approved_bad) == (4, 0)
    assert after.bad_rate_approved == Decimal("0.0000")
    assert (report.swap_in, report.swap_out) == (1, 1)  # applicant 7 in, applicant 2 out
    assert dict(report.band_moves) == {
        (Band.B, Band.A): 2,
        (Band.C, Band.D): 1,
        (Band.C, Band.B): 1,
        (Band.D, Band.C): 1,
    }


def test_what_if_approve_at_b() -> None:
    report = what_if(DRAFT, PUBLISHED, APPLICATIONS, approve_at=Band.B)
    assert report.before is not None
    assert report.before.approval_rate == Decimal("0.2857")  # 2/7
    assert report.after.approval_rate == Decimal("0.4286")  # 3/7
    assert (report.swap_in, report.swap_out) == (1, 0)  # applicant 3
    as_json = report.to_dict()
    assert as_json["after"]["approval_rate"] == "0.4286"
    assert as_json["before"]["band_counts"] == {"AA": 0, "A": 0, "B": 2, "C": 3, "D": 2}


def test_what_if_without_published_version() -> None:
    report = what_if(DRAFT, None, APPLICATIONS)
    assert report.before is None
    assert report.after.approved == 5
    assert report.band_moves == {}


def test_what_if_on_no_applications() -> None:
    report = what_if(DRAFT, PUBLISHED, [])
    assert report.after.approval_rate is None
    assert report.after.mean_score is None
    assert report.recorded_approval_rate is None
