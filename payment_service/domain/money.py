"""Exact money: strict parsing of decimal strings, ISO 4217 minor units, minor-unit conversions.

Amounts are ``decimal.Decimal`` in major units (``Decimal("1250.50")``), never floats. On the
wire they are decimal strings in JSON and integer minor units plus a currency code in protos.

A valid amount string is canonical plain decimal notation: ASCII digits, no sign, no leading
zeros (``"0.50"`` is fine, ``"00.50"`` is not), an optional ``.`` followed by at least one
digit, at most the currency's minor-unit digits, at most ``MAX_INTEGER_DIGITS`` digits before
the point. Rejected, always with the field named: ``""``, ``" 5"``, ``"5 "``, ``"+5"``,
``"-5"``, ``"0"``/``"0.00"`` (unless zero is allowed), ``"1e3"``, ``"12,50"``, ``"1."``,
``".5"``, ``"NaN"``, ``"Infinity"``, non-ASCII digits, and non-string values (a JSON number
would already have gone through a float).
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Final

from payment_service.domain.errors import AMOUNT_INVALID, CURRENCY_UNSUPPORTED, ValidationError
from shared.money import MINOR_UNITS as _SHARED_MINOR_UNITS

# ISO 4217 minor units: the one table lives in ``shared.money`` (every service uses it).
MINOR_UNITS: Final = _SHARED_MINOR_UNITS

# Amounts have at most this many digits before the decimal point (999 trillion): far above
# any loan, and low enough that sums of millions of amounts stay exact in the default
# 28-digit decimal context.
MAX_INTEGER_DIGITS: Final = 15

_AMOUNT_RE: Final = re.compile(r"(0|[1-9][0-9]*)(?:\.([0-9]+))?")
_CURRENCY_RE: Final = re.compile(r"[A-Z]{3}")
_TOO_MANY_DIGITS: Final = f"must have at most {MAX_INTEGER_DIGITS} digits before the point"


def minor_units(currency: str, *, field: str = "currency") -> int:
    """The number of decimals of ``currency`` (``"KES"`` → 2, ``"UGX"`` → 0).

    Raises ``ValidationError(CURRENCY_UNSUPPORTED)`` naming ``field`` for an unknown code.
    """
    if not isinstance(currency, str) or not _CURRENCY_RE.fullmatch(currency):
        raise _currency_error(field, "must be an ISO 4217 code of three capital letters")
    try:
        return MINOR_UNITS[currency]
    except KeyError:
        raise _currency_error(field, f"currency {currency} is not supported") from None


def quantum(currency: str) -> Decimal:
    """The smallest amount of ``currency``: ``Decimal("0.01")`` KES, ``Decimal("1")`` UGX."""
    return Decimal(1).scaleb(-minor_units(currency))


def parse_amount(
    text: object,
    currency: str,
    *,
    field: str = "amount",
    allow_zero: bool = False,
    lenient_trailing_zeros: bool = False,
) -> Decimal:
    """Parse a decimal amount string strictly; return it quantized to the currency's exponent.

    ``parse_amount("1250.5", "KES") == Decimal("1250.50")``. ``allow_zero`` accepts ``"0"`` (for
    optional components such as fees). ``lenient_trailing_zeros`` accepts decimals beyond the
    currency's precision when they are all zero (``"1000.00"`` UGX), for providers that always
    send two decimals; a non-zero excess digit is refused either way.

    Raises ``ValidationError(AMOUNT_INVALID)`` with ``field_errors=[(field, why)]``.
    """
    places = minor_units(currency)
    if not isinstance(text, str):
        raise _amount_error(field, 'must be a decimal string such as "1250.50"')
    match = _AMOUNT_RE.fullmatch(text)
    if match is None:
        if text.startswith("-") and _AMOUNT_RE.fullmatch(text[1:]):
            raise _amount_error(field, "must be greater than zero")
        raise _amount_error(field, 'must be a decimal string such as "1250.50"')
    integer_part, fraction = match.group(1), match.group(2) or ""
    if len(integer_part) > MAX_INTEGER_DIGITS:
        raise _amount_error(field, _TOO_MANY_DIGITS)
    if len(fraction) > places:
        excess = fraction[places:]
        if not (lenient_trailing_zeros and set(excess) == {"0"}):
            raise _amount_error(field, _precision_message(currency, places))
    amount = Decimal(text)
    if amount == 0 and not allow_zero:
        raise _amount_error(field, "must be greater than zero")
    return amount.quantize(quantum(currency))


def check_amount(
    amount: object, currency: str, *, field: str = "amount", allow_zero: bool = False
) -> Decimal:
    """Validate an amount already held as a ``Decimal``; return it quantized to the currency.

    Refuses non-``Decimal`` values (floats above all), NaN and infinities, negatives, zero
    unless ``allow_zero``, more than ``MAX_INTEGER_DIGITS`` integer digits, and more decimals
    than the currency has (``Decimal("10.500")`` is fine for KES: its value has one decimal).
    """
    if not isinstance(amount, Decimal) or not amount.is_finite():
        raise _amount_error(field, "must be a finite decimal amount")
    if amount < 0 or (amount == 0 and not allow_zero):
        raise _amount_error(field, "must be greater than zero")
    if amount.adjusted() >= MAX_INTEGER_DIGITS:
        raise _amount_error(field, _TOO_MANY_DIGITS)
    return _exact(amount, currency, field)


def to_minor_units(amount: Decimal, currency: str, *, field: str = "amount") -> int:
    """``Decimal("1250.50")`` KES → ``125050``; UGX ``Decimal("5000")`` → ``5000``.

    The amount may be negative (balances are) but must be exact at the currency's precision.
    """
    if not isinstance(amount, Decimal) or not amount.is_finite():
        raise _amount_error(field, "must be a finite decimal amount")
    exact = _exact(amount, currency, field)
    return int(exact.scaleb(minor_units(currency)))


def from_minor_units(units: int, currency: str) -> Decimal:
    """``125050`` KES → ``Decimal("1250.50")``; always at the currency's exponent."""
    if isinstance(units, bool) or not isinstance(units, int):
        raise TypeError("minor units must be an int")
    return Decimal(units).scaleb(-minor_units(currency)).quantize(quantum(currency))


def format_amount(amount: Decimal, currency: str) -> str:
    """The JSON form: plain notation with exactly the currency's decimals (``"1250.50"``)."""
    return f"{_exact(amount, currency, 'amount'):f}"


def _exact(amount: Decimal, currency: str, field: str) -> Decimal:
    q = quantum(currency)
    try:
        quantized = amount.quantize(q)
    except InvalidOperation:  # too many digits for the decimal context
        raise _amount_error(field, "is too large") from None
    if quantized != amount:
        places = minor_units(currency)
        raise _amount_error(field, _precision_message(currency, places))
    return quantized


def _precision_message(currency: str, places: int) -> str:
    if places == 0:
        return f"{currency} has no decimals"
    return f"{currency} allows at most {places} decimals"


def _amount_error(field: str, message: str) -> ValidationError:
    return ValidationError(
        f"{field} {message}", reason=AMOUNT_INVALID, field_errors=[(field, message)]
    )


def _currency_error(field: str, message: str) -> ValidationError:
    return ValidationError(
        f"{field} {message}", reason=CURRENCY_UNSUPPORTED, field_errors=[(field, message)]
    )
