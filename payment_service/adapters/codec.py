"""Payments and events to and from the contract's proto messages (``kopa.payment.v1`` and
``v2``, ``kopa.loan.v1``). The service layer never sees a proto message: the servicer, the consumer
and the repository (for the outbox and the stored answer) come through here."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from google.protobuf.message import Message
from google.type import money_pb2

from kopa.loan.v1 import events_pb2 as loan_events_pb2
from kopa.loan.v1 import loan_pb2
from kopa.payment.v1 import payment_pb2
from kopa.payment.v2 import events_pb2 as payment_events
from kopa.payment.v2 import repayments_pb2 as v2
from payment_service.adapters.serialization import payment_to_doc
from payment_service.domain.loans import (
    ALLOCATION_PARTS,
    OUTSTANDING_PARTS,
    Applied,
    LoanEventData,
    LoanPosition,
)
from payment_service.domain.payment import (
    Assigned,
    Payment,
    PaymentEvent,
    Posted,
    Received,
    Refunded,
    Reversed,
    Unmatched,
)
from shared.dates import from_proto_date, to_proto_date
from shared.events import event_meta
from shared.loan_events import LoanEventMessage, status_word
from shared.money import from_minor, to_money
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


# --- kopa.payment.v2: typed amounts and dates ---------------------------------------------

CHANNEL_TO_V2: dict[str, v2.PaymentChannel.ValueType] = {
    "cash": v2.PAYMENT_CHANNEL_CASH,
    "bank": v2.PAYMENT_CHANNEL_BANK,
    "mobile_money": v2.PAYMENT_CHANNEL_MOBILE_MONEY,
}
CHANNEL_FROM_V2 = {number: word for word, number in CHANNEL_TO_V2.items()}
KIND_TO_V2: dict[str, v2.PaymentKind.ValueType] = {
    "repayment": v2.PAYMENT_KIND_REPAYMENT,
    "mobile_money": v2.PAYMENT_KIND_MOBILE_MONEY,
    "refund": v2.PAYMENT_KIND_REFUND,
}


def payment_v2(payment: Payment) -> v2.Payment:
    """The payment as it now is, typed."""
    c = payment.currency
    return v2.Payment(
        id=payment.id,
        institution_id=payment.institution_id,
        branch_id=payment.branch_id,
        loan_id=payment.loan_id,
        amount=to_money(payment.amount, c),
        paid_on=to_proto_date(payment.paid_on),
        channel=CHANNEL_TO_V2.get(payment.channel, v2.PAYMENT_CHANNEL_UNSPECIFIED),
        reference=payment.reference,
        status=STATUS_TO_PROTO.get(payment.status, payment_pb2.PAYMENT_STATUS_UNSPECIFIED),
        allocation=_allocation_v2(payment),
        outstanding=_outstanding_v2(payment),
        loan_status=loan_pb2.LoanStatus.ValueType(payment.loan_status),
        recorded_by=payment.recorded_by,
        reversal_reason=payment.reversal_reason or "",
        create_time=ts(payment.create_time),
        failure_reason=payment.failure.message if payment.failure else "",
        provider_transaction_id=payment.provider_transaction_id or "",
        payer_phone=payment.payer_phone or "",
        kind=KIND_TO_V2.get(payment.kind, v2.PAYMENT_KIND_UNSPECIFIED),
    )


def _allocation_v2(payment: Payment) -> v2.Allocation | None:
    a = payment.allocation
    if a is None:
        return None
    return v2.Allocation(**{k: to_money(getattr(a, k), payment.currency) for k in ALLOCATION_PARTS})


def _outstanding_v2(payment: Payment) -> v2.Outstanding | None:
    if not payment.outstanding:
        return None
    return v2.Outstanding(
        **{k: to_money(v, payment.currency) for k, v in payment.outstanding.items()}
    )


def answered_v2(payment: Payment, replayed: bool) -> v2.Payment:
    """``answered`` in kopa.payment.v2: a replay repeats the stored first answer (stored as
    kopa.payment.v1, read here), a first answer is the payment as it now is."""
    if replayed and payment.response:
        return _v2_from_v1(payment_pb2.Payment.FromString(payment.response))
    return payment_v2(payment)


def _v2_from_v1(m: payment_pb2.Payment) -> v2.Payment:
    c = m.currency

    def money(text: str) -> money_pb2.Money | None:
        return to_money(Decimal(text), c) if text else None

    return v2.Payment(
        id=m.id,
        institution_id=m.institution_id,
        branch_id=m.branch_id,
        loan_id=m.loan_id,
        amount=money(m.amount),
        paid_on=to_proto_date(m.paid_on or None),
        channel=CHANNEL_TO_V2.get(m.channel, v2.PAYMENT_CHANNEL_UNSPECIFIED),
        reference=m.reference,
        status=m.status,
        allocation=v2.Allocation(**{k: money(getattr(m.allocation, k)) for k in ALLOCATION_PARTS})
        if m.HasField("allocation")
        else None,
        outstanding=v2.Outstanding(
            **{k: money(getattr(m.outstanding, k)) for k in OUTSTANDING_PARTS}
        )
        if m.HasField("outstanding")
        else None,
        loan_status=m.loan_status,
        recorded_by=m.recorded_by,
        reversal_reason=m.reversal_reason,
        create_time=m.create_time if m.HasField("create_time") else None,
        failure_reason=m.failure_reason,
        provider_transaction_id=m.provider_transaction_id,
        payer_phone=m.payer_phone,
        kind=KIND_TO_V2.get(m.kind, v2.PAYMENT_KIND_UNSPECIFIED),
    )


def event_message(event: PaymentEvent, payment: Payment) -> Message:
    """The outbox message of a domain event (its routing key's, ``shared.payment_events``):
    what happened, typed; ``payment`` is the payment as written (its ``version`` the new
    one)."""
    meta = event_meta(
        event.routing_key,
        institution_id=payment.institution_id,
        branch_id=payment.branch_id,
        aggregate_id=payment.id,
        aggregate_version=payment.version,
    )
    money = {
        "meta": meta,
        "amount": to_money(payment.amount, payment.currency),
        "paid_on": to_proto_date(payment.paid_on),
    }
    channel = CHANNEL_TO_V2.get(payment.channel, v2.PAYMENT_CHANNEL_UNSPECIFIED)
    if isinstance(event, Received | Unmatched):
        receipt = {
            **money,
            "reference": payment.reference,
            "provider_transaction_id": payment.provider_transaction_id or "",
            "payer_phone": payment.payer_phone or "",
        }
        if isinstance(event, Received):
            return payment_events.PaymentReceived(**receipt, loan_id=payment.loan_id)
        return payment_events.PaymentUnmatched(**receipt)
    if isinstance(event, Posted | Assigned):
        booked = {
            **money,
            "loan_id": payment.loan_id,
            "reference": payment.reference,
            "allocation": _allocation_v2(payment),
            "outstanding": _outstanding_v2(payment),
            "loan_status": loan_pb2.LoanStatus.ValueType(payment.loan_status),
            "entry_id": payment.entry_id or "",
        }
        if isinstance(event, Posted):
            return payment_events.PaymentPosted(
                **booked,
                kind=KIND_TO_V2.get(payment.kind, v2.PAYMENT_KIND_UNSPECIFIED),
                channel=channel,
                recorded_by=payment.recorded_by,
            )
        by = payment.assign.by if payment.assign else ""
        return payment_events.PaymentAssigned(**booked, assigned_by=by)
    if isinstance(event, Refunded):
        return payment_events.PaymentRefunded(
            **money,
            loan_id=payment.loan_id,
            channel=channel,
            reference=payment.reference,
            entry_id=payment.entry_id or "",
            recorded_by=payment.recorded_by,
        )
    if isinstance(event, Reversed):
        return payment_events.PaymentReversed(
            **money,
            loan_id=payment.loan_id,
            reason=payment.reversal_reason or "",
            reversal_entry_id=payment.reversal_entry_id or "",
        )
    raise TypeError(f"no message for payment event {type(event).__name__}")


# --- the loan service ----------------------------------------------------------------------


_CHANNELS = {
    loan_events_pb2.DISBURSEMENT_CHANNEL_CASH: "cash",
    loan_events_pb2.DISBURSEMENT_CHANNEL_BANK: "bank",
    loan_events_pb2.DISBURSEMENT_CHANNEL_MOBILE_MONEY: "mobile_money",
}


def _allocation(a: loan_events_pb2.LoanAllocation, currency: str) -> dict[str, Decimal]:
    return {k: from_minor(getattr(a, k), currency) for k in ALLOCATION_PARTS}


def _outstanding(a: loan_events_pb2.LoanAmounts, currency: str) -> dict[str, Decimal]:
    parts = {
        k: from_minor(getattr(a, k), currency)
        for k in ("principal", "interest", "fees", "penalties")
    }
    parts["total"] = sum(parts.values(), Decimal(0))
    return parts


def applied_from_proto(
    position: loan_events_pb2.LoanPosition, allocation: loan_events_pb2.LoanAllocation
) -> Applied:
    """What the loan service did with a payment, from its answer (kopa.loan.v2) or its event
    (``loan.repayment_applied``, ``loan.credit_refunded``): the split and the loan's position
    after it."""
    return Applied(
        allocation=_allocation(allocation, position.currency),
        outstanding=_outstanding(position.outstanding, position.currency),
        loan_status=int(position.status),
        institution_id=position.institution_id,
        branch_id=position.branch_id,
        currency=position.currency,
    )


def loan_event_from_proto(routing_key: str, event: LoanEventMessage) -> LoanEventData:
    """What payment_service reads of a loan event (``kopa.loan.v1``, one message per routing
    key): amounts from minor units, dates from ``google.type.Date``, once, here."""
    position = event.loan
    meta = event.meta
    currency = position.currency
    institution_id = position.institution_id or meta.institution_id
    status = status_word(position.status)
    values: dict[str, Any] = {}
    if isinstance(event, loan_events_pb2.LoanDisbursed):
        values = {
            "principal": from_minor(event.principal, currency),
            "disbursed_net": from_minor(event.disbursed_net, currency),
            "fees_deducted": from_minor(event.fees_deducted, currency),
            "channel": _CHANNELS.get(event.channel, "cash"),
            "business_date": from_proto_date(event.disbursement_date),
        }
    elif isinstance(event, loan_events_pb2.LoanWrittenOff):
        values = {
            "written_off_principal": from_minor(event.written_off.principal, currency),
            "business_date": from_proto_date(event.written_off_on),
        }
    elif isinstance(event, loan_events_pb2.RepaymentApplied):
        values = {
            "payment_id": event.payment_id,
            "applied": applied_from_proto(position, event.allocation),
            "business_date": from_proto_date(event.paid_on),
        }
    elif isinstance(event, loan_events_pb2.CreditRefunded):
        # A refund pays credit out: booked as the overpayment it returns.
        refunded = loan_events_pb2.LoanAllocation(overpayment=event.amount)
        values = {
            "payment_id": event.refund_id,
            "applied": applied_from_proto(position, refunded),
            "business_date": from_proto_date(event.refunded_on),
        }
    elif isinstance(event, loan_events_pb2.RepaymentReversed):
        values = {"payment_id": event.payment_id, "reversal_reason": event.reason}
    return LoanEventData(
        routing_key=routing_key,
        institution_id=institution_id,
        branch_id=meta.branch_id,
        aggregate_version=meta.aggregate_version,
        occurred_at_ms=meta.occurred_at.ToMilliseconds() if meta.HasField("occurred_at") else 0,
        loan=LoanPosition(
            id=position.loan_id,
            institution_id=position.institution_id,
            branch_id=position.branch_id,
            borrower_id=position.borrower_id,
            status=status,
            currency=currency,
            outstanding_principal=from_minor(position.outstanding.principal, currency),
        ),
        **values,
    )
