"""Currencies and exact amounts. Amounts are `Decimal` in major units; never float.

The minor-unit table follows ISO 4217 for the currencies our institutions use.
"""

from __future__ import annotations

import re
from decimal import Decimal

from shared.errors import ValidationError

MINOR_UNITS: dict[str, int] = {
    "KES": 2,
    "UGX": 0,
    "TZS": 2,
    "RWF": 0,
    "BIF": 0,
    "ETB": 2,
    "SOS": 2,
    "SSP": 2,
    "NGN": 2,
    "GHS": 2,
    "XOF": 0,
    "XAF": 0,
    "SLE": 2,
    "LRD": 2,
    "GMD": 2,
    "GNF": 0,
    "ZMW": 2,
    "MWK": 2,
    "MZN": 2,
    "ZAR": 2,
    "BWP": 2,
    "NAD": 2,
    "LSL": 2,
    "SZL": 2,
    "CDF": 2,
    "AOA": 2,
    "MGA": 2,
    "EGP": 2,
    "MAD": 2,
    "TND": 3,
    "DZD": 2,
    "INR": 2,
    "PKR": 2,
    "BDT": 2,
    "NPR": 2,
    "LKR": 2,
    "MMK": 2,
    "KHR": 2,
    "LAK": 2,
    "VND": 0,
    "IDR": 2,
    "PHP": 2,
    "MNT": 2,
    "KGS": 2,
    "TJS": 2,
    "UZS": 2,
    "AFN": 2,
    "JOD": 3,
    "LBP": 2,
    "YER": 2,
    "HTG": 2,
    "BOB": 2,
    "PEN": 2,
    "COP": 2,
    "MXN": 2,
    "GTQ": 2,
    "HNL": 2,
    "NIO": 2,
    "PYG": 0,
    "BRL": 2,
    "USD": 2,
    "EUR": 2,
    "GBP": 2,
}

_DECIMAL = re.compile(r"^-?(?:0|[1-9]\d{0,14})(?:\.\d+)?$")


def minor_units(currency: str) -> int:
    try:
        return MINOR_UNITS[currency]
    except KeyError:
        raise ValidationError.of(
            "currency", f"unknown or unsupported currency {currency!r}"
        ) from None


def validate_currency(currency: str) -> str:
    code = (currency or "").strip().upper()
    minor_units(code)
    return code


def parse_decimal(value: str, field: str, *, allow_negative: bool = False) -> Decimal:
    """A plain decimal string (`"1250.50"`): no exponents, separators, spaces or NaN."""
    text = value if isinstance(value, str) else ""
    if not _DECIMAL.match(text):
        raise ValidationError.of(field, f'must be a decimal string like "1250.50", got {value!r}')
    number = Decimal(text)
    if number < 0 and not allow_negative:
        raise ValidationError.of(field, "must not be negative")
    return number


def parse_amount(value: str, currency: str, field: str = "amount") -> Decimal:
    """A strictly positive amount with no more decimals than the currency has."""
    number = parse_decimal(value, field)
    if number <= 0:
        raise ValidationError.of(field, "must be greater than zero")
    places = minor_units(currency)
    if -number.as_tuple().exponent > places:  # type: ignore[operator]
        raise ValidationError.of(field, f"{currency} amounts have at most {places} decimals")
    return number


def fmt(amount: Decimal, currency: str) -> str:
    """The canonical string of an amount: exactly the currency's decimals."""
    places = minor_units(currency)
    return str(amount.quantize(Decimal(1).scaleb(-places)))
