"""The ``Payment`` aggregate: one movement of money (a repayment, a refund of a credit
balance, a mobile-money receipt) and the state machine it goes through.

Statuses (``PaymentStatus``; the contract's ``PaymentStatus`` in brackets):

=============  ===========  =============================================================
status         contract     meaning
=============  ===========  =============================================================
``pending``    PENDING      a repayment's idempotency record: claimed, not yet confirmed
                            applied by the loan service (an attempt owns it until
                            ``lease_until``)
``posted``     POSTED       applied to the loan and booked (``entry_id``); final unless
                            reversed
``failed``     FAILED       ``failure.retryable`` false: the loan service refused (the same
                            key replays the same error); true: not applied, a retry with the
                            same key re-drives it
``reversing``  POSTED       a reversal is under way
``reversed``   REVERSED     undone at the loan service and compensated in the books
``received``   PENDING      a mobile-money callback stored, not yet booked to suspense
``suspense``   SUSPENSE     mobile money booked to suspense, waiting for AssignSuspense
``assigning``  PENDING      AssignSuspense is applying it to a loan
=============  ===========  =============================================================

Transitions (each method refuses any other with ``IllegalTransition``, and records the
event it causes in ``events``; the repository writes the payment and those events in one
atomic document write)::

    take_over          pending (lease run out) | failed (retryable) -> pending, attempt + 1
    fail               pending -> failed (retryable or terminal)
    expire_lease       pending | assigning -> same status, lease ends now
    post               pending | failed | received | suspense | assigning -> posted
                       (event payment.posted, payment.assigned or payment.refunded)
    start_reversal     posted -> reversing
    cancel_reversal    reversing -> posted
    mark_reversed      posted | reversing -> reversed (event payment.reversed)
    to_suspense        received -> suspense (event payment.received or payment.unmatched)
    lease_suspense     suspense -> suspense, with a new lease
    claim_assignment   suspense | assigning -> assigning, attempt + 1
    release_assignment assigning -> suspense

``fail``, ``expire_lease`` and ``release_assignment`` act for one attempt only (``attempt``):
once another attempt took the payment over they refuse (``StaleAttempt``).
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any, ClassVar

from payment_service.domain.postings import Allocation
from shared import errors as shared_errors

ILLEGAL_TRANSITION = "PAYMENT_ILLEGAL_TRANSITION"
STALE_ATTEMPT = "PAYMENT_STALE_ATTEMPT"
LEASE_HELD = "PAYMENT_LEASE_HELD"
PAYMENT_BEING_ASSIGNED = "PAYMENT_BEING_ASSIGNED"


class PaymentStatus(StrEnum):
    PENDING = "pending"
    POSTED = "posted"
    FAILED = "failed"
    REVERSING = "reversing"
    REVERSED = "reversed"
    RECEIVED = "received"
    SUSPENSE = "suspense"
    ASSIGNING = "assigning"


class PaymentKind(StrEnum):
    REPAYMENT = "repayment"
    REFUND = "refund"
    MOBILE_MONEY = "mobile_money"


_S = PaymentStatus  # short, for the tables below
# States from which a confirmed application (ApplyRepayment's answer or the loan event) posts.
POSTABLE = frozenset({_S.PENDING, _S.FAILED, _S.ASSIGNING, _S.SUSPENSE, _S.RECEIVED})

# A refusal that says nothing about the payment itself: a retry may well succeed.
TRANSIENT_KINDS = frozenset({"aborted", "unauthenticated", "resource_exhausted"})
_ERROR_KINDS: dict[str, type[shared_errors.DomainError]] = {
    "invalid_argument": shared_errors.ValidationError,
    "not_found": shared_errors.NotFound,
    "already_exists": shared_errors.Conflict,
    "failed_precondition": shared_errors.IllegalState,
    "aborted": shared_errors.Aborted,
    "unauthenticated": shared_errors.Unauthenticated,
    "permission_denied": shared_errors.PermissionDenied,
}


class IllegalTransition(shared_errors.IllegalState):
    """The payment's status (or lease) does not allow the change asked of it."""

    default_reason = ILLEGAL_TRANSITION


