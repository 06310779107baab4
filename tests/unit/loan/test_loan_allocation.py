"""Allocation strategies, prepayment variants, overpayment, payoff and replay."""

import random
from datetime import date, timedelta
from decimal import Decimal as D

import numpy_financial as npf
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loan_service.domain.allocation import apply_repayment, payoff_quote, replay
from loan_service.domain.errors import ValidationError
from loan_service.domain.products import (
    AllocationStrategy,
    Amortization,
    ChargeCalculation,
    DaysInYear,
    InterestMethod,
    LatePenalty,
    PrepaymentStrategy,
)
from loan_service.domain.schedule import generate_schedule
from loan_service.domain.state import LoanState, Repayment
from tests.support.loan_products import LEVEL, START, make_product, textbook

pytestmark = pytest.mark.unit

CENT = D("0.01")
FLAT_100 = LatePenalty(ChargeCalculation.FLAT, D("100"), tolerance_days=3)


# --- ordered allocation -------------------------------------------------------------------


def test_penalties_fees_interest_principal_across_due_installments() -> None:
    # Two installments overdue with a 100 penalty each; 10,000 paid on Mar 20.
    product, _, state = textbook(late_penalty=FLAT_100)
    state, a = apply_repayment(state, product, D("10000"), date(2024, 3, 20))
    # All penalties (200), all interest (1,000 + 921.15), then principal oldest first.
    assert (a.penalties, a.fees, a.interest, a.principal) == (
        D("200.00"),
        D(0),
        D("1921.15"),
        D("7878.85"),
    )
    assert state.installments[0].principal_outstanding == D("6.03")  # 7,884.88 - 7,878.85
    assert state.installments[1].interest_outstanding == 0


def test_installment_by_installment_settles_the_oldest_first() -> None:
    product, _, state = textbook(
        late_penalty=FLAT_100, allocation_strategy=AllocationStrategy.INSTALLMENT_BY_INSTALLMENT
    )
    state, a = apply_repayment(state, product, D("10000"), date(2024, 3, 20))
    # Installment 1 in full (100 + 1,000 + 7,884.88), then installment 2's penalty and
    # 915.12 of its 921.15 interest.
    assert (a.penalties, a.interest, a.principal) == (D("200.00"), D("1915.12"), D("7884.88"))
    assert state.installments[0].is_paid
    assert state.installments[1].interest_outstanding == D("6.03")
    assert state.installments[1].principal_outstanding == D("7963.73")


def test_only_due_installments_take_the_ordered_allocation() -> None:
    product, _, state = textbook()
    state, a = apply_repayment(state, product, D("1000"), date(2024, 2, 15))
    assert (a.interest, a.principal) == (D("1000.00"), D(0))
    assert state.installments[0].principal_outstanding == D("7884.88")
    assert state.installments[1].paid.total == 0


def test_invalid_amounts_are_refused() -> None:
    product, _, state = textbook()
    for amount in (D(0), D("-5"), D("1.001")):
        with pytest.raises(ValidationError) as info:
            apply_repayment(state, product, amount, date(2024, 2, 15))
        assert info.value.field_errors[0][0] == "amount"


# --- prepayment ---------------------------------------------------------------------------


def _simulate_level(balance: D, level: D, rate: D) -> list[tuple[D, D]]:
    """Independent reference: repay ``balance`` with ``level`` at ``rate`` a period."""
    rows = []
    while balance > 0:
        interest = (balance * rate).quantize(CENT)
        principal = min(level - interest, balance)
        rows.append((principal, interest))
        balance -= principal
    return rows


def test_reduce_term_keeps_the_installment_and_ends_sooner() -> None:
    product, _, state = textbook()
    state, a = apply_repayment(state, product, LEVEL + D("20000"), date(2024, 2, 15))
    assert (a.interest, a.principal, a.overpayment) == (D("1000.00"), D("27884.88"), D(0))
    rows = state.installments
    # Installment 2 keeps its interest (on 92,115.12), repays 7,963.73 and carries the
    # 20,000 prepaid; the balance after it is 92,115.12 - 20,000 - 7,963.73 = 64,151.39.
    assert (rows[1].interest, rows[1].principal_paid) == (D("921.15"), D("20000"))
    assert rows[1].principal_outstanding == D("7963.73")
    expected = _simulate_level(D("64151.39"), LEVEL, CENT)
    assert [(r.principal, r.interest) for r in rows[2:]] == expected
    assert len(rows) == 2 + len(expected) < 12
    assert all(r.principal + r.interest == LEVEL for r in rows[2:-1])
    assert sum(r.principal for r in rows) == D("100000")
    assert rows[-1].due_date == date(2024, 1 + len(rows), 15)


