"""Payments and events to and from the contract's proto messages (``kopa.payment.v1``,
``kopa.loan.v1``). The service layer never sees a proto message: the servicer, the consumer
and the repository (for the outbox and the stored answer) come through here."""

from __future__ import annotations

from typing import Any

from kopa.loan.v1 import events_pb2 as loan_events_pb2
from kopa.loan.v1 import loan_pb2
from kopa.payment.v1 import events_pb2, payment_pb2
from payment_service.adapters.serialization import payment_to_doc
from payment_service.domain.loans import (
    ALLOCATION_PARTS,
    OUTSTANDING_PARTS,
    Applied,
    LoanEventData,
    LoanSnapshot,
)
from payment_service.domain.payment import Payment, PaymentEvent
from shared.events import event_meta
from shared.protos import timestamp as ts

# Internal statuses (see domain.payment) as the contract shows them.
STATUS_TO_PROTO: dict[str, payment_pb2.PaymentStatus.ValueType] = {
    "pending": payment_pb2.PAYMENT_STATUS_PENDING,
    "received": payment_pb2.PAYMENT_STATUS_PENDING,
    "assigning": payment_pb2.PAYMENT_STATUS_PENDING,
    "posted": payment_pb2.PAYMENT_STATUS_POSTED,
    "reversing": payment_pb2.PAYMENT_STATUS_POSTED,
    "reversed": payment_pb2.PAYMENT_STATUS_REVERSED,
    "failed": payment_pb2.PAYMENT_STATUS_FAILED,
    "suspense": payment_pb2.PAYMENT_STATUS_SUSPENSE,
}


def payment_to_proto(doc: dict[str, Any]) -> payment_pb2.Payment:
    """A stored payment document as the contract shows it."""
    allocation = doc.get("allocation") or {}
    outstanding = doc.get("outstanding") or {}
    failure = doc.get("failure") or {}
    return payment_pb2.Payment(
        id=doc["_id"],
        institution_id=doc.get("institution_id", ""),
        branch_id=doc.get("branch_id", ""),
        loan_id=doc.get("loan_id", ""),
        amount=doc.get("amount", ""),
        currency=doc.get("currency", ""),
        paid_on=doc.get("paid_on", ""),
        channel=doc.get("channel", ""),
        reference=doc.get("reference", ""),
        status=STATUS_TO_PROTO.get(doc.get("status", ""), payment_pb2.PAYMENT_STATUS_UNSPECIFIED),
        allocation=loan_pb2.Allocation(**allocation) if allocation else None,
        outstanding=loan_pb2.Outstanding(**outstanding) if outstanding else None,
        loan_status=loan_pb2.LoanStatus.ValueType(int(doc.get("loan_status") or 0)),
        recorded_by=doc.get("recorded_by", ""),
        reversal_reason=doc.get("reversal_reason", ""),
        create_time=ts(doc.get("create_time")),
        failure_reason=failure.get("message", ""),
        provider_transaction_id=doc.get("provider_transaction_id", ""),
        payer_phone=doc.get("payer_phone", ""),
        kind=doc.get("kind", ""),
    )


def payment_message(payment: Payment) -> payment_pb2.Payment:
    """The payment as it now is."""
    return payment_to_proto(payment_to_doc(payment))


def answer(payment: Payment) -> bytes:
    """The serialized answer stored with a posted payment and replayed for its key."""
    return payment_message(payment).SerializeToString()


def answered(payment: Payment) -> payment_pb2.Payment:
    """What a request for this payment answers: its stored answer when it has one (a replay
    repeats the first answer), else the payment as it now is."""
    if payment.response:
        return payment_pb2.Payment.FromString(payment.response)
    return payment_message(payment)


def event_message(event: PaymentEvent, payment: Payment) -> events_pb2.PaymentEvent:
    """The outbox message of a domain event: ``payment`` is the payment as written (its
    ``version`` the new one)."""
    return events_pb2.PaymentEvent(
        meta=event_meta(
            event.routing_key,
            institution_id=payment.institution_id,
            branch_id=payment.branch_id,
            aggregate_id=payment.id,
            aggregate_version=payment.version,
        ),
        payment=payment_message(payment),
    )


# --- the loan service ----------------------------------------------------------------------


def loan_status_code(name: str) -> int:
    """``"active"`` -> ``LOAN_STATUS_ACTIVE``."""
    return int(loan_pb2.LoanStatus.Value(f"LOAN_STATUS_{name.upper()}"))


def loan_status_name(status: int) -> str:
    """``LOAN_STATUS_ACTIVE`` -> ``"active"``."""
    return loan_pb2.LoanStatus.Name(status).removeprefix("LOAN_STATUS_").lower()  # type: ignore[arg-type]


def applied_from_proto(
    allocation: loan_pb2.Allocation,
    outstanding: loan_pb2.Outstanding,
    loan_status: int,
    *,
    institution_id: str = "",
    branch_id: str = "",
    currency: str = "",
) -> Applied:
    return Applied(
        allocation={k: getattr(allocation, k) or "0" for k in ALLOCATION_PARTS},
        outstanding={k: getattr(outstanding, k) or "0" for k in OUTSTANDING_PARTS},
        loan_status=int(loan_status),
        institution_id=institution_id,
        branch_id=branch_id,
        currency=currency,
    )


def loan_event_from_proto(routing_key: str, event: loan_events_pb2.LoanEvent) -> LoanEventData:
    """What payment_service reads of a ``kopa.loan.v1.LoanEvent``."""
    loan = event.loan
    meta = event.meta
    institution_id = loan.institution_id or meta.institution_id
    reasons: dict[str, str] = {}
    for r in loan.repayments:
        if r.reversal_reason:
            reasons.setdefault(r.payment_id, r.reversal_reason)
    return LoanEventData(
        routing_key=routing_key,
        institution_id=institution_id,
        branch_id=meta.branch_id,
        aggregate_version=meta.aggregate_version,
        occurred_at_ms=meta.occurred_at.ToMilliseconds() if meta.HasField("occurred_at") else 0,
        loan=LoanSnapshot(
            id=loan.id,
            institution_id=loan.institution_id,
            branch_id=loan.branch_id,
            borrower_id=loan.borrower_id,
            status=loan_status_name(loan.status),
            currency=loan.currency,
            version=loan.version,
            principal=loan.principal,
            disbursement_date=loan.disbursement_date,
            outstanding_principal=loan.outstanding.principal,
            written_off_principal=loan.written_off_principal,
            reversal_reasons=reasons,
        ),
        payment_id=event.payment_id,
        applied=applied_from_proto(
            event.allocation,
            loan.outstanding,
            loan.status,
            institution_id=institution_id,
            branch_id=loan.branch_id,
            currency=loan.currency,
        ),
        disbursed_net=event.disbursed_net,
        fees_deducted=event.fees_deducted,
        channel=event.channel,
        business_date=event.business_date,
    )
