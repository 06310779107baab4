"""Reading the fields of a command: field errors collected so that one answer names every
bad field (a `ValidationError` with ``field_errors``). Dates: `shared.dates.parse_date`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

from shared.errors import ValidationError


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


def other_currencies(named: Sequence[tuple[str, str]], currency: str) -> list[tuple[str, str]]:
    """The field errors of the amounts that name a currency other than `currency`."""
    return [
        (field, f"must be in {currency}, the institution's currency, not {code}")
        for field, code in named
        if code != currency
    ]
