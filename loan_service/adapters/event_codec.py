"""Outgoing loan events to the contract's event messages (``kopa/loan/v1/events.proto``).

The use cases describe what a write emits in domain terms (`OutgoingEvent`: a routing key,
the domain event, plain extra fields); the repository encodes them here when it appends them
to the loan's outbox, in the same document write. Each routing key has its own message,
carrying what happened (ids, amounts in minor units, dates) and the loan's position after
the write (`LoanPosition`: status, balances, arrears, and the installments the write
changed), never a snapshot of the whole loan: encoding one costs a few fields per event,
whatever the loan's history.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import partial
from typing import Any

from google.protobuf.message import Message

from kopa.loan.v1 import events_pb2 as ev
from loan_service.adapters.serialization import STATE_COLUMNS, split_rows
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
from loan_service.domain.state import Allocation, Amounts
from loan_service.entrypoints.mapping import STATUS_TO_PROTO, score_to_proto
from loan_service.service_layer.ports import OutgoingEvent
from shared.dates import to_proto_date
from shared.events import event_meta
from shared.loan_events import MESSAGES
from shared.money import to_minor

CHANNELS = {
    "cash": ev.DISBURSEMENT_CHANNEL_CASH,
    "bank": ev.DISBURSEMENT_CHANNEL_BANK,
    "mobile_money": ev.DISBURSEMENT_CHANNEL_MOBILE_MONEY,
}

#: The state columns an `InstallmentPosition` shows: a write that changes none of them (only
#: interest earned, say) does not list the installment as changed.
_SHOWN = tuple(
    STATE_COLUMNS.index(c)
    for c in (
        "number",
        "due_date",
        "principal",
        "interest",
        "fees",
        "penalties",
        "principal_paid",
        "interest_paid",
        "fees_paid",
        "penalties_paid",
    )
)


_AMOUNT_PARTS = ("principal", "interest", "fees", "penalties")
_ALLOCATION_PARTS = (*_AMOUNT_PARTS, "overpayment")


class Minor:
    """Amounts of one currency as integer minor units (stored decimal strings are exact and
    have at most the currency's decimals, so scaling them loses nothing). Parts come from
    a domain value (`Amounts`, `Allocation`) or its stored form (decimal strings by part)."""

    def __init__(self, currency: str) -> None:
        self.currency = currency

    def __call__(self, amount: Decimal | str | None) -> int:
        return to_minor(amount, self.currency) if amount else 0

    def _parts(self, value: Any, names: tuple[str, ...]) -> dict[str, int]:
        if value is None:
            return {}
        read = value.get if isinstance(value, Mapping) else partial(getattr, value)
        return {name: self(read(name)) for name in names}

    def amounts(self, a: Amounts | Mapping[str, str] | None) -> ev.LoanAmounts:
        return ev.LoanAmounts(**self._parts(a, _AMOUNT_PARTS))

    def allocation(self, a: Allocation | Mapping[str, str] | None) -> ev.LoanAllocation:
        return ev.LoanAllocation(**self._parts(a, _ALLOCATION_PARTS))


def _shown_rows(doc: Mapping[str, Any] | None) -> dict[str, tuple[str, ...]]:
    rows = ((doc or {}).get("view") or {}).get("rows") or ""
    return {r[0]: tuple(r[k] for k in _SHOWN) for r in split_rows(rows)}


def changed_installments(
    before: Mapping[str, Any] | None, after: Mapping[str, Any], minor: Minor
) -> tuple[int, list[ev.InstallmentPosition]]:
    """How many installments the loan has after the write, and those whose dues or payments
    it changed: all of them when the schedule itself may have changed (a new loan, a
    disbursement, a reschedule)."""
    now = _shown_rows(after)
    whole = (
        before is None
        or before.get("status") != after.get("status")
        or len(before.get("schedule_history") or ()) != len(after.get("schedule_history") or ())
    )
    then = {} if whole else _shown_rows(before)
    changed = []
    for number, row in now.items():
        if then.get(number) == row:
            continue
        _, due, p, i, f, pen, pp, ip, fp, penp = row
        changed.append(
            ev.InstallmentPosition(
                number=int(number),
                due_date=to_proto_date(due),
                due=ev.LoanAmounts(
                    principal=minor(p), interest=minor(i), fees=minor(f), penalties=minor(pen)
                ),
                paid=ev.LoanAmounts(
                    principal=minor(pp), interest=minor(ip), fees=minor(fp), penalties=minor(penp)
                ),
            )
        )
    return len(now), changed


def loan_position(
    before: Mapping[str, Any] | None, after: Mapping[str, Any], minor: Minor
) -> ev.LoanPosition:
    count, changed = changed_installments(before, after, minor)
    view = after.get("view") or {}
    return ev.LoanPosition(
        loan_id=after["_id"],
        institution_id=after["institution_id"],
        branch_id=after["branch_id"],
        borrower_id=after["borrower_id"],
        currency=after["currency"],
        status=STATUS_TO_PROTO[after["status"]],
        outstanding=minor.amounts(after.get("outstanding")),
        credit_balance=minor(view.get("overpayment")),
        days_past_due=after.get("days_past_due") or 0,
        delinquency_bucket=after.get("delinquency_bucket") or "",
        oldest_unpaid_due_date=to_proto_date(after.get("oldest_unpaid_due_date")),
        rescheduled=bool(after.get("schedule_history")),
        installment_count=count,
        changed_installments=changed,
    )


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


Encoder = Callable[[Any, Mapping[str, Any], Mapping[str, Any], Minor], dict[str, Any]]


def _submitted(
    e: LoanSubmitted, _: Mapping[str, Any], doc: Mapping[str, Any], m: Minor
) -> dict[str, Any]:
    return {
        "product_id": doc.get("product_id", ""),
        "principal": m(e.principal),
        "term": e.term,
        "failed_rules": list(e.failed_rules),
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
