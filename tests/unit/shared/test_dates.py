"""The one date parser (`shared.dates`): exactly YYYY-MM-DD, the field named in every refusal."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.dates import parse_date
from shared.errors import ValidationError

pytestmark = pytest.mark.unit


@given(st.dates(min_value=date(1000, 1, 1)))
def test_every_calendar_date_written_as_yyyy_mm_dd_reads_back(day: date) -> None:
    assert parse_date(f"{day.year:04}-{day.month:02}-{day.day:02}", "paid_on") == day


@pytest.mark.parametrize(
    "text",
    ["20260331", "2026-W14-2", "2026-03-31T00:00", " 2026-03-31", "2026-3-31", "2026-02-30"],
)
def test_anything_else_is_refused_naming_the_field(text: str) -> None:
    with pytest.raises(ValidationError) as refused:
        parse_date(text, "paid_on")
    assert refused.value.field_errors == [
        ("paid_on", f"must be an ISO date like 2026-03-31, got {text!r}")
    ]


def test_empty_is_refused_when_required_and_none_otherwise() -> None:
    with pytest.raises(ValidationError) as refused:
        parse_date("", "disbursement_date")
    assert refused.value.field_errors[0][0] == "disbursement_date"
    assert parse_date("", "first_repayment_date", required=False) is None


def test_a_date_after_the_latest_accepted_is_in_the_future() -> None:
    today = date(2026, 3, 31)
    assert parse_date("2026-03-31", "paid_on", latest=today) == today
    with pytest.raises(ValidationError) as refused:
        parse_date((today + timedelta(days=1)).isoformat(), "paid_on", latest=today)
    assert refused.value.field_errors == [("paid_on", "must not be in the future")]
