"""A lean loan event (``kopa/loan/v1/events.proto``) as the read model's input
(`loan_view.LoanChange`): the contract's messages stay out of the domain."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kopa.loan.v1 import events_pb2 as ev
from reporting_service.domain import loan_view
from shared.dates import from_proto_date
from shared.loan_events import LoanEventMessage, status_word


def _amounts(a: ev.LoanAmounts) -> loan_view.Amounts:
    return loan_view.Amounts(
        principal=a.principal, interest=a.interest, fees=a.fees, penalties=a.penalties
    )


def position(p: ev.LoanPosition) -> loan_view.Position:
    return loan_view.Position(
        loan_id=p.loan_id,
        institution_id=p.institution_id,
        branch_id=p.branch_id,
        borrower_id=p.borrower_id,
        currency=p.currency,
        status=status_word(p.status),
        outstanding_principal=p.outstanding.principal,
        days_past_due=p.days_past_due,
        delinquency_bucket=p.delinquency_bucket,
        oldest_unpaid_due_date=from_proto_date(p.oldest_unpaid_due_date),
        rescheduled=p.rescheduled,
        installment_count=p.installment_count,
        changed_installments=[
            loan_view.InstallmentPosition(
                number=i.number,
                due_date=from_proto_date(i.due_date),
                due=_amounts(i.due),
                paid=_amounts(i.paid),
            )
            for i in p.changed_installments
        ],
    )


def _applied(e: ev.RepaymentApplied) -> loan_view.RepaymentApplied:
    a = e.allocation
    return loan_view.RepaymentApplied(
        payment_id=e.payment_id,
        paid_on=from_proto_date(e.paid_on),
        amount=e.amount,
        principal=a.principal,
        applied=a.principal + a.interest + a.fees,
    )


#: What each message brings besides the position; the others (scored, overdue...) only move it.
_FACTS: dict[type, Callable[[Any], loan_view.Fact]] = {
    ev.LoanSubmitted: lambda e: loan_view.Submitted(
        principal=e.principal, group_id=e.group_id, center_id=e.center_id
    ),
    ev.LoanDisbursed: lambda e: loan_view.Disbursed(
        on=from_proto_date(e.disbursement_date), principal=e.principal
    ),
    ev.RepaymentApplied: _applied,
    ev.RepaymentReversed: lambda e: loan_view.RepaymentReversed(
        payment_id=e.payment_id, paid_on=from_proto_date(e.paid_on), amount=e.amount
    ),
    ev.LoanRescheduled: lambda e: loan_view.Rescheduled(on=from_proto_date(e.rescheduled_on)),
    ev.LoanWrittenOff: lambda e: loan_view.WrittenOff(on=from_proto_date(e.written_off_on)),
    ev.LoanClosed: lambda e: loan_view.Closed(on=from_proto_date(e.closed_on)),
    ev.LoanReopened: lambda _: loan_view.Reopened(),
}


def loan_change(message: LoanEventMessage) -> loan_view.LoanChange:
    fact = _FACTS.get(type(message))
    return loan_view.LoanChange(
        version=message.meta.aggregate_version,
        loan=position(message.loan),
        fact=fact(message) if fact is not None else None,
    )
