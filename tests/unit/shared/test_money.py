"""shared.money: strict amount parsing, ISO 4217 minor units, minor-unit conversions and the
canonical text of amounts."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared import money
from shared.errors import ValidationError
from shared.money import AMOUNT_INVALID, CURRENCY_UNSUPPORTED

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("currency", "places"),
    [
        ("KES", 2), ("UGX", 0), ("TZS", 2), ("RWF", 0), ("NGN", 2), ("GHS", 2), ("ZMW", 2),
        ("XOF", 0), ("XAF", 0), ("USD", 2), ("EUR", 2), ("INR", 2), ("PHP", 2), ("BDT", 2),
        ("KHR", 2), ("MMK", 2), ("ETB", 2), ("MWK", 2), ("BIF", 0), ("JPY", 0), ("KWD", 3),
        ("TND", 3), ("BHD", 3),
    ],
)  # fmt: skip
def test_minor_units_follow_iso_4217(currency: str, places: int) -> None:
    assert money.minor_units(currency) == places
    assert money.quantum(currency) == Decimal(1).scaleb(-places)


@pytest.mark.parametrize("code", ["XYZ", "kes", "KE", "KESS", "", "K3S"])
def test_unknown_currency_is_refused_naming_the_field(code: str) -> None:
    with pytest.raises(ValidationError) as info:
        money.minor_units(code)
    assert info.value.reason == CURRENCY_UNSUPPORTED
    assert [f for f, _ in info.value.field_errors] == ["currency"]


@pytest.mark.parametrize(
    ("text", "currency", "expected"),
    [
        ("1250.50", "KES", "1250.50"),
        ("1250.5", "KES", "1250.50"),
        ("1250", "KES", "1250.00"),
        ("0.01", "KES", "0.01"),
        ("0.5", "USD", "0.50"),
        ("5000", "UGX", "5000"),
        ("1", "RWF", "1"),
        ("1.234", "KWD", "1.234"),
        ("999999999999999.99", "KES", "999999999999999.99"),
    ],
)
def test_valid_amounts_parse_exactly(text: str, currency: str, expected: str) -> None:
    amount = money.parse_amount(text, currency)
    assert amount == Decimal(expected)
    assert str(amount) == expected  # quantized to the currency's exponent


@pytest.mark.parametrize(
    ("text", "currency", "message"),
    [
        ("0", "KES", "greater than zero"),
        ("0.00", "KES", "greater than zero"),
        ("-5", "KES", "greater than zero"),
        ("-0.01", "KES", "greater than zero"),
        ("1e3", "KES", "decimal string"),
        ("1E3", "KES", "decimal string"),
        ("12,50", "KES", "decimal string"),
        ("1,000", "KES", "decimal string"),
        (" 5", "KES", "decimal string"),
        ("5 ", "KES", "decimal string"),
        ("5\n", "KES", "decimal string"),
        ("+5", "KES", "decimal string"),
        ("", "KES", "is required"),
        (".5", "KES", "decimal string"),
        ("5.", "KES", "decimal string"),
        ("05", "KES", "decimal string"),
        ("NaN", "KES", "decimal string"),
        ("nan", "KES", "decimal string"),
        ("Infinity", "KES", "decimal string"),
        ("-Infinity", "KES", "decimal string"),
        ("inf", "KES", "decimal string"),
        ("١٢", "KES", "decimal string"),  # Arabic-Indic digits
        ("0x10", "KES", "decimal string"),
        ("1_000", "KES", "decimal string"),
        ("12.345", "KES", "at most 2 decimals"),
        ("12.001", "USD", "at most 2 decimals"),
        ("12.5", "UGX", "no decimals"),
        ("12.0", "UGX", "no decimals"),
        ("100.00", "RWF", "no decimals"),
        ("1.2345", "KWD", "at most 3 decimals"),
        ("1000000000000000", "KES", "at most 15 digits"),
    ],
)
def test_invalid_amounts_are_refused_naming_the_field(
    text: str, currency: str, message: str
) -> None:
    with pytest.raises(ValidationError) as info:
        money.parse_amount(text, currency)
    assert info.value.reason == AMOUNT_INVALID
    assert len(info.value.field_errors) == 1
    field, why = info.value.field_errors[0]
    assert field == "amount"
    assert message in why


@pytest.mark.parametrize("value", [12.5, 12, Decimal("12.50"), None, b"12.50"])
def test_only_strings_are_parsed(value: object) -> None:
    with pytest.raises(ValidationError) as info:
        money.parse_amount(value, "KES")
    assert info.value.reason == AMOUNT_INVALID


def test_the_field_name_is_the_callers() -> None:
    with pytest.raises(ValidationError) as info:
        money.parse_amount("abc", "KES", field="principal")
    assert info.value.field_errors[0][0] == "principal"
    assert "principal" in info.value.message


def test_zero_is_allowed_when_asked() -> None:
    assert money.parse_amount("0", "KES", allow_zero=True) == Decimal("0.00")
    with pytest.raises(ValidationError):
        money.parse_amount("-0", "KES", allow_zero=True)


def test_lenient_trailing_zeros_accept_only_zeros() -> None:
    assert money.parse_amount("1000.00", "UGX", lenient_trailing_zeros=True) == Decimal(1000)
    assert str(money.parse_amount("12.500", "KES", lenient_trailing_zeros=True)) == "12.50"
    with pytest.raises(ValidationError):
        money.parse_amount("1000.50", "UGX", lenient_trailing_zeros=True)
    with pytest.raises(ValidationError):
        money.parse_amount("12.501", "KES", lenient_trailing_zeros=True)


def test_an_unknown_currency_fails_before_the_amount() -> None:
    with pytest.raises(ValidationError) as info:
        money.parse_amount("10", "ABC")
    assert info.value.reason == CURRENCY_UNSUPPORTED


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        (Decimal("10.5"), True),
        (Decimal("10.500"), True),  # its value has one decimal
        (Decimal("10.505"), False),
        (Decimal("0"), False),
        (Decimal("-1"), False),
        (Decimal("NaN"), False),
        (Decimal("Infinity"), False),
        (Decimal("1E+15"), False),
        (10.5, False),
        (10, False),
    ],
)
def test_check_amount(value: object, ok: bool) -> None:
    if ok:
        assert money.check_amount(value, "KES") == Decimal("10.50")
    else:
        with pytest.raises(ValidationError) as info:
            money.check_amount(value, "KES")
        assert info.value.reason == AMOUNT_INVALID


@pytest.mark.parametrize(
    ("amount", "currency", "units"),
    [
        ("1250.50", "KES", 125050),
        ("0.01", "KES", 1),
        ("5000", "UGX", 5000),
        ("1.234", "KWD", 1234),
        ("-3.10", "USD", -310),
        ("0", "KES", 0),
    ],
)
def test_minor_unit_conversions(amount: str, currency: str, units: int) -> None:
    assert money.to_minor(Decimal(amount), currency) == units
    back = money.from_minor(units, currency)
    assert back == Decimal(amount)
    assert back.as_tuple().exponent == -money.minor_units(currency)


def test_to_minor_refuses_inexact_amounts() -> None:
    with pytest.raises(ValidationError):
        money.to_minor(Decimal("0.005"), "KES")
    with pytest.raises(ValidationError):
        money.to_minor(Decimal("0.5"), "UGX")
    with pytest.raises(TypeError):
        money.from_minor(True, "KES")


def test_fmt() -> None:
    assert money.fmt(Decimal("1250.5"), "KES") == "1250.50"
    assert money.fmt(Decimal("1E+3"), "UGX") == "1000"


@given(
    currency=st.sampled_from(sorted(money.MINOR_UNITS)),
    units=st.integers(min_value=1, max_value=10**17 - 1),
)
def test_round_trip_through_text_and_minor_units(currency: str, units: int) -> None:
    places = money.minor_units(currency)
    if len(str(units)) - places > money.MAX_INTEGER_DIGITS:
        return
    amount = money.from_minor(units, currency)
    text = money.fmt(amount, currency)
    assert money.parse_amount(text, currency) == amount
    assert money.to_minor(money.parse_amount(text, currency), currency) == units


@pytest.mark.parametrize(
    "text", ["0", "0.00", "-1", "1e3", "12,50", " 5", "NaN", "Infinity", "1.234", "", "01.5"]
)
def test_bad_amounts_are_refused_naming_the_field(text: str) -> None:
    with pytest.raises(ValidationError) as caught:
        money.parse_amount(text, "KES")
    assert caught.value.field_errors[0][0] == "amount"


def test_currency_decimals() -> None:
    assert money.parse_amount("1500", "UGX") == Decimal(1500)
    with pytest.raises(ValidationError, match="UGX has no decimals"):
        money.parse_amount("1500.5", "UGX")
    assert money.parse_amount("1250.50", "KES") == Decimal("1250.50")


@given(st.integers(min_value=1, max_value=10**14))
def test_round_trip_through_minor_units(minor: int) -> None:
    text = money.fmt(Decimal(minor).scaleb(-2), "KES")
    assert money.parse_amount(text, "KES") == Decimal(minor).scaleb(-2)
    assert text == f"{minor // 100}.{minor % 100:02d}"
