"""Webhooks to an institution's own systems (the Standard Webhooks specification): endpoints,
one delivery per endpoint and event, retried on the schedule for about 27 hours, replayable,
and an endpoint disabled (with an alert to its admins) when a delivery fails for good."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime, timedelta

from notification_service.domain import webhooks as w
from notification_service.domain.facts import Event
from notification_service.domain.webhooks import (
    Attempt,
    Delivery,
    DeliveryStatus,
    Endpoint,
    EndpointStatus,
)
from notification_service.service_layer.clock import now
from notification_service.service_layer.ports import (
    Deliveries,
    Endpoints,
    Page,
    UnsafeUrl,
    WebhookRequest,
    WebhookResponse,
    WebhookSender,
)
from shared import context
from shared.errors import NotFound, ValidationError
from shared.ids import new_id
from shared.logging import get_logger
from shared.permissions import Permission as P
from shared.permissions import require
from shared.webhook_events import EVENT_TYPES

log = get_logger(__name__)

LEASE = timedelta(seconds=60)
#: How long the endpoints subscribed to an event type are taken as read.
SUBSCRIBERS_FOR = 2.0
BATCH_ROUNDS = 4
MAX_URL = 2000
MAX_DESCRIPTION = 500

#: Called with the endpoint a failed delivery disabled (raises the admins' alert).
OnDisabled = Callable[[Endpoint, Delivery], Awaitable[None]]


def body_of(event: Event) -> bytes:
    """The delivery's body: `{type, timestamp, data}` (the spec's recommended envelope)."""
    envelope = {
        "type": event.type,
        "timestamp": event.occurred_at.isoformat().replace("+00:00", "Z"),
        "data": {"id": event.id, **event.data},
    }
    return json.dumps(envelope, separators=(",", ":"), ensure_ascii=False).encode()


class Webhooks:
    def __init__(
        self,
        endpoints: Endpoints,
        deliveries: Deliveries,
        sender: WebhookSender,
        new_secret: Callable[[], str],
        *,
        schedule: tuple[timedelta, ...] = w.SCHEDULE,
        concurrency: int = 64,
    ) -> None:
        self.endpoints = endpoints
        self.deliveries = deliveries
        self.sender = sender
        self._new_secret = new_secret
        self.schedule = schedule
        self._limit = asyncio.Semaphore(concurrency)
        # Claimed at once: a few rounds of `concurrency` requests, so that the claim (three
        # statements) and the endpoints' reads are paid per batch, not per 16 deliveries.
        # Four rounds of requests cut off at the sender's timeout (10 s) stay within LEASE.
        self._batch = BATCH_ROUNDS * concurrency
        # (institution, event type) -> (until when, the endpoints subscribed): every event
        # asks, and endpoints change rarely. This replica's own changes clear it at once;
        # another replica's show within SUBSCRIBERS_FOR (the delivery re-reads the endpoint,
        # so a disabled or deleted one is never sent to).
        self._subscribers: dict[tuple[str, str], tuple[float, list[Endpoint]]] = {}
        self.on_disabled: OnDisabled | None = None
        self.wake: Callable[[], None] = lambda: None

    # --- endpoints -------------------------------------------------------------------------

    async def create(self, url: str, event_types: list[str], description: str) -> Endpoint:
        p = context.principal()
        require(p, P.WEBHOOKS_MANAGE)
        assert p.institution_id is not None
        problems = []
        url = url.strip()
        if not url or len(url) > MAX_URL:
            problems.append(("url", f"must be an absolute URL of at most {MAX_URL} characters"))
        if not event_types:
            problems.append(("event_types", "name at least one event type"))
        for n, kind in enumerate(event_types):
            if kind not in EVENT_TYPES:
                problems.append((f"event_types[{n}]", f"must be one of {', '.join(EVENT_TYPES)}"))
        if len(description) > MAX_DESCRIPTION:
            problems.append(("description", f"must be at most {MAX_DESCRIPTION} characters"))
        if not problems:
            try:
                await self.sender.check_url(url)
            except UnsafeUrl as exc:
                problems.append(("url", str(exc)))
        if problems:
            raise ValidationError.of_fields(problems)
        endpoint = Endpoint(
            id=new_id("whe"),
            institution_id=p.institution_id,
            url=url,
            event_types=tuple(dict.fromkeys(event_types)),
            description=description.strip(),
            secret=self._new_secret(),
            status=EndpointStatus.ENABLED,
            create_time=now(),
            created_by=p.user_id,
        )
        await self.endpoints.add(endpoint)
        self._changed(endpoint.institution_id)
        return endpoint

    async def _endpoint(self, endpoint_id: str, permission: P) -> Endpoint:
        p = context.principal()
        require(p, permission)
        assert p.institution_id is not None
        endpoint = await self.endpoints.get(p.institution_id, endpoint_id)
        if endpoint is None:
            raise NotFound(f"No webhook endpoint {endpoint_id}.", reason="WEBHOOK_NOT_FOUND")
        return endpoint

    async def get(self, endpoint_id: str) -> Endpoint:
        return await self._endpoint(endpoint_id, P.WEBHOOKS_READ)

    async def page(self, page_size: int, page_token: str) -> Page[Endpoint]:
        p = context.principal()
        require(p, P.WEBHOOKS_READ)
        assert p.institution_id is not None
        return await self.endpoints.page(p.institution_id, page_size, page_token)

    async def delete(self, endpoint_id: str) -> None:
        endpoint = await self._endpoint(endpoint_id, P.WEBHOOKS_MANAGE)
        await self.endpoints.delete(endpoint.institution_id, endpoint.id)
        self._changed(endpoint.institution_id)

    async def enable(self, endpoint_id: str) -> Endpoint:
        endpoint = await self._endpoint(endpoint_id, P.WEBHOOKS_MANAGE)
        enabled = replace(endpoint, status=EndpointStatus.ENABLED, disabled_reason="")
        await self.endpoints.save(enabled)
        self._changed(endpoint.institution_id)
        return enabled

    async def deliveries_of(
        self, endpoint_id: str, status: str, page_size: int, page_token: str
    ) -> Page[Delivery]:
        endpoint = await self._endpoint(endpoint_id, P.WEBHOOKS_READ)
        if status and status not in {s.value for s in DeliveryStatus}:
            raise ValidationError.of("status", "must be pending, succeeded or failed")
        wanted = DeliveryStatus(status) if status else None
        return await self.deliveries.page(endpoint.id, wanted, page_size, page_token)

    async def replay(self, endpoint_id: str, delivery_id: str) -> Delivery:
        """Sends a delivery again now, whatever its status, with the same `webhook-id`."""
        endpoint = await self._endpoint(endpoint_id, P.WEBHOOKS_MANAGE)
        delivery = await self.deliveries.get(endpoint.id, delivery_id)
        if delivery is None:
            raise NotFound(f"No delivery {delivery_id}.", reason="DELIVERY_NOT_FOUND")
        return await self._attempt(endpoint, delivery.replayed(now()))

    # --- events out --------------------------------------------------------------------------

    async def _subscribed(self, institution_id: str, event_type: str) -> list[Endpoint]:
        key = (institution_id, event_type)
        held = self._subscribers.get(key)
        if held is not None and held[0] > time.monotonic():
            return held[1]
        found = await self.endpoints.subscribed(institution_id, event_type)
        self._subscribers[key] = (time.monotonic() + SUBSCRIBERS_FOR, found)
        return found

    def _changed(self, institution_id: str) -> None:
        for key in [k for k in self._subscribers if k[0] == institution_id]:
            del self._subscribers[key]

    async def fan_out(self, event: Event) -> list[Delivery]:
        """One pending delivery per endpoint subscribed to the event (none twice)."""
        endpoints = await self._subscribed(event.institution_id, event.type)
        if not endpoints:
            return []
        body = body_of(event)
        stamp = now()
        added = await self.deliveries.add_many(
            [
                Delivery(
                    id=w.delivery_id(e.id, event.id),
                    institution_id=event.institution_id,
                    endpoint_id=e.id,
                    event_type=event.type,
                    event_id=event.id,
                    body=body,
                    status=DeliveryStatus.PENDING,
                    create_time=stamp,
                    next_attempt_time=stamp,
                )
                for e in endpoints
            ]
        )
        if added:
            self.wake()
        return added

    async def deliver_due(self) -> int:
        """Sends every delivery whose time has come, in batches (`concurrency` requests at a
        time, each endpoint read once a batch); returns how many were tried."""
        tried = 0
        while True:
            stamp = now()
            batch = await self.deliveries.claim_due(stamp, stamp + LEASE, self._batch)
            if not batch:
                return tried
            keys = list(dict.fromkeys((d.institution_id, d.endpoint_id) for d in batch))
            found = await asyncio.gather(*(self.endpoints.get(*key) for key in keys))
            endpoints = dict(zip(keys, found, strict=True))
            await asyncio.gather(*(self._deliver(d, endpoints) for d in batch))
            tried += len(batch)

    async def _deliver(
        self, delivery: Delivery, endpoints: dict[tuple[str, str], Endpoint | None]
    ) -> None:
        key = (delivery.institution_id, delivery.endpoint_id)
        async with self._limit:
            # Looked up when its turn comes: an endpoint that an earlier delivery of the
            # batch disabled holds the rest.
            endpoint = endpoints[key]
            if endpoint is not None and endpoint.status is EndpointStatus.ENABLED:
                started, response = await self._request(endpoint, delivery)
        if endpoint is None or endpoint.status is EndpointStatus.DISABLED:
            # Deleted since: nothing to send to; the delivery stays in the log as failed.
            # Disabled: held until an admin enables the endpoint again (then replays what
            # they want).
            await self.deliveries.save(
                replace(
                    delivery,
                    status=DeliveryStatus.FAILED,
                    next_attempt_time=None,
                    version=delivery.version + 1,
                )
            )
            return
        after = await self._record(endpoint, delivery, started, response)
        if after.status is DeliveryStatus.FAILED:
            endpoints[key] = await self._disable(endpoint, after)

    async def _attempt(self, endpoint: Endpoint, delivery: Delivery) -> Delivery:
        """One attempt by hand (a replay): when it fails, the endpoint is not disabled, as
        someone is trying it."""
        async with self._limit:
            started, response = await self._request(endpoint, delivery)
        return await self._record(endpoint, delivery, started, response)

    async def _request(
        self, endpoint: Endpoint, delivery: Delivery
    ) -> tuple[datetime, WebhookResponse]:
        started = now()
        response = await self.sender.send(
            WebhookRequest(
                url=endpoint.url,
                delivery_id=delivery.id,
                secret=endpoint.secret,
                body=delivery.body,
                timestamp=int(started.timestamp()),
            )
        )
        return started, response

    async def _record(
        self, endpoint: Endpoint, delivery: Delivery, started: datetime, response: WebhookResponse
    ) -> Delivery:
        after = delivery.tried(
            Attempt(started, response.status, response.error[:300], response.duration_ms),
            self.schedule,
        )
        await self.deliveries.save(after)
        log.info(
            "webhook_attempted",
            delivery_id=delivery.id,
            endpoint_id=endpoint.id,
            status=after.status.value,
            response_status=response.status,
        )
        return after

    async def _disable(self, endpoint: Endpoint, delivery: Delivery) -> Endpoint:
        reason = (
            f"delivery {delivery.id} ({delivery.event_type}) failed {delivery.attempts} times "
            f"since {_stamp(delivery.create_time)}; last answer "
            f"{delivery.response_status or 'none'}"
        )
        disabled = replace(endpoint, status=EndpointStatus.DISABLED, disabled_reason=reason)
        await self.endpoints.save(disabled)
        self._changed(endpoint.institution_id)
        log.warning("webhook_endpoint_disabled", endpoint_id=endpoint.id, reason=reason)
        if self.on_disabled is not None:
            await self.on_disabled(endpoint, delivery)
        return disabled


def _stamp(value: datetime) -> str:
    return value.isoformat(timespec="seconds").replace("+00:00", "Z")
