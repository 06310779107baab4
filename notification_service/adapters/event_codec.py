"""Other services' events as the facts this service works with, and as the public JSON a
webhook carries (amounts as decimal strings in major units, dates ISO, enums as words: the
REST API's conventions, not the wire's)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from kopa.common.v1 import common_pb2
from kopa.loan.v1 import events_pb2 as loan_ev
from kopa.user.v1 import events_pb2 as user_ev
from notification_service.domain.facts import (
    BusinessDayClosed,
    Event,
    Installment,
    LoanFact,
    PaymentFact,
)
from shared import loan_events, payment_events
from shared.dates import from_proto_date
from shared.money import from_minor, from_money
from shared.wire import enum_word

CLOSE_OF_BUSINESS_COMPLETED = "close_of_business.completed"
INSTITUTION_CREATED = "institution.created"

#: Loan messages whose int64 fields are counts, not minor units of money.
_COUNTED = {loan_ev.CloseOfBusinessCompleted.DESCRIPTOR.full_name}


def public_json(message: Message, currency: str = "") -> dict[str, Any]:
    """A message as the API shows it; `meta` left out (the envelope carries it)."""
    out: dict[str, Any] = {}
    for field, value in message.ListFields():
        if field.name == "meta" and field.message_type is common_pb2.EventMeta.DESCRIPTOR:
            continue
        if field.is_repeated:
            out[field.name] = [_value(message, field, v, currency) for v in value]
        else:
            out[field.name] = _value(message, field, value, currency)
    return out


def _value(parent: Message, field: FieldDescriptor, value: Any, currency: str) -> Any:
    if field.enum_type is not None:
        return enum_word(field.enum_type, value, field.name)
    kind = field.message_type.full_name if field.message_type is not None else ""
    if kind == "google.type.Money":
        return f"{from_money(value, field=field.name):f}"
    if kind == "google.type.Date":
        day = from_proto_date(value, field.name)
        return day.isoformat() if day else None
    if kind == "google.protobuf.Timestamp":
        return value.ToDatetime(tzinfo=UTC).isoformat().replace("+00:00", "Z")
    if field.message_type is not None:
        # A loan's amounts are in the currency its position names.
        return public_json(value, currency or str(getattr(value, "currency", "")))
    money_in_minor_units = (
        field.type == FieldDescriptor.TYPE_INT64
        and parent.DESCRIPTOR.file is loan_ev.DESCRIPTOR
        and parent.DESCRIPTOR.full_name not in _COUNTED
        and currency
    )
    if money_in_minor_units:
        return f"{from_minor(value, currency):f}"
    if field.type == FieldDescriptor.TYPE_INT64:
        return str(value)  # as proto3 JSON does: beyond what every JSON reader holds exactly
    return value


def _event(
    routing_key: str, meta: common_pb2.EventMeta, payload: Callable[[], dict[str, Any]]
) -> Event:
    return Event(
        id=meta.event_id,
        type=routing_key,
        institution_id=meta.institution_id,
        branch_id=meta.branch_id,
        aggregate_id=meta.aggregate_id,
        occurred_at=meta.occurred_at.ToDatetime(tzinfo=UTC)
        if meta.HasField("occurred_at")
        else datetime.now(UTC),
        payload=payload,
    )


def _amounts_total(amounts: loan_ev.LoanAmounts) -> int:
    return amounts.principal + amounts.interest + amounts.fees + amounts.penalties


def loan_fact(routing_key: str, body: bytes) -> LoanFact | None:
    """None for a routing key this release does not know."""
    message = loan_events.decode(routing_key, body)
    if message is None:
        return None
    position = message.loan
    currency = position.currency
    event = _event(
        routing_key,
        message.meta,
        lambda: public_json(message, currency),  # type: ignore[arg-type]
    )
    details: dict[str, Any] = {}
    for field, value in message.ListFields():  # type: ignore[attr-defined]
        if field.name in ("meta", "loan"):
            continue
        kind = field.message_type.full_name if field.message_type is not None else ""
        if kind == "google.type.Date":
            details[field.name] = from_proto_date(value, field.name)
        elif field.type == FieldDescriptor.TYPE_INT64:
            details[field.name] = from_minor(value, currency)
        elif field.message_type is None and field.enum_type is None:
            details[field.name] = value
    return LoanFact(
        event=event,
        loan_id=position.loan_id,
        borrower_id=position.borrower_id,
        currency=currency,
        status=loan_events.status_word(position.status),
        version=message.meta.aggregate_version,
        outstanding=from_minor(_amounts_total(position.outstanding), currency),
        outstanding_principal=from_minor(position.outstanding.principal, currency),
        days_past_due=position.days_past_due,
        oldest_unpaid_due_date=from_proto_date(position.oldest_unpaid_due_date),
        installment_count=position.installment_count,
        changed_installments=tuple(
            Installment(
                number=i.number,
                due_date=from_proto_date(i.due_date, "due_date") or datetime.now(UTC).date(),
                due=from_minor(_amounts_total(i.due), currency),
                paid=from_minor(_amounts_total(i.paid), currency),
            )
            for i in position.changed_installments
        ),
        details=details,
    )


def payment_fact(routing_key: str, body: bytes) -> PaymentFact | None:
    message = payment_events.decode(routing_key, body)
    if message is None:
        return None
    meta: common_pb2.EventMeta = message.meta  # type: ignore[attr-defined]
    amount = getattr(message, "amount", None)
    currency = amount.currency_code if amount is not None else ""
    return PaymentFact(
        event=_event(routing_key, meta, lambda: public_json(message)),
        payment_id=meta.aggregate_id,
        loan_id=getattr(message, "loan_id", ""),
        amount=from_money(amount) if amount is not None else Decimal(0),
        currency=currency,
    )


def business_day_closed(body: bytes) -> BusinessDayClosed:
    message = loan_ev.CloseOfBusinessCompleted.FromString(body)
    day = from_proto_date(message.business_date, "business_date")
    assert day is not None, "a close of business names its date"
    return BusinessDayClosed(
        event=_event(CLOSE_OF_BUSINESS_COMPLETED, message.meta, lambda: public_json(message)),
        business_date=day,
    )


def institution_created(body: bytes) -> Event:
    message = user_ev.InstitutionEvent.FromString(body)
    return _event(INSTITUTION_CREATED, message.meta, dict)
