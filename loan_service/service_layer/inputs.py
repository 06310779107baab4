"""Reading the fields of a command: dates, and field errors collected so that one answer
names every bad field (a `ValidationError` with ``field_errors``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

from shared.errors import ValidationError


def parse_date(value: str, field: str, *, required: bool = True) -> date | None:
    if not value:
        if required:
            raise ValidationError.of(field, "is required (an ISO date like 2026-03-31)")
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValidationError.of(
            field, f"must be an ISO date like 2026-03-31, got {value!r}"
        ) from None


def collect(errors: list[tuple[str, str]], parse: Callable[[], Any]) -> Any:
    """Runs a parser, adding its field errors to `errors` instead of raising."""
    try:
        return parse()
    except ValidationError as exc:
        errors.extend(exc.field_errors)
        return None


def decimal_or_none(text: str) -> Decimal | None:
    try:
        return Decimal(text)
    except ArithmeticError:
        return None
