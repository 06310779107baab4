"""The events an institution's webhook endpoint may subscribe to (the platform's routing keys):
one list for the gateway, which offers them in its API, and for notification_service, which
delivers them."""

from __future__ import annotations

from typing import Final, Literal, get_args

WebhookEventType = Literal[
    "loan.submitted",
    "loan.approved",
    "loan.rejected",
    "loan.disbursed",
    "loan.repayment_applied",
    "loan.repayment_reversed",
    "loan.installment_overdue",
    "loan.reclassified",
    "loan.closed",
    "loan.written_off",
    "loan.rescheduled",
    "payment.posted",
    "payment.unmatched",
    "payment.reversed",
    "close_of_business.completed",
    "alert.raised",
]

EVENT_TYPES: Final[tuple[str, ...]] = get_args(WebhookEventType)
