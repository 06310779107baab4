"""Schedules against published worked examples and hand-computed figures."""

import itertools
from datetime import date
from decimal import Decimal as D
from fractions import Fraction

import numpy_financial as npf
import pytest

from loan_service.domain.errors import ValidationError
from loan_service.domain.products import (
    Amortization,
    ChargeCalculation,
    DaysInYear,
    FeeTreatment,
    InterestMethod,
    RepaymentFrequency,
    UpfrontFee,
)
from loan_service.domain.schedule import add_months, amortize, due_dates, generate_schedule
from tests.support.loan_products import make_product

pytestmark = pytest.mark.unit


def column(schedule, name):
    return [getattr(i, name) for i in schedule.installments]


def test_textbook_annuity_100000_at_12_percent_over_12_months() -> None:
    # The classic example: pmt(1%, 12, 100,000) = 8,884.88.
    s = generate_schedule(make_product(), D("100000"), 12, date(2024, 1, 15))
    assert column(s, "total")[:11] == [D("8884.88")] * 11
    first = s.installments[0]
    assert (first.interest, first.principal, first.balance) == (
        D("1000.00"),
        D("7884.88"),
        D("92115.12"),
    )
    # Second month: 1% of 92,115.12 = 921.1512.
    assert s.installments[1].interest == D("921.15")
    assert sum(column(s, "principal")) == D("100000")
    assert s.installments[-1].balance == 0
    assert float(s.installments[0].total) == pytest.approx(-npf.pmt(0.01, 12, 100000), abs=0.005)


def test_fineract_progressive_emi_example_30_360() -> None:
    # Apache Fineract ProgressiveEMICalculatorTest
    # .testEMICalculation_disbursedAmt100_dayInYears360_daysInMonth30_repayEvery1Month:
    # 100 at 9.4822% nominal, 6 months from 2024-01-01.
    s = generate_schedule(
        make_product(annual_interest_rate=D("9.4822")), D("100"), 6, date(2024, 1, 1)
    )
    assert column(s, "total") == [D("17.13")] * 6
    assert column(s, "interest") == [D(x) for x in ("0.79", "0.66", "0.53", "0.40", "0.27", "0.13")]
    assert column(s, "principal") == [
        D(x) for x in ("16.34", "16.47", "16.60", "16.73", "16.86", "17.00")
    ]
    assert column(s, "balance") == [
        D(x) for x in ("83.66", "67.19", "50.59", "33.86", "17.00", "0")
    ]
    assert column(s, "due_date") == [date(2024, m, 1) for m in range(2, 8)]


def test_frappe_lending_test_loan_rows() -> None:
    # Frappe Lending test_loan.py::test_loan: 280,000 at 8.4% over 20 months. Frappe rounds
    # the EMI *up* to whole units (math.ceil in get_monthly_repayment_amount: 15,052) where
    # Kopa rounds half-even to the cent (15,051.72); with Frappe's EMI pinned, the rows agree
    # (Frappe's assertions compare at 0 decimals).
    product = make_product(annual_interest_rate=D("8.4"))
    rows = amortize(product, D("280000"), [product.rate / 12] * 20, level=D("15052"))
    balances, balance = [], D("280000")
    for principal in rows.principals:
        balance -= principal
        balances.append(balance)

    def whole(x: D) -> D:
        return x.quantize(D(1))

    for idx, principal, interest, left in [
        (3, 13369, 1683, 227080),
        (19, 14941, 105, 0),
        (17, 14740, 312, 29785),
    ]:
        assert whole(rows.principals[idx]) == principal
        assert whole(rows.interests[idx]) == interest
        assert whole(balances[idx]) == left
    assert whole(sum(rows.interests)) == 21034
    assert len(rows.principals) == 20
    # Kopa's own schedule for the same loan: pmt(0.7%, 20, 280,000) = 15,051.7226.
    own = generate_schedule(product, D("280000"), 20, date(2024, 1, 5))
    assert own.installments[0].total == D("15051.72")
    assert float(own.installments[0].total) == pytest.approx(-npf.pmt(0.007, 20, 280000), abs=0.005)


def test_flat_rate_two_percent_a_month() -> None:
    # 10,000 at 2% flat a month for 12 months: 200 interest every month, 2,400 in all.
    product = make_product(interest_method=InterestMethod.FLAT, annual_interest_rate=D("24"))
    s = generate_schedule(product, D("10000"), 12, date(2024, 3, 1))
    assert column(s, "interest") == [D("200.00")] * 12
    assert column(s, "principal") == [D("833.33")] * 11 + [D("833.37")]
    assert column(s, "total")[0] == D("1033.33")
    assert s.total_interest == D("2400.00")
    assert s.total_repayment == D("12400.00")


