"""REST <-> gRPC by the proto descriptors: the JSON conventions of API.md hold at any depth."""

from __future__ import annotations

from datetime import date

import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from google.type import date_pb2, money_pb2
from pydantic import BaseModel

from gateway.convert import enum_words, from_proto, money_of, to_proto
from gateway.schema import Amount
from gateway.schema import Timestamp as TimestampText
from kopa.loan.v1 import loan_pb2
from kopa.payment.v2 import repayments_pb2
from kopa.scoring.v2 import scoring_pb2
from shared.errors import ValidationError

pytestmark = pytest.mark.unit


class Job(BaseModel):
    loans_processed: int
    loans_changed: int
    start_time: TimestampText | None
    end_time: TimestampText | None = None


class Outstanding(BaseModel):
    principal: Amount
    total: Amount


class Loan(BaseModel):
    id: str
    status: str | None
    purpose: str | None
    outstanding: Outstanding | None
    schedule: list[Outstanding]
    term: int


class Band(BaseModel):
    band: str
    scored: int


class Governance(BaseModel):
    applications_scored: int
    bands: list[Band]


def test_64_bit_counts_are_numbers_and_timestamps_rfc_3339_text() -> None:
    job = loan_pb2.CloseOfBusinessJob(
        loans_processed=3_000_000_000, loans_changed=0, start_time=Timestamp(seconds=1_790_000_000)
    )
    shown = from_proto(Job, job).model_dump(mode="json")
    assert shown == {
        "loans_processed": 3_000_000_000,
        "loans_changed": 0,
        "start_time": "2026-09-21T14:13:20Z",
        "end_time": None,
    }
    report = scoring_pb2.GetGovernanceReportResponse(
        applications_scored=5, bands=[scoring_pb2.BandOutcome(band="A", scored=3)]
    )
    assert from_proto(Governance, report).model_dump() == {
        "applications_scored": 5,
        "bands": [{"band": "A", "scored": 3}],
    }


def test_enums_are_words_and_empty_optionals_null() -> None:
    loan = loan_pb2.Loan(
        id="loan_1",
        status=loan_pb2.LOAN_STATUS_WRITTEN_OFF,
        term=6,
        outstanding=loan_pb2.Outstanding(principal="10.00", total="12.50"),
        schedule=[loan_pb2.Installment(principal="5.00", total="6.25")],
    )
    shown = from_proto(Loan, loan)
    assert (shown.status, shown.purpose) == ("written_off", None)
    assert shown.outstanding == Outstanding(principal="10.00", total="12.50")
    assert shown.schedule == [Outstanding(principal="5.00", total="6.25")]
    bare = from_proto(Loan, loan_pb2.Loan(id="loan_2"))
    assert (bare.status, bare.outstanding, bare.schedule) == (None, None, [])
    assert from_proto(Loan, loan, purpose="given wins").purpose == "given wins"


def test_requests_take_words_dates_and_ids() -> None:
    request = to_proto(loan_pb2.ListLoansRequest, {"status": "active"}, page_size=20)
    assert request.status == loan_pb2.LOAN_STATUS_ACTIVE and request.page_size == 20
    quote = to_proto(
        loan_pb2.QuoteLoanRequest,
        {"principal": "1000.00", "term": 12, "disbursement_date": date(2026, 3, 31)},
        product_id="lprod_1",
        first_repayment_date=None,
    )
    assert (quote.disbursement_date, quote.product_id, quote.first_repayment_date) == (
        "2026-03-31",
        "lprod_1",
        "",
    )
    assert to_proto(loan_pb2.GetLoanRequest, loan_id="loan_1").loan_id == "loan_1"


def test_enum_words_exclude_the_zero_value() -> None:
    assert enum_words(loan_pb2.LoanStatus.DESCRIPTOR) == [
        "submitted",
        "approved",
        "rejected",
        "active",
        "closed",
        "written_off",
    ]


class Posted(BaseModel):
    amount: Amount
    paid_on: date
    allocation: dict[str, str] | None = None


def test_amounts_and_dates_travel_typed_and_read_back_as_the_api_writes_them() -> None:
    request = to_proto(
        repayments_pb2.PostRepaymentRequest,
        {"amount": "1250.5", "paid_on": date(2026, 3, 31), "channel": "mobile_money"},
    )
    assert (request.amount.units, request.amount.nanos, request.amount.currency_code) == (
        1250,
        500_000_000,
        "",  # the loan's: its owner checks the decimals against it
    )
    assert (request.paid_on.year, request.paid_on.month, request.paid_on.day) == (2026, 3, 31)
    assert request.channel == repayments_pb2.PAYMENT_CHANNEL_MOBILE_MONEY

    payment = repayments_pb2.Payment(
        amount=money_pb2.Money(currency_code="KES", units=1250, nanos=500_000_000),
        paid_on=date_pb2.Date(year=2026, month=3, day=31),
    )
    shown = from_proto(Posted, payment)
    assert (shown.amount, shown.paid_on) == ("1250.50", date(2026, 3, 31))
    ugx = repayments_pb2.Payment(amount=money_pb2.Money(currency_code="UGX", units=-7))
    assert from_proto(Posted, ugx, paid_on=date(2026, 1, 1)).amount == "-7"


def test_an_amount_no_currency_can_hold_is_refused_naming_its_field() -> None:
    with pytest.raises(ValidationError) as refused:
        to_proto(repayments_pb2.PostRepaymentRequest, {"amount": "1.0000000001"})
    assert refused.value.field_errors == [("amount", "has more decimals than any currency")]


def test_an_amount_typed_by_a_person_is_money_or_refused_naming_its_field() -> None:
    assert money_of("500000.5", "approval_limits.admin") == money_pb2.Money(
        units=500000, nanos=500_000_000
    )
    for bad in ("", "1e3", "-5", "0", "12,50"):
        with pytest.raises(ValidationError) as info:
            money_of(bad, "approval_limits.admin")
        assert [f for f, _ in info.value.field_errors] == ["approval_limits.admin"], bad