class StaleAttempt(IllegalTransition):
    """The change was asked for by an attempt that another attempt has since taken over."""

    default_reason = STALE_ATTEMPT


def is_transient(err: shared_errors.DomainError) -> bool:
    return err.kind in TRANSIENT_KINDS


# --- values ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Failure:
    """Why a payment failed: the refusal as it will be raised again for a replay."""

    kind: str
    reason: str
    message: str
    field_errors: tuple[tuple[str, str], ...] = ()
    metadata: Mapping[str, str] = field(default_factory=dict)
    retryable: bool = False

    @classmethod
    def of(cls, err: shared_errors.DomainError, *, retryable: bool) -> Failure:
        return cls(
            kind=err.kind,
            reason=err.reason,
            message=err.message,
            field_errors=tuple(err.field_errors),
            metadata=dict(err.metadata),
            retryable=retryable,
        )

    def as_error(self) -> shared_errors.DomainError:
        """The stored refusal, raised again for a replay of the same request."""
        cls = _ERROR_KINDS.get(self.kind, shared_errors.IllegalState)
        return cls(
            self.message,
            reason=self.reason or None,
            field_errors=list(self.field_errors),
            metadata=dict(self.metadata),
        )


@dataclass(frozen=True)
class IdempotencyScope:
    """The key a payment was recorded under and the fingerprint of its request; ``caller``
    for a repayment or refund, ``provider`` for a mobile-money receipt."""

    key: str
    fingerprint: str
    caller: str | None = None
    provider: str | None = None


@dataclass(frozen=True)
class Assignment:
    """Who is applying a receipt in suspense to which loan (``auto``: payment_service itself,
    posting a receipt that matched one loan)."""

    loan_id: str
    by: str
    time: dt.datetime
    auto: bool = False


@dataclass(frozen=True)
class ReversalRequest:
    reason: str
    by: str
    requested_time: dt.datetime


# --- domain events -------------------------------------------------------------------------


@dataclass(frozen=True)
class PaymentEvent:
    """Something that happened to a payment; published as its routing key's message
    (``shared.payment_events``), encoded from the payment as the change left it."""

    routing_key: ClassVar[str] = ""


@dataclass(frozen=True)
class Received(PaymentEvent):
    routing_key: ClassVar[str] = "payment.received"


@dataclass(frozen=True)
class Unmatched(PaymentEvent):
    routing_key: ClassVar[str] = "payment.unmatched"


@dataclass(frozen=True)
class Posted(PaymentEvent):
    routing_key: ClassVar[str] = "payment.posted"


@dataclass(frozen=True)
class Assigned(PaymentEvent):
    routing_key: ClassVar[str] = "payment.assigned"


@dataclass(frozen=True)
class Refunded(PaymentEvent):
    routing_key: ClassVar[str] = "payment.refunded"


@dataclass(frozen=True)
class Reversed(PaymentEvent):
    routing_key: ClassVar[str] = "payment.reversed"


# --- the aggregate -----------------------------------------------------------------------


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


