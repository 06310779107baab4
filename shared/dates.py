"""The one parser of the dates clients send: ISO 8601 calendar dates, ``YYYY-MM-DD`` exactly.

Strict on purpose: ``date.fromisoformat`` alone also takes ``20260331`` and, from Python 3.11,
week dates such as ``2026-W14-2``, which no client of this API means to send. Every refusal
names the field, with an example of what is accepted.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Literal, overload

from google.type import date_pb2

from shared.errors import ValidationError

EXAMPLE = "2026-03-31"
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


@overload
def parse_date(
    text: str, field: str, *, required: Literal[True] = ..., latest: date | None = ...
) -> date: ...


@overload
def parse_date(
    text: str, field: str, *, required: Literal[False], latest: date | None = ...
) -> date | None: ...


@overload
def parse_date(
    text: str, field: str, *, required: bool, latest: date | None = ...
) -> date | None: ...


def parse_date(
    text: str, field: str, *, required: bool = True, latest: date | None = None
) -> date | None:
    """The date `text` names; None for an empty optional one. `latest`: the last date
    accepted (a later one is refused as being in the future)."""
    if not text:
        if required:
            raise ValidationError.of(field, f"is required (an ISO date like {EXAMPLE})")
        return None
    try:
        if not isinstance(text, str) or not _ISO_DATE.fullmatch(text):
            raise ValueError
        value = date.fromisoformat(text)
    except ValueError:
        raise ValidationError.of(
            field, f"must be an ISO date like {EXAMPLE}, got {text!r}"
        ) from None
    if latest is not None and value > latest:
        raise ValidationError.of(field, "must not be in the future")
    return value


def to_proto_date(value: date | str | None) -> date_pb2.Date | None:
    """A date (or a stored ISO date string) as contracts carry it (`google.type.Date`);
    None for none."""
    if not value:
        return None
    day = date.fromisoformat(value) if isinstance(value, str) else value
    return date_pb2.Date(year=day.year, month=day.month, day=day.day)


def from_proto_date(value: date_pb2.Date, field: str = "date") -> date | None:
    """A `google.type.Date` as a date; None when unset (all zero). One that names no day of
    the calendar (a month 13) is refused naming `field`."""
    if not value.year and not value.month and not value.day:
        return None
    try:
        return date(value.year, value.month, value.day)
    except ValueError:
        raise ValidationError.of(
            field, f"must be a calendar date, got {value.year}-{value.month}-{value.day}"
        ) from None
