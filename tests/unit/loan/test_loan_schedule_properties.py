"""Property tests of schedule generation over random products, amounts, terms and dates."""

import calendar
import itertools
from datetime import date, timedelta
from decimal import Decimal as D

import numpy_financial as npf
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from loan_service.domain.products import (
    Amortization,
    ChargeCalculation,
    DaysInYear,
    FeeTreatment,
    InterestMethod,
    LoanProduct,
    RepaymentFrequency,
    UpfrontFee,
)
from loan_service.domain.schedule import generate_schedule
from tests.support.loan_products import make_product

pytestmark = pytest.mark.unit

PROPERTY_SETTINGS = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)

# (currency, decimals, rounding multiple)
CURRENCIES = st.sampled_from(
    [("KES", 2, None), ("UGX", 0, None), ("UGX", 0, D("100")), ("KES", 2, D("5")), ("TND", 3, None)]
)
DATES = st.dates(min_value=date(2020, 1, 1), max_value=date(2030, 12, 31))
RATES = st.decimals(min_value=0, max_value=200, places=2)


@st.composite
def loans(draw: st.DrawFn) -> tuple[LoanProduct, D, int, date, date | None]:
    currency, decimals, multiple = draw(CURRENCIES)
    unit = multiple if multiple is not None else D(1).scaleb(-decimals)
    grace_p = draw(st.integers(0, 3))
    grace_i = draw(st.integers(0, 3))
    frequency = draw(st.sampled_from(list(RepaymentFrequency)))
    max_term = 120 if frequency is RepaymentFrequency.DAILY else 60
    term = draw(st.integers(max(grace_p, grace_i) + 1, max_term))
    fee = draw(st.sampled_from([D(0), unit, unit * 20]))
    upfront = draw(
        st.one_of(
            st.none(),
            st.builds(
                UpfrontFee,
                st.just(ChargeCalculation.PERCENT),
                st.decimals(min_value=D("0.5"), max_value=10, places=1),
                st.sampled_from(list(FeeTreatment)),
            ),
        )
    )
    product = make_product(
        currency=currency,
        currency_decimals=decimals,
        rounding_multiple=multiple,
        interest_method=draw(st.sampled_from(list(InterestMethod))),
        amortization=draw(st.sampled_from(list(Amortization))),
        annual_interest_rate=draw(RATES),
        repayment_frequency=frequency,
        days_in_year=draw(st.sampled_from(list(DaysInYear))),
        grace_on_principal=grace_p,
        grace_on_interest=grace_i,
        recover_grace_interest=draw(st.booleans()),
        installment_fee=fee,
        upfront_fee=upfront,
    )
    units = draw(st.integers(min_value=term * 2, max_value=10**8))
    principal = (unit * units + draw(st.sampled_from([D(0), D(1).scaleb(-decimals)]))).quantize(
        D(1).scaleb(-decimals)
    )
    start = draw(DATES)
    first = draw(st.one_of(st.none(), st.integers(1, 45).map(lambda d: start + timedelta(days=d))))
    return product, principal, term, start, first


@PROPERTY_SETTINGS
@given(loans())
def test_schedule_invariants(loan: tuple[LoanProduct, D, int, date, date | None]) -> None:
    product, principal, term, start, first = loan
    s = generate_schedule(product, principal, term, start, first)
    rows = s.installments
    unit = product.rounding_unit
    minor = D(1).scaleb(-product.currency_decimals)

    assert len(rows) == term
    # Principal sums exactly to the amount amortized, and the balance ends at zero.
    assert sum(r.principal for r in rows) == s.principal
    assert rows[-1].balance == 0
    balance = s.principal
    for r in rows:
        balance -= r.principal
        assert r.balance == balance
        assert r.total == r.principal + r.interest + r.fees
        assert min(r.principal, r.interest, r.fees, r.balance) >= 0
        if r.number <= product.grace_on_principal:
            assert r.principal == 0
        else:
            assert r.principal > 0, f"installment {r.number} repays no principal"
        if r.number <= product.grace_on_interest:
            assert r.interest == 0
    # Rounding: every installment but the last is in whole rounding units.
    for r in rows[:-1]:
        assert r.principal % unit == 0 and r.interest % unit == 0 and r.fees % unit == 0
    assert rows[-1].interest % unit == 0 and rows[-1].principal % minor == 0
    # Totals.
    assert s.total_interest == sum(r.interest for r in rows)
    assert s.total_repayment == sum(r.total for r in rows)
    assert s.total_fees == sum(r.fees for r in rows) + s.upfront_fee
    if product.upfront_fee is None:
        assert s.principal == s.disbursed_amount == principal
    elif product.upfront_fee.treatment is FeeTreatment.FINANCED:
        assert (s.principal, s.disbursed_amount) == (principal + s.upfront_fee, principal)
    else:
        assert (s.principal, s.disbursed_amount) == (principal, principal - s.upfront_fee)
    # Dates: strictly increasing, the first after disbursement.
    dues = [r.due_date for r in rows]
    assert dues[0] > start and all(a < b for a, b in itertools.pairwise(dues))
    assert [r.start_date for r in rows] == [start, *dues[:-1]]
    if first is not None:
        assert dues[0] == first


@PROPERTY_SETTINGS
@given(
    st.integers(1, 31),
    st.integers(2000, 2040),
    st.integers(1, 12),
    st.integers(1, 40),
)
def test_monthly_dates_keep_the_anchor_day(day: int, year: int, month: int, term: int) -> None:
    assume(day <= calendar.monthrange(year, month)[1])
    start = date(year, month, day)
    s = generate_schedule(make_product(), D("100000"), term, start)
    for k, r in enumerate(s.installments, start=1):
        index = month - 1 + k
        y, m = year + index // 12, index % 12 + 1
        assert r.due_date == date(y, m, min(day, calendar.monthrange(y, m)[1]))


PERIOD_DAYS = {
    RepaymentFrequency.DAILY: 1,
    RepaymentFrequency.WEEKLY: 7,
    RepaymentFrequency.BIWEEKLY: 14,
}


@PROPERTY_SETTINGS
@given(
    principal=st.integers(1000, 50_000_000),
    rate=RATES,
    term=st.integers(1, 60),
    frequency=st.sampled_from(list(RepaymentFrequency)),
    basis=st.sampled_from([DaysInYear.DAYS_360, DaysInYear.DAYS_365]),
    start=DATES,
)
def test_annuity_matches_numpy_financial_pmt(
    principal: int,
    rate: D,
    term: int,
    frequency: RepaymentFrequency,
    basis: DaysInYear,
    start: date,
) -> None:
    # Monthly loans under actual/365 have unequal periods: the textbook pmt does not apply.
    assume(not (frequency is RepaymentFrequency.MONTHLY and basis is DaysInYear.DAYS_365))
    product = make_product(
        annual_interest_rate=rate, repayment_frequency=frequency, days_in_year=basis
    )
    if frequency is RepaymentFrequency.MONTHLY:
        periodic = float(rate) / 100 / 12
    else:
        periodic = float(rate) / 100 * PERIOD_DAYS[frequency] / int(basis.value)
    s = generate_schedule(product, D(principal), term, start)
    expected = -npf.pmt(periodic, term, principal)
    level = s.installments[0].total
    assert abs(float(level) - expected) <= 0.01 + 1e-9 * expected
    assert abs(float(s.installments[0].interest) - principal * periodic) <= 0.0051
    # The last installment differs from the level only by accumulated rounding.
    growth = sum((1 + periodic) ** k for k in range(term))
    assert abs(float(s.installments[-1].total - level)) <= 0.02 * growth + 0.01
