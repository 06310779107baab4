"""The ``Payment`` aggregate's state machine (table and property tests) and its stored form
(every document ever written loads, and writes back only what changed)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from payment_service.adapters.serialization import (
    changes,
    payment_from_doc,
    payment_to_doc,
)
from payment_service.domain.payment import (
    POSTABLE,
    Assignment,
    Failure,
    IdempotencyScope,
    IllegalTransition,
    Payment,
    PaymentKind,
    PaymentStatus,
    StaleAttempt,
)
from payment_service.domain.postings import Allocation
from shared.errors import IllegalState

pytestmark = pytest.mark.unit

S = PaymentStatus
NOW = dt.datetime(2026, 3, 31, 9, 0, tzinfo=dt.UTC)
LATER = NOW + dt.timedelta(seconds=15)
EARLIER = NOW - dt.timedelta(seconds=1)


def make(
    status: PaymentStatus = S.PENDING, kind: PaymentKind = PaymentKind.REPAYMENT, **kw: Any
) -> Payment:
    values: dict[str, Any] = {
        "id": "pay_1",
        "seq": "pay_01",
        "kind": kind,
        "status": status,
        "institution_id": "inst_1",
        "branch_id": "br_1",
        "loan_id": "loan_1",
        "amount": Decimal("100.00"),
        "currency": "KES",
        "paid_on": NOW.date(),
        "create_time": NOW,
        "update_time": NOW,
        "idempotency": IdempotencyScope("k-1", "fp", caller="usr_1"),
        "lease_until": EARLIER,  # run out: only the status decides
    }
    if status is S.FAILED:
        values["failure"] = Failure("aborted", "BUSY", "busy", retryable=True)
    if status in (S.POSTED, S.REVERSING, S.REVERSED):
        values.update(entry_id="repayment:pay_1", allocation=Allocation(principal=Decimal(100)))
    values.update(kw)
    return Payment(**values)


ALLOCATION = Allocation(principal=Decimal("60.00"), interest=Decimal("40.00"))

Transition = Callable[[Payment], None]
TRANSITIONS: dict[str, Transition] = {
    "take_over": lambda p: p.take_over(attempt=p.attempt, now=NOW, lease=LATER, by="usr_2"),
    "fail": lambda p: p.fail(
        Failure("failed_precondition", "NO", "no"), attempt=p.attempt, now=NOW
    ),
    "expire_lease": lambda p: p.expire_lease(attempt=p.attempt, now=NOW),
    "post": lambda p: p.post(
        allocation=ALLOCATION,
        outstanding={"principal": Decimal("940.00")},
        loan_status=4,
        loan_id="loan_1",
        branch_id="br_1",
        entry_id="repayment:pay_1",
        now=NOW,
    ),
    "start_reversal": lambda p: p.start_reversal(reason="r", by="usr_3", now=NOW, lease=LATER),
    "cancel_reversal": lambda p: p.cancel_reversal(),
    "mark_reversed": lambda p: p.mark_reversed(
        reason="r", reversal_entry_id="reversal:repayment:pay_1", now=NOW
    ),
    "to_suspense": lambda p: p.to_suspense(
        receipt_entry_id="unidentified_receipt:pay_1", lease=None
    ),
    "lease_suspense": lambda p: p.lease_suspense(LATER),
    "claim_assignment": lambda p: p.claim_assignment(
        loan_id="loan_1", by="usr_1", now=NOW, lease=LATER, auto=False
    ),
    "release_assignment": lambda p: p.release_assignment(attempt=p.attempt, lease=None),
}

# transition: (the statuses it moves on from, the status it leaves, the events it records)
TABLE: dict[str, tuple[frozenset[PaymentStatus], PaymentStatus | None, list[str]]] = {
    "take_over": (frozenset({S.PENDING, S.FAILED}), S.PENDING, []),
    "fail": (frozenset({S.PENDING}), S.FAILED, []),
    "expire_lease": (frozenset({S.PENDING, S.ASSIGNING}), None, []),
    "post": (POSTABLE, S.POSTED, ["payment.posted"]),
    "start_reversal": (frozenset({S.POSTED}), S.REVERSING, []),
    "cancel_reversal": (frozenset({S.REVERSING}), S.POSTED, []),
    "mark_reversed": (frozenset({S.POSTED, S.REVERSING}), S.REVERSED, ["payment.reversed"]),
    "to_suspense": (frozenset({S.RECEIVED}), S.SUSPENSE, ["payment.unmatched"]),
    "lease_suspense": (frozenset({S.SUSPENSE}), S.SUSPENSE, []),
    "claim_assignment": (frozenset({S.SUSPENSE, S.ASSIGNING}), S.ASSIGNING, []),
    "release_assignment": (frozenset({S.ASSIGNING}), S.SUSPENSE, []),
}


@pytest.mark.parametrize("status", list(PaymentStatus))
@pytest.mark.parametrize("name", list(TRANSITIONS))
def test_each_transition_moves_on_from_its_statuses_only(name: str, status: PaymentStatus) -> None:
    allowed, to, events = TABLE[name]
    payment = make(status)
    before = payment_to_doc(payment)
    if status not in allowed:
        with pytest.raises(IllegalTransition) as info:
            TRANSITIONS[name](payment)
        assert isinstance(info.value, IllegalState)  # FAILED_PRECONDITION on the wire
        assert payment_to_doc(payment) == before and payment.events == []
        return
    TRANSITIONS[name](payment)
    assert payment.status is (to or status)
    assert [e.routing_key for e in payment.events] == events


def test_the_posting_event_says_what_the_money_did() -> None:
    def posted(payment: Payment) -> list[str]:
        TRANSITIONS["post"](payment)
        return [e.routing_key for e in payment.events]

    assert posted(make(S.PENDING, PaymentKind.REFUND)) == ["payment.refunded"]
    assign = Assignment("loan_1", "usr_1", NOW, auto=False)
    manual = make(S.ASSIGNING, PaymentKind.MOBILE_MONEY, assign=assign)
    assert posted(manual) == ["payment.assigned"]
    auto = Assignment("loan_1", "svc:payment_service", NOW, auto=True)
    assert posted(make(S.ASSIGNING, PaymentKind.MOBILE_MONEY, assign=auto)) == ["payment.posted"]
    matched = make(S.RECEIVED, PaymentKind.MOBILE_MONEY, suggested_loan_id="loan_1")
    TRANSITIONS["to_suspense"](matched)
    assert [e.routing_key for e in matched.events] == ["payment.received"]


def test_a_posting_records_the_loan_services_answer() -> None:
    payment = make(S.FAILED)
    TRANSITIONS["post"](payment)
    assert payment.allocation == ALLOCATION and payment.outstanding == {
        "principal": Decimal("940.00")
    }
    assert (payment.entry_id, payment.lease_until, payment.failure) == (
        "repayment:pay_1",
        None,
        None,
    )
    assert payment.posted_time == NOW and payment.response is None  # the repository answers


def test_an_attempt_that_was_taken_over_can_no_longer_act() -> None:
    payment = make(S.PENDING, attempt=2)
    for act in (
        lambda p: p.fail(Failure("aborted", "X", "x"), attempt=1, now=NOW),
        lambda p: p.expire_lease(attempt=1, now=NOW),
        lambda p: p.take_over(attempt=1, now=NOW, lease=LATER, by="u"),
    ):
        with pytest.raises(StaleAttempt):
            act(payment)
    claimed = make(S.ASSIGNING, PaymentKind.MOBILE_MONEY, attempt=3)
    with pytest.raises(StaleAttempt):
        claimed.release_assignment(attempt=2, lease=None)


def test_a_take_over_waits_for_the_lease_and_never_retries_a_refusal() -> None:
    held = make(S.PENDING, lease_until=LATER)
    with pytest.raises(IllegalTransition) as info:
        TRANSITIONS["take_over"](held)
    assert info.value.reason == "PAYMENT_LEASE_HELD"
    refused = make(S.FAILED, failure=Failure("failed_precondition", "LOAN_NOT_ACTIVE", "closed"))
    with pytest.raises(IllegalTransition):
        TRANSITIONS["take_over"](refused)
    retryable = make(S.FAILED)
    TRANSITIONS["take_over"](retryable)
    assert (retryable.attempt, retryable.failure, retryable.taken_over_by) == (2, None, "usr_2")
    assert retryable.lease_until == LATER


def test_an_assignment_to_another_loan_under_way_keeps_the_receipt() -> None:
    assign = Assignment("loan_2", "usr_9", NOW, auto=False)
    busy = make(S.ASSIGNING, PaymentKind.MOBILE_MONEY, assign=assign, lease_until=LATER)
    with pytest.raises(IllegalTransition) as info:
        TRANSITIONS["claim_assignment"](busy)
    assert info.value.reason == "PAYMENT_BEING_ASSIGNED"
    same_loan = make(S.ASSIGNING, PaymentKind.MOBILE_MONEY, assign=assign, lease_until=LATER)
    same_loan.claim_assignment(loan_id="loan_2", by="usr_1", now=NOW, lease=LATER, auto=False)
    assert same_loan.attempt == 2 and same_loan.assign is not None
    assert same_loan.assign.by == "usr_1"


def test_a_refund_is_not_reversible_and_a_reversal_keeps_its_first_reason() -> None:
    with pytest.raises(IllegalTransition) as info:
        TRANSITIONS["start_reversal"](make(S.POSTED, PaymentKind.REFUND))
    assert info.value.reason == "REFUND_NOT_REVERSIBLE"
    payment = make(S.POSTED)
    payment.start_reversal(reason="keyed twice", by="usr_3", now=NOW, lease=LATER)
    payment.mark_reversed(reason="from the event", reversal_entry_id="rev", now=NOW)
    assert payment.reversal_reason == "keyed twice"


# --- properties ----------------------------------------------------------------------------

EVENTFUL = {"post", "mark_reversed", "to_suspense"}


@settings(max_examples=300, deadline=None)
@given(
    start=st.sampled_from(list(PaymentStatus)),
    kind=st.sampled_from(list(PaymentKind)),
    steps=st.lists(st.sampled_from(sorted(TRANSITIONS)), max_size=12),
)
def test_any_sequence_of_transitions_keeps_the_payment_consistent(
    start: PaymentStatus, kind: PaymentKind, steps: list[str]
) -> None:
    payment = make(start, kind)
    for name in steps:
        before = payment_to_doc(payment)
        attempt, events = payment.attempt, len(payment.events)
        try:
            TRANSITIONS[name](payment)
        except IllegalTransition:
            # A refused transition changes nothing.
            assert payment_to_doc(payment) == before and len(payment.events) == events
            continue
        assert payment.status in TABLE[name][0] | {TABLE[name][1] or payment.status}
        assert payment.attempt >= attempt
        assert len(payment.events) == events + (1 if name in EVENTFUL else 0)
        if payment.status in (S.POSTED, S.REVERSING, S.REVERSED):
            assert payment.entry_id and payment.allocation is not None
        if payment.status in (S.POSTED, S.REVERSED, S.SUSPENSE) and name != "lease_suspense":
            assert payment.lease_until is None
        if payment.status is S.FAILED:
            assert payment.failure is not None
        # Whatever it went through, its stored form loads back as the same payment.
        doc = payment_to_doc(payment)
        assert payment_to_doc(payment_from_doc(doc)) == doc


# --- the stored form -----------------------------------------------------------------------


def legacy_doc() -> dict[str, Any]:
    """A failed repayment as an older payment_service wrote it: failure field errors as
    pairs, naive datetimes, and a field this model does not know."""
    return {
        "_id": "pay_1",
        "seq": "pay_01",
        "kind": "repayment",
        "institution_id": "inst_1",
        "branch_id": "br_1",
        "loan_id": "loan_1",
        "amount": "100.50",
        "currency": "KES",
        "paid_on": "2026-03-31",
        "channel": "cash",
        "reference": "",
        "recorded_by": "usr_1",
        "request": {"loan_id": "loan_1", "amount": "100.5", "paid_on": "2026-03-31"},
        "idempotency": {"key": "k-1", "caller": "usr_1", "fingerprint": "fp"},
        "status": "failed",
        "version": 3,
        "attempt": 1,
        "lease_until": None,
        "create_time": dt.datetime(2026, 3, 31, 9, 0),
        "update_time": dt.datetime(2026, 3, 31, 9, 1),
        "request_id": "req_1",
        "allocation": None,
        "outstanding": None,
        "loan_status": 0,
        "failure": {
            "kind": "invalid_argument",
            "reason": "AMOUNT_REFUSED",
            "message": "amount: too much",
            "field_errors": [["amount", "too much"]],
            "metadata": {},
            "retryable": False,
        },
        "response": None,
        "outbox_count": 0,
        "migrated_by": "ops-2026-01",
    }


def test_an_older_document_loads_and_keeps_what_this_model_does_not_know() -> None:
    payment = payment_from_doc(legacy_doc())
    assert payment.status is S.FAILED and payment.amount == Decimal("100.50")
    assert payment.create_time.tzinfo is not None
    assert payment.failure is not None
    error = payment.failure.as_error()
    assert (error.kind, error.reason, error.field_errors) == (
        "invalid_argument",
        "AMOUNT_REFUSED",
        [("amount", "too much")],
    )
    doc = payment_to_doc(payment)
    assert doc["migrated_by"] == "ops-2026-01" and "outbox_count" not in doc
    assert doc["amount"] == "100.50" and doc["paid_on"] == "2026-03-31"
    for absent in ("entry_id", "reversal", "assign", "suggested_loan_id"):
        assert absent not in doc


def test_a_write_sets_only_what_changed() -> None:
    payment = make(S.ASSIGNING, PaymentKind.MOBILE_MONEY)
    payment.assign = Assignment("loan_1", "svc:payment_service", NOW, auto=True)
    before = payment_to_doc(payment)
    payment.release_assignment(attempt=1, lease=LATER)
    assert changes(before, payment_to_doc(payment)) == {
        "status": "suspense",
        "lease_until": LATER,
        "assign": None,  # cleared, not left behind
    }
    assert changes(before, before) == {}


@pytest.mark.parametrize("name", list(TRANSITIONS))
def test_changing_a_copy_leaves_the_payment_as_it_was(name: str) -> None:
    allowed, _, _ = TABLE[name]
    for status in allowed:
        payment = make(status, PaymentKind.MOBILE_MONEY, match={"result": "unmatched"})
        payment.outstanding, payment.request = {"principal": Decimal("1.00")}, {"amount": "1"}
        before = payment_to_doc(payment)
        twin = payment.copy()
        TRANSITIONS[name](twin)
        twin.match["result"] = "changed"  # type: ignore[index]
        twin.outstanding["principal"] = Decimal("2.00")  # type: ignore[index]
        assert payment_to_doc(payment) == before and payment.events == []
