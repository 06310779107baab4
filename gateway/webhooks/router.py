"""Webhook endpoints of an institution's own systems, signed per the Standard Webhooks
specification, and the log of what was delivered to them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from gateway.convert import from_proto, to_proto
from gateway.deps import Stubs, allowed
from gateway.schema import OptionalIdempotencyKey, Page, PageSize, PageToken
from gateway.webhooks.schemas import (
    CreatedWebhookEndpoint,
    DeliveryAttempt,
    DeliveryStatus,
    WebhookBody,
    WebhookDelivery,
    WebhookEndpoint,
)
from kopa.notification.v1 import notification_pb2 as pb
from shared.permissions import Permission as P

router = APIRouter(tags=["webhooks"])


def delivery(d: pb.WebhookDelivery) -> WebhookDelivery:
    # proto3 has no null: "no answer" travels as status 0.
    return from_proto(
        WebhookDelivery,
        d,
        response_status=d.response_status or None,
        attempt_log=[
            from_proto(DeliveryAttempt, a, response_status=a.response_status or None)
            for a in d.attempt_log
        ],
    )


@router.post(
    "/v1/webhooks",
    status_code=201,
    summary="Add a webhook endpoint",
    dependencies=[allowed(P.WEBHOOKS_MANAGE)],
)
async def create_webhook(
    body: WebhookBody, stubs: Stubs, idempotency_key: OptionalIdempotencyKey = ""
) -> CreatedWebhookEndpoint:
    """From now on every event of `event_types` is POSTed to `url` as `{type, timestamp,
    data}`, signed per the Standard Webhooks specification (`webhook-id`, `webhook-timestamp`,
    `webhook-signature: v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">` keyed with the
    base64-decoded `secret` after `whsec_`). The `secret` is in this answer only. A URL that is
    not https (where the platform refuses private addresses), resolves to a private, loopback
    or link-local address, or refuses a connection is 422 naming `url`. With an
    `Idempotency-Key`, a retry answers the same endpoint."""
    reply = await stubs.webhooks.CreateWebhookEndpoint(
        pb.CreateWebhookEndpointRequest(
            endpoint=to_proto(pb.WebhookEndpoint, body), request_id=idempotency_key
        )
    )
    return from_proto(CreatedWebhookEndpoint, reply.endpoint)


@router.get(
    "/v1/webhooks", summary="List webhook endpoints", dependencies=[allowed(P.WEBHOOKS_READ)]
)
async def list_webhooks(
    stubs: Stubs, page_size: PageSize = 50, page_token: PageToken = ""
) -> Page[WebhookEndpoint]:
    """The institution's endpoints, without their secrets."""
    reply = await stubs.webhooks.ListWebhookEndpoints(
        pb.ListWebhookEndpointsRequest(page_size=page_size, page_token=page_token)
    )
    return Page[WebhookEndpoint](
        items=[from_proto(WebhookEndpoint, e) for e in reply.endpoints],
        next_page_token=reply.next_page_token,
    )


@router.get(
    "/v1/webhooks/{webhook_id}",
    summary="Get a webhook endpoint",
    dependencies=[allowed(P.WEBHOOKS_READ)],
)
async def get_webhook(webhook_id: str, stubs: Stubs) -> WebhookEndpoint:
    """An endpoint, without its secret; another institution's is 404."""
    reply = await stubs.webhooks.GetWebhookEndpoint(
        pb.GetWebhookEndpointRequest(endpoint_id=webhook_id)
    )
    return from_proto(WebhookEndpoint, reply.endpoint)


@router.delete(
    "/v1/webhooks/{webhook_id}",
    status_code=204,
    summary="Remove a webhook endpoint",
    dependencies=[allowed(P.WEBHOOKS_MANAGE)],
)
async def delete_webhook(webhook_id: str, stubs: Stubs) -> Response:
    """Nothing more is sent to it, retries included."""
    await stubs.webhooks.DeleteWebhookEndpoint(
        pb.DeleteWebhookEndpointRequest(endpoint_id=webhook_id)
    )
    return Response(status_code=204)


@router.post(
    "/v1/webhooks/{webhook_id}/enable",
    summary="Enable a disabled webhook endpoint",
    dependencies=[allowed(P.WEBHOOKS_MANAGE)],
)
async def enable_webhook(webhook_id: str, stubs: Stubs) -> WebhookEndpoint:
    """An endpoint disabled after persistent failure receives events again, from now on; the
    deliveries that failed meanwhile are replayed one by one
    (`POST .../deliveries/{delivery_id}/replay`)."""
    reply = await stubs.webhooks.EnableWebhookEndpoint(
        pb.EnableWebhookEndpointRequest(endpoint_id=webhook_id)
    )
    return from_proto(WebhookEndpoint, reply.endpoint)


@router.get(
    "/v1/webhooks/{webhook_id}/deliveries",
    summary="An endpoint's deliveries",
    dependencies=[allowed(P.WEBHOOKS_READ)],
)
async def list_deliveries(
    webhook_id: str,
    stubs: Stubs,
    status: Annotated[DeliveryStatus | None, Query(description="only those in this status")] = None,
    page_size: PageSize = 50,
    page_token: PageToken = "",
) -> Page[WebhookDelivery]:
    """Newest first, each with its attempts: a failed attempt is retried 5 s, 5 min, 30 min,
    2 h, 5 h, 10 h and 10 h after the one before (about 27 hours in all), then the delivery
    is `failed` and the endpoint disabled, with an alert to the admins."""
    reply = await stubs.webhooks.ListWebhookDeliveries(
        to_proto(
            pb.ListWebhookDeliveriesRequest,
            {
                "endpoint_id": webhook_id,
                "status": status,
                "page_size": page_size,
                "page_token": page_token,
            },
        )
    )
    return Page[WebhookDelivery](
        items=[delivery(d) for d in reply.deliveries], next_page_token=reply.next_page_token
    )


@router.post(
    "/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/replay",
    summary="Send a delivery again",
    dependencies=[allowed(P.WEBHOOKS_MANAGE)],
)
async def replay_delivery(webhook_id: str, delivery_id: str, stubs: Stubs) -> WebhookDelivery:
    """Sends the event again now, with the same `webhook-id` (receivers deduplicate on it),
    whatever the delivery's status; answers the delivery with this attempt in its log. A replay
    that fails disables nothing."""
    reply = await stubs.webhooks.ReplayWebhookDelivery(
        pb.ReplayWebhookDeliveryRequest(endpoint_id=webhook_id, delivery_id=delivery_id)
    )
    return delivery(reply.delivery)
