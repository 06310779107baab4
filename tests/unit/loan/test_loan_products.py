"""Loan product validation: every bad field is named, absurd values are refused."""

from decimal import Decimal as D

import pytest

from loan_service.domain.errors import DomainError, ValidationError
from loan_service.domain.products import (
    ChargeCalculation,
    FeeTreatment,
    InterestMethod,
    LatePenalty,
    RepaymentFrequency,
    ScoreBand,
    UpfrontFee,
    parse_product,
)
from tests.support.loan_products import make_product

pytestmark = pytest.mark.unit


def fields_of(exc: ValidationError) -> set[str]:
    return {field for field, _ in exc.field_errors}


def test_valid_product_derives_rate_and_periods() -> None:
    product = make_product(annual_interest_rate=D("18.5"))
    assert product.rate == D("0.185")
    assert product.periods_per_year == 12
    assert product.rounding_unit == D("0.01")


def test_every_bad_field_is_named_at_once() -> None:
    with pytest.raises(ValidationError) as info:
        make_product(
            min_principal=D("5000"),
            max_principal=D("1000"),
            min_term=0,
            annual_interest_rate=D("1500"),
            currency="KENYA",
        )
    assert fields_of(info.value) == {
        "min_principal",
        "min_term",
        "annual_interest_rate",
        "currency",
    }
    assert info.value.reason == "INVALID_ARGUMENT"
    assert isinstance(info.value, DomainError)


def test_min_term_above_max_term_is_refused() -> None:
    with pytest.raises(ValidationError) as info:
        make_product(min_term=12, max_term=6)
    assert fields_of(info.value) == {"min_term"}


@pytest.mark.parametrize("rate", [D("-1"), D("1000.01"), D("NaN")])
def test_absurd_rates_are_refused(rate: D) -> None:
    with pytest.raises(ValidationError) as info:
        make_product(annual_interest_rate=rate)
    assert fields_of(info.value) == {"annual_interest_rate"}


@pytest.mark.parametrize("rate", [D("0"), D("1000")])
def test_rate_bounds_are_inclusive(rate: D) -> None:
    assert make_product(annual_interest_rate=rate).annual_interest_rate == rate


def test_floats_are_refused_for_money() -> None:
    with pytest.raises(ValidationError) as info:
        make_product(min_principal=100.0, annual_interest_rate=12.0)
    assert fields_of(info.value) == {"min_principal", "annual_interest_rate"}


def test_grace_must_be_shorter_than_the_minimum_term() -> None:
    with pytest.raises(ValidationError) as info:
        make_product(min_term=3, grace_on_principal=3, grace_on_interest=-1)
    assert fields_of(info.value) == {"grace_on_principal", "grace_on_interest"}


def test_amounts_must_fit_the_currency() -> None:
    with pytest.raises(ValidationError) as info:
        make_product(currency="UGX", currency_decimals=0, min_principal=D("100.5"))
    assert fields_of(info.value) == {"min_principal"}


def test_installment_fee_must_be_a_multiple_of_the_rounding_unit() -> None:
    with pytest.raises(ValidationError) as info:
        make_product(rounding_multiple=D("100"), installment_fee=D("50"))
    assert fields_of(info.value) == {"installment_fee"}
    assert make_product(rounding_multiple=D("100"), installment_fee=D("200"))


@pytest.mark.parametrize("multiple", [D("0"), D("-5")])
def test_a_rounding_multiple_that_is_not_positive_is_refused_not_divided_by(multiple) -> None:
    with pytest.raises(ValidationError) as info:
        make_product(rounding_multiple=multiple, installment_fee=D("0"))
    assert fields_of(info.value) == {"rounding_multiple"}


def test_fee_and_penalty_fields_are_checked() -> None:
    with pytest.raises(ValidationError) as info:
        make_product(
            upfront_fee=UpfrontFee(ChargeCalculation.PERCENT, D("100")),
            late_penalty=LatePenalty(ChargeCalculation.FLAT, D("0"), tolerance_days=-2),
        )
    assert fields_of(info.value) == {
        "upfront_fee.amount",
        "late_penalty.amount",
        "late_penalty.tolerance_days",
    }


