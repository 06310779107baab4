"""Event consumers: the loan events that open or settle a borrower's loan keep the read model
that says whether a member may leave their group."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Final

from shared import loan_events
from shared.logging import get_logger
from user_service.service_layer.groups import GroupHandlers

log = get_logger(__name__)

LOAN_STATUS_EVENTS: Final = (
    "loan.submitted",
    "loan.approved",
    "loan.rejected",
    "loan.disbursed",
    "loan.closed",
    "loan.reopened",
    "loan.written_off",
)
"""Routing keys of the writes that change a loan's status (repayments only change it through
`loan.closed`, so the money path's events are not consumed here)."""


def loan_event_handler(
    handlers: GroupHandlers,
) -> Callable[[str, bytes, dict[str, Any]], Awaitable[None]]:
    """The consumer callback (`Runtime.consume`). Idempotent: the loan's version decides,
    so a replay or a late event changes nothing."""

    async def handle(routing_key: str, body: bytes, headers: dict[str, Any]) -> None:
        event = loan_events.decode(routing_key, body)
        if event is None or not event.loan.loan_id:
            return
        loan = event.loan
        try:
            status = loan_events.status_word(loan.status)
        except ValueError:
            log.warning("loan_status_unknown", key=routing_key, status=loan.status)
            return
        await handlers.record_loan(
            loan_id=loan.loan_id,
            institution_id=loan.institution_id or event.meta.institution_id,
            borrower_id=loan.borrower_id,
            status=status,
            version=event.meta.aggregate_version,
        )

    return handle
