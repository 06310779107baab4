"""What every payment use case shares: creating a payment, moving it on through the unit
of work, posting an applied payment to the books, booking a reversal, failures.

The statuses and the transitions between them belong to the ``Payment`` aggregate
(``domain.payment``, where the table of statuses is). Every transition is one
compare-and-set write on the payment document (guarded by its ``version``) that also
carries the outgoing ``PaymentEvent`` in the document's outbox (``unit_of_work.py``). The
journal entry of a movement is inserted *before* the transition that records it, under a
deterministic id, so a crash between the two leaves a state that the next attempt, the loan
event or the recovery completes without double-booking.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from payment_service.domain import ledger, postings
from payment_service.domain.loans import ALLOCATION_PARTS, Applied, LoanView
from payment_service.domain.payment import (
    Failure,
    IdempotencyScope,
    Payment,
    PaymentKind,
    PaymentStatus,
)
from payment_service.domain.postings import Allocation, PostingContext
from payment_service.service_layer.ledger import Books
from payment_service.service_layer.ports import AbstractLoanGateway, AbstractRepository
from payment_service.service_layer.unit_of_work import Mutation, PaymentUnitOfWork
from shared import context, money
from shared.errors import DomainError, IllegalState, NotFound
from shared.ids import new_id
from shared.logging import get_logger
from shared.lru import Lru
from shared.permissions import Principal

log = get_logger(__name__)

#: How many recently posted payment ids `posted_here` keeps (about 0.5 MB).
LOANS_PLACED_KEPT = 10_000
POSTED_HERE_KEPT = 10_000
#: How long a loan event waits for this process's request still driving its payment.
DRIVING_WAIT_SECONDS = 5.0


# Failure reasons of our own.
NOT_APPLIED = "NOT_APPLIED"
ALLOCATION_MISMATCH = "ALLOCATION_MISMATCH"

FaultHook = Callable[[str, Payment], Awaitable[None]]


@dataclass
class PaymentConfig:
    """Tunables (bootstrap fills them from ``Settings``)."""

    pending_timeout: dt.timedelta = dt.timedelta(seconds=15)
    idempotency_wait_seconds: float = 5.0
    poll_interval_seconds: float = 0.05
    mobile_money_secrets: Mapping[str, Sequence[bytes]] = field(default_factory=dict)
    mobile_money_tolerance_seconds: int = 300


def utcnow() -> dt.datetime:
    """Now, to the millisecond: BSON dates keep milliseconds, so a payment's times read the
    same before and after it is stored (a first answer and its replay are identical)."""
    now = dt.datetime.now(dt.UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def aware(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def is_auto_posting(payment: Payment) -> bool:
    """Whether a receipt's assignment is payment_service posting a receipt that matched one
    loan (``mobile_money.py``), rather than a person assigning it."""
    return payment.is_auto_posting


class PaymentCore:
    """Shared by the use cases: storage, books, the loan service, the relay, the clock."""

    def __init__(
        self,
        repo: AbstractRepository,
        books: Books,
        loans: AbstractLoanGateway,
        notify: Callable[[str], None],
        config: PaymentConfig | None = None,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self.repo = repo
        self.books = books
        self.loans = loans
        self.config = config or PaymentConfig()
        self.clock = clock
        self.uow = PaymentUnitOfWork(repo, notify, self.now)
        # Payments this process posted lately, oldest first (at most POSTED_HERE_KEPT): the
        # loan event each of them causes then needs no read to learn there is nothing to heal.
        self._posted_here: Lru[str, bool] = Lru(POSTED_HERE_KEPT)
        # Where loans live and their currency, by loan id (at most LOANS_PLACED_KEPT, least
        # recently used first): see `loan_in_scope`.
        self._placed: Lru[str, LoanView] = Lru(LOANS_PLACED_KEPT)
        # Payments a request of this process is driving (steps (b) and (c)), set when done.
        self._driving: dict[str, asyncio.Event] = {}
        # Test hook: awaited at named steps ("before_apply", "after_apply", "after_entry")
        # so a test can simulate a crash there. None in production.
        self.fault_hook: FaultHook | None = None

    async def fault(self, step: str, payment: Payment) -> None:
        if self.fault_hook is not None:
            await self.fault_hook(step, payment)

    def now(self) -> dt.datetime:
        return self.clock()

    def posted_here(self, payment_id: str) -> bool:
        """Whether this process saw the payment posted (a posted payment stays posted or
        becomes reversed: either way a ``loan.repayment_applied`` has nothing to heal)."""
        return payment_id in self._posted_here

    @contextlib.contextmanager
    def driving(self, payment_id: str) -> Iterator[None]:
        """Marks the payment as being driven by a request of this process until the block
        ends (however it ends)."""
        done = self._driving[payment_id] = asyncio.Event()
        try:
            yield
        finally:
            del self._driving[payment_id]
            done.set()

    async def after_driving(self, payment_id: str) -> None:
        """Waits (at most `DRIVING_WAIT_SECONDS`) for a request of this process that is
        driving the payment. The loan's event of a repayment often arrives while the request
        that applied it is still booking it: healing it then would only read the payment
        and collide with the request's own entry and posting."""
        done = self._driving.get(payment_id)
        if done is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), DRIVING_WAIT_SECONDS)

    def _remember_posted(self, payment_id: str) -> None:
        self._posted_here.put(payment_id, True)

    def lease(self) -> dt.datetime:
        """Until when an attempt starting now owns the payment."""
        return self.now() + self.config.pending_timeout

    def request_id(self) -> str:
        return context.current().request_id or "system"

    def new_payment(
        self,
        payment_id: str,
        kind: PaymentKind,
        status: PaymentStatus,
        *,
        institution_id: str,
        amount: Decimal,
        currency: str,
        paid_on: dt.date,
        idempotency: IdempotencyScope,
        **fields: Any,
    ) -> Payment:
        """A payment as first stored: leased to the attempt that creates it, nothing applied
        or answered yet; ``fields`` say what it is."""
        now = self.now()
        return Payment(
            id=payment_id,
            seq=new_id("pay"),
            kind=kind,
            status=status,
            institution_id=institution_id,
            amount=amount,
            currency=currency,
            paid_on=paid_on,
            idempotency=idempotency,
            version=1,
            attempt=1,
            lease_until=now + self.config.pending_timeout,
            create_time=now,
            update_time=now,
            request_id=self.request_id(),
            **fields,
        )

    async def loan_in_scope(self, p: Principal, loan_id: str) -> LoanView:
        """Where a loan lives and its currency, for the checks made before anything is stored:
        from ``loans_seen`` (the read model kept from loan events) when it knows the loan,
        else from the loan service. Both answer NOT_FOUND outside the caller's scope. The loan
        service checks the scope again when the money is applied, so a read model one branch
        transfer behind only moves the refusal one step later; asking the loan service every
        time cost a call and a full loan read per repayment. What a loan's place and currency
        are is held in memory once read (they change only by a branch transfer, which the
        loan events this replica sees drop, see `loan_moved`); its ``status`` is as first
        read, so nothing here relies on it."""
        view = self._placed.get(loan_id)
        if view is None:
            view = await self._place(loan_id)
            self._placed.put(loan_id, view)
        if not p.can_access(view.institution_id, view.branch_id or None):
            raise NotFound(f"loan {loan_id} not found", reason="LOAN_NOT_FOUND")
        return view

    async def _place(self, loan_id: str) -> LoanView:
        seen = await self.repo.get_loan_seen(loan_id) if loan_id else None
        if seen is None or not seen.get("currency"):
            return await self.loans.get(loan_id)
        return LoanView(
            loan_id=loan_id,
            institution_id=seen["institution_id"],
            branch_id=seen.get("branch_id") or "",
            borrower_id=seen.get("borrower_id") or "",
            status=seen["status"],
            currency=seen["currency"],
        )

    def loan_moved(self, loan_id: str) -> None:
        """A loan event changed what ``loans_seen`` keeps of the loan: read it again."""
        self._placed.pop(loan_id)

    # --- guarded transitions ---------------------------------------------------------------

    async def transition(
        self, payment_id: str, mutate: Mutation, *, known: Payment | None = None
    ) -> tuple[Payment | None, bool]:
        """Moves the payment on with ``mutate`` (the aggregate's transitions), in one write
        with the events it causes; see ``PaymentUnitOfWork.change``."""
        return await self.uow.change(payment_id, mutate, known=known)

    # --- posting ---------------------------------------------------------------------------

    def allocation_for(self, payment: Payment, applied: Applied) -> Allocation:
        """The loan service's split of the payment. The money received is a fact: anything it
        left unallocated is held for the borrower (overpayment); allocating more than was
        paid is refused."""
        parts = {name: applied.part(name) for name in ALLOCATION_PARTS}
        amount = payment.amount
        total = sum(parts.values(), Decimal(0))
        if total > amount:
            raise IllegalState(
                f"the loan service allocated {total} of a payment of {amount}",
                reason=ALLOCATION_MISMATCH,
            )
        if total < amount:
            log.warning(
                "allocation_short",
                payment_id=payment.id,
                amount=str(amount),
                allocated=str(total),
            )
            parts["overpayment"] += amount - total
        return Allocation(**parts)

    def posting_context(self, chart: ledger.ChartOfAccounts, date: dt.date) -> PostingContext:
        return PostingContext(chart, date, self.now(), self.request_id())

    async def post_applied(
        self, payment: Payment, applied: Applied, *, loan_id: str = ""
    ) -> Payment:
        """Step (c): books the entry (a repayment, a refund, or for mobile money the suspense
        assignment), then marks the payment posted with its event. Idempotent: the entry id
        is deterministic and the transition is guarded, so any number of callers (the
        request, a retry, the loan event, the recovery) book it once."""
        chart = await self.books.chart(payment.institution_id, payment.currency)
        allocation = self.allocation_for(payment, applied)
        assigned = payment.assign.loan_id if payment.assign is not None else ""
        loan_id = loan_id or payment.loan_id or assigned
        if payment.kind is PaymentKind.MOBILE_MONEY:
            assigned_on = max(self.now().date(), payment.paid_on)
            entry = postings.suspense_assignment(
                self.posting_context(chart, assigned_on),
                assignment_id=payment.id,
                loan_id=loan_id,
                allocation=allocation,
            )
        elif payment.kind is PaymentKind.REFUND:
            entry = postings.overpayment_refund(
                self.posting_context(chart, payment.paid_on),
                refund_id=payment.id,
                amount=payment.amount,
                channel=payment.channel,
                loan_id=loan_id,
            )
        else:
            entry = postings.repayment(
                self.posting_context(chart, payment.paid_on),
                payment_id=payment.id,
                loan_id=loan_id,
                channel=payment.channel,
                allocation=allocation,
            )
        branch_id = applied.branch_id or payment.branch_id
        if payment.kind is PaymentKind.MOBILE_MONEY:  # the receipt comes first, whoever posts
            await self.book_receipt_entry(payment)
        await self.books.record(entry, branch_id=branch_id, applied=applied)
        await self.fault("after_entry", payment)
        # As shown and stored: each part with the currency's decimals.
        shown = Allocation(
            **{k: money.exact(getattr(allocation, k), payment.currency) for k in ALLOCATION_PARTS}
        )

        def post(current: Payment) -> None:
            current.post(
                allocation=shown,
                outstanding=applied.outstanding,
                loan_status=applied.loan_status,
                loan_id=loan_id,
                branch_id=branch_id,
                entry_id=entry.id,
                now=self.now(),
            )

        updated, changed = await self.transition(payment.id, post, known=payment)
        if changed:
            log.info("payment_posted", payment_id=payment.id, loan_id=loan_id, entry_id=entry.id)
        assert updated is not None
        if updated.status is PaymentStatus.POSTED:
            self._remember_posted(payment.id)
        return updated

    async def book_receipt_entry(self, payment: Payment) -> ledger.JournalEntry:
        """A mobile-money receipt's entry, Dr mobile-money wallet, Cr suspense (once)."""
        chart = await self.books.chart(payment.institution_id, payment.currency)
        entry = postings.unidentified_receipt(
            self.posting_context(chart, payment.paid_on),
            receipt_id=payment.id,
            amount=payment.amount,
            channel=postings.Channel.MOBILE_MONEY,
            memo=(
                f"Mobile money {payment.provider_transaction_id or ''} from "
                f"{payment.payer_phone or ''}, reference {payment.reference}"
            ),
        )
        await self.books.record(entry)
        return entry

    async def post_from_entry(self, payment: Payment) -> Payment | None:
        """Completes a payment whose entry was booked but which was not marked posted (the
        entry carries the loan service's answer). None when there is no entry."""
        for kind in ("repayment", "suspense_assignment", "overpayment_refund"):
            booked = await self.books.booked(f"{kind}:{payment.id}")
            if booked is not None and booked.applied is not None:
                return await self.post_applied(payment, booked.applied)
        return None

    # --- failure ---------------------------------------------------------------------------

    async def mark_failed(
        self, payment: Payment, err: DomainError, *, retryable: bool
    ) -> Payment | None:
        """A repayment the loan service refused (or never confirmed, when ``retryable``)."""
        failure = Failure.of(err, retryable=retryable)

        def fail(current: Payment) -> None:
            current.fail(failure, attempt=payment.attempt, now=self.now())

        updated, changed = await self.transition(payment.id, fail)
        if changed:
            log.info(
                "payment_failed", payment_id=payment.id, reason=err.reason, retryable=retryable
            )
        return updated

    # --- reversal --------------------------------------------------------------------------

    async def book_reversal(self, payment: Payment, reason: str) -> Payment:
        """Books the compensating entry of the payment's entry (never deletes) and marks the
        payment reversed with its event. Idempotent like ``post_applied``."""
        original = await self.books.entry(payment.entry_id or "")
        if original is None:
            raise IllegalState(
                f"payment {payment.id} has no booked entry to reverse", reason="ENTRY_MISSING"
            )
        date = max(self.now().date(), original.date)
        reversal = ledger.reverse(
            original,
            date=date,
            posted_at=self.now(),
            request_id=self.request_id(),
            memo=f"Reversal of {original.id}: {reason}",
        )
        await self.books.record(reversal, branch_id=payment.branch_id)

        def reverse(current: Payment) -> None:
            current.mark_reversed(reason=reason, reversal_entry_id=reversal.id, now=self.now())

        updated, changed = await self.transition(payment.id, reverse)
        if changed:
            log.info("payment_reversed", payment_id=payment.id, entry_id=reversal.id)
        assert updated is not None
        return updated
