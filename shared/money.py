"""Exact money, the platform's one module for it: the ISO 4217 currency table, strict parsing
of decimal strings, exactness checks, canonical text, and integer minor units.

Amounts are ``decimal.Decimal`` in major units (``Decimal("1250.50")``), never floats. On the
wire they are decimal strings in JSON and integer minor units of a named currency in protos
(``to_minor``/``from_minor``).

A valid amount string is canonical plain decimal notation: ASCII digits, no sign, no leading
zeros (``"0.50"`` is fine, ``"00.50"`` is not), an optional ``.`` followed by at least one
digit, at most the currency's minor-unit digits, at most ``MAX_INTEGER_DIGITS`` digits before
the point. Refused, always naming the field and with reason ``AMOUNT_INVALID``: ``""``,
``" 5"``, ``"+5"``, ``"-5"``, ``"0"`` (unless zero is allowed), ``"1e3"``, ``"12,50"``,
``"1."``, ``".5"``, ``"NaN"``, non-ASCII digits, and non-string values (a JSON number would
already have gone through a float). An unknown currency is ``CURRENCY_UNSUPPORTED``.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from types import MappingProxyType
from typing import Final

from google.type import money_pb2

from shared.errors import ValidationError

# Stable reasons (public contract: never rename one).
AMOUNT_INVALID: Final = "AMOUNT_INVALID"
CURRENCY_UNSUPPORTED: Final = "CURRENCY_UNSUPPORTED"

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


# Amounts have at most this many digits before the decimal point (999 trillion): far above
# any loan, and low enough that sums of millions of amounts stay exact in the default
# 28-digit decimal context.
MAX_INTEGER_DIGITS: Final = 15

_AMOUNT_RE: Final = re.compile(r"(0|[1-9][0-9]*)(?:\.([0-9]+))?")
_DECIMAL_RE: Final = re.compile(r"-?(?:0|[1-9][0-9]{0,14})(?:\.[0-9]+)?")
_CURRENCY_RE: Final = re.compile(r"[A-Z]{3}")
_TOO_MANY_DIGITS: Final = f"must have at most {MAX_INTEGER_DIGITS} digits before the point"
_QUANTA: dict[str, Decimal] = {}


def minor_units(currency: str, *, field: str = "currency") -> int:
    """The number of decimals of ``currency`` (``"KES"`` -> 2, ``"UGX"`` -> 0); an unknown
    code is refused naming ``field``."""
    try:
        return MINOR_UNITS[currency]
    except (KeyError, TypeError):
        if not isinstance(currency, str) or not _CURRENCY_RE.fullmatch(currency):
            raise _currency_error(
                field, "must be an ISO 4217 code of three capital letters"
            ) from None
        raise _currency_error(field, f"currency {currency} is not supported") from None


def validate_currency(currency: str, *, field: str = "currency") -> str:
    """A currency code as given by a person (``" kes"``), in its canonical form (``"KES"``)."""
    code = (currency or "").strip().upper()
    minor_units(code, field=field)
    return code


def quantum(currency: str) -> Decimal:
    """The smallest amount of ``currency``: ``Decimal("0.01")`` KES, ``Decimal("1")`` UGX."""
    q = _QUANTA.get(currency)
    if q is None:
        q = _QUANTA[currency] = Decimal(1).scaleb(-minor_units(currency))
    return q


def parse_decimal(value: object, field: str, *, allow_negative: bool = False) -> Decimal:
    """A plain decimal string that is not an amount (a rate, an income): ``"18.5"``. No
    exponents, separators, spaces or NaN; at most ``MAX_INTEGER_DIGITS`` integer digits."""
    text = value if isinstance(value, str) else ""
    if not _DECIMAL_RE.fullmatch(text):
        raise ValidationError.of(field, f'must be a decimal string like "1250.50", got {value!r}')
    number = Decimal(text)
    if number < 0 and not allow_negative:
        raise ValidationError.of(field, "must not be negative")
    return number


def parse_amount(
    text: object,
    currency: str,
    field: str = "amount",
    *,
    allow_zero: bool = False,
    lenient_trailing_zeros: bool = False,
) -> Decimal:
    """Parse a decimal amount string strictly; return it quantized to the currency's exponent.

    ``parse_amount("1250.5", "KES") == Decimal("1250.50")``. ``allow_zero`` accepts ``"0"`` (for
    optional components such as fees). ``lenient_trailing_zeros`` accepts decimals beyond the
    currency's precision when they are all zero (``"1000.00"`` UGX), for providers that always
    send two decimals; a non-zero excess digit is refused either way.
    """
    places = minor_units(currency)
    check_amount_text(text, field, allow_zero=allow_zero)
    assert isinstance(text, str)
    fraction = text.partition(".")[2]
    if len(fraction) > places:
        excess = fraction[places:]
        if not (lenient_trailing_zeros and set(excess) == {"0"}):
            raise _amount_error(field, _precision_message(currency, places))
    return Decimal(text).quantize(quantum(currency))


def check_amount_text(text: object, field: str = "amount", *, allow_zero: bool = False) -> None:
    """What can be said of an amount string before its currency is known (the edge's check)."""
    if not isinstance(text, str):
        raise _amount_error(field, 'must be a decimal string such as "1250.50"')
    if not text:
        raise _amount_error(field, "is required")
    match = _AMOUNT_RE.fullmatch(text)
    if match is None:
        if text.startswith("-") and _AMOUNT_RE.fullmatch(text[1:]):
            raise _amount_error(field, "must be greater than zero")
        raise _amount_error(field, 'must be a decimal string such as "1250.50"')
    if len(match.group(1)) > MAX_INTEGER_DIGITS:
        raise _amount_error(field, _TOO_MANY_DIGITS)
    if not allow_zero and not text.strip("0."):
        raise _amount_error(field, "must be greater than zero")


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
    return exact(amount, currency, field)


def exact(amount: Decimal, currency: str, field: str = "amount") -> Decimal:
    """``amount`` at the currency's exponent, refused if that would change its value
    (``Decimal("0.005")`` KES); negative amounts (balances) are fine."""
    try:
        quantized = amount.quantize(quantum(currency))
    except InvalidOperation:  # too many digits for the decimal context
        raise _amount_error(field, "is too large") from None
    if quantized != amount:
        raise _amount_error(field, _precision_message(currency, minor_units(currency)))
    return quantized


def fmt(amount: Decimal, currency: str) -> str:
    """The canonical text of an amount: plain notation with exactly the currency's decimals,
    rounded half-even (for figures computed with more precision, such as averages)."""
    return f"{amount.quantize(quantum(currency)):f}"


class Formatter:
    """``fmt`` for one currency, for code that formats amounts by the thousand (a loan's
    schedule): stored amounts already in canonical form are passed through unparsed."""

    __slots__ = ("_canonical", "_quantum")

    def __init__(self, currency: str) -> None:
        places = minor_units(currency)
        self._quantum = quantum(currency)
        self._canonical = re.compile(
            rf"-?[0-9]+\.[0-9]{{{places}}}" if places else "-?[0-9]+"
        ).fullmatch

    def __call__(self, value: Decimal | str | None) -> str:
        if isinstance(value, Decimal):
            return f"{value.quantize(self._quantum):f}"
        if not value:
            value = "0"
        elif self._canonical(value):
            return value
        return f"{Decimal(value).quantize(self._quantum):f}"


def to_minor(amount: Decimal | str, currency: str, *, field: str = "amount") -> int:
    """An exact amount (or its canonical text; "" is zero) as integer minor units of
    ``currency``, as contracts carry money: KES 12.34 -> 1234. An amount with more decimals
    than the currency has is refused (it would not be exact)."""
    value = Decimal(amount or 0) if isinstance(amount, str) else amount
    if not isinstance(value, Decimal) or not value.is_finite():
        raise _amount_error(field, "must be a finite decimal amount")
    scaled = value.scaleb(minor_units(currency))
    if scaled != scaled.to_integral_value():
        raise _amount_error(field, _precision_message(currency, minor_units(currency)))
    return int(scaled)


def from_minor(units: int, currency: str) -> Decimal:
    """Integer minor units as the exact amount at the currency's exponent: 1234 KES ->
    ``Decimal("12.34")``."""
    if isinstance(units, bool) or not isinstance(units, int):
        raise TypeError("minor units must be an int")
    return Decimal(units).scaleb(-minor_units(currency))


def to_money(amount: Decimal, currency: str = "", *, field: str = "amount") -> money_pb2.Money:
    """An exact amount as `google.type.Money` (units and nanos, both with the amount's sign);
    `currency` empty for an amount whose currency its receiver knows (a request's). More than
    nine decimals is refused: no currency has them."""
    units = int(amount)  # toward zero
    nanos = (amount - units).scaleb(9)
    if nanos != nanos.to_integral_value():
        raise _amount_error(field, "has more decimals than any currency")
    return money_pb2.Money(currency_code=currency, units=units, nanos=int(nanos))


def from_money(value: money_pb2.Money, *, field: str = "amount") -> Decimal:
    """A `google.type.Money` as an exact amount (its currency is the caller's to check);
    one whose units and nanos disagree in sign or whose nanos are out of range is refused."""
    units, nanos = value.units, value.nanos
    if abs(nanos) >= 1_000_000_000 or (units > 0 > nanos) or (units < 0 < nanos):
        raise _amount_error(field, "is not a valid google.type.Money (units and nanos)")
    return Decimal(units) + Decimal(nanos).scaleb(-9)


def _precision_message(currency: str, places: int) -> str:
    if places == 0:
        return f"{currency} has no decimals"
    return f"{currency} allows at most {places} decimals"


def _amount_error(field: str, message: str) -> ValidationError:
    return ValidationError.of(field, message, reason=AMOUNT_INVALID)


def _currency_error(field: str, message: str) -> ValidationError:
    return ValidationError.of(field, message, reason=CURRENCY_UNSUPPORTED)
