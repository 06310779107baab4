"""APR and EIR (MFTransparency): periodic IRR of the borrower's cash flows."""

from datetime import date
from decimal import Decimal as D

import numpy_financial as npf
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loan_service.domain.errors import ValidationError
from loan_service.domain.pricing import cash_flows, irr, price
from loan_service.domain.products import (
    ChargeCalculation,
    FeeTreatment,
    InterestMethod,
    RepaymentFrequency,
    UpfrontFee,
)
from loan_service.domain.schedule import generate_schedule
from tests.support.loan_products import make_product

pytestmark = pytest.mark.unit


def test_one_percent_a_month_is_apr_12_and_eir_12_68() -> None:
    s = generate_schedule(make_product(), D("100000"), 12, date(2024, 1, 15))
    p = price(s)
    assert (p.apr, p.eir) == (D("12.00"), D("12.68"))  # 1.01 ** 12 - 1 = 12.6825%
    assert abs(p.periodic_rate - D("0.01")) < D("0.000001")


def test_flat_rate_with_upfront_fee_costs_more_than_its_nominal_rate() -> None:
    product = make_product(
        interest_method=InterestMethod.FLAT,
        annual_interest_rate=D("24"),
        upfront_fee=UpfrontFee(ChargeCalculation.PERCENT, D("3"), FeeTreatment.DEDUCTED),
    )
    s = generate_schedule(product, D("10000"), 12, date(2024, 1, 15))
    p = price(s)
    flows = [float(f) for f in cash_flows(s)]
    assert flows[0] == 9700.0 and flows[1] == -1033.33
    expected = npf.irr(flows)
    assert p.apr == D(str(round(expected * 12 * 100, 2)))
    assert p.eir == D(str(round(((1 + expected) ** 12 - 1) * 100, 2)))
    assert p.apr > product.annual_interest_rate
    assert p.apr > D("45")  # a 24% flat loan with a 3% fee is about a 48% APR


def test_zero_interest_no_fee_is_zero_apr() -> None:
    s = generate_schedule(
        make_product(annual_interest_rate=D("0")), D("1200"), 12, date(2024, 1, 1)
    )
    assert price(s).apr == D("0.00") and price(s).eir == D("0.00")


def test_weekly_loan_annualises_with_52_periods() -> None:
    product = make_product(
        repayment_frequency=RepaymentFrequency.WEEKLY, annual_interest_rate=D("26")
    )
    s = generate_schedule(product, D("5200"), 26, date(2024, 1, 1))
    p = price(s)
    weekly = 0.26 * 7 / 360  # 30/360 basis: 7 days over 360
    assert p.apr == D(str(round(weekly * 52 * 100, 2)))
    assert p.eir == D(str(round(((1 + weekly) ** 52 - 1) * 100, 2)))


def test_irr_of_a_simple_flow() -> None:
    assert abs(irr([D(100), D(-110)]) - D("0.1")) < D("1e-18")
    assert abs(irr([D(-100), D(110)]) - D("0.1")) < D("1e-18")


def test_irr_refuses_flows_without_a_sign_change() -> None:
    with pytest.raises(ValidationError):
        irr([D(100), D(10)])
    with pytest.raises(ValidationError):
        irr([D(100)])


@settings(max_examples=200, deadline=None)
@given(
    st.integers(100, 10**7),
    st.lists(st.integers(1, 10**6), min_size=1, max_size=60),
)
def test_irr_matches_numpy_financial(disbursed: int, payments: list[int]) -> None:
    flows = [D(disbursed), *(D(-p) for p in payments)]
    ours = irr(flows)
    theirs = npf.irr([float(f) for f in flows])
    if theirs != theirs:  # numpy-financial gives NaN for some extreme flows
        return
    assert abs(float(ours) - theirs) < 1e-7 * max(1.0, abs(theirs))
