"""An institution's webhook endpoints (the Standard Webhooks specification) and what was
delivered to them."""

from __future__ import annotations

from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, StrictStr, field_validator

from gateway.schema import Strict, Timestamp
from shared.webhook_events import WebhookEventType

EventType = WebhookEventType


DeliveryStatus = Literal["pending", "succeeded", "failed"]


class WebhookBody(Strict):
    url: StrictStr = Field(
        max_length=2000,
        description="https (http only where the platform allows private addresses); it must "
        "not resolve to a private, loopback or link-local address (unless allowed) and must "
        "accept a connection, else 422 naming `url`. Redirects are not followed.",
        examples=["https://erp.umoja.example/kopa/webhooks"],
    )
    event_types: list[EventType] = Field(
        min_length=1, max_length=50, examples=[["loan.disbursed", "payment.posted"]]
    )
    description: StrictStr | None = Field(None, max_length=500)

    @field_validator("url")
    @classmethod
    def _absolute_http_url(cls, url: str) -> str:
        parts = urlsplit(url)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise ValueError("must be an absolute https URL, e.g. https://erp.example/webhooks")
        return url


_ENDPOINT_EXAMPLE: dict[str, Any] = {
    "id": "whe_019d2c5a0b2c4e6a8c0e2a4c6e8a",
    "url": "https://erp.umoja.example/kopa/webhooks",
    "event_types": ["loan.disbursed", "payment.posted"],
    "status": "enabled",
    "description": "ERP ledger sync",
    "disabled_reason": None,
    "create_time": "2026-03-31T09:30:00.123Z",
}


class WebhookEndpoint(BaseModel):
    """Where the institution's own systems receive its events, signed."""

    model_config = ConfigDict(json_schema_extra={"examples": [_ENDPOINT_EXAMPLE]})

    id: str
    url: str
    event_types: list[str]
    status: Literal["enabled", "disabled"] = Field(
        description="`disabled` after a delivery failed for longer than the retry schedule "
        "(about 27 hours): nothing is sent until `POST /v1/webhooks/{id}/enable`"
    )
    description: str | None
    disabled_reason: str | None
    create_time: Timestamp


class CreatedWebhookEndpoint(WebhookEndpoint):
    """The endpoint just created, with its signing secret: the only answer that shows it."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [_ENDPOINT_EXAMPLE | {"secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}]
        }
    )

    secret: str = Field(
        description="`whsec_` + base64: the key of the `webhook-signature` HMAC (base64-decode "
        "what follows `whsec_`). Shown only here: keep it."
    )


class DeliveryAttempt(BaseModel):
    time: Timestamp
    response_status: int | None = Field(
        description="the endpoint's HTTP status; null when no answer came (refused, timed out, "
        "a redirect not followed)"
    )
    error: str | None
    duration_ms: int


class WebhookDelivery(BaseModel):
    """One event sent to one endpoint, with every attempt."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "msg_019d2c5b1c3e5a7c9e1a3c5e7a9c",
                    "endpoint_id": "whe_019d2c5a0b2c4e6a8c0e2a4c6e8a",
                    "event_type": "loan.disbursed",
                    "event_id": "evt_019d2c4e7f0a2c4e6a8c0e2a4c6e",
                    "status": "pending",
                    "attempts": 2,
                    "response_status": 503,
                    "create_time": "2026-03-31T09:30:00.123Z",
                    "next_attempt_time": "2026-03-31T09:35:05.400Z",
                    "attempt_log": [
                        {
                            "time": "2026-03-31T09:30:00.200Z",
                            "response_status": None,
                            "error": "connection refused",
                            "duration_ms": 3,
                        },
                        {
                            "time": "2026-03-31T09:30:05.400Z",
                            "response_status": 503,
                            "error": None,
                            "duration_ms": 41,
                        },
                    ],
                }
            ]
        }
    )

    id: str = Field(description="the `webhook-id` header: the same on every attempt and replay")
    endpoint_id: str
    event_type: str
    event_id: str
    status: DeliveryStatus = Field(
        description="`pending` (waiting for its first or next attempt), `succeeded` (answered "
        "2xx), `failed` (every attempt of the schedule failed)"
    )
    attempts: int
    response_status: int | None = Field(description="of the last attempt; null when none answered")
    create_time: Timestamp
    next_attempt_time: Timestamp | None = Field(description="while `pending`")
    attempt_log: list[DeliveryAttempt] = Field(description="oldest first")
