"""The institution's clock: which business days are due, in order and each once, in the
institution's time zone; the quiet hours; the checks on a schedule."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from notification_service.domain import schedule as s
from notification_service.domain.schedule import Schedule
from shared.errors import ValidationError

pytestmark = pytest.mark.unit

NAIROBI = "Africa/Nairobi"  # UTC+3, no daylight saving


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def nairobi(start: date, **changes: object) -> Schedule:
    return replace(
        Schedule("inst_1", time_zone=NAIROBI, close_of_business_time="21:00"),
        start_date=start,
        **changes,  # type: ignore[arg-type]
    )


def test_a_day_is_due_once_its_local_close_of_business_time_has_passed() -> None:
    schedule = nairobi(date(2026, 3, 2))
    # 21:00 in Nairobi is 18:00 UTC.
    assert schedule.due(at("2026-03-02T17:59:00")) == []
    assert schedule.due(at("2026-03-02T18:00:00")) == [date(2026, 3, 2)]


def test_after_downtime_every_missed_day_is_due_in_order() -> None:
    schedule = nairobi(date(2026, 3, 2), last_business_date=date(2026, 3, 3))
    assert schedule.due(at("2026-03-07T10:00:00")) == [
        date(2026, 3, 4),
        date(2026, 3, 5),
        date(2026, 3, 6),
    ]


def test_a_long_outage_is_caught_up_a_batch_at_a_time() -> None:
    schedule = nairobi(date(2026, 1, 1))
    due = schedule.due(at("2026-06-01T00:00:00"))
    assert len(due) == s.CATCH_UP_BATCH and due[0] == date(2026, 1, 1)


@given(
    start=st.dates(min_value=date(2025, 1, 1), max_value=date(2027, 1, 1)),
    ticks=st.lists(st.integers(min_value=0, max_value=60 * 72), min_size=1, max_size=30),
    zone=st.sampled_from(["UTC", NAIROBI, "America/New_York", "Asia/Kolkata", "Pacific/Apia"]),
    cob=st.sampled_from(["00:00", "02:30", "18:00", "23:59"]),
)
def test_ticking_closes_every_day_exactly_once_in_order(
    start: date, ticks: list[int], zone: str, cob: str
) -> None:
    schedule = replace(
        Schedule("inst_1", time_zone=zone, close_of_business_time=cob), start_date=start
    )
    now = datetime.combine(start, datetime.min.time(), tzinfo=UTC) - timedelta(days=1)
    closed: list[date] = []
    for minutes in ticks:
        now += timedelta(minutes=minutes)
        for day in schedule.due(now):
            assert now >= schedule.closes_at(day)
            closed.append(day)
            schedule = schedule.closed(day, now)
    assert closed == sorted(set(closed))
    if closed:
        assert closed[0] == start
        assert all(b - a == timedelta(days=1) for a, b in itertools.pairwise(closed))


def test_a_day_closed_by_hand_before_the_clock_began_does_not_move_it() -> None:
    schedule = nairobi(date(2026, 3, 2))
    assert schedule.closed(date(2026, 1, 15), at("2026-03-02T09:00:00")) is schedule
    moved = schedule.closed(date(2026, 3, 2), at("2026-03-02T19:00:00"))
    assert moved.last_business_date == date(2026, 3, 2)
    assert moved.closed(date(2026, 3, 1), at("2026-03-02T19:00:00")) is moved


def test_an_institution_created_after_its_close_of_business_starts_tomorrow() -> None:
    evening = s.starting("inst_1", at("2026-03-02T22:30:00"), enabled=True)
    assert evening.start_date == date(2026, 3, 3)
    morning = s.starting("inst_1", at("2026-03-02T08:00:00"), enabled=True)
    assert morning.start_date == date(2026, 3, 2)
    assert morning.due(at("2026-03-02T21:59:00")) == []


def test_the_next_run_is_the_next_open_day_at_its_local_time() -> None:
    schedule = nairobi(date(2026, 3, 2), last_business_date=date(2026, 3, 2))
    day, when = schedule.next_run(at("2026-03-02T20:00:00")) or (None, None)
    assert day == date(2026, 3, 3) and when == at("2026-03-03T18:00:00")
    assert replace(schedule, enabled=False).next_run(at("2026-03-02T20:00:00")) is None


@pytest.mark.parametrize(
    ("now", "until"),
    [
        ("2026-03-02T17:59:00", None),  # 20:59 in Nairobi: not yet
        ("2026-03-02T18:00:00", "2026-03-03T04:00:00"),  # 21:00: quiet until 07:00
        ("2026-03-02T23:30:00", "2026-03-03T04:00:00"),  # 02:30
        ("2026-03-03T04:00:00", None),  # 07:00 sharp: the day has begun
    ],
)
def test_quiet_hours_span_midnight_in_local_time(now: str, until: str | None) -> None:
    schedule = nairobi(date(2026, 3, 1), quiet_hours_start="21:00", quiet_hours_end="07:00")
    assert schedule.quiet_until(at(now)) == (at(until) if until else None)


def test_quiet_hours_within_a_day_and_none() -> None:
    lunch = nairobi(date(2026, 3, 1), quiet_hours_start="12:00", quiet_hours_end="14:00")
    assert lunch.quiet_until(at("2026-03-02T09:30:00")) == at("2026-03-02T11:00:00")
    assert lunch.quiet_until(at("2026-03-02T11:00:00")) is None
    none = nairobi(date(2026, 3, 1), quiet_hours_start="", quiet_hours_end="")
    assert none.quiet_until(at("2026-03-02T23:00:00")) is None


def test_a_bad_schedule_is_refused_naming_every_field() -> None:
    bad = Schedule(
        "inst_1",
        time_zone="Mars/Olympus",
        close_of_business_time="25:00",
        reminder_days_before=-1,
        quiet_hours_start="21:00",
        quiet_hours_end="",
        default_language="fr",
    )
    with pytest.raises(ValidationError) as raised:
        bad.checked()
    assert {f for f, _ in raised.value.field_errors} == {
        "time_zone",
        "close_of_business_time",
        "reminder_days_before",
        "quiet_hours_end",
        "default_language",
    }
