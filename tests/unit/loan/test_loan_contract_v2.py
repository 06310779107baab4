"""kopa.loan.v2's mapping: a request's google.type.Money, google.type.Date and enums read
once into the plain values the use cases judge (a malformed one named by its field, every
such field at once); answers written as Money naming the currency, Date and enums."""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

import pytest
from google.type import date_pb2, money_pb2

from kopa.loan.v1 import loan_pb2
from kopa.loan.v2 import loans_pb2 as v2
from loan_service.entrypoints.mapping import V1, V2, AsMoney, product_to_proto, request_fields
from loan_service.service_layer import commands
from shared.errors import ValidationError
from tests.support.loan_products import make_product

pytestmark = pytest.mark.unit


def money(units: int, nanos: int = 0, currency: str = "") -> money_pb2.Money:
    return money_pb2.Money(currency_code=currency, units=units, nanos=nanos)


def refused(message: Any, **names: str) -> dict[str, str]:
    with pytest.raises(ValidationError) as info:
        request_fields(message, names)
    return dict(info.value.field_errors)


def test_money_dates_and_enums_read_as_the_text_and_words_of_v1() -> None:
    read = request_fields(
        v2.DisburseLoanRequest(
            loan_id="loan_1",
            disbursement_date=date_pb2.Date(year=2025, month=1, day=15),
            channel=v2.DISBURSEMENT_CHANNEL_MOBILE_MONEY,
        )
    )
    assert read.command(commands.DisburseLoan) == commands.DisburseLoan(
        loan_id="loan_1",
        disbursement_date="2025-01-15",
        first_repayment_date="",  # unset: not given
        channel="mobile_money",
        request_id="",
    )
    loan = request_fields(
        v2.CreateLoanRequest(principal=money(12000, 500_000_000, "KES"), term=6)
    ).command(commands.CreateLoan)
    assert (loan.principal, loan.disbursement_date) == ("12000.5", "")
    assert loan.currencies == (("principal", "KES"),)
    whole = request_fields(v2.QuoteLoanRequest(principal=money(300))).values
    assert whole["principal"] == "300"


def test_a_product_reads_its_enums_as_the_words_the_domain_knows() -> None:
    product = v2.LoanProduct(
        interest_method=v2.INTEREST_METHOD_FLAT,
        days_in_year=v2.DAYS_IN_YEAR_360,
        upfront_fee_mode=v2.FEE_MODE_FINANCED,
        min_principal=money(1000),
        rounding_multiple=money(0, 50_000_000),
    )
    cmd = request_fields(product).command(commands.CreateProduct)
    assert (cmd.interest_method, cmd.days_in_year, cmd.upfront_fee_mode) == (
        "flat",
        "360",
        "financed",
    )
    assert (cmd.min_principal, cmd.rounding_multiple, cmd.upfront_fee_flat) == ("1000", "0.05", "")
    assert (cmd.amortization, cmd.allocation_strategy) == ("", "")  # not given


def test_every_malformed_money_date_or_enum_is_named_at_once() -> None:
    errors = refused(
        v2.CreateLoanRequest(
            principal=money(5, -1),
            disbursement_date=date_pb2.Date(year=2025, month=2, day=29),
        )
    )
    assert set(errors) == {"principal", "disbursement_date"}
    assert "2025-2-29" in errors["disbursement_date"]
    assert set(refused(v2.QuoteLoanRequest(principal=money(5, 1_000_000_000)))) == {"principal"}
    assert set(refused(v2.QuoteLoanRequest(principal=money(5, currency="kes")))) == {"principal"}
    assert set(refused(v2.QuoteLoanRequest(principal=money(5, currency="XYZ")))) == {"principal"}
    assert set(refused(v2.DisburseLoanRequest(channel=42))) == {"channel"}
    assert set(refused(v2.RunCloseOfBusinessRequest(as_of=date_pb2.Date(year=2025)))) == {"as_of"}


def test_a_field_is_named_as_the_request_names_it() -> None:
    limit = v2.ApprovalLimit(role="admin", amount=money(1, -5))
    errors = refused(limit, amount="approval_limits.admin")
    assert list(errors) == ["approval_limits.admin"]
    ok = request_fields(
        v2.ApprovalLimit(role="admin", amount=money(9, currency="UGX")),
        {"amount": "approval_limits.admin"},
    )
    assert ok.currencies == (("approval_limits.admin", "UGX"),)


def test_v1_text_passes_through_for_the_use_case_to_judge() -> None:
    read = request_fields(
        loan_pb2.CreateLoanRequest(principal="12,000", disbursement_date="15/01/2025")
    )
    assert (read.values["principal"], read.values["disbursement_date"]) == ("12,000", "15/01/2025")
    assert request_fields(loan_pb2.ListLoansRequest(status=4)).values["status"] == "active"


def test_an_answer_writes_money_of_the_currency_and_enums() -> None:
    doc = {
        "_id": "lprod_1",
        "institution_id": "inst_1",
        "currency": "KES",
        "terms": make_product().to_mapping()
        | {"late_penalty_amount": "50", "upfront_fee_rate": "2.5"},
        "max_open_loans": 2,
    }
    typed = product_to_proto(doc, V2)
    assert typed.min_principal == money(1, 0, "KES")
    assert typed.max_principal == money(100_000_000, 0, "KES")
    assert typed.late_penalty_flat == money(50, 0, "KES")
    assert typed.installment_fee == money(0, 0, "KES")
    assert not typed.HasField("upfront_fee_flat") and not typed.HasField("rounding_multiple")
    assert typed.interest_method == v2.INTEREST_METHOD_DECLINING_BALANCE
    assert typed.days_in_year == v2.DAYS_IN_YEAR_360
    assert typed.allocation_strategy == v2.ALLOCATION_STRATEGY_PENALTIES_FEES_INTEREST_PRINCIPAL
    assert typed.upfront_fee_rate == "2.5" and typed.max_open_loans == 2
    text = product_to_proto(doc, V1)
    assert (text.min_principal, text.late_penalty_flat, text.upfront_fee_flat) == (
        "1.00",
        "50.00",
        "",
    )


def test_computed_amounts_round_half_even_to_the_currency() -> None:
    assert AsMoney("KES")(D("10.125")) == money(10, 120_000_000, "KES")
    assert AsMoney("UGX")("1500") == money(1500, 0, "UGX")
    assert AsMoney("KES")(None) == money(0, 0, "KES")


@pytest.mark.parametrize("text", ["0.00", "12.30", "-0.50", "-1250.05", "999999999999999.99"])
def test_stored_text_is_the_money_of_its_exact_amount(text: str) -> None:
    units, nanos = int(D(text)), int((D(text) % 1).scaleb(9))
    assert AsMoney("KES")(text) == money(units, nanos, "KES")
    assert AsMoney("KES")(text) == AsMoney("KES")(D(text))