def test_flat_rate_is_level_whichever_amortization() -> None:
    flat = {"interest_method": InterestMethod.FLAT, "annual_interest_rate": D("24")}
    a = generate_schedule(make_product(**flat), D("10000"), 12, date(2024, 3, 1))
    b = generate_schedule(
        make_product(amortization=Amortization.EQUAL_PRINCIPAL, **flat),
        D("10000"),
        12,
        date(2024, 3, 1),
    )
    assert a.installments == b.installments


def test_equal_principal_declining() -> None:
    # 12,000 at 1% a month: principal 1,000 each; interest 1% of the opening balance.
    product = make_product(amortization=Amortization.EQUAL_PRINCIPAL)
    s = generate_schedule(product, D("12000"), 12, date(2024, 1, 10))
    assert column(s, "principal") == [D("1000.00")] * 12
    assert column(s, "interest") == [D(120 - 10 * k) for k in range(12)]
    assert column(s, "total") == [D(1120 - 10 * k) for k in range(12)]
    assert s.total_interest == D("780")


def test_weekly_flat_loan() -> None:
    # 5,000 over 26 weeks at 52% flat a year: 1% of 5,000 = 50 a week.
    product = make_product(
        interest_method=InterestMethod.FLAT,
        repayment_frequency=RepaymentFrequency.WEEKLY,
        annual_interest_rate=D("52"),
        days_in_year=DaysInYear.DAYS_365,
    )
    s = generate_schedule(product, D("5000"), 26, date(2024, 3, 4))
    assert column(s, "interest") == [D("50.00")] * 26
    # 5,000 / 26 = 192.3077 -> 192.31, the last takes 5,000 - 25 x 192.31 = 192.25.
    assert column(s, "principal") == [D("192.31")] * 25 + [D("192.25")]
    assert s.installments[0].due_date == date(2024, 3, 11)
    assert s.installments[-1].due_date == date(2024, 3, 4) + 26 * (
        date(2024, 1, 8) - date(2024, 1, 1)
    )
    assert s.total_interest == D("1300.00")


def test_30_360_versus_actual_365_versus_actual_actual() -> None:
    start = date(2024, 1, 15)  # Jan 15 -> Feb 15 is 31 days; Feb 15 -> Mar 15 is 29 (leap)
    s360 = generate_schedule(make_product(), D("100000"), 12, start)
    s365 = generate_schedule(make_product(days_in_year=DaysInYear.DAYS_365), D("100000"), 12, start)
    sact = generate_schedule(make_product(days_in_year=DaysInYear.ACTUAL), D("100000"), 12, start)
    assert s360.installments[0].interest == D("1000.00")  # 12% / 12
    assert s365.installments[0].interest == D("1019.18")  # 12,000 x 31 / 365 = 1,019.178
    assert sact.installments[0].interest == D("1016.39")  # 12,000 x 31 / 366 = 1,016.393
    b1 = s365.installments[0].balance
    assert s365.installments[1].interest == (b1 * D("0.12") * 29 / 365).quantize(D("0.01"))
    for s in (s360, s365, sact):
        assert sum(column(s, "principal")) == D("100000")
        assert s.installments[-1].balance == 0


def _level_payment(principal: Fraction, rates: list[Fraction]) -> Fraction:
    # Present-value form, independent of the code's forward recursion:
    # principal = E * sum_k prod_{j<=k} 1 / (1 + r_j).
    discount, annuity = Fraction(1), Fraction(0)
    for r in rates:
        discount /= 1 + r
        annuity += discount
    return principal / annuity


@pytest.mark.parametrize("basis", [DaysInYear.DAYS_365, DaysInYear.ACTUAL])
def test_actual_day_annuity_is_the_exact_level_payment(basis: DaysInYear) -> None:
    start = date(2023, 11, 30)  # spans a New Year and a leap February
    s = generate_schedule(make_product(days_in_year=basis), D("250000"), 12, start)
    dates = [start, *column(s, "due_date")]

    def year_fraction(a: date, b: date) -> Fraction:
        if basis is DaysInYear.DAYS_365:
            return Fraction((b - a).days, 365)
        total = Fraction(0)
        while a.year < b.year:
            nxt = date(a.year + 1, 1, 1)
            total += Fraction((nxt - a).days, 366 if a.year % 4 == 0 else 365)
            a = nxt
        return total + Fraction((b - a).days, 366 if b.year % 4 == 0 else 365)

    rates = [Fraction(12, 100) * year_fraction(a, b) for a, b in itertools.pairwise(dates)]
    level = _level_payment(Fraction(250000), rates)
    expected = D(level.numerator) / D(level.denominator)
    assert s.installments[0].total == expected.quantize(D("0.01"))
    # Only rounding is left for the last installment to absorb.
    assert abs(s.installments[-1].total - s.installments[0].total) <= D("0.10")


