"""Days past due, buckets, PAR flags, overdue amounts and idempotent late penalties."""

from datetime import date, timedelta
from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loan_service.domain.allocation import apply_repayment, replay
from loan_service.domain.arrears import (
    DEFAULT_BUCKETS,
    Bucket,
    arrears_status,
    charge_penalties,
    days_past_due,
    delinquency_bucket,
    overdue_amounts,
    par_flags,
    penalties_due,
    validate_buckets,
)
from loan_service.domain.errors import ValidationError
from loan_service.domain.products import ChargeCalculation, LatePenalty
from loan_service.domain.state import Repayment
from tests.support.loan_products import LEVEL, START, textbook

pytestmark = pytest.mark.unit


def test_days_past_due_counts_from_the_oldest_unpaid_installment() -> None:
    product, _, state = textbook()
    assert days_past_due(state, date(2024, 2, 15)) == 0  # due today is not past due
    assert days_past_due(state, date(2024, 2, 16)) == 1
    assert days_past_due(state, date(2024, 3, 20)) == 34  # Feb 15 -> Mar 20
    state, _ = apply_repayment(state, product, LEVEL, date(2024, 3, 1))
    assert days_past_due(state, date(2024, 3, 20)) == 5  # now the Mar 15 one is oldest


def test_a_partly_paid_installment_stays_past_due() -> None:
    product, _, state = textbook()
    state, _ = apply_repayment(state, product, LEVEL - D("0.01"), date(2024, 2, 15))
    assert days_past_due(state, date(2024, 2, 25)) == 10
    assert overdue_amounts(state, date(2024, 2, 25)).total == D("0.01")


def test_overdue_amounts_by_component() -> None:
    _, schedule, state = textbook()
    overdue = overdue_amounts(state, date(2024, 3, 20))
    first, second = schedule.installments[:2]
    assert overdue.principal == first.principal + second.principal
    assert overdue.interest == D("1000.00") + D("921.15")
    assert overdue.total == 2 * LEVEL


@pytest.mark.parametrize(
    ("dpd", "bucket"),
    [
        (0, "current"),
        (1, "1-30"),
        (30, "1-30"),
        (31, "31-60"),
        (60, "31-60"),
        (61, "61-90"),
        (90, "61-90"),
        (91, "91-180"),
        (180, "91-180"),
        (181, "over_180"),
        (5000, "over_180"),
    ],
)
def test_default_buckets(dpd: int, bucket: str) -> None:
    assert delinquency_bucket(dpd) == bucket


def test_custom_buckets() -> None:
    weekly = [Bucket("ok", 0, 0), Bucket("week", 1, 7), Bucket("late", 8, None)]
    validate_buckets(weekly)
    assert [delinquency_bucket(d, weekly) for d in (0, 7, 8)] == ["ok", "week", "late"]


@pytest.mark.parametrize(
    "buckets",
    [
        [Bucket("a", 1, 5), Bucket("b", 6, None)],  # does not start at 0
        [Bucket("a", 0, 5), Bucket("b", 7, None)],  # gap
        [Bucket("a", 0, 5), Bucket("b", 5, None)],  # overlap
        [Bucket("a", 0, 5), Bucket("b", 6, 9)],  # bounded at the top
        [Bucket("a", 0, None), Bucket("b", 1, None)],  # open bucket not last
        [],
    ],
)
def test_invalid_bucket_lists_are_refused(buckets: list[Bucket]) -> None:
    with pytest.raises(ValidationError):
        validate_buckets(buckets)


def test_default_buckets_are_valid() -> None:
    validate_buckets(DEFAULT_BUCKETS)


def test_par_flags_are_strictly_more_than_n_days() -> None:
    assert par_flags(0) == {1: False, 30: False, 60: False, 90: False}
    assert par_flags(1) == {1: False, 30: False, 60: False, 90: False}
    assert par_flags(30) == {1: True, 30: False, 60: False, 90: False}
    assert par_flags(31) == {1: True, 30: True, 60: False, 90: False}
    assert par_flags(91) == {1: True, 30: True, 60: True, 90: True}


def test_arrears_status_summary() -> None:
    _, _, state = textbook()
    status = arrears_status(state, date(2024, 4, 20))
    assert status.days_past_due == 65  # Feb 15 -> Apr 20
    assert status.bucket == "61-90"
    assert status.par == {1: True, 30: True, 60: True, 90: False}
    assert [(i.number, i.days_past_due) for i in status.installments] == [(1, 65), (2, 36), (3, 5)]
    assert status.overdue.total == 3 * LEVEL


# --- penalties ----------------------------------------------------------------------------