def test_reduce_installment_reamortizes_over_the_same_dates() -> None:
    product, _, state = textbook(prepayment_strategy=PrepaymentStrategy.REDUCE_INSTALLMENT)
    state, _ = apply_repayment(state, product, LEVEL + D("20000"), date(2024, 2, 15))
    rows = state.installments
    assert len(rows) == 12
    # Installment 2 keeps its 921.15 interest, then E is level over the 11 remaining:
    # 72,115.12 + 921.15 - E = E x annuity(10 periods at 1%).
    annuity = -npf.pv(0.01, 10, 1)
    level = (72115.12 + 921.15) / (1 + annuity)
    assert abs(float(rows[1].principal_outstanding + rows[1].interest) - level) <= 0.005
    assert all(
        r.principal + r.interest == rows[1].principal_outstanding + rows[1].interest
        for r in rows[2:-1]
    )
    assert sum(r.principal for r in rows) == D("100000")
    assert [r.due_date for r in rows] == [date(2024, m, 15) for m in range(2, 13)] + [
        date(2025, 1, 15)
    ]


def test_reduce_term_on_a_flat_loan_drops_the_tail_and_its_interest() -> None:
    product = make_product(
        interest_method=InterestMethod.FLAT,
        amortization=Amortization.EQUAL_PRINCIPAL,
        annual_interest_rate=D("24"),
    )
    schedule = generate_schedule(product, D("12000"), 12, START)
    state, _ = apply_repayment(
        LoanState.from_schedule(schedule), product, D("1240") + D("3000"), date(2024, 2, 15)
    )
    rows = state.installments
    # 1,000 principal + 240 flat interest a month; 3,000 prepaid = three fewer months.
    assert len(rows) == 9
    expected = (D("1000.00"), D("240.00"))
    assert all((r.principal_outstanding, r.interest) == expected for r in rows[1:])
    assert sum(r.interest for r in rows) == 9 * D("240")


def test_prepayment_on_equal_principal_declining_lowers_future_interest() -> None:
    product = make_product(
        amortization=Amortization.EQUAL_PRINCIPAL,
        prepayment_strategy=PrepaymentStrategy.REDUCE_INSTALLMENT,
    )
    schedule = generate_schedule(product, D("12000"), 12, START)
    state, _ = apply_repayment(
        LoanState.from_schedule(schedule), product, D("1120") + D("5500"), date(2024, 2, 15)
    )
    rows = state.installments
    # 11,000 - 5,500 = 5,500 left over 11 installments: 500 each; interest 1% of the
    # balance at each period's start (the current one keeps its 110).
    assert [r.principal_outstanding for r in rows[1:]] == [D("500.00")] * 11
    assert rows[1].interest == D("110.00")
    assert [r.interest for r in rows[2:]] == [D(50 - 5 * k) for k in range(10)]


def test_overpayment_is_kept_as_credit() -> None:
    product, _, state = textbook()
    quote = payoff_quote(state, product, date(2024, 3, 1))
    state, a = apply_repayment(state, product, quote.total + D("123.45"), date(2024, 3, 1))
    assert a.overpayment == D("123.45")
    assert state.overpayment == D("123.45")
    assert state.is_settled


# --- payoff -------------------------------------------------------------------------------


def test_payoff_quote_accrues_the_current_period_on_actual_days() -> None:
    product, _, state = textbook()
    quote = payoff_quote(state, product, date(2024, 3, 1))
    # Installment 1's 1,000 is due; period 2 (Feb 15 -> Mar 15, 29 days) earned 15 days of
    # its 921.15 interest: 476.46.
    assert (quote.principal, quote.interest, quote.fees, quote.penalties) == (
        D("100000.00"),
        D("1476.46"),
        D(0),
        D(0),
    )


def test_paying_the_payoff_quote_closes_the_loan_exactly() -> None:
    product, _, state = textbook(installment_fee=D("50"), late_penalty=FLAT_100)
    on = date(2024, 4, 2)
    quote = payoff_quote(state, product, on)
    assert quote.penalties == D("200.00") and quote.fees == D("100.00")
    short, _ = apply_repayment(state, product, quote.total - CENT, on)
    assert not short.is_settled and short.outstanding.total == CENT
    paid, a = apply_repayment(state, product, quote.total, on)
    assert paid.is_settled and a.overpayment == 0
    assert a.principal == D("100000.00")
    assert paid.installments[-1].due_date == date(2024, 4, 15)


def test_payoff_recovers_deferred_grace_interest() -> None:
    # With the first period's interest deferred, a payoff in period 2 still owes it.
    product, _, state = textbook(grace_on_interest=1, recover_grace_interest=True)
    quote = payoff_quote(state, product, date(2024, 3, 1))
    assert quote.interest == D("1000.00") + D("476.46")
    waived, _, state = textbook(grace_on_interest=1)
    assert payoff_quote(state, waived, date(2024, 3, 1)).interest == D("476.46")


# --- replay and reversal ------------------------------------------------------------------


def test_replay_is_order_independent_and_reversal_is_as_if_never_paid() -> None:
    product, schedule, _ = textbook(late_penalty=FLAT_100)
    r1 = Repayment("r1", D("9000"), date(2024, 2, 20))
    r2 = Repayment("r2", D("30000"), date(2024, 3, 10))
    r3 = Repayment("r3", D("8000"), date(2024, 4, 25))
    chronological = replay(schedule, [r1, r2, r3], product)
    assert replay(schedule, [r3, r1, r2], product) == chronological
    # Reversing r2 = the state built as if only r1 and r3 had ever been applied.
    direct = LoanState.from_schedule(schedule)
    direct, _ = apply_repayment(direct, product, r1.amount, r1.paid_on, "r1")
    direct, _ = apply_repayment(direct, product, r3.amount, r3.paid_on, "r3")
    assert replay(schedule, [r1, r2, r3][::2], product) == direct
    assert direct != chronological


