"""Loan events: the books of what loan_service did, the loans read model, and healing.

Every ``loan.*`` event that can change what it keeps (not those in `KEEP_LOANS_SEEN`) refreshes
``loans_seen`` (used to match mobile-money references, to scope loan statements and to check a
repayment before it is applied; an older event never overwrites a newer one). Then, by
routing key:

- ``loan.disbursed``: the disbursement entry ``disbursement:<loan_id>``: Dr portfolio, Cr the
  channel (``cash`` when the event names none) for ``disbursed_net``, Cr fee income for the
  fees deducted (``principal - disbursed_net``, else ``fees_deducted``). A fee financed into
  the loan shows as outstanding principal above the contract principal in the event's
  position and is capitalised (Dr portfolio, Cr fee income).
- ``loan.written_off``: ``write_off:<loan_id>``: Dr write-off expense, Cr portfolio for the
  principal written off (else the position's outstanding principal); on accrual basis also
  reverses the loan's unpaid receivables from the books.
- ``loan.repayment_applied``: the payment named by ``payment_id``, if not yet posted, is
  booked and marked posted from the event's allocation (the crash-between-(b)-and-(c) heal).
- ``loan.repayment_reversed``: a posted (or reversing) payment gets its compensating entry
  and becomes reversed.

All of it is idempotent (deterministic entry ids, guarded transitions), so a redelivered
event changes nothing.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from payment_service.domain import postings
from payment_service.domain.ledger import AccountRole, IncomeRecognition
from payment_service.domain.loans import LoanEventData
from payment_service.domain.payment import POSTABLE, Payment, PaymentStatus
from payment_service.service_layer.core import PaymentCore
from shared.logging import get_logger

log = get_logger(__name__)

BINDINGS = ["loan.*"]
ZERO = Decimal(0)


def _day(event: LoanEventData) -> dt.date:
    return event.business_date or dt.datetime.now(dt.UTC).date()


#: Loan events whose write changes nothing ``loans_seen`` keeps (institution, branch,
#: borrower, status, currency): a status change always comes with an event of its own in the
#: same write (``loan.closed`` beside the repayment that settles the loan, ``loan.reopened``
#: beside the reversal), so skipping these costs the read model nothing but the newest
#: version, and saves a write per repayment.
KEEP_LOANS_SEEN = frozenset(
    {
        "loan.repayment_applied",
        "loan.repayment_reversed",
        "loan.credit_refunded",
        "loan.installment_overdue",
        "loan.reclassified",
        "loan.rescheduled",
    }
)


class LoanEvents:
    def __init__(self, core: PaymentCore) -> None:
        self.core = core
        self.repo = core.repo

    async def handle(self, event: LoanEventData) -> None:
        if event.loan.id and event.routing_key not in KEEP_LOANS_SEEN:
            await self._remember(event)
        routing_key = event.routing_key
        if routing_key == "loan.disbursed":
            await self._disbursed(event)
        elif routing_key == "loan.written_off":
            await self._written_off(event)
        elif routing_key in ("loan.repayment_applied", "loan.credit_refunded"):
            await self._repayment_applied(event)
        elif routing_key == "loan.repayment_reversed":
            await self._repayment_reversed(event)

    async def _remember(self, event: LoanEventData) -> None:
        loan = event.loan
        self.core.loan_moved(loan.id)
        version = event.aggregate_version or event.occurred_at_ms
        await self.repo.upsert_loan_seen(
            {
                "_id": loan.id,
                "ref": loan.id.upper(),
                "institution_id": event.institution_id,
                "branch_id": loan.branch_id or event.branch_id,
                "borrower_id": loan.borrower_id,
                "status": loan.status,
                "currency": loan.currency,
                "version": int(version),
                "update_time": self.core.now(),
            }
        )

    async def _disbursed(self, event: LoanEventData) -> None:
        loan = event.loan
        chart = await self.core.books.chart(event.institution_id, loan.currency)
        principal = event.principal
        if event.disbursed_net is not None:
            deducted = principal - event.disbursed_net
            if event.fees_deducted and event.fees_deducted != deducted:
                log.warning(
                    "disbursement_fees_inconsistent",
                    loan_id=loan.id,
                    fees_deducted=str(event.fees_deducted),
                    disbursed_net=str(event.disbursed_net),
                )
        else:
            deducted = event.fees_deducted
        financed = max(loan.outstanding_principal - principal, ZERO)
        ctx = self.core.posting_context(chart, _day(event))
        entry = postings.disbursement(
            ctx,
            loan_id=loan.id,
            principal=principal,
            channel=event.channel or "cash",
            deducted_fees=deducted,
            financed_fees=financed,
        )
        await self.core.books.record(entry, branch_id=loan.branch_id)

    async def _written_off(self, event: LoanEventData) -> None:
        loan = event.loan
        institution_id = event.institution_id
        chart = await self.core.books.chart(institution_id, loan.currency)
        principal = (
            event.written_off_principal
            if event.written_off_principal is not None
            else loan.outstanding_principal
        )
        interest = penalties = ZERO
        if chart.income_recognition is IncomeRecognition.ACCRUAL:
            entries = await self.core.books.loan_entries(institution_id, loan.id)
            receivable = chart.code_for(AccountRole.INTEREST_RECEIVABLE)
            penalty_receivable = chart.code_for(AccountRole.PENALTIES_RECEIVABLE)
            interest = max(sum((e.net(receivable) for e in entries), ZERO), ZERO)
            penalties = max(sum((e.net(penalty_receivable) for e in entries), ZERO), ZERO)
        if not (principal or interest or penalties):
            log.info("write_off_without_balance", loan_id=loan.id)
            return
        ctx = self.core.posting_context(chart, _day(event))
        entry = postings.write_off(
            ctx,
            loan_id=loan.id,
            principal=principal,
            accrued_interest=interest,
            accrued_penalties=penalties,
        )
        await self.core.books.record(entry, branch_id=loan.branch_id)

    async def _repayment_applied(self, event: LoanEventData) -> None:
        await self.core.after_driving(event.payment_id)
        if self.core.posted_here(event.payment_id):
            return  # the request that applied it posted it: the usual case, no read
        payment = await self._payment(event)
        if payment is None or payment.status not in POSTABLE or event.applied is None:
            return
        log.info("payment_healed_from_event", payment_id=payment.id, status=payment.status.value)
        await self.core.post_applied(payment, event.applied, loan_id=event.loan.id)

    async def _repayment_reversed(self, event: LoanEventData) -> None:
        payment = await self._payment(event)
        if payment is None or payment.status not in (PaymentStatus.POSTED, PaymentStatus.REVERSING):
            return
        reason = event.reversal_reason or "reversed at the loan service"
        await self.core.book_reversal(payment, reason)

    async def _payment(self, event: LoanEventData) -> Payment | None:
        if not event.payment_id:
            return None
        payment = await self.repo.get(event.payment_id)
        if payment is None:
            log.warning("loan_event_for_unknown_payment", payment_id=event.payment_id)
            return None
        if payment.institution_id != event.institution_id:
            log.warning("loan_event_institution_mismatch", payment_id=event.payment_id)
            return None
        return payment
