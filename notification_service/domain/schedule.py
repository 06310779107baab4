"""The institution's clock: its time zone, when its business day closes, when reminders go
out, and the quiet hours in which no message is sent. Pure: "now" is always given."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from shared.errors import ValidationError

_HHMM = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])")
LANGUAGES = ("en", "sw")
MAX_REMINDER_DAYS = 30
#: At most this many business days are closed in one catch-up pass (the rest in the next),
#: so that an institution far behind does not hold the clock from the others for hours.
CATCH_UP_BATCH = 31


def parse_hhmm(text: str, field: str) -> time:
    match = _HHMM.fullmatch(text)
    if not match:
        raise ValidationError.of(field, "must be a local time HH:MM, e.g. 21:30")
    return time(int(match[1]), int(match[2]))


def zone(name: str, field: str = "time_zone") -> ZoneInfo:
    if name not in _zones():
        raise ValidationError.of(field, "must be an IANA time zone such as Africa/Nairobi")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError.of(field, "is not a time zone this server knows") from None


_ZONES: frozenset[str] = frozenset()


def _zones() -> frozenset[str]:
    global _ZONES
    if not _ZONES:
        _ZONES = frozenset(available_timezones()) | {"UTC"}
    return _ZONES


@dataclass(frozen=True)
class Schedule:
    institution_id: str
    time_zone: str = "UTC"
    close_of_business_time: str = "22:00"
    reminder_days_before: int = 2
    #: None until the institution sets them: a default in an unknown time zone would hold
    #: messages at the wrong hours.
    quiet_hours_start: str = ""
    quiet_hours_end: str = ""
    default_language: str = "en"
    enabled: bool = True
    #: The first business date the clock closes (the day it began to keep time).
    start_date: date | None = None
    #: The last business date closed by the clock or by hand, and when.
    last_business_date: date | None = None
    last_run_time: datetime | None = None
    version: int = 0

    def checked(self) -> Schedule:
        """Itself, or ValidationError naming every bad field."""
        problems: list[tuple[str, str]] = []
        for check in (
            lambda: zone(self.time_zone),
            lambda: parse_hhmm(self.close_of_business_time, "close_of_business_time"),
        ):
            try:
                check()
            except ValidationError as exc:
                problems += exc.field_errors
        if not 0 <= self.reminder_days_before <= MAX_REMINDER_DAYS:
            problems.append(
                ("reminder_days_before", f"must be between 0 and {MAX_REMINDER_DAYS} days")
            )
        if bool(self.quiet_hours_start) != bool(self.quiet_hours_end):
            field = "quiet_hours_end" if self.quiet_hours_start else "quiet_hours_start"
            problems.append((field, "give both ends of the quiet hours, or neither"))
        for field, value in (
            ("quiet_hours_start", self.quiet_hours_start),
            ("quiet_hours_end", self.quiet_hours_end),
        ):
            if value and not _HHMM.fullmatch(value):
                problems.append((field, "must be a local time HH:MM, e.g. 21:30"))
        if self.quiet_hours_start and self.quiet_hours_start == self.quiet_hours_end:
            problems.append(("quiet_hours_end", "must differ from the start"))
        if self.default_language not in LANGUAGES:
            problems.append(("default_language", f"must be one of {', '.join(LANGUAGES)}"))
        if problems:
            raise ValidationError.of_fields(problems)
        return self

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    @property
    def cob_time(self) -> time:
        return parse_hhmm(self.close_of_business_time, "close_of_business_time")

    def closes_at(self, day: date) -> datetime:
        """When the close of business of `day` runs, in UTC. A local time that a daylight
        saving change skips or repeats is taken at its first occurrence (``fold=0``)."""
        return datetime.combine(day, self.cob_time, tzinfo=self.tz).astimezone(UTC)

    def local_today(self, now: datetime) -> date:
        return now.astimezone(self.tz).date()

    def first_open_date(self) -> date | None:
        """The next business date to close: the day after the last closed, else the day the
        clock began."""
        if self.last_business_date is not None:
            return self.last_business_date + timedelta(days=1)
        return self.start_date

    def due(self, now: datetime) -> list[date]:
        """The business dates whose close of business time has passed and that are not
        closed yet, oldest first (at most CATCH_UP_BATCH): after downtime, every missed day
        in order."""
        first = self.first_open_date()
        if not self.enabled or first is None:
            return []
        latest = self.local_today(now)
        if now < self.closes_at(latest):
            latest -= timedelta(days=1)
        days = (latest - first).days + 1
        return [first + timedelta(days=n) for n in range(max(0, min(days, CATCH_UP_BATCH)))]

    def next_run(self, now: datetime) -> tuple[date, datetime] | None:
        """The next business date the clock will close and when (now, if already due)."""
        if not self.enabled:
            return None
        pending = self.due(now)
        if pending:
            return pending[0], now
        day = self.first_open_date() or self.local_today(now)
        return day, self.closes_at(day)

    def quiet_until(self, now: datetime) -> datetime | None:
        """The end of the quiet hours (UTC) when `now` falls inside them, else None."""
        if not self.quiet_hours_start:
            return None
        start = parse_hhmm(self.quiet_hours_start, "quiet_hours_start")
        end = parse_hhmm(self.quiet_hours_end, "quiet_hours_end")
        local = now.astimezone(self.tz)
        moment = local.time().replace(tzinfo=None)
        wraps = start > end  # e.g. 21:00 to 07:00 spans midnight
        inside = (moment >= start or moment < end) if wraps else (start <= moment < end)
        if not inside:
            return None
        day = local.date()
        if wraps and moment >= start:
            day += timedelta(days=1)
        return datetime.combine(day, end, tzinfo=self.tz).astimezone(UTC)

    def closed(self, day: date, at: datetime) -> Schedule:
        """After the close of business of `day` (by the clock or by hand). A day before the
        clock began is history being replayed by hand (an institution migrating its book):
        it does not move the clock, which would otherwise close every day since."""
        if self.start_date is not None and day < self.start_date:
            return self
        if self.last_business_date is not None and day <= self.last_business_date:
            return self
        return replace(self, last_business_date=day, last_run_time=at)


def starting(institution_id: str, now: datetime, *, enabled: bool) -> Schedule:
    """A new institution's schedule, with the defaults."""
    return begun(Schedule(institution_id, enabled=enabled), now)


def begun(schedule: Schedule, now: datetime) -> Schedule:
    """The schedule with its clock beginning at the first day whose close of business is
    still ahead, so that an institution created (or set up) in the evening is not closed
    the moment it is."""
    today = schedule.local_today(now)
    first = today if now < schedule.closes_at(today) else today + timedelta(days=1)
    return replace(schedule, start_date=first)
