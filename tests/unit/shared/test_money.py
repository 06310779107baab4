from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.errors import ValidationError
from shared.money import fmt, parse_amount

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    "text", ["0", "0.00", "-1", "1e3", "12,50", " 5", "NaN", "Infinity", "1.234", "", "01.5"]
)
def test_bad_amounts_are_refused_naming_the_field(text: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_amount(text, "KES")
    assert caught.value.field_errors[0][0] == "amount"


def test_currency_decimals() -> None:
    assert parse_amount("1500", "UGX") == Decimal(1500)
    with pytest.raises(ValidationError, match="at most 0 decimals"):
        parse_amount("1500.5", "UGX")
    assert parse_amount("1250.50", "KES") == Decimal("1250.50")


@given(st.integers(min_value=1, max_value=10**14))
def test_round_trip_through_minor_units(minor: int) -> None:
    text = fmt(Decimal(minor).scaleb(-2), "KES")
    assert parse_amount(text, "KES") == Decimal(minor).scaleb(-2)
    assert text == f"{minor // 100}.{minor % 100:02d}"
