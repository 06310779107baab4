"""Currencies and exact amounts. Amounts are `Decimal` in major units; never float.

`MINOR_UNITS` is the platform's one currency table (ISO 4217 minor units); every service, and
the payment domain's strict amount parsing (`payment_service.domain.money`), reads it here.
"""

from __future__ import annotations

import re
from decimal import Decimal
from types import MappingProxyType
from typing import Final

from shared.errors import ValidationError

# ISO 4217 minor units (the number of digits after the decimal point), from the ISO 4217
# "list one" of active codes. Where ISO and street practice differ (MMK, KHR, MGA, IDR...),
# ISO wins: an institution that collects in whole units simply never uses the decimals.
MINOR_UNITS: Final = MappingProxyType(
    {
        # Africa
        "AOA": 2, "BIF": 0, "BWP": 2, "CDF": 2, "CVE": 2, "DJF": 0, "DZD": 2, "EGP": 2,
        "ERN": 2, "ETB": 2, "GHS": 2, "GMD": 2, "GNF": 0, "KES": 2, "KMF": 0, "LRD": 2,
        "LSL": 2, "LYD": 3, "MAD": 2, "MGA": 2, "MRU": 2, "MUR": 2, "MWK": 2, "MZN": 2,
        "NAD": 2, "NGN": 2, "RWF": 0, "SCR": 2, "SDG": 2, "SLE": 2, "SOS": 2, "SSP": 2,
        "STN": 2, "SZL": 2, "TND": 3, "TZS": 2, "UGX": 0, "XAF": 0, "XOF": 0, "ZAR": 2,
        "ZMW": 2, "ZWG": 2,
        # Asia and the Pacific
        "AFN": 2, "AMD": 2, "AZN": 2, "BDT": 2, "BND": 2, "BTN": 2, "CNY": 2, "FJD": 2,
        "GEL": 2, "HKD": 2, "IDR": 2, "INR": 2, "JPY": 0, "KGS": 2, "KHR": 2, "KRW": 0,
        "KZT": 2, "LAK": 2, "LKR": 2, "MMK": 2, "MNT": 2, "MOP": 2, "MVR": 2, "MYR": 2,
        "NPR": 2, "PGK": 2, "PHP": 2, "PKR": 2, "SBD": 2, "SGD": 2, "THB": 2, "TJS": 2,
        "TMT": 2, "TOP": 2, "TWD": 2, "UZS": 2, "VND": 0, "VUV": 0, "WST": 2, "XPF": 0,
        "AUD": 2, "NZD": 2,
        # Middle East
        "AED": 2, "BHD": 3, "ILS": 2, "IQD": 3, "IRR": 2, "JOD": 3, "KWD": 3, "LBP": 2,
        "OMR": 3, "QAR": 2, "SAR": 2, "SYP": 2, "TRY": 2, "YER": 2,
        # Europe
        "ALL": 2, "BAM": 2, "BGN": 2, "BYN": 2, "CHF": 2, "CZK": 2, "DKK": 2, "EUR": 2,
        "GBP": 2, "HUF": 2, "ISK": 0, "MDL": 2, "MKD": 2, "NOK": 2, "PLN": 2, "RON": 2,
        "RSD": 2, "RUB": 2, "SEK": 2, "UAH": 2,
        # Americas
        "ARS": 2, "BBD": 2, "BOB": 2, "BRL": 2, "BZD": 2, "CAD": 2, "CLP": 0, "COP": 2,
        "CRC": 2, "DOP": 2, "GTQ": 2, "GYD": 2, "HNL": 2, "HTG": 2, "JMD": 2, "MXN": 2,
        "NIO": 2, "PAB": 2, "PEN": 2, "PYG": 0, "SRD": 2, "TTD": 2, "USD": 2, "UYU": 2,
        "VES": 2, "XCD": 2,
    }
)  # fmt: skip

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


def to_minor(amount: Decimal | str, currency: str) -> int:
    """An exact amount (or its decimal string; "" is zero) as integer minor units of
    `currency`, as contracts carry money: KES 12.34 -> 1234. Raises ValueError for an
    amount with more decimals than the currency has (it would not be exact)."""
    value = Decimal(amount or 0) if isinstance(amount, str) else amount
    scaled = value.scaleb(minor_units(currency))
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{amount} {currency} has more decimals than {currency} allows")
    return int(scaled)


def from_minor(units: int, currency: str) -> Decimal:
    """Integer minor units as the exact amount, with the currency's decimals: 1234 KES ->
    Decimal("12.34")."""
    return Decimal(units).scaleb(-minor_units(currency))
