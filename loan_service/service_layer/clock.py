"""The clock the use cases read: the time at the precision it is stored with, and today."""

from __future__ import annotations

from datetime import UTC, date, datetime


def now() -> datetime:
    """The current time at the millisecond, the precision it is stored with, so the answer
    to a write shows the same timestamps as every later read."""
    stamp = datetime.now(UTC)
    return stamp.replace(microsecond=stamp.microsecond // 1000 * 1000)


def today() -> date:
    return now().date()
