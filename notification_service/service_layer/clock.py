"""The clock the use cases read: the time at the millisecond, as it is stored."""

from __future__ import annotations

from datetime import UTC, datetime


def now() -> datetime:
    stamp = datetime.now(UTC)
    return stamp.replace(microsecond=stamp.microsecond // 1000 * 1000)
