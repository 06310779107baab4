"""The events this service consumes, decoded and handed to the intake."""

from __future__ import annotations

from typing import Any

from notification_service.adapters import event_codec
from notification_service.service_layer.intake import Intake
from notification_service.service_layer.ports import BorrowerNotFound
from shared.events import Unprocessable

BINDINGS = (
    "loan.*",
    "payment.*",
    event_codec.CLOSE_OF_BUSINESS_COMPLETED,
    event_codec.INSTITUTION_CREATED,
)


class EventHandler:
    def __init__(self, intake: Intake) -> None:
        self.intake = intake

    async def __call__(self, routing_key: str, body: bytes, headers: dict[str, Any]) -> None:
        try:
            await self._handle(routing_key, body)
        except BorrowerNotFound as exc:
            # Retrying cannot make the borrower exist: park it with the reason at once.
            raise Unprocessable(str(exc)) from exc

    async def _handle(self, routing_key: str, body: bytes) -> None:
        if routing_key == event_codec.CLOSE_OF_BUSINESS_COMPLETED:
            await self.intake.business_day_closed(event_codec.business_day_closed(body))
        elif routing_key == event_codec.INSTITUTION_CREATED:
            await self.intake.institution_created(event_codec.institution_created(body))
        elif routing_key.startswith("loan."):
            fact = event_codec.loan_fact(routing_key, body)
            if fact is not None:
                await self.intake.loan_event(fact)
        elif routing_key.startswith("payment."):
            payment = event_codec.payment_fact(routing_key, body)
            if payment is not None:
                await self.intake.payment_event(payment)
