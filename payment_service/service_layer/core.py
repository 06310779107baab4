"""What every payment use case shares: the payment document's states and its guarded
transitions, posting an applied payment to the books, booking a reversal, failures.

Payment statuses (the ``status`` field; the contract's ``PaymentStatus`` in brackets):

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

Every transition is one compare-and-set write on the payment document (guarded by its
``version``) that also carries the outgoing ``PaymentEvent`` in the document's outbox. The
journal entry of a movement is inserted *before* the transition that records it, under a
deterministic id, so a crash between the two leaves a state that the next attempt, the loan
event or the recovery completes without double-booking.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from bson import Binary

from kopa.loan.v1 import loan_pb2
from kopa.payment.v1 import events_pb2
from payment_service.adapters.peers import ALLOCATION_PARTS, Applied, LoanGateway, LoanView
from payment_service.adapters.repository import PAYMENTS, Repository
from payment_service.domain import ledger, postings
from payment_service.domain.money import format_amount
from payment_service.domain.postings import Allocation, PostingContext
from payment_service.entrypoints.mapping import payment_to_proto
from payment_service.service_layer.ledger import Books
from shared import context
from shared.errors import (
    Aborted,
    Conflict,
    DomainError,
    IllegalState,
    NotFound,
    PermissionDenied,
    Unauthenticated,
    ValidationError,
)
from shared.events import event_meta, outbox_update
from shared.ids import new_id
from shared.logging import get_logger
from shared.permissions import Principal

log = get_logger(__name__)

PENDING = "pending"
POSTED = "posted"
FAILED = "failed"
REVERSING = "reversing"
REVERSED = "reversed"
RECEIVED = "received"
SUSPENSE = "suspense"
ASSIGNING = "assigning"

KIND_REPAYMENT = "repayment"
KIND_REFUND = "refund"
KIND_MOBILE_MONEY = "mobile_money"

# States from which a confirmed application (ApplyRepayment's answer or the loan event) posts.
POSTABLE = [PENDING, FAILED, ASSIGNING, SUSPENSE, RECEIVED]

# Failure reasons of our own.
NOT_APPLIED = "NOT_APPLIED"
ALLOCATION_MISMATCH = "ALLOCATION_MISMATCH"

_ERROR_KINDS: dict[str, type[DomainError]] = {
    "invalid_argument": ValidationError,
    "not_found": NotFound,
    "already_exists": Conflict,
    "failed_precondition": IllegalState,
    "aborted": Aborted,
    "unauthenticated": Unauthenticated,
    "permission_denied": PermissionDenied,
}
# A refusal that says nothing about the payment itself: a retry may well succeed.
_TRANSIENT_KINDS = frozenset({"aborted", "unauthenticated", "resource_exhausted"})

FaultHook = Callable[[str, dict[str, Any]], Awaitable[None]]


@dataclass
class PaymentConfig:
    """Tunables (bootstrap fills them from ``Settings``)."""

    pending_timeout: dt.timedelta = dt.timedelta(seconds=15)
    idempotency_wait_seconds: float = 5.0
    poll_interval_seconds: float = 0.05
    mobile_money_secrets: Mapping[str, Sequence[bytes]] = field(default_factory=dict)
    mobile_money_tolerance_seconds: int = 300


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def aware(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def failure_of(err: DomainError, *, retryable: bool) -> dict[str, Any]:
    return {
        "kind": err.kind,
        "reason": err.reason,
        "message": err.message,
        # Sub-documents, not pairs: FerretDB refuses nested arrays (the write failed, and the
        # refusal reached the client as an internal error).
        "field_errors": [{"field": f, "message": m} for f, m in err.field_errors],
        "metadata": dict(err.metadata),
        "retryable": retryable,
    }


def error_from_failure(failure: Mapping[str, Any]) -> DomainError:
    """The stored refusal, raised again for a replay of the same request."""
    cls = _ERROR_KINDS.get(failure.get("kind", ""), IllegalState)
    return cls(
        failure.get("message", "the payment failed"),
        reason=failure.get("reason") or None,
        field_errors=[
            (fe["field"], fe["message"]) if isinstance(fe, dict) else (fe[0], fe[1])
            for fe in failure.get("field_errors", [])
        ],
        metadata=failure.get("metadata") or {},
    )


def is_auto_posting(doc: Mapping[str, Any]) -> bool:
    """Whether a receipt's assignment is payment_service posting a receipt that matched one
    loan (``mobile_money.py``), rather than a person assigning it."""
    return bool((doc.get("assign") or {}).get("auto"))


def is_transient(err: DomainError) -> bool:
    return err.kind in _TRANSIENT_KINDS


class PaymentCore:
    """Shared by the use cases: storage, books, the loan service, the relay, the clock."""

    def __init__(
        self,
        repo: Repository,
        books: Books,
        loans: LoanGateway,
        notify: Callable[[str, Any], None],
        config: PaymentConfig | None = None,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self.repo = repo
        self.books = books
        self.loans = loans
        self._notify = notify
        self.config = config or PaymentConfig()
        self.clock = clock
        # Test hook: awaited at named steps ("before_apply", "after_apply", "after_entry")
        # so a test can simulate a crash there. None in production.
        self.fault_hook: FaultHook | None = None

    async def fault(self, step: str, doc: dict[str, Any]) -> None:
        if self.fault_hook is not None:
            await self.fault_hook(step, doc)

    def now(self) -> dt.datetime:
        return self.clock()

    def request_id(self) -> str:
        return context.current().request_id or "system"

    def new_payment(self, payment_id: str, kind: str, status: str, **fields: Any) -> dict[str, Any]:
        """A payment document as first stored: leased to the attempt that creates it, nothing
        applied or answered yet, an empty outbox; ``fields`` say what it is."""
        now = self.now()
        return {
            "_id": payment_id,
            "seq": new_id("pay"),
            "kind": kind,
            **fields,
            "status": status,
            "version": 1,
            "attempt": 1,
            "lease_until": now + self.config.pending_timeout,
            "create_time": now,
            "update_time": now,
            "request_id": self.request_id(),
            "allocation": None,
            "outstanding": None,
            "loan_status": 0,
            "failure": None,
            "response": None,
            "outbox": [],
            "outbox_count": 0,
        }

    async def loan_in_scope(self, p: Principal, loan_id: str) -> LoanView:
        """Where a loan lives and its currency, for the checks made before anything is stored:
        from ``loans_seen`` (the read model kept from loan events) when it knows the loan,
        else from the loan service. Both answer NOT_FOUND outside the caller's scope. The loan
        service checks the scope again when the money is applied, so a read model one branch
        transfer behind only moves the refusal one step later; asking the loan service every
        time cost a call and a full loan read per repayment."""
        seen = await self.repo.get_loan_seen(loan_id) if loan_id else None
        if seen is None or not seen.get("currency"):
            return await self.loans.get(loan_id)
        if not p.can_access(seen["institution_id"], seen.get("branch_id") or None):
            raise NotFound(f"loan {loan_id} not found", reason="LOAN_NOT_FOUND")
        return LoanView(
            loan_id=loan_id,
            institution_id=seen["institution_id"],
            branch_id=seen.get("branch_id") or "",
            borrower_id=seen.get("borrower_id") or "",
            status=loan_pb2.LoanStatus.Value(f"LOAN_STATUS_{seen['status'].upper()}"),
            currency=seen["currency"],
        )

    # --- guarded transitions ---------------------------------------------------------------

    def _event(self, kind: str, after: dict[str, Any]) -> events_pb2.PaymentEvent:
        return events_pb2.PaymentEvent(
            meta=event_meta(
                kind,
                institution_id=after["institution_id"],
                branch_id=after.get("branch_id", ""),
                aggregate_id=after["_id"],
                aggregate_version=after["version"],
            ),
            payment=payment_to_proto(after),
        )

    async def transition(
        self,
        payment_id: str,
        allowed: Iterable[str],
        build: Callable[[dict[str, Any]], dict[str, Any] | None],
        *,
        event: str | None = None,
        attempts: int = 10,
        known: dict[str, Any] | None = None,
    ) -> tuple[dict[str, Any] | None, bool]:
        """Moves the payment on if its status is in ``allowed``: ``build(doc)`` returns the
        fields to set (or None to leave it). Compare-and-set on ``version``, retried when
        another writer got there first. ``known``: the document as the caller last saw it,
        tried first instead of reading it again (a stale one costs one missed update).
        Returns (the document as it now is, whether this call changed it)."""
        allowed = list(allowed)
        for _ in range(attempts):
            doc = known if known is not None else await self.repo.get_payment(payment_id)
            known = None
            if doc is None or doc.get("status") not in allowed:
                return doc, False
            fields = build(doc)
            if fields is None:
                return doc, False
            fields = {**fields, "update_time": self.now()}
            after = {**doc, **fields, "version": doc["version"] + 1}
            update: dict[str, Any] = {"$set": fields}
            if event is not None:
                update.update(outbox_update([self._event(event, after)]))
                update.setdefault("$inc", {})["version"] = 1
            else:
                update["$inc"] = {"version": 1}
            updated = await self.repo.update_payment(
                payment_id, {"version": doc["version"]}, update
            )
            if updated is not None:
                if event is not None:
                    self._notify(PAYMENTS, payment_id)
                return updated, True
        raise Aborted("the payment is being changed concurrently; retry")

    # --- posting ---------------------------------------------------------------------------

    def allocation_for(self, doc: dict[str, Any], applied: Applied) -> Allocation:
        """The loan service's split of the payment. The money received is a fact: anything it
        left unallocated is held for the borrower (overpayment); allocating more than was
        paid is refused."""
        parts = {name: applied.part(name) for name in ALLOCATION_PARTS}
        amount = Decimal(doc["amount"])
        total = sum(parts.values(), Decimal(0))
        if total > amount:
            raise IllegalState(
                f"the loan service allocated {total} of a payment of {amount}",
                reason=ALLOCATION_MISMATCH,
            )
        if total < amount:
            log.warning(
                "allocation_short",
                payment_id=doc["_id"],
                amount=str(amount),
                allocated=str(total),
            )
            parts["overpayment"] += amount - total
        return Allocation(**parts)

    def posting_context(self, chart: ledger.ChartOfAccounts, date: dt.date) -> PostingContext:
        return PostingContext(chart, date, self.now(), self.request_id())

    async def post_applied(
        self, doc: dict[str, Any], applied: Applied, *, loan_id: str = ""
    ) -> dict[str, Any]:
        """Step (c): books the entry (a repayment, a refund, or for mobile money the suspense
        assignment), then marks the payment posted with its event. Idempotent: the entry id
        is deterministic and the transition is guarded, so any number of callers (the
        request, a retry, the loan event, the recovery) book it once."""
        institution_id = doc["institution_id"]
        chart = await self.books.chart(institution_id, doc["currency"])
        allocation = self.allocation_for(doc, applied)
        loan_id = loan_id or doc.get("loan_id") or (doc.get("assign") or {}).get("loan_id", "")
        if doc["kind"] == KIND_MOBILE_MONEY:
            assigned_on = max(self.now().date(), dt.date.fromisoformat(doc["paid_on"]))
            entry = postings.suspense_assignment(
                self.posting_context(chart, assigned_on),
                assignment_id=doc["_id"],
                loan_id=loan_id,
                allocation=allocation,
            )
            # A matched receipt that payment_service posted itself is a posting like any
            # repayment; one a person assigned out of suspense is an assignment.
            event = "payment.posted" if is_auto_posting(doc) else "payment.assigned"
        elif doc["kind"] == KIND_REFUND:
            entry = postings.overpayment_refund(
                self.posting_context(chart, dt.date.fromisoformat(doc["paid_on"])),
                refund_id=doc["_id"],
                amount=Decimal(doc["amount"]),
                channel=doc["channel"],
                loan_id=loan_id,
            )
            event = "payment.refunded"
        else:
            entry = postings.repayment(
                self.posting_context(chart, dt.date.fromisoformat(doc["paid_on"])),
                payment_id=doc["_id"],
                loan_id=loan_id,
                channel=doc["channel"],
                allocation=allocation,
            )
            event = "payment.posted"
        branch_id = applied.branch_id or doc.get("branch_id", "")
        if doc["kind"] == KIND_MOBILE_MONEY:  # the receipt comes first, whoever posts
            await self.book_receipt_entry(doc)
        await self.books.record(entry, branch_id=branch_id, applied=applied.as_doc())
        await self.fault("after_entry", doc)

        def build(current: dict[str, Any]) -> dict[str, Any]:
            fields: dict[str, Any] = {
                "status": POSTED,
                "loan_id": loan_id,
                "branch_id": branch_id,
                "allocation": {
                    k: format_amount(getattr(allocation, k), doc["currency"])
                    for k in ALLOCATION_PARTS
                },
                "outstanding": applied.outstanding,
                "loan_status": applied.loan_status,
                "entry_id": entry.id,
                "lease_until": None,
                "failure": None,
                "posted_time": self.now(),
            }
            shown = {**current, **fields}
            fields["response"] = Binary(payment_to_proto(shown).SerializeToString())
            return fields

        updated, changed = await self.transition(
            doc["_id"], POSTABLE, build, event=event, known=doc
        )
        if changed:
            log.info("payment_posted", payment_id=doc["_id"], loan_id=loan_id, entry_id=entry.id)
        assert updated is not None
        return updated

    async def book_receipt_entry(self, doc: dict[str, Any]) -> ledger.JournalEntry:
        """A mobile-money receipt's entry, Dr mobile-money wallet, Cr suspense (once)."""
        chart = await self.books.chart(doc["institution_id"], doc["currency"])
        entry = postings.unidentified_receipt(
            self.posting_context(chart, dt.date.fromisoformat(doc["paid_on"])),
            receipt_id=doc["_id"],
            amount=Decimal(doc["amount"]),
            channel=postings.Channel.MOBILE_MONEY,
            memo=(
                f"Mobile money {doc.get('provider_transaction_id', '')} from "
                f"{doc.get('payer_phone', '')}, reference {doc.get('reference', '')}"
            ),
        )
        await self.books.record(entry)
        return entry

    async def post_from_entry(self, doc: dict[str, Any]) -> dict[str, Any] | None:
        """Completes a payment whose entry was booked but which was not marked posted (the
        entry carries the loan service's answer). None when there is no entry."""
        for kind in ("repayment", "suspense_assignment", "overpayment_refund"):
            entry = await self.books.entry_doc(f"{kind}:{doc['_id']}")
            if entry is not None and entry.get("applied"):
                return await self.post_applied(doc, Applied.from_doc(entry["applied"]))
        return None

    # --- failure ---------------------------------------------------------------------------

    async def mark_failed(
        self, doc: dict[str, Any], err: DomainError, *, retryable: bool
    ) -> dict[str, Any] | None:
        """A repayment the loan service refused (or never confirmed, when ``retryable``)."""
        failure = failure_of(err, retryable=retryable)

        def build(current: dict[str, Any]) -> dict[str, Any] | None:
            if current.get("attempt") != doc.get("attempt"):
                return None  # another attempt took over meanwhile
            return {
                "status": FAILED,
                "failure": failure,
                # A retryable failure may be taken over at once by a retry with the same key.
                "lease_until": self.now() if retryable else None,
                "response": None,
            }

        updated, changed = await self.transition(doc["_id"], [PENDING], build)
        if changed:
            log.info(
                "payment_failed", payment_id=doc["_id"], reason=err.reason, retryable=retryable
            )
        return updated

    # --- reversal --------------------------------------------------------------------------

    async def book_reversal(self, doc: dict[str, Any], reason: str) -> dict[str, Any]:
        """Books the compensating entry of the payment's entry (never deletes) and marks the
        payment reversed with its event. Idempotent like ``post_applied``."""
        original = await self.books.entry(doc["entry_id"])
        if original is None:
            raise IllegalState(
                f"payment {doc['_id']} has no booked entry to reverse", reason="ENTRY_MISSING"
            )
        date = max(self.now().date(), original.date)
        reversal = ledger.reverse(
            original,
            date=date,
            posted_at=self.now(),
            request_id=self.request_id(),
            memo=f"Reversal of {original.id}: {reason}",
        )
        await self.books.record(reversal, branch_id=doc.get("branch_id", ""))

        def build(current: dict[str, Any]) -> dict[str, Any]:
            return {
                "status": REVERSED,
                "reversal_reason": current.get("reversal", {}).get("reason") or reason,
                "reversal_entry_id": reversal.id,
                "lease_until": None,
                "reversed_time": self.now(),
            }

        updated, changed = await self.transition(
            doc["_id"], [POSTED, REVERSING], build, event="payment.reversed"
        )
        if changed:
            log.info("payment_reversed", payment_id=doc["_id"], entry_id=reversal.id)
        assert updated is not None
        return updated