FLAT_100 = LatePenalty(ChargeCalculation.FLAT, D("100"), tolerance_days=3)
FIVE_PERCENT = LatePenalty(ChargeCalculation.PERCENT, D("5"), tolerance_days=3)


def test_flat_penalty_after_the_tolerance() -> None:
    product, _, state = textbook(late_penalty=FLAT_100)
    # Due Feb 15, three days' tolerance: Feb 18 is still fine, Feb 19 is late.
    assert charge_penalties(state, product, date(2024, 2, 18)) == state
    charged = charge_penalties(state, product, date(2024, 2, 19))
    first = charged.installments[0]
    assert (first.penalties, first.penalty_charged_on) == (D("100.00"), date(2024, 2, 19))
    assert all(i.penalties == 0 for i in charged.installments[1:])
    # The next installment (due Mar 15) triggers on Mar 19.
    later = charge_penalties(charged, product, date(2024, 3, 19))
    assert [i.penalties for i in later.installments[:3]] == [D("100.00"), D("100.00"), D(0)]


def test_charging_penalties_is_idempotent() -> None:
    product, _, state = textbook(late_penalty=FLAT_100)
    once = charge_penalties(state, product, date(2024, 5, 1))
    assert charge_penalties(once, product, date(2024, 5, 1)) == once
    # Re-running an earlier day's batch changes nothing either.
    assert charge_penalties(once, product, date(2024, 3, 1)) == once
    assert sum(i.penalties for i in once.installments) == D("300.00")  # Feb, Mar, Apr
    assert penalties_due(once, product, date(2024, 5, 1)) == penalties_due(
        state, product, date(2024, 5, 1)
    )


def test_percent_penalty_on_the_overdue_amount() -> None:
    product, _, state = textbook(late_penalty=FIVE_PERCENT)
    charged = charge_penalties(state, product, date(2024, 2, 19))
    assert charged.installments[0].penalties == D("444.24")  # 5% of 8,884.88 = 444.244
    # A part payment within the tolerance lowers the base: 5% of the 4,000 left.
    paid, _ = apply_repayment(state, product, LEVEL - D("4000"), date(2024, 2, 17))
    assert charge_penalties(paid, product, date(2024, 2, 19)).installments[0].penalties == D(
        "200.00"
    )


def test_paying_within_the_tolerance_avoids_the_penalty() -> None:
    product, schedule, _ = textbook(late_penalty=FLAT_100)
    as_of = date(2024, 3, 1)
    on_time = replay(schedule, [Repayment("r1", LEVEL, date(2024, 2, 18))], product, as_of)
    assert on_time.installments[0].penalties == 0
    late = replay(schedule, [Repayment("r1", LEVEL, date(2024, 2, 19))], product, as_of)
    assert late.installments[0].penalties == D("100.00")
    # The late payment paid the penalty first, leaving 100 of the installment unpaid.
    assert late.installments[0].penalties_paid == D("100.00")
    assert late.installments[0].scheduled_outstanding == D("100.00")


def test_replay_charges_on_the_overdue_amount_at_the_trigger_not_at_batch_time() -> None:
    # The batch never ran between the trigger (Feb 19) and the full payment (Feb 25): the
    # penalty is still 5% of what was unpaid on Feb 19.
    product, schedule, _ = textbook(late_penalty=FIVE_PERCENT)
    pay = Repayment("r1", LEVEL + D("444.24"), date(2024, 2, 25))
    state = replay(schedule, [pay], product, date(2024, 3, 1))
    first = state.installments[0]
    assert (first.penalties, first.penalties_paid) == (D("444.24"), D("444.24"))
    assert first.is_paid


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 200), st.integers(1, 12000)), min_size=0, max_size=6),
    st.integers(0, 250),
)
def test_batch_reruns_give_the_same_state(payments: list[tuple[int, int]], days: int) -> None:
    product, schedule, _ = textbook(late_penalty=FIVE_PERCENT)
    repayments = [
        Repayment(f"r{i}", D(amount), START + timedelta(days=offset))
        for i, (offset, amount) in enumerate(payments)
    ]
    as_of = START + timedelta(days=days)
    state = replay(schedule, repayments, product, as_of)
    assert replay(schedule, repayments, product, as_of) == state
    assert charge_penalties(state, product, as_of) == state
    # Running the batch for a later day twice is the same as once.
    later = as_of + timedelta(days=30)
    assert charge_penalties(charge_penalties(state, product, later), product, later) == (
        charge_penalties(state, product, later)
    )
    # At most one penalty per installment, each charged on its trigger day.
    for inst in state.installments:
        if inst.penalty_charged_on is not None:
            assert inst.penalty_charged_on == inst.due_date + timedelta(days=4)
