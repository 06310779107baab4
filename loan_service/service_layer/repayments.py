"""Money in and out of an active loan: applying a repayment, reversing one, refunding the
credit balance, and the payoff quote (what closes the loan on a date).

Applying and refunding are idempotent on the payment's (refund's) id: a repeat answers what
the first did and writes nothing. A repayment's allocation is the one made when it was first
applied (what the ledger booked), kept with the loan.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from loan_service.adapters.serialization import allocation_to_doc, loan_from_doc, stored_repayments
from loan_service.domain import Loan, LoanStatus, payoff_quote
from loan_service.domain.lifecycle import RepaymentReversed
from loan_service.service_layer.clock import today
from loan_service.service_layer.commands import ApplyRepayment, RefundCredit, ReverseRepayment
from loan_service.service_layer.unit_of_work import Change, UnitOfWork
from shared import context
from shared.dates import parse_date
from shared.errors import NotFound, ValidationError
from shared.money import check_amount, fmt
from shared.permissions import Permission, Principal, require


async def apply_repayment(
    uow: UnitOfWork, cmd: ApplyRepayment
) -> tuple[dict[str, Any], dict[str, str]]:
    """Applies a payment; returns the loan after it and the payment's allocation (stored
    form: decimal strings by part)."""
    if not cmd.payment_id:
        raise ValidationError.of("payment_id", "is required")
    payment_id = cmd.payment_id

    def action(
        p: Principal, doc: dict[str, Any], loan: Loan
    ) -> tuple[Change | None, dict[str, str]]:
        recorded = next((r for r in stored_repayments(doc) if r["id"] == payment_id), None)
        if recorded is not None:  # a repeat: the first allocation, nothing written
            return None, recorded["allocation"] or {}
        value = _amount(cmd.amount, cmd.currency, doc["currency"])
        allocation = loan.apply_repayment(payment_id, value, cmd.paid_on)
        stored = allocation_to_doc(allocation)
        return Change(allocations={payment_id: stored}, business_date=cmd.paid_on), stored

    after, allocation = await uow.mutate(cmd.loan_id, Permission.REPAYMENTS_CREATE, action)
    return after, allocation


def _amount(amount: Decimal, currency: str, loans: str) -> Decimal:
    """The amount of a payment or refund as the loan's currency has it (more than zero, no
    more decimals than it has)."""
    if currency and currency != loans:
        raise ValidationError.of("currency", f"must be the loan's currency, {loans}")
    return check_amount(amount, loans)


async def reverse_repayment(uow: UnitOfWork, cmd: ReverseRepayment) -> dict[str, Any]:
    """Reverses a payment (it bounced, say): the loan is as if it had never been made."""
    if not cmd.payment_id:
        raise ValidationError.of("payment_id", "is required")
    payment_id = cmd.payment_id

    def action(p: Principal, doc: dict[str, Any], loan: Loan) -> Change | None:
        recorded = next((r for r in stored_repayments(doc) if r["id"] == payment_id), None)
        if recorded is None:
            raise NotFound(
                f"repayment {payment_id} not found on loan {cmd.loan_id}",
                reason="REPAYMENT_NOT_FOUND",
                metadata={"payment_id": payment_id},
            )
        if recorded.get("reversed"):
            return None  # already reversed: nothing to do
        loan.reverse_repayment(payment_id, cmd.reason.strip() or "reversed")
        allocation = recorded.get("allocation") or {}
        return Change(
            note=f"repayment {payment_id} reversed",
            # The event carries the split that is undone (as the ledger booked it).
            event_fields={RepaymentReversed: {"allocation": dict(allocation)}},
        )

    after, _ = await uow.mutate(cmd.loan_id, Permission.REPAYMENTS_REVERSE, action)
    return after


async def refund_credit(uow: UnitOfWork, cmd: RefundCredit) -> tuple[dict[str, Any], Decimal]:
    """Pays back part of the loan's credit balance; returns the loan document after it and
    the amount refunded. A repeat of ``refund_id`` returns the first amount and writes
    nothing."""
    refund_id = cmd.refund_id
    if not refund_id:
        raise ValidationError.of("refund_id", "is required")
    if len(refund_id) > 128 or any(c in refund_id for c in "|\r\n"):
        raise ValidationError.of("refund_id", "must be at most 128 characters, without | or breaks")
    on = cmd.refunded_on or today()

    def action(p: Principal, doc: dict[str, Any], loan: Loan) -> tuple[Change | None, Decimal]:
        first = next((r for r in loan.refunds if r.id == refund_id), None)
        if first is not None:
            return None, first.amount  # a repeat: the first result, nothing written
        value = _amount(cmd.amount, cmd.currency, doc["currency"])
        loan.refund_credit(refund_id, value, on)
        return Change(note=f"credit refunded ({refund_id})"), value

    after, refunded = await uow.mutate(cmd.loan_id, Permission.REPAYMENTS_REVERSE, action)
    return after, refunded


async def payoff(uow: UnitOfWork, loan_id: str, on: str) -> tuple[dict[str, str], str]:
    """What paying the loan off on `on` (today when empty) takes, by part, and its
    currency."""
    p = context.principal()
    require(p, Permission.LOANS_READ)
    doc = await uow.loan_doc(p, loan_id)
    day = parse_date(on, "date", required=False) or today()
    loan = loan_from_doc(doc)
    if loan.status is not LoanStatus.ACTIVE:
        loan.payoff_quote(day)  # raises the illegal-transition error naming the status
    if loan.disbursement_date is not None and day < loan.disbursement_date:
        raise ValidationError.of("date", "must not be before the disbursement date")
    amounts = payoff_quote(loan.state(day), loan.product, day)
    currency = doc["currency"]
    return (
        {
            "principal": fmt(amounts.principal, currency),
            "interest": fmt(amounts.interest, currency),
            "fees": fmt(amounts.fees, currency),
            "penalties": fmt(amounts.penalties, currency),
            "total": fmt(amounts.total, currency),
        },
        currency,
    )
