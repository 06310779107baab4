"""Outgoing loan events to the contract's event messages (``kopa/loan/v1/events.proto``).

The use cases describe what a write emits in domain terms (`OutgoingEvent`: a routing key,
the domain event, plain extra fields); the repository encodes them here when it appends them
to the loan's outbox, in the same document write. Each routing key has its own message,
carrying what happened (ids, amounts in minor units, dates) and the loan's position after
the write (`LoanPosition`: status, balances, arrears, and the installments the write
changed), never a snapshot of the whole loan: encoding one costs a few fields per event,
whatever the loan's history. A close-of-business job's events (`job_events`) are about the
job, not a loan, and carry no position.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

from google.protobuf.message import Message

from kopa.loan.v1 import events_pb2 as ev
from loan_service.adapters.contract import Minor, loan_position, score_to_proto
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
from loan_service.service_layer.ports import OutgoingEvent
from shared.dates import to_proto_date
from shared.events import event_meta
from shared.loan_events import JOB_MESSAGES, MESSAGES

CHANNELS = {
    "cash": ev.DISBURSEMENT_CHANNEL_CASH,
    "bank": ev.DISBURSEMENT_CHANNEL_BANK,
    "mobile_money": ev.DISBURSEMENT_CHANNEL_MOBILE_MONEY,
}


def loan_events(
    before: Mapping[str, Any] | None, after: Mapping[str, Any], outgoing: Sequence[OutgoingEvent]
) -> list[Message]:
    """The event messages of one write of a loan read as `before` (None: its creation), as
    it is `after` the write."""
    if not outgoing:
        return []
    minor = Minor(after["currency"])
    position = loan_position(before, after, minor)
    return [loan_event(after, e, position, minor) for e in outgoing]


def _today() -> date:
    return datetime.now(UTC).date()


def loan_event(
    doc: Mapping[str, Any], outgoing: OutgoingEvent, position: ev.LoanPosition, minor: Minor
) -> Message:
    meta = event_meta(
        outgoing.key,
        institution_id=doc["institution_id"],
        branch_id=doc["branch_id"],
        aggregate_id=doc["_id"],
        aggregate_version=doc["version"],
    )
    build = _ENCODERS.get(type(outgoing.event)) if outgoing.event is not None else None
    if build is not None:
        fields = build(outgoing.event, outgoing.fields, doc, minor)
    else:
        fields = _service_event(outgoing.key, outgoing.fields, doc)
    message_type = MESSAGES[outgoing.key]
    return message_type(meta=meta, loan=position, **fields)


def _service_event(key: str, fields: Mapping[str, Any], doc: Mapping[str, Any]) -> dict[str, Any]:
    """The events the service raises itself (no domain event): arrears and scoring."""
    if key == "loan.scored":
        return {"score": score_to_proto(doc.get("score"))}
    business = to_proto_date(fields.get("business_date"))
    if key == "loan.reclassified":
        return {"business_date": business, "previous_bucket": fields.get("previous_bucket", "")}
    return {"business_date": business}


def job_events(job: Mapping[str, Any], outgoing: Sequence[OutgoingEvent]) -> list[Message]:
    """The event messages of a write of close-of-business job `job` (``close_of_business.*``):
    the job is their aggregate, at version 1 (a job is written once with events, when it
    completes), and each carries its business date and counts as the use case gave them."""
    return [
        JOB_MESSAGES[e.key](
            meta=event_meta(
                e.key,
                institution_id=job["institution_id"],
                aggregate_id=job["_id"],
                aggregate_version=1,
            ),
            business_date=to_proto_date(e.fields["business_date"]),
            loans_processed=e.fields["loans_processed"],
            loans_changed=e.fields["loans_changed"],
        )
        for e in outgoing
    ]


Encoder = Callable[[Any, Mapping[str, Any], Mapping[str, Any], Minor], dict[str, Any]]


def _submitted(
    e: LoanSubmitted, _: Mapping[str, Any], doc: Mapping[str, Any], m: Minor
) -> dict[str, Any]:
    return {
        "product_id": doc.get("product_id", ""),
        "principal": m(e.principal),
        "term": e.term,
        "failed_rules": list(e.failed_rules),
        "group_loan_id": doc.get("group_loan_id") or "",
        "group_id": doc.get("group_id") or "",
        "center_id": doc.get("center_id") or "",
    }


def _overridden(e: EligibilityOverridden, *_: Any) -> dict[str, Any]:
    return {"reason": e.reason, "rules": list(e.rules)}


def _approved(e: LoanApproved, *_: Any) -> dict[str, Any]:
    return {"approver_id": e.approver_id, "approved_on": to_proto_date(e.approved_on or _today())}


def _rejected(e: LoanRejected, *_: Any) -> dict[str, Any]:
    return {"reason": e.reason}


def _disbursed(
    e: LoanDisbursed, fields: Mapping[str, Any], _: Mapping[str, Any], m: Minor
) -> dict[str, Any]:
    return {
        "disbursement_date": to_proto_date(e.disbursement_date),
        "principal": m(e.principal),
        "disbursed_net": m(e.disbursed_amount),
        "fees_deducted": m(e.upfront_fee),
        "channel": CHANNELS.get(fields.get("channel") or "cash", ev.DISBURSEMENT_CHANNEL_CASH),
        "maturity_date": to_proto_date(e.maturity_date),
    }


def _applied(
    e: RepaymentApplied, _: Mapping[str, Any], __: Mapping[str, Any], m: Minor
) -> dict[str, Any]:
    return {
        "payment_id": e.repayment_id,
        "amount": m(e.amount),
        "paid_on": to_proto_date(e.paid_on),
        "allocation": m.allocation(e.allocation),
    }


def _reversed(
    e: RepaymentReversed, fields: Mapping[str, Any], _: Mapping[str, Any], m: Minor
) -> dict[str, Any]:
    return {
        "payment_id": e.repayment_id,
        "amount": m(e.amount),
        "paid_on": to_proto_date(e.paid_on),
        "allocation": m.allocation(fields.get("allocation")),
        "reason": e.reason,
    }


def _refunded(
    e: CreditRefunded, _: Mapping[str, Any], __: Mapping[str, Any], m: Minor
) -> dict[str, Any]:
    return {
        "refund_id": e.refund_id,
        "amount": m(e.amount),
        "refunded_on": to_proto_date(e.refunded_on),
    }


def _closed(e: LoanClosed, _: Mapping[str, Any], __: Mapping[str, Any], m: Minor) -> dict[str, Any]:
    return {"closed_on": to_proto_date(e.closed_on), "overpayment": m(e.overpayment)}


def _reopened(*_: Any) -> dict[str, Any]:
    return {}


def _written_off(
    e: LoanWrittenOff, _: Mapping[str, Any], __: Mapping[str, Any], m: Minor
) -> dict[str, Any]:
    return {
        "written_off_on": to_proto_date(e.written_off_on),
        "written_off": m.amounts(e.outstanding),
        "reason": e.reason,
    }


def _rescheduled(e: LoanRescheduled, *_: Any) -> dict[str, Any]:
    return {
        "rescheduled_on": to_proto_date(e.rescheduled_on),
        "reason": e.reason,
        "old_term": e.old_term,
        "new_term": e.new_term,
    }


_ENCODERS: dict[type[Event], Encoder] = {
    LoanSubmitted: _submitted,
    EligibilityOverridden: _overridden,
    LoanApproved: _approved,
    LoanRejected: _rejected,
    LoanDisbursed: _disbursed,
    RepaymentApplied: _applied,
    RepaymentReversed: _reversed,
    CreditRefunded: _refunded,
    LoanClosed: _closed,
    LoanReopened: _reopened,
    LoanWrittenOff: _written_off,
    LoanRescheduled: _rescheduled,
}
