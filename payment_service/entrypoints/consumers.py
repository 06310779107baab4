"""The loan-event consumer: decodes the ``kopa.loan.v1`` event of the routing key
(``shared.loan_events``, ``adapters.codec``) and hands what payment_service reads of it to
the use case.

Registered with ``runtime.consume(BINDINGS, consumer)``; the shared ``EventConsumer``
dead-letters an event that fails twice. Delivery is at least once: the handlers are
idempotent (deterministic entry ids, guarded transitions, versioned upserts).
"""

from __future__ import annotations

from typing import Any

from payment_service.adapters.codec import loan_event_from_proto
from payment_service.service_layer.loan_events import BINDINGS, LoanEvents
from shared import context as request_context
from shared import loan_events

__all__ = ["BINDINGS", "LoanEventConsumer"]


class LoanEventConsumer:
    def __init__(self, events: LoanEvents) -> None:
        self.events = events

    async def __call__(self, routing_key: str, body: bytes, headers: dict[str, Any]) -> None:
        event = loan_events.decode(routing_key, body)
        if event is None:
            return  # a kind of loan event this release does not know of: nothing to keep
        request_context.set_current(
            request_context.RequestContext(
                request_id=event.meta.request_id or event.meta.event_id or "loan-event"
            )
        )
        await self.events.handle(loan_event_from_proto(routing_key, event))
