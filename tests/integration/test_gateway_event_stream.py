"""The console's event stream through the gateway's real app, served by uvicorn, over the real
Redis: items published as notification_service publishes them (shared.live.publish) reach each
subscriber its role and branch allow, and the stream ends with its token. Tokens are checked by
a stand-in for auth_service's keys (the JWT check itself is tested in tests/integration/auth);
notification_service is a fake stub (its delivery-report answer)."""

from __future__ import annotations

import asyncio
import json
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis
import uvicorn

from gateway.events import router as events_router
from kopa.notification.v1 import notification_pb2 as pb
from shared.errors import Unauthenticated
from shared.live import StreamItem, publish
from shared.permissions import Principal, Role
from tests.support.gateway_app import FakeStub, failed_call, gateway_app

pytestmark = pytest.mark.integration

INSTITUTION = "inst_live"
STAFF = {
    "agent_a": Principal("usr_agent_a", Role.AGENT, INSTITUTION, "br_a", "ses_1"),
    "agent_b": Principal("usr_agent_b", Role.AGENT, INSTITUTION, "br_b", "ses_2"),
    "risk": Principal("usr_risk", Role.RISK_OFFICER, INSTITUTION, None, "ses_3"),
    "platform": Principal("usr_platform", Role.PLATFORM_ADMIN, None, None, "ses_4"),
}


@dataclass
class Sessions:
    """Stands in for the gateway's token check: a token is the key of a STAFF member until
    its session is ended."""

    ended: dict[str, str] = field(default_factory=dict)

    async def __call__(self, token: str) -> Principal:
        if token in self.ended:
            raise Unauthenticated("the session ended", reason=self.ended[token])
        if token not in STAFF:
            raise Unauthenticated("not a Kopa access token", reason="TOKEN_MALFORMED")
        return STAFF[token]


@dataclass
class Gateway:
    url: str
    namespace: str
    redis: aioredis.Redis
    sessions: Sessions
    notifications: FakeStub


@asynccontextmanager
async def serving(redis_url: str, notifications: FakeStub | None = None) -> AsyncIterator[Gateway]:
    namespace = "t" + uuid.uuid4().hex[:12]  # its own channels and rate-limit counters
    stub = notifications or FakeStub()
    app = gateway_app(notifications=stub)
    app.state.settings = app.state.settings.model_copy(update={"kopa_namespace": namespace})
    app.state.redis = aioredis.from_url(redis_url, decode_responses=True)
    app.state.authenticate = sessions = Sessions()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(
        uvicorn.Config(app, lifespan="off", log_level="warning", timeout_graceful_shutdown=2)
    )
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            assert not task.done(), "uvicorn did not start"
            await asyncio.sleep(0.02)
        port = sock.getsockname()[1]
        yield Gateway(f"http://127.0.0.1:{port}", namespace, app.state.redis, sessions, stub)
    finally:
        server.should_exit = True
        await task
        await app.state.redis.aclose()


@dataclass
class Subscriber:
    lines: AsyncIterator[str]

    async def next_event(self) -> dict[str, str]:
        """The next event or comment, as its fields (a comment as `comment`)."""
        fields: dict[str, str] = {}
        async with asyncio.timeout(10):
            async for line in self.lines:
                if not line:
                    if fields:
                        return fields
                    continue
                name, _, value = line.partition(":")
                fields[name or "comment"] = value.removeprefix(" ")
        raise EOFError("the stream ended")

    async def events_until(self, last_id: str) -> list[dict[str, str]]:
        seen = []
        while True:
            event = await self.next_event()
            if "comment" in event:
                continue
            seen.append(event)
            if event["id"] == last_id:
                return seen


@asynccontextmanager
async def subscribed(http: httpx.AsyncClient, token: str) -> AsyncIterator[Subscriber]:
    async with http.stream(
        "GET", "/v1/events/stream", headers={"Authorization": f"Bearer {token}"}
    ) as answer:
        assert answer.status_code == 200, await answer.aread()
        assert answer.headers["content-type"].startswith("text/event-stream")
        subscriber = Subscriber(answer.aiter_lines())
        # Subscribed to Redis before this comment is sent: nothing published after is missed.
        assert await subscriber.next_event() == {"comment": "subscribed"}
        yield subscriber


def alert(item_id: str, branch_id: str = "", roles: tuple[str, ...] = ()) -> StreamItem:
    return StreamItem(
        event="alert",
        id=item_id,
        institution_id=INSTITUTION,
        permission="alerts:read",
        data={"id": item_id, "title": f"alert {item_id}", "status": "open"},
        branch_id=branch_id,
        roles=roles,
    )