def test_month_end_due_dates_roll_and_come_back() -> None:
    assert due_dates(RepaymentFrequency.MONTHLY, date(2023, 1, 31), 4) == [
        date(2023, 2, 28),
        date(2023, 3, 31),
        date(2023, 4, 30),
        date(2023, 5, 31),
    ]
    assert due_dates(RepaymentFrequency.MONTHLY, date(2024, 1, 31), 2) == [
        date(2024, 2, 29),
        date(2024, 3, 31),
    ]
    assert due_dates(RepaymentFrequency.MONTHLY, date(2024, 11, 30), 3) == [
        date(2024, 12, 30),
        date(2025, 1, 30),
        date(2025, 2, 28),
    ]
    assert add_months(date(2024, 3, 31), -1) == date(2024, 2, 29)
    # Naming the regular first date explicitly keeps the disbursement day as the anchor.
    assert due_dates(RepaymentFrequency.MONTHLY, date(2024, 1, 31), 3, date(2024, 2, 29)) == [
        date(2024, 2, 29),
        date(2024, 3, 31),
        date(2024, 4, 30),
    ]


def test_first_repayment_date_anchors_the_schedule() -> None:
    product = make_product()
    s = generate_schedule(product, D("10000"), 3, date(2024, 1, 10), date(2024, 2, 25))
    assert column(s, "due_date") == [date(2024, 2, 25), date(2024, 3, 25), date(2024, 4, 25)]
    # 30/360: one whole month (Jan 25 -> Feb 25) plus a 15-day stub = 45 days.
    assert s.installments[0].interest == D("150.00")  # 10,000 x 12% x 45 / 360
    assert s.installments[1].interest == (s.installments[0].balance / 100).quantize(D("0.01"))


def test_weekly_and_biweekly_dates() -> None:
    assert due_dates(RepaymentFrequency.WEEKLY, date(2024, 2, 26), 2) == [
        date(2024, 3, 4),
        date(2024, 3, 11),
    ]
    assert due_dates(RepaymentFrequency.BIWEEKLY, date(2024, 2, 26), 2) == [
        date(2024, 3, 11),
        date(2024, 3, 25),
    ]
    assert due_dates(RepaymentFrequency.DAILY, date(2024, 2, 28), 2) == [
        date(2024, 2, 29),
        date(2024, 3, 1),
    ]


@pytest.mark.parametrize("bad", [date(2024, 1, 10), date(2024, 1, 9)])
def test_first_repayment_must_follow_disbursement(bad: date) -> None:
    with pytest.raises(ValidationError) as info:
        generate_schedule(make_product(), D("1000"), 3, date(2024, 1, 10), bad)
    assert info.value.field_errors[0][0] == "first_repayment_date"


def test_bad_principal_and_term_are_named() -> None:
    with pytest.raises(ValidationError) as info:
        generate_schedule(make_product(), D("-5"), 0, date(2024, 1, 1))
    assert {f for f, _ in info.value.field_errors} == {"principal", "term"}
    with pytest.raises(ValidationError) as info:
        generate_schedule(make_product(), D("10.001"), 3, date(2024, 1, 1))
    assert info.value.field_errors[0][0] == "principal"


def test_principal_too_small_for_the_rounding_unit() -> None:
    product = make_product(currency="UGX", currency_decimals=0, rounding_multiple=D("100"))
    with pytest.raises(ValidationError) as info:
        generate_schedule(product, D("1100"), 12, date(2024, 1, 1))
    assert info.value.field_errors[0][0] == "principal"


def test_ugx_rounded_to_hundreds() -> None:
    product = make_product(
        currency="UGX",
        currency_decimals=0,
        rounding_multiple=D("100"),
        annual_interest_rate=D("24"),
    )
    s = generate_schedule(product, D("1000050"), 12, date(2024, 5, 2))
    for inst in s.installments[:-1]:
        assert inst.total % 100 == 0 and inst.principal % 100 == 0 and inst.interest % 100 == 0
    assert s.installments[-1].interest % 100 == 0
    assert sum(column(s, "principal")) == D("1000050")
    # pmt(2%, 12, 1,000,050) = 94,566.2 -> 94,600.
    assert s.installments[0].total == D("94600")