@dataclass(eq=False)
class Payment:
    id: str
    seq: str
    kind: PaymentKind
    status: PaymentStatus
    institution_id: str
    amount: Decimal
    currency: str
    paid_on: dt.date
    create_time: dt.datetime
    update_time: dt.datetime
    idempotency: IdempotencyScope
    branch_id: str = ""
    loan_id: str = ""
    channel: str = ""
    reference: str = ""
    recorded_by: str = ""
    request_id: str = ""
    version: int = 1
    attempt: int = 1
    lease_until: dt.datetime | None = None
    allocation: Allocation | None = None
    outstanding: dict[str, Decimal] | None = None
    loan_status: int = 0  # kopa.loan.v1.LoanStatus, as the loan service last answered
    failure: Failure | None = None
    response: bytes | None = None
    """The answer as first given (the serialized contract message), replayed for the same
    key; recorded by the repository when the payment is posted."""
    entry_id: str | None = None
    posted_time: dt.datetime | None = None
    taken_over_by: str | None = None
    reversal: ReversalRequest | None = None
    reversal_reason: str | None = None
    reversal_entry_id: str | None = None
    reversed_time: dt.datetime | None = None
    # The original repayment request, as sent.
    request: dict[str, str] | None = None
    # Mobile money.
    receipt_entry_id: str | None = None
    assign: Assignment | None = None
    suggested_loan_id: str | None = None
    match: dict[str, Any] | None = None
    transacted_at: dt.datetime | None = None
    provider: str | None = None
    provider_transaction_id: str | None = None
    payer_phone: str | None = None
    # Stored fields this model does not know, kept as they are.
    extra: dict[str, Any] = field(default_factory=dict)
    events: list[PaymentEvent] = field(default_factory=list)

    def copy(self) -> Payment:
        """An independent copy to change (the value objects it holds are immutable, so
        they are shared; its dicts and events are not)."""
        twin = copy.copy(self)
        twin.outstanding = dict(self.outstanding) if self.outstanding is not None else None
        twin.request = dict(self.request) if self.request is not None else None
        twin.match = dict(self.match) if self.match is not None else None
        twin.extra = dict(self.extra)
        twin.events = list(self.events)
        return twin

    # --- queries -------------------------------------------------------------------------

    @property
    def retryable(self) -> bool:
        return self.failure is not None and self.failure.retryable

    @property
    def is_auto_posting(self) -> bool:
        """Whether a receipt's assignment is payment_service posting a receipt that matched
        one loan, rather than a person assigning it."""
        return self.assign is not None and self.assign.auto

    def lease_held(self, now: dt.datetime) -> bool:
        lease = _aware(self.lease_until)
        return lease is not None and lease > now

    @property
    def answered(self) -> bool:
        """Whether the request has its final answer (replayed for the same key)."""
        return self.status in (_S.POSTED, _S.REVERSING, _S.REVERSED) or (
            self.status is _S.FAILED and not self.retryable
        )

    # --- guards --------------------------------------------------------------------------

    def _require(self, *allowed: PaymentStatus, reason: str = ILLEGAL_TRANSITION) -> None:
        if self.status not in allowed:
            raise IllegalTransition(
                f"a {self.status} payment cannot go on this way "
                f"(expected {', '.join(s.value for s in allowed)})",
                reason=reason,
                metadata={"current_status": self.status.value},
            )

    def _same_attempt(self, attempt: int) -> None:
        if self.attempt != attempt:
            raise StaleAttempt(
                f"attempt {attempt} was taken over by attempt {self.attempt}",
                metadata={"current_status": self.status.value},
            )

    # --- repayments ----------------------------------------------------------------------

    def take_over(self, *, attempt: int, now: dt.datetime, lease: dt.datetime, by: str) -> None:
        """A retry with the same key takes the work over from ``attempt``: a pending payment
        whose lease ran out, or one that failed retryably."""
        self._require(_S.PENDING, _S.FAILED)
        self._same_attempt(attempt)
        if self.status is _S.FAILED and not self.retryable:
            raise IllegalTransition(
                "the payment was refused for good", metadata={"current_status": "failed"}
            )
        if self.status is _S.PENDING and self.lease_held(now):
            raise IllegalTransition(
                "another attempt holds the payment",
                reason=LEASE_HELD,
                metadata={"current_status": "pending"},
            )
        self.status = _S.PENDING
        self.attempt += 1
        self.lease_until = lease
        self.failure = None
        self.taken_over_by = by

    def fail(self, failure: Failure, *, attempt: int, now: dt.datetime) -> None:
        """The loan service refused (or never confirmed, when ``failure.retryable``)."""
        self._require(_S.PENDING)
        self._same_attempt(attempt)
        self.status = _S.FAILED
        self.failure = failure
        # A retryable failure may be taken over at once by a retry with the same key.
        self.lease_until = now if failure.retryable else None
        self.response = None

    def expire_lease(self, *, attempt: int, now: dt.datetime) -> None:
        """The loan service's answer never came: the outcome is unknown, let the next attempt
        (or the recovery) act at once."""
        self._require(_S.PENDING, _S.ASSIGNING)
        self._same_attempt(attempt)
        self.lease_until = now

    def post(
        self,
        *,
        allocation: Allocation,
        outstanding: Mapping[str, Decimal],
        loan_status: int,
        loan_id: str,
        branch_id: str,
        entry_id: str,
        now: dt.datetime,
    ) -> None:
        """Applied to the loan (the loan service's answer, or its event) and booked."""
        self._require(*POSTABLE)
        if self.kind is PaymentKind.MOBILE_MONEY:
            # A matched receipt that payment_service posted itself is a posting like any
            # repayment; one a person assigned out of suspense is an assignment.
            event: PaymentEvent = Posted() if self.is_auto_posting else Assigned()
        elif self.kind is PaymentKind.REFUND:
            event = Refunded()
        else:
            event = Posted()
        self.status = _S.POSTED
        self.loan_id = loan_id
        self.branch_id = branch_id
        self.allocation = allocation
        self.outstanding = dict(outstanding)
        self.loan_status = loan_status
        self.entry_id = entry_id
        self.lease_until = None
        self.failure = None
        self.posted_time = now
        self.response = None
        self.events.append(event)

    # --- reversal ------------------------------------------------------------------------

    def start_reversal(self, *, reason: str, by: str, now: dt.datetime, lease: dt.datetime) -> None:
        if self.kind is PaymentKind.REFUND:
            raise IllegalTransition(
                "a refund cannot be reversed; record the money coming back as a repayment",
                reason="REFUND_NOT_REVERSIBLE",
            )
        self._require(_S.POSTED, reason="PAYMENT_NOT_POSTED")
        self.status = _S.REVERSING
        self.reversal = ReversalRequest(reason=reason, by=by, requested_time=now)
        self.lease_until = lease

    def cancel_reversal(self) -> None:
        """The loan service refused (or never did) the reversal: back to posted."""
        self._require(_S.REVERSING)
        self.status = _S.POSTED
        self.lease_until = None

    def mark_reversed(self, *, reason: str, reversal_entry_id: str, now: dt.datetime) -> None:
        """Undone at the loan service and compensated in the books (``reversal_entry_id``)."""
        self._require(_S.POSTED, _S.REVERSING, reason="PAYMENT_NOT_POSTED")
        requested = self.reversal.reason if self.reversal is not None else ""
        self.status = _S.REVERSED
        self.reversal_reason = requested or reason
        self.reversal_entry_id = reversal_entry_id
        self.lease_until = None
        self.reversed_time = now
        self.events.append(Reversed())

    # --- mobile money --------------------------------------------------------------------

    def to_suspense(self, *, receipt_entry_id: str, lease: dt.datetime | None) -> None:
        """A receipt booked to suspense; ``lease`` when payment_service will post it itself
        (so that the recovery does, should this process stop first)."""
        self._require(_S.RECEIVED)
        self.status = _S.SUSPENSE
        self.receipt_entry_id = receipt_entry_id
        self.lease_until = lease
        self.events.append(Received() if self.suggested_loan_id else Unmatched())

    def lease_suspense(self, until: dt.datetime | None) -> None:
        """Set (or clear) when the recovery next looks at a receipt in suspense."""
        self._require(_S.SUSPENSE)
        self.lease_until = until

    def claim_assignment(
        self, *, loan_id: str, by: str, now: dt.datetime, lease: dt.datetime, auto: bool
    ) -> None:
        """Claims the receipt to apply it to ``loan_id``; an assignment to another loan under
        way (its lease alive) keeps it."""
        self._require(_S.SUSPENSE, _S.ASSIGNING, reason="PAYMENT_NOT_IN_SUSPENSE")
        if self.status is _S.ASSIGNING:
            current = self.assign.loan_id if self.assign is not None else None
            if current != loan_id and self.lease_held(now):
                raise IllegalTransition(
                    "this payment is being assigned to another loan",
                    reason=PAYMENT_BEING_ASSIGNED,
                    metadata={"current_status": self.status.value},
                )
        self.status = _S.ASSIGNING
        self.assign = Assignment(loan_id=loan_id, by=by, time=now, auto=auto)
        self.attempt += 1
        self.lease_until = lease

    def release_assignment(self, *, attempt: int, lease: dt.datetime | None) -> None:
        """An assignment that did not happen: back to suspense (leased, to be tried again)."""
        self._require(_S.ASSIGNING)
        self._same_attempt(attempt)
        self.status = _S.SUSPENSE
        self.assign = None
        self.lease_until = lease