def test_deducted_flat_fee_cannot_swallow_the_smallest_loan() -> None:
    with pytest.raises(ValidationError) as info:
        make_product(
            min_principal=D("500"),
            upfront_fee=UpfrontFee(ChargeCalculation.FLAT, D("500"), FeeTreatment.DEDUCTED),
        )
    assert fields_of(info.value) == {"upfront_fee.amount"}


def test_check_request_names_principal_and_term() -> None:
    product = make_product(
        min_principal=D("1000"), max_principal=D("5000"), min_term=3, max_term=12
    )
    product.check_request(D("1000"), 3)
    with pytest.raises(ValidationError) as info:
        product.check_request(D("5000.01"), 13)
    assert fields_of(info.value) == {"principal", "term"}


def test_score_bands_order_best_first() -> None:
    assert ScoreBand.AA.at_least(ScoreBand.B)
    assert ScoreBand.B.at_least(ScoreBand.B)
    assert not ScoreBand.C.at_least(ScoreBand.B)


def test_parse_product_from_api_strings() -> None:
    product = parse_product(
        {
            "name": "Biashara",
            "currency": "KES",
            "interest_method": "flat",
            "amortization": "equal_principal",
            "annual_interest_rate": "18.5",
            "repayment_frequency": "weekly",
            "min_principal": "1000",
            "max_principal": "50000",
            "min_term": "4",
            "max_term": 52,
            "days_in_year": "365",
            "upfront_fee_rate": "2.5",
            "late_penalty_amount": "50",
            "late_penalty_tolerance_days": "3",
        }
    )
    assert product.interest_method is InterestMethod.FLAT
    assert product.repayment_frequency is RepaymentFrequency.WEEKLY
    assert product.annual_interest_rate == D("18.5")
    assert product.upfront_fee == UpfrontFee(ChargeCalculation.PERCENT, D("2.5"))
    assert product.late_penalty == LatePenalty(ChargeCalculation.FLAT, D("50"), 3)


def test_parse_product_names_every_bad_field() -> None:
    with pytest.raises(ValidationError) as info:
        parse_product(
            {
                "name": "x",
                "currency": "KES",
                "interest_method": "compound",
                "amortization": "equal_installments",
                "annual_interest_rate": "twelve",
                "repayment_frequency": "monthly",
                "min_principal": "1000",
                "min_term": 1,
                "max_term": 12,
            }
        )
    assert fields_of(info.value) == {"interest_method", "annual_interest_rate", "max_principal"}


def test_with_changes_revalidates() -> None:
    product = make_product()
    assert product.with_changes(annual_interest_rate=D("20")).rate == D("0.2")
    with pytest.raises(ValidationError):
        product.with_changes(annual_interest_rate=D("2000"))


def test_to_mapping_round_trips_through_parse_product() -> None:
    product = make_product(
        interest_method=InterestMethod.FLAT,
        repayment_frequency=RepaymentFrequency.WEEKLY,
        annual_interest_rate=D("36.25"),
        grace_on_principal=1,
        recover_grace_interest=True,
        installment_fee=D("15.50"),
        upfront_fee=UpfrontFee(ChargeCalculation.FLAT, D("250"), FeeTreatment.FINANCED),
        late_penalty=LatePenalty(ChargeCalculation.PERCENT, D("2.5"), 5),
        min_score_band=ScoreBand.B,
        rounding_multiple=D("0.05"),
    )
    data = product.to_mapping()
    assert data["annual_interest_rate"] == "36.25"
    assert data["upfront_fee_amount"] == "250"
    assert parse_product(data) == product


def test_parse_product_names_the_flat_field_the_caller_used() -> None:
    base = make_product().to_mapping()
    with pytest.raises(ValidationError) as info:
        parse_product({**base, "upfront_fee_amount": "-5"})
    assert fields_of(info.value) == {"upfront_fee_amount"}
