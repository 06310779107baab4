"""The gateway's reading of a borrower body as kopa.user.v2's borrower: the API's text for
the birth date, income and gender typed, each malformed one named (all at once), an empty one
not given; and the JSON it shows of a v2 borrower is v1's."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from google.type import date_pb2, money_pb2

from gateway.borrowers.router import borrower, typed_borrower
from gateway.borrowers.schemas import BorrowerBody, BorrowerPatch
from kopa.user.v1 import user_pb2 as v1
from kopa.user.v2 import user_pb2 as v2
from shared.errors import ValidationError
from tests.support.errors import fields_of
from user_service.domain.borrowers import validate_profile

pytestmark = pytest.mark.unit


def body(**fields: Any) -> BorrowerBody:
    return BorrowerBody.model_validate(
        {
            "first_name": "Achieng",
            "last_name": "Otieno",
            "national_id": "K123456789",
            "phone": "+254712345678",
            "date_of_birth": "1988-04-30",
            **fields,
        }
    )


def test_the_text_travels_typed() -> None:
    message = typed_borrower(body(monthly_income="25000.50", gender="other", household_size=3))
    assert message.date_of_birth == date_pb2.Date(year=1988, month=4, day=30)
    assert message.monthly_income == money_pb2.Money(units=25000, nanos=500_000_000)
    assert (message.gender, message.household_size) == (v2.GENDER_OTHER, 3)


def test_an_empty_income_gender_or_date_is_not_given() -> None:
    message = typed_borrower(
        BorrowerPatch.model_validate({"monthly_income": "", "gender": "", "date_of_birth": ""})
    )
    assert not message.HasField("monthly_income") and not message.HasField("date_of_birth")
    assert message.gender == v2.GENDER_UNSPECIFIED
    assert typed_borrower(body(monthly_income="0")).HasField("monthly_income")


def test_each_malformed_field_is_named_at_once() -> None:
    with pytest.raises(ValidationError) as exc:
        typed_borrower(body(date_of_birth="30/04/1988", monthly_income="25,000", gender="f"))
    assert fields_of(exc) == ["date_of_birth", "gender", "monthly_income"]
    with pytest.raises(ValidationError) as exc:
        typed_borrower(
            BorrowerPatch.model_validate({"date_of_birth": "1988-02-30", "monthly_income": "-1"})
        )
    assert fields_of(exc) == ["date_of_birth", "monthly_income"]


def test_malformed_text_is_refused_as_user_service_refuses_it() -> None:
    given = {"date_of_birth": "1988-13-01", "gender": "f", "monthly_income": "25,000"}
    with pytest.raises(ValidationError) as at_the_gateway:
        typed_borrower(body(**given))
    with pytest.raises(ValidationError) as in_the_service:
        validate_profile(given, date(2026, 12, 7), "KES")
    assert at_the_gateway.value.field_errors == in_the_service.value.field_errors
    assert at_the_gateway.value.message == in_the_service.value.message


def test_a_v2_borrower_shows_the_json_of_v1s() -> None:
    common: dict[str, Any] = {
        "id": "bor_1",
        "institution_id": "inst_1",
        "branch_id": "br_1",
        "first_name": "Achieng",
        "last_name": "Otieno",
        "national_id": "K123456789",
        "phone": "+254712345678",
        "version": 2,
        "kyc_status": 1,
        "create_time": Timestamp(seconds=1_790_000_000),
        "update_time": Timestamp(seconds=1_790_000_000),
    }
    old = v1.Borrower(
        **common, date_of_birth="1988-04-30", gender="male", monthly_income="25000.00"
    )
    new = v2.Borrower(
        **common,
        date_of_birth=date_pb2.Date(year=1988, month=4, day=30),
        gender=v2.GENDER_MALE,
        monthly_income=money_pb2.Money(currency_code="KES", units=25000),
    )
    assert borrower(new).model_dump(mode="json") == borrower(old).model_dump(mode="json")
    assert borrower(new).monthly_income == "25000.00"
    unset = v2.Borrower(**common, date_of_birth=date_pb2.Date(year=1988, month=4, day=30))
    assert (borrower(unset).monthly_income, borrower(unset).gender) == (None, None)
