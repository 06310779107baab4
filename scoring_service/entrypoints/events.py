"""Event consumers: loan events feed the outcomes that what-if and governance reports use."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, Final

from scoring_service.service_layer.handlers import ScoringHandlers
from shared import loan_events
from shared.logging import get_logger

log = get_logger(__name__)

LOAN_OUTCOME_EVENTS: Final = (
    "loan.closed",
    "loan.written_off",
    "loan.reclassified",
    "loan.repayment_applied",
)
"""Routing keys whose loan position says how a scored loan is doing (status, days past due)."""

EventHandler = Callable[[str, bytes, dict[str, Any]], Awaitable[None]]


def loan_status(value: int) -> str:
    """`LOAN_STATUS_WRITTEN_OFF` -> `written_off` (the REST spelling)."""
    try:
        return loan_events.status_word(value)
    except ValueError:
        return "unspecified"


def loan_event_handler(handlers: ScoringHandlers) -> EventHandler:
    """The consumer callback (`Runtime.consume`). Idempotent: the outcome write tolerates
    replays and reordering (the loan's version decides)."""

    async def handle(routing_key: str, body: bytes, headers: dict[str, Any]) -> None:
        event = loan_events.decode(routing_key, body)
        if event is None:
            return
        loan = event.loan
        if not loan.loan_id:
            log.warning("loan_event_without_loan", key=routing_key, event_id=event.meta.event_id)
            return
        occurred = (
            event.meta.occurred_at.ToDatetime(tzinfo=UTC)
            if event.meta.HasField("occurred_at")
            else datetime.now(UTC)
        )
        await handlers.record_loan_outcome(
            loan_id=loan.loan_id,
            institution_id=loan.institution_id or event.meta.institution_id,
            status=loan_status(loan.status),
            days_past_due=loan.days_past_due,
            loan_version=event.meta.aggregate_version,
            occurred_at=occurred,
        )

    return handle
