"""kopa.user.v2's borrower both ways (user_service's mapping) and the income as an amount of
the institution's currency (the domain): a typed field says what v1's text says, and a
malformed Date, Money or Gender is refused naming its field."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from google.type import date_pb2, money_pb2

from kopa.user.v1 import user_pb2 as v1
from kopa.user.v2 import user_pb2 as v2
from shared.errors import ValidationError
from tests.support.errors import fields_of
from user_service.domain.borrowers import validate_profile
from user_service.entrypoints.mapping import borrower_from_v2, borrower_to_proto, borrower_to_v2

pytestmark = pytest.mark.unit

TODAY = date(2026, 12, 7)
NOW = datetime(2026, 12, 7, 9, 30, tzinfo=UTC)


def stored(**fields: Any) -> dict[str, Any]:
    return {
        "_id": "bor_1",
        "institution_id": "inst_1",
        "branch_id": "br_1",
        "first_name": "Achieng",
        "last_name": "Otieno",
        "national_id": "K123456789",
        "phone": "+254712345678",
        "date_of_birth": "1988-04-30",
        "version": 1,
        "create_time": NOW,
        "update_time": NOW,
        **fields,
    }


def test_v2_writes_the_stored_text_typed_and_v1_as_it_is() -> None:
    doc = stored(gender="undisclosed", monthly_income="25000.50")
    typed = borrower_to_v2(doc, "KES")
    assert typed.date_of_birth == date_pb2.Date(year=1988, month=4, day=30)
    assert typed.gender == v2.GENDER_UNDISCLOSED
    assert typed.monthly_income == money_pb2.Money(
        currency_code="KES", units=25000, nanos=500_000_000
    )
    text = borrower_to_proto(doc, "KES")
    assert (text.date_of_birth, text.gender, text.monthly_income) == (
        "1988-04-30",
        "undisclosed",
        "25000.50",
    )
    # The fields both write alike are written alike.
    assert typed.first_name == text.first_name and typed.kyc_status == text.kyc_status


def test_v2_leaves_an_unknown_income_and_gender_unset() -> None:
    typed = borrower_to_v2(stored(), "UGX")
    assert not typed.HasField("monthly_income")
    assert typed.gender == v2.GENDER_UNSPECIFIED


def test_a_v2_request_reads_as_v1s_fields_without_its_zero_values() -> None:
    data, currencies = borrower_from_v2(
        v2.Borrower(
            id="bor_ignored",
            first_name="Achieng",
            date_of_birth=date_pb2.Date(year=1988, month=4, day=30),
            gender=v2.GENDER_FEMALE,
            monthly_income=money_pb2.Money(currency_code="KES", units=25000, nanos=500_000_000),
            address=v1.Address(city="Nairobi"),
        )
    )
    assert data == {
        "first_name": "Achieng",
        "date_of_birth": "1988-04-30",
        "gender": "female",
        "monthly_income": "25000.5",
        "address": {"city": "Nairobi"},
    }
    assert currencies == (("monthly_income", "KES"),)
    assert borrower_from_v2(v2.Borrower(monthly_income=money_pb2.Money()))[0] == {
        "monthly_income": "0"
    }


def test_a_malformed_date_money_and_gender_are_named_at_once() -> None:
    with pytest.raises(ValidationError) as exc:
        borrower_from_v2(
            v2.Borrower(
                date_of_birth=date_pb2.Date(year=1988, month=2, day=30),
                gender=7,  # type: ignore[arg-type]
                monthly_income=money_pb2.Money(units=1, nanos=-5),
            )
        )
    assert sorted(fields_of(exc)) == ["date_of_birth", "gender", "monthly_income"]
    with pytest.raises(ValidationError) as exc:
        borrower_from_v2(v2.Borrower(monthly_income=money_pb2.Money(currency_code="XYZ")))
    assert fields_of(exc) == ["monthly_income"]


@pytest.mark.parametrize(
    ("currency", "given", "kept"),
    [
        ("KES", "25000", "25000.00"),
        ("KES", "25000.5", "25000.50"),
        ("KES", "0", "0.00"),
        ("UGX", "25000", "25000"),
        ("TND", "10.125", "10.125"),
    ],
)
def test_the_income_is_kept_with_its_currencys_decimals(
    currency: str, given: str, kept: str
) -> None:
    assert validate_profile({"monthly_income": given}, TODAY, currency) == {"monthly_income": kept}


@pytest.mark.parametrize(
    ("currency", "given"),
    [("KES", "25000.125"), ("UGX", "25000.5"), ("KES", "-5"), ("KES", "1e3"), ("KES", "abc")],
)
def test_an_income_the_currency_cannot_hold_is_refused_with_the_other_fields(
    currency: str, given: str
) -> None:
    with pytest.raises(ValidationError) as exc:
        validate_profile({"monthly_income": given, "gender": "x"}, TODAY, currency)
    assert fields_of(exc) == ["gender", "monthly_income"]