def test_upfront_fee_deducted_or_financed() -> None:
    fee = UpfrontFee(ChargeCalculation.PERCENT, D("5"), FeeTreatment.DEDUCTED)
    s = generate_schedule(make_product(upfront_fee=fee), D("10000"), 6, date(2024, 1, 1))
    assert (s.principal, s.disbursed_amount, s.upfront_fee) == (
        D("10000"),
        D("9500.00"),
        D("500.00"),
    )
    assert sum(column(s, "principal")) == D("10000")

    financed = UpfrontFee(ChargeCalculation.FLAT, D("300"), FeeTreatment.FINANCED)
    s = generate_schedule(make_product(upfront_fee=financed), D("10000"), 6, date(2024, 1, 1))
    assert (s.principal, s.disbursed_amount) == (D("10300.00"), D("10000"))
    assert sum(column(s, "principal")) == D("10300")
    assert s.total_fees == D("300.00")


def test_installment_fee_is_added_to_each_installment() -> None:
    product = make_product(installment_fee=D("25"))
    s = generate_schedule(product, D("12000"), 12, date(2024, 1, 1))
    assert column(s, "fees") == [D("25.00")] * 12
    assert all(i.total == i.principal + i.interest + D(25) for i in s.installments)
    assert s.total_fees == D("300.00")
    assert s.total_repayment == D("12000") + s.total_interest + D("300")


def test_grace_on_principal_is_interest_only_then_annuity() -> None:
    product = make_product(grace_on_principal=3)
    s = generate_schedule(product, D("60000"), 12, date(2024, 1, 5))
    assert column(s, "principal")[:3] == [D("0")] * 3
    assert column(s, "interest")[:3] == [D("600.00")] * 3
    level = -npf.pmt(0.01, 9, 60000)  # 7,706.04 over the nine remaining months
    assert float(s.installments[3].total) == pytest.approx(level, abs=0.005)
    assert sum(column(s, "principal")) == D("60000")


def test_grace_on_interest_waived_or_recovered() -> None:
    waived = generate_schedule(make_product(grace_on_interest=2), D("12000"), 6, date(2024, 1, 1))
    kept = generate_schedule(make_product(), D("12000"), 6, date(2024, 1, 1))
    # The principal schedule is the one without grace; only interest changes.
    assert column(waived, "principal") == column(kept, "principal")
    assert column(waived, "interest")[:2] == [D("0")] * 2
    assert column(waived, "interest")[2:] == column(kept, "interest")[2:]
    assert waived.total_interest == kept.total_interest - sum(column(kept, "interest")[:2])

    recovered = generate_schedule(
        make_product(grace_on_interest=2, recover_grace_interest=True),
        D("12000"),
        6,
        date(2024, 1, 1),
    )
    interest = column(kept, "interest")
    assert column(recovered, "interest") == [D("0"), D("0"), sum(interest[:3]), *interest[3:]]
    assert recovered.total_interest == kept.total_interest


def test_daily_loan_30_360_rate() -> None:
    product = make_product(
        repayment_frequency=RepaymentFrequency.DAILY, annual_interest_rate=D("36")
    )
    s = generate_schedule(product, D("3000"), 30, date(2024, 1, 1))
    assert product.periods_per_year == 360
    assert s.installments[0].interest == D("3.00")  # 3,000 x 36% / 360
    assert float(s.installments[0].total) == pytest.approx(-npf.pmt(0.001, 30, 3000), abs=0.005)


def test_exact_ties_round_half_even() -> None:
    # 37.49 / 46 = 0.815 exactly: half-even gives 0.82 (a 28-digit reciprocal would give
    # 0.81499... and round down).
    product = make_product(
        annual_interest_rate=D("0"), repayment_frequency=RepaymentFrequency.BIWEEKLY
    )
    s = generate_schedule(product, D("37.49"), 46, date(2022, 5, 27))
    assert column(s, "principal")[:45] == [D("0.82")] * 45
    assert s.installments[-1].principal == D("37.49") - 45 * D("0.82")
    # 0.125 -> 0.12 and 0.135 -> 0.14: ties go to the even cent.
    assert generate_schedule(product, D("1.00"), 8, date(2022, 1, 1)).installments[
        0
    ].principal == D("0.12")
    assert generate_schedule(product, D("1.08"), 8, date(2022, 1, 1)).installments[
        0
    ].principal == D("0.14")


def test_rounded_down_fallback_keeps_multiples() -> None:
    # Found by hypothesis: rounding the level installment up would repay 6,301 UGX early, so
    # it is rounded down; the 1 UGX off the multiple of 100 must still land in the last.
    product = make_product(
        currency="UGX",
        currency_decimals=0,
        rounding_multiple=D("100"),
        annual_interest_rate=D("46.72"),
        days_in_year=DaysInYear.DAYS_365,
    )
    s = generate_schedule(product, D("6301"), 26, date(2020, 1, 1))
    assert all(i.principal % 100 == 0 and i.principal > 0 for i in s.installments[:-1])
    assert s.installments[-1].principal % 100 == 1
    assert sum(column(s, "principal")) == D("6301")
