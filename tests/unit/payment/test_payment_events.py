"""payment_service's events as published: one typed message per routing key, with what
happened to the payment (not a snapshot of it), read back through `shared.payment_events`."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from kopa.loan.v1 import loan_pb2
from kopa.payment.v2 import events_pb2 as ev
from kopa.payment.v2 import repayments_pb2 as v2
from payment_service.adapters.codec import event_message
from payment_service.domain.payment import (
    Assigned,
    Assignment,
    IdempotencyScope,
    Payment,
    PaymentEvent,
    PaymentKind,
    PaymentStatus,
    Posted,
    Received,
    Refunded,
    Reversed,
    Unmatched,
)
from payment_service.domain.postings import Allocation
from shared import payment_events
from shared.events import outbox_body, outbox_entry

pytestmark = pytest.mark.unit

NOW = dt.datetime(2026, 3, 31, 12, 0, tzinfo=dt.UTC)


def payment(**kw: Any) -> Payment:
    values: dict[str, Any] = {
        "id": "pay_1",
        "seq": "pay_01",
        "kind": PaymentKind.REPAYMENT,
        "status": PaymentStatus.POSTED,
        "institution_id": "inst_1",
        "branch_id": "br_1",
        "loan_id": "loan_1",
        "amount": Decimal("150.50"),
        "currency": "KES",
        "paid_on": dt.date(2026, 3, 30),
        "create_time": NOW,
        "update_time": NOW,
        "idempotency": IdempotencyScope("k-1", "fp", caller="usr_1"),
        "channel": "bank",
        "reference": "rcpt 9",
        "recorded_by": "usr_1",
        "version": 3,
        "entry_id": "repayment:pay_1",
        "allocation": Allocation(principal=Decimal("50.50"), interest=Decimal("100.00")),
        "outstanding": {"principal": Decimal("949.50"), "total": Decimal("949.50")},
        "loan_status": loan_pb2.LOAN_STATUS_ACTIVE,
    }
    values.update(kw)
    return Payment(**values)


def published(event: PaymentEvent, p: Payment) -> Any:
    """The event as a consumer reads it off the broker."""
    entry = outbox_entry(event_message(event, p))
    assert entry["routing_key"] == event.routing_key
    decoded = payment_events.decode(entry["routing_key"], outbox_body(entry))
    assert decoded is not None and entry["type"] == decoded.DESCRIPTOR.full_name
    assert (decoded.meta.aggregate_id, decoded.meta.aggregate_version) == ("pay_1", 3)
    return decoded


def test_a_posting_says_what_was_paid_how_it_was_split_and_what_is_owed() -> None:
    e = published(Posted(), payment())
    assert isinstance(e, ev.PaymentPosted)
    assert (e.amount.currency_code, e.amount.units, e.amount.nanos) == ("KES", 150, 500_000_000)
    assert (e.paid_on.year, e.paid_on.month, e.paid_on.day) == (2026, 3, 30)
    assert (e.allocation.principal.units, e.allocation.interest.units) == (50, 100)
    assert e.allocation.fees.currency_code == "KES" and e.allocation.fees.units == 0
    assert e.outstanding.total.units == 949 and e.loan_status == loan_pb2.LOAN_STATUS_ACTIVE
    assert (e.channel, e.kind) == (v2.PAYMENT_CHANNEL_BANK, v2.PAYMENT_KIND_REPAYMENT)
    assert (e.entry_id, e.recorded_by, e.loan_id) == ("repayment:pay_1", "usr_1", "loan_1")


def test_every_kind_of_event_has_its_own_message() -> None:
    receipt = payment(
        kind=PaymentKind.MOBILE_MONEY,
        status=PaymentStatus.SUSPENSE,
        loan_id="",
        provider_transaction_id="TX1",
        payer_phone="+254712345678",
        allocation=None,
        outstanding=None,
    )
    unmatched = published(Unmatched(), receipt)
    assert isinstance(unmatched, ev.PaymentUnmatched)
    assert (unmatched.provider_transaction_id, unmatched.payer_phone) == ("TX1", "+254712345678")
    received = published(Received(), receipt)
    assert isinstance(received, ev.PaymentReceived) and received.loan_id == ""
    assigned = published(
        Assigned(), payment(assign=Assignment("loan_1", "usr_2", NOW), recorded_by="")
    )
    assert isinstance(assigned, ev.PaymentAssigned) and assigned.assigned_by == "usr_2"
    refunded = published(Refunded(), payment(kind=PaymentKind.REFUND, entry_id="refund:1"))
    assert isinstance(refunded, ev.PaymentRefunded) and refunded.entry_id == "refund:1"
    reversed_ = published(
        Reversed(),
        payment(reversal_reason="bounced", reversal_entry_id="reversal:repayment:pay_1"),
    )
    assert isinstance(reversed_, ev.PaymentReversed)
    assert (reversed_.reason, reversed_.reversal_entry_id) == (
        "bounced",
        "reversal:repayment:pay_1",
    )
    assert set(payment_events.MESSAGES) == {
        e.routing_key
        for e in (Received(), Unmatched(), Posted(), Assigned(), Refunded(), Reversed())
    }


def test_an_unknown_routing_key_is_skipped_not_misread() -> None:
    assert payment_events.decode("payment.teleported", b"\x08\x01") is None
