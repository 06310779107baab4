"""A loan stored and read back is the same loan: schedule, state and repayment tables."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loan_service.adapters.serialization import (
    allocation_to_doc,
    contributions_from_doc,
    contributions_to_doc,
    first_allocations,
    loan_from_doc,
    loan_to_doc,
    stored_repayments,
)
from loan_service.domain.allocation import replay
from loan_service.domain.lifecycle import Loan
from loan_service.domain.state import LoanState
from tests.support.loan_products import make_product

pytestmark = pytest.mark.unit

DISBURSED = date(2024, 1, 15)
LIMITS = {"branch_manager": D("10000000")}


def active_loan(term: int) -> Loan:
    loan = Loan.submit(
        id="loan-1",
        borrower_id="b-1",
        product=make_product(),
        principal=D("50000"),
        term=term,
        created_by="agent-7",
    )
    loan.approve("manager-2", approver_role="branch_manager", approval_limits=LIMITS)
    loan.disburse(DISBURSED)
    return loan


def stored(loan: Loan, allocations: dict[str, dict[str, str]]) -> dict:
    return {"_id": loan.id, **loan_to_doc(loan, allocations)}


reasons = st.text(min_size=1, max_size=40).filter(lambda r: r.strip() != "")


@settings(max_examples=60, deadline=None)
@given(
    term=st.integers(min_value=1, max_value=60),
    payments=st.lists(
        st.tuples(st.integers(min_value=1, max_value=9000), st.integers(0, 400)),
        min_size=0,
        max_size=12,
    ),
    reversed_reasons=st.lists(st.one_of(st.none(), reasons), max_size=12),
    refund_percents=st.lists(st.integers(min_value=1, max_value=100), max_size=3),
)
def test_a_loan_read_back_is_the_loan_that_was_stored(
    term: int,
    payments: list[tuple[int, int]],
    reversed_reasons: list[str | None],
    refund_percents: list[int],
) -> None:
    loan = active_loan(term)
    allocations: dict[str, dict[str, str]] = {}
    for n, (amount, days) in enumerate(payments):
        if loan.status.value != "active":
            break
        payment_id = f"pay_{n}"
        split = loan.apply_repayment(payment_id, D(amount), DISBURSED + timedelta(days=days))
        allocations[payment_id] = allocation_to_doc(split)
    for recorded, reason in zip(list(loan.repayments), reversed_reasons, strict=False):
        if reason is not None and not recorded.reversed:
            loan.reverse_repayment(recorded.repayment.id, reason)  # any text, "|" and "\n" too
    for n, percent in enumerate(refund_percents):
        part = (loan.credit_balance() * percent / 100).quantize(D("0.01"), rounding="ROUND_DOWN")
        if part > 0:
            loan.refund_credit(f"refund_{n}", part, DISBURSED + timedelta(days=500))

    doc = stored(loan, allocations)
    again = loan_from_doc(doc)

    assert again.schedule == loan.schedule
    assert again.repayments == loan.repayments
    assert again.refunds == loan.refunds
    assert again.credit_balance() == loan.credit_balance() >= 0
    assert balances(again.state()) == balances(loan.state())
    assert first_allocations(doc) == allocations
    assert stored(again, allocations) == doc


def balances(state: LoanState) -> LoanState:
    """The state without the list of what its own replay applied (a stored loan starts from
    its checkpoint, so it replays fewer repayments to the same balances)."""
    return state.replace(applied=())


@settings(max_examples=80, deadline=None)
@given(
    paid=st.lists(
        st.tuples(st.integers(min_value=1, max_value=6000), st.integers(0, 500)),
        min_size=1,
        max_size=10,
    ),
    later=st.lists(
        st.tuples(st.integers(min_value=1, max_value=6000), st.integers(-200, 500)),
        min_size=1,
        max_size=4,
    ),
    reverse=st.lists(st.integers(min_value=0, max_value=13), max_size=3),
    as_of_days=st.integers(0, 900),
)
def test_a_loan_rebuilt_from_its_checkpoint_matches_a_full_replay(
    paid: list[tuple[int, int]],
    later: list[tuple[int, int]],
    reverse: list[int],
    as_of_days: int,
) -> None:
    """Stored after some repayments, read back, then more repayments (some back-dated, before
    the checkpoint's last one), reversals and a business date: every state equals the replay
    of all repayments from the disbursement."""
    loan = active_loan(24)
    for n, (amount, days) in enumerate(paid):
        if loan.status.value == "active":
            loan.apply_repayment(f"a{n}", D(amount), DISBURSED + timedelta(days=days))
    again = loan_from_doc(stored(loan, {}))
    assert again.checkpoint is not None
    last = max(r.repayment.paid_on for r in again.repayments)
    for n, (amount, days) in enumerate(later):
        if again.status.value == "active":
            again.apply_repayment(f"b{n}", D(amount), max(DISBURSED, last + timedelta(days=days)))
    for index in reverse:
        if index < len(again.repayments) and not again.repayments[index].reversed:
            again.reverse_repayment(again.repayments[index].repayment.id, "mistake")
    full = replay(
        again.base_state,
        [r.repayment for r in again.repayments if not r.reversed],
        again.product,
        DISBURSED + timedelta(days=as_of_days),
    )
    assert balances(again.state(DISBURSED + timedelta(days=as_of_days))) == balances(full)
    assert balances(loan_from_doc(stored(again, {})).state()) == balances(
        replay(
            again.base_state,
            [r.repayment for r in again.repayments if not r.reversed],
            again.product,
        )
    )


def test_a_loan_stored_before_its_tables_were_packed_still_reads() -> None:
    loan = active_loan(6)
    split = loan.apply_repayment("pay_a", D("5000"), DISBURSED + timedelta(days=30))
    loan.apply_repayment("pay_b", D("100"), DISBURSED + timedelta(days=31))
    loan.reverse_repayment("pay_b", "cheque bounced")
    doc = stored(loan, {"pay_a": allocation_to_doc(split)})
    doc["schedule"]["rows"] = doc["schedule"]["rows"].split("\n")
    doc["repayments"] = [
        {
            "id": "pay_a",
            "amount": "5000",
            "paid_on": "2024-02-14",
            "reversed": False,
            "reversal_reason": None,
            "segment": 0,
            "allocation": allocation_to_doc(split),
        },
        {
            "id": "pay_b",
            "amount": "100",
            "paid_on": "2024-02-15",
            "reversed": True,
            "reversal_reason": "cheque bounced",
            "segment": 0,
            "allocation": None,
        },
    ]
    del doc["reversal_reasons"]

    again = loan_from_doc(doc)

    assert again.repayments == loan.repayments
    assert balances(again.state()) == balances(loan.state())
    assert [r["reversal_reason"] for r in stored_repayments(doc)] == [None, "cheque bounced"]


@given(
    st.lists(
        st.tuples(st.text(max_size=30), st.integers(-1000, 1000), st.text(max_size=60)),
        max_size=40,
    )
)
def test_score_contributions_read_back_as_stored(rules: list[tuple[str, int, str]]) -> None:
    expected = [{"rule": r, "points": p, "note": n} for r, p, n in rules]
    assert contributions_from_doc(contributions_to_doc(rules)) == expected
    assert contributions_from_doc(expected) == expected  # a score stored as a list
    assert contributions_from_doc(None) == []
