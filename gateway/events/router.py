"""The console's live feed: notifications and alerts as Server-Sent Events, for each signed-in
user only what their role and branch may see (`shared.live`)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request
from redis.exceptions import ConnectionError as RedisConnectionError
from sse_starlette import EventSourceResponse, ServerSentEvent

from gateway.deps import CurrentPrincipal, allowed
from shared.errors import Unauthenticated
from shared.live import StreamItem, stream_channel
from shared.logging import get_logger
from shared.permissions import Permission as P
from shared.permissions import Principal

log = get_logger(__name__)

router = APIRouter(tags=["events"])

#: How often a comment line keeps proxies from closing an idle stream, and how often the
#: stream's token is checked again (expired or revoked: the stream ends).
PING_SECONDS = 15.0

DESCRIPTION = """A `text/event-stream` that stays open: each message to a borrower and each
alert the caller may see, as it happens (a new one, or a change of its status). Events:

- `event: notification` (permission `notifications:read`), `data:` a JSON summary of the
  message: `{id, borrower_id, loan_id, channel, template, status}`;
- `event: alert` (permission `alerts:read`; only alerts whose rule names the caller's role,
  admins always), `data:` `{id, branch_id, rule_id, trigger, title, detail, subject_type,
  subject_id, status, assignee_id}`;

with `id:` the message's or alert's id (`GET /v1/notifications/{id}`, `GET /v1/alerts/{id}`
answer the whole). Agents and branch managers receive only their branch's (and those of no
branch). A comment line `: subscribed` comes at once, and `: ping` every 15 seconds.

What the console must do: open it with `fetch` (not `EventSource`, which cannot send
headers) with the usual `Authorization: Bearer` header, and read the body as a stream. The
stream ends when the access token expires or the session ends, at the latest one ping
later, after a last comment saying why (`: TOKEN_EXPIRED`, `: TOKEN_REVOKED`): refresh the
token and open it again. Open it again, after a pause of a few seconds, after any other end
or network error too. Nothing is replayed: what happened while no stream was open is in the
lists (`GET /v1/alerts`, `GET /v1/notifications`), which the console reloads on
reconnecting."""


def _item(data: str) -> StreamItem | None:
    try:
        return StreamItem.from_json(data)
    except ValueError as exc:  # json.JSONDecodeError included
        log.warning("live_item_malformed", error=str(exc))
        return None


def sse_of(item: StreamItem) -> ServerSentEvent:
    return ServerSentEvent(data=json.dumps(item.data), event=item.event, id=item.id)


async def live_events(
    pubsub: Any,
    principal: Principal,
    still_signed_in: Callable[[], Awaitable[str]],
    ping_seconds: float,
) -> AsyncIterator[ServerSentEvent]:
    """The items published on the subscribed channel that `principal` may see, a ping every
    `ping_seconds`; ends when `still_signed_in` answers a reason (not "") at a ping."""
    loop = asyncio.get_running_loop()
    yield ServerSentEvent(comment="subscribed")
    next_ping = loop.time() + ping_seconds
    while True:
        message = await pubsub.get_message(
            ignore_subscribe_messages=True, timeout=max(0.0, next_ping - loop.time())
        )
        item = _item(message["data"]) if message is not None else None
        if item is not None and item.visible_to(principal):
            yield sse_of(item)
        if loop.time() >= next_ping:
            ended = await still_signed_in()
            if ended:
                yield ServerSentEvent(comment=ended)
                return
            yield ServerSentEvent(comment="ping")
            next_ping = loop.time() + ping_seconds


@router.get(
    "/v1/events/stream",
    summary="Live notifications and alerts",
    description=DESCRIPTION,
    response_class=EventSourceResponse,
    responses={
        200: {
            "description": "Server-Sent Events, until the token expires or the client goes",
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
        }
    },
    dependencies=[allowed(P.NOTIFICATIONS_READ, P.ALERTS_READ)],
)
async def event_stream(request: Request, principal: CurrentPrincipal) -> EventSourceResponse:
    app = request.app
    token: str = request.state.token
    # Every role allowed here belongs to an institution.
    channel = stream_channel(app.state.settings.kopa_namespace, principal.institution_id or "")

    async def still_signed_in() -> str:
        try:
            await app.state.authenticate(token)
        except Unauthenticated as exc:
            return exc.reason
        return ""

    async def events() -> AsyncIterator[ServerSentEvent]:
        pubsub = app.state.redis.pubsub()
        try:
            await pubsub.subscribe(channel)
            async for event in live_events(pubsub, principal, still_signed_in, PING_SECONDS):
                yield event
        except RedisConnectionError as exc:
            # The client reconnects, as after any end of the stream.
            log.warning("live_stream_redis_lost", error=str(exc))
        finally:
            await pubsub.aclose()

    # The pings are ours, not the library's: each one checks the token again first.
    return EventSourceResponse(events(), ping=0)