def test_replay_ignores_repayments_after_as_of() -> None:
    product, schedule, _ = textbook()
    r1 = Repayment("r1", LEVEL, date(2024, 2, 15))
    r2 = Repayment("r2", LEVEL, date(2024, 3, 15))
    assert replay(schedule, [r1, r2], product, date(2024, 3, 1)) == replay(
        schedule, [r1], product, date(2024, 3, 1)
    )


STRATEGIES = st.sampled_from(list(AllocationStrategy))
PREPAYMENTS = st.sampled_from(list(PrepaymentStrategy))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    allocation=STRATEGIES,
    prepayment=PREPAYMENTS,
    method=st.sampled_from(list(InterestMethod)),
    amortization=st.sampled_from(list(Amortization)),
    basis=st.sampled_from(list(DaysInYear)),
    grace=st.integers(0, 2),
    payments=st.lists(st.tuples(st.integers(0, 400), st.integers(1, 60000)), max_size=8),
    seed=st.integers(0, 1000),
)
def test_money_is_conserved_whatever_the_payments(
    allocation: AllocationStrategy,
    prepayment: PrepaymentStrategy,
    method: InterestMethod,
    amortization: Amortization,
    basis: DaysInYear,
    grace: int,
    payments: list[tuple[int, int]],
    seed: int,
) -> None:
    product = make_product(
        allocation_strategy=allocation,
        prepayment_strategy=prepayment,
        interest_method=method,
        amortization=amortization,
        days_in_year=basis,
        grace_on_principal=grace,
        grace_on_interest=grace,
        recover_grace_interest=bool(seed % 2),
        installment_fee=D("20"),
        late_penalty=FLAT_100,
    )
    schedule = generate_schedule(product, D("100000"), 12, START)
    repayments = [
        Repayment(f"r{i}", D(amount), START + timedelta(days=offset))
        for i, (offset, amount) in enumerate(payments)
    ]
    state = replay(schedule, repayments, product)
    paid = sum((r.amount for r in repayments), D(0))
    allocated = sum((a.allocation.total for a in state.applied), D(0))
    assert allocated == paid
    assert state.paid.total + state.overpayment == paid
    # Principal: every unit is scheduled once, and paid at most once.
    assert sum(i.principal for i in state.installments) == D("100000")
    assert state.paid.principal + state.principal_outstanding == D("100000")
    for inst in state.installments:
        for owed in (inst.principal, inst.interest, inst.fees, inst.penalties):
            assert owed >= 0
        assert min(inst.outstanding.principal, inst.outstanding.interest) >= 0
        assert min(inst.outstanding.fees, inst.outstanding.penalties) >= 0
    if state.overpayment > 0:
        assert state.is_settled
    shuffled = list(repayments)
    random.Random(seed).shuffle(shuffled)
    if len({r.paid_on for r in repayments}) == len(repayments):
        assert replay(schedule, shuffled, product) == state


@pytest.mark.parametrize("strategy", list(PrepaymentStrategy))
def test_reamortized_interest_uses_the_day_count(strategy: PrepaymentStrategy) -> None:
    # actual/365: after a prepayment, each later period's interest is its opening balance
    # x 12% x actual days / 365.
    product = make_product(days_in_year=DaysInYear.DAYS_365, prepayment_strategy=strategy)
    schedule = generate_schedule(product, D("100000"), 12, START)
    first = schedule.installments[0].total
    state, _ = apply_repayment(
        LoanState.from_schedule(schedule), product, first + D("20000"), date(2024, 2, 15)
    )
    rows = state.installments
    for k in range(2, len(rows)):
        opening = sum((r.principal_outstanding for r in rows[k:]), D(0))
        days = (rows[k].due_date - rows[k].start_date).days
        assert rows[k].interest == (opening * D("0.12") * days / 365).quantize(CENT)


def test_reamortized_interest_across_new_year_actual_actual() -> None:
    product = make_product(
        days_in_year=DaysInYear.ACTUAL, prepayment_strategy=PrepaymentStrategy.REDUCE_INSTALLMENT
    )
    schedule = generate_schedule(product, D("100000"), 6, date(2023, 10, 15))
    state, _ = apply_repayment(
        LoanState.from_schedule(schedule),
        product,
        schedule.installments[0].total + D("30000"),
        date(2023, 11, 15),
    )
    third = state.installments[2]  # Dec 15, 2023 -> Jan 15, 2024
    opening = sum((r.principal_outstanding for r in state.installments[2:]), D(0))
    fraction = D(17) / 365 + D(14) / 366
    assert third.interest == (opening * D("0.12") * fraction).quantize(CENT)
