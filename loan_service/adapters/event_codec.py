"""Outgoing loan events to the contract's proto messages (``kopa.loan.v1.LoanEvent``).

The use cases describe what a write emits in domain terms (`OutgoingEvent`: a routing key,
the domain event, plain extra fields); the repository encodes them here when it appends them
to the loan's outbox, in the same document write. Every event of one write carries the same
snapshot of the loan as it is after the write (`loan_to_proto` of the stored document).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from kopa.loan.v1 import events_pb2, loan_pb2
from loan_service.domain.lifecycle import (
    CreditRefunded,
    EligibilityOverridden,
    Event,
    LoanApproved,
    LoanClosed,
    LoanDisbursed,
    LoanRejected,
    LoanReopened,
    LoanRescheduled,
    LoanSubmitted,
    LoanWrittenOff,
    RepaymentApplied,
    RepaymentReversed,
)
from loan_service.entrypoints.mapping import loan_to_proto
from loan_service.service_layer.ports import OutgoingEvent
from shared.events import event_meta
from shared.money import fmt

_ALLOCATION_PARTS = ("principal", "interest", "fees", "penalties", "overpayment")


def loan_events(
    doc: dict[str, Any], outgoing: Sequence[OutgoingEvent]
) -> list[events_pb2.LoanEvent]:
    """The LoanEvents of one write of `doc` (the loan document as it is after the write)."""
    if not outgoing:
        return []
    snapshot = loan_to_proto(doc)
    return [loan_event(doc, e, snapshot) for e in outgoing]


def loan_event(
    doc: dict[str, Any], outgoing: OutgoingEvent, snapshot: loan_pb2.Loan | None = None
) -> events_pb2.LoanEvent:
    extra = domain_event_fields(outgoing.event, doc) if outgoing.event is not None else {}
    for name, value in outgoing.fields.items():
        extra[name] = allocation_proto(value, doc) if name == "allocation" else value
    return events_pb2.LoanEvent(
        meta=event_meta(
            outgoing.key,
            institution_id=doc["institution_id"],
            branch_id=doc["branch_id"],
            aggregate_id=doc["_id"],
            aggregate_version=doc["version"],
        ),
        loan=snapshot if snapshot is not None else loan_to_proto(doc),
        **extra,
    )


def allocation_proto(stored: Mapping[str, str], doc: dict[str, Any]) -> loan_pb2.Allocation:
    """An allocation as stored (decimal strings by part) in the loan's currency."""
    currency = doc["currency"]
    return loan_pb2.Allocation(
        **{k: fmt(Decimal(stored.get(k) or "0"), currency) for k in _ALLOCATION_PARTS}
    )


def _today() -> date:
    return datetime.now(UTC).date()


def domain_event_fields(event: Event, doc: dict[str, Any]) -> dict[str, Any]:
    """The LoanEvent fields a domain event fills in (besides the loan's snapshot)."""
    currency = doc["currency"]

    def money(value: Decimal) -> str:
        return fmt(value, currency)

    if isinstance(event, LoanDisbursed):
        return {
            "disbursed_net": money(event.disbursed_amount),
            "fees_deducted": money(event.upfront_fee),
            "business_date": event.disbursement_date.isoformat(),
        }
    if isinstance(event, RepaymentApplied):
        a = event.allocation
        return {
            "payment_id": event.repayment_id,
            "allocation": loan_pb2.Allocation(
                principal=money(a.principal),
                interest=money(a.interest),
                fees=money(a.fees),
                penalties=money(a.penalties),
                overpayment=money(a.overpayment),
            ),
            "business_date": event.paid_on.isoformat(),
        }
    if isinstance(event, RepaymentReversed):
        return {"payment_id": event.repayment_id, "business_date": _today().isoformat()}
    if isinstance(event, CreditRefunded):
        zero = money(Decimal(0))
        return {
            "payment_id": event.refund_id,
            "allocation": loan_pb2.Allocation(
                principal=zero,
                interest=zero,
                fees=zero,
                penalties=zero,
                overpayment=money(event.amount),
            ),
            "business_date": event.refunded_on.isoformat(),
        }
    if isinstance(event, LoanClosed):
        return {"business_date": event.closed_on.isoformat()}
    if isinstance(event, LoanWrittenOff):
        return {"business_date": event.written_off_on.isoformat()}
    if isinstance(event, LoanRescheduled):
        return {"business_date": event.rescheduled_on.isoformat()}
    if isinstance(event, LoanApproved):
        return {"business_date": (event.approved_on or _today()).isoformat()}
    if isinstance(event, LoanSubmitted | LoanRejected | LoanReopened | EligibilityOverridden):
        return {"business_date": _today().isoformat()}
    return {}
