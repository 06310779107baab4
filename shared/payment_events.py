"""The message each ``payment.*`` routing key carries (``kopa/payment/v2/events.proto``): one
table for payment_service, which publishes them, and for any consumer, which reads them."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from google.protobuf.message import Message

from kopa.payment.v2 import events_pb2 as ev

MESSAGES: Final[Mapping[str, type[Message]]] = MappingProxyType(
    {
        "payment.received": ev.PaymentReceived,
        "payment.unmatched": ev.PaymentUnmatched,
        "payment.posted": ev.PaymentPosted,
        "payment.assigned": ev.PaymentAssigned,
        "payment.refunded": ev.PaymentRefunded,
        "payment.reversed": ev.PaymentReversed,
    }
)


def decode(routing_key: str, body: bytes) -> Message | None:
    """The event a ``payment.*`` delivery carries; None for a routing key this release does not
    know (published by a newer one: skipped, not dead-lettered)."""
    message_type = MESSAGES.get(routing_key)
    return message_type.FromString(body) if message_type is not None else None