async def test_each_subscriber_receives_what_its_role_and_branch_may_see(
    server_urls: dict[str, str],
) -> None:
    async with (
        serving(server_urls["REDIS_URL"]) as gw,
        httpx.AsyncClient(base_url=gw.url) as http,
        subscribed(http, "agent_a") as agent_a,
        subscribed(http, "agent_b") as agent_b,
        subscribed(http, "risk") as risk,
    ):
        message = StreamItem(
            event="notification",
            id="ntf_a",
            institution_id=INSTITUTION,
            permission="notifications:read",
            data={"id": "ntf_a", "channel": "sms", "status": "sent"},
            branch_id="br_a",
        )
        await publish(gw.redis, gw.namespace, message)
        await publish(gw.redis, gw.namespace, alert("alt_managers", "br_a", ("branch_manager",)))
        await gw.redis.publish(f"{gw.namespace}:stream:{INSTITUTION}", "{not json")
        other_institution = StreamItem(
            "alert", "alt_elsewhere", "inst_other", "alerts:read", {"id": "alt_elsewhere"}
        )
        await publish(gw.redis, gw.namespace, other_institution)
        await publish(gw.redis, gw.namespace, alert("alt_everyone"))

        got_a = await agent_a.events_until("alt_everyone")
        assert got_a == [
            {
                "id": "ntf_a",
                "event": "notification",
                "data": json.dumps({"id": "ntf_a", "channel": "sms", "status": "sent"}),
            },
            {
                "id": "alt_everyone",
                "event": "alert",
                "data": json.dumps(alert("alt_everyone").data),
            },
        ]
        # The agent of another branch does not receive branch a's message.
        assert [e["id"] for e in await agent_b.events_until("alt_everyone")] == ["alt_everyone"]
        # A risk officer reads no messages to borrowers, and the alert was for managers.
        assert [e["id"] for e in await risk.events_until("alt_everyone")] == ["alt_everyone"]


async def test_the_stream_ends_when_the_session_does(
    server_urls: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(events_router, "PING_SECONDS", 0.2)
    async with serving(server_urls["REDIS_URL"]) as gw, httpx.AsyncClient(base_url=gw.url) as http:
        async with subscribed(http, "agent_a") as agent_a:
            assert await agent_a.next_event() == {"comment": "ping"}
            gw.sessions.ended["agent_a"] = "TOKEN_REVOKED"
            while (event := await agent_a.next_event()) == {"comment": "ping"}:
                pass
            assert event == {"comment": "TOKEN_REVOKED"}
            with pytest.raises(EOFError):
                await agent_a.next_event()
        # Opened again with the same token: refused, so the console refreshes it.
        again = await http.get("/v1/events/stream", headers={"Authorization": "Bearer agent_a"})
        assert again.status_code == 401
        assert again.json()["reason"] == "TOKEN_REVOKED"


async def test_who_may_not_open_it(server_urls: dict[str, str]) -> None:
    async with serving(server_urls["REDIS_URL"]) as gw, httpx.AsyncClient(base_url=gw.url) as http:
        anonymous = await http.get("/v1/events/stream")
        assert anonymous.status_code == 401
        assert anonymous.json()["reason"] == "TOKEN_MISSING"
        platform = await http.get("/v1/events/stream", headers={"Authorization": "Bearer platform"})
        assert platform.status_code == 403
        assert platform.headers["content-type"] == "application/problem+json"


async def test_kannels_delivery_report_takes_no_bearer_token(server_urls: dict[str, str]) -> None:
    def record(request: pb.RecordDeliveryReportRequest) -> Any:
        if request.token != "tok_right":
            raise failed_call(
                Unauthenticated("wrong token", reason="DELIVERY_REPORT_TOKEN_INVALID")
            )
        return pb.RecordDeliveryReportResponse(
            notification=pb.Notification(id=request.notification_id)
        )

    notifications = FakeStub(RecordDeliveryReport=record)
    async with (
        serving(server_urls["REDIS_URL"], notifications) as gw,
        httpx.AsyncClient(base_url=gw.url) as http,
    ):
        report = {
            "notification_id": "ntf_1",
            "token": "tok_right",
            "dlr_type": 1,
            "reply": "id:1 stat:DELIVRD",
        }
        answer = await http.get("/v1/sms/delivery-reports", params=report)
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/plain")
        assert answer.text == "ok"
        sent = gw.notifications.requests["RecordDeliveryReport"][0]
        assert (sent.notification_id, sent.token, sent.dlr_type, sent.reply) == (
            "ntf_1",
            "tok_right",
            1,
            "id:1 stat:DELIVRD",
        )
        wrong = await http.get("/v1/sms/delivery-reports", params=report | {"token": "tok_guess"})
        assert wrong.status_code == 401
        assert wrong.headers["content-type"] == "application/problem+json"
        bad = await http.get("/v1/sms/delivery-reports", params=report | {"dlr_type": "x"})
        assert bad.status_code == 422
        assert [e["field"] for e in bad.json()["errors"]] == ["dlr_type"]
