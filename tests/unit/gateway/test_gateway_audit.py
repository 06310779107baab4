"""The gateway's audit writer: what queued up while a call ran goes in one call."""

from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace
from typing import Any

import grpc
import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.types import Message, Receive, Scope, Send

from gateway.audit import MAX_SUMMARY_BYTES, AuditMiddleware, summary_json
from kopa.auth.v1 import auth_pb2
from tests.support.waiting import wait_until

pytestmark = pytest.mark.unit


class FakeAuth:
    """auth_service's AppendAuditEntry: records each call; the first one waits for `release`
    (so that requests queue up behind it); refuses calls with several entries if told to."""

    def __init__(self, *, refuse_batches: bool = False) -> None:
        self.calls: list[tuple[auth_pb2.AppendAuditEntryRequest, str]] = []
        self.release = asyncio.Event()
        self.refuse_batches = refuse_batches

    async def AppendAuditEntry(
        self, request: auth_pb2.AppendAuditEntryRequest, metadata: Any
    ) -> auth_pb2.AppendAuditEntryResponse:
        token = dict(metadata)["authorization"].removeprefix("Bearer ")
        self.calls.append((request, token))
        if len(self.calls) == 1:
            await self.release.wait()
        if self.refuse_batches and request.entries:
            raise grpc.aio.AioRpcError(
                grpc.StatusCode.INVALID_ARGUMENT,
                grpc.aio.Metadata(),
                grpc.aio.Metadata(),
                "entries[1].summary_json: is not JSON",
            )
        return auth_pb2.AppendAuditEntryResponse()


async def handled(audit: AuditMiddleware, auth: FakeAuth, token: str, loan: str) -> None:
    """One POST /v1/loans/{loan_id}/repayments answered 201, as the routers leave it."""
    app = SimpleNamespace(state=SimpleNamespace(upstreams=SimpleNamespace(auth=auth)))
    scope = {
        "type": "http",
        "method": "POST",
        "app": app,
        "state": {"token": token, "principal": SimpleNamespace(institution_id="inst_1")},
        "route": SimpleNamespace(path="/v1/loans/{loan_id}/repayments"),
        "path_params": {"loan_id": loan},
    }
    body = iter([{"type": "http.request", "body": b'{"amount": "1.00"}', "more_body": False}])

    async def receive() -> Message:
        return next(body)

    async def send(message: Message) -> None:
        return None

    await audit(scope, receive, send)


async def created(scope: Scope, receive: Receive, send: Send) -> None:
    """The route: reads the body, answers 201."""
    await receive()
    await send({"type": "http.response.start", "status": 201, "headers": []})
    await send({"type": "http.response.body", "body": b"{}"})


def stop(audit: AuditMiddleware) -> None:
    for writer in audit._writers:
        writer.cancel()


async def until(condition: Any) -> None:
    """The writer lets entries gather (`BATCH_LINGER_SECONDS`) before each call."""
    await wait_until(condition, limit=5)


async def test_what_queued_during_a_call_is_appended_in_one_call() -> None:
    auth = FakeAuth()
    audit = AuditMiddleware(created)
    await handled(audit, auth, "token-a", "loan_1")
    await until(lambda: len(auth.calls) == 1)
    for n, token in enumerate(["token-b", "token-a", "token-b"], start=2):
        await handled(audit, auth, token, f"loan_{n}")
    auth.release.set()
    await until(lambda: len(auth.calls) == 2)
    stop(audit)

    single, token = auth.calls[0]
    assert token == "token-a" and not single.entries  # one entry: the single form
    assert (single.action, single.target_id) == ("loans.repayments", "loan_1")
    batch, token = auth.calls[1]
    assert token == "token-b"  # the first entry's token makes the call...
    assert [e.target_id for e in batch.entries] == ["loan_2", "loan_3", "loan_4"]
    # ...and the others name theirs when it differs.
    assert [e.access_token for e in batch.entries] == ["", "token-a", ""]
    assert not batch.action and batch.entries[0].summary_json == '{"amount": "1.00"}'


async def test_a_refused_call_is_sent_again_one_entry_at_a_time() -> None:
    auth = FakeAuth(refuse_batches=True)
    audit = AuditMiddleware(created)
    await handled(audit, auth, "token-a", "loan_1")
    await until(lambda: len(auth.calls) == 1)
    await handled(audit, auth, "token-a", "loan_2")
    await handled(audit, auth, "token-b", "loan_3")
    auth.release.set()
    await until(lambda: len(auth.calls) == 4)
    stop(audit)

    assert [len(request.entries) for request, _ in auth.calls] == [0, 2, 0, 0]
    assert [(r.target_id, t) for r, t in auth.calls[2:]] == [
        ("loan_2", "token-a"),
        ("loan_3", "token-b"),
    ]


@given(
    st.dictionaries(
        st.text(min_size=1, max_size=2000),
        st.one_of(st.text(max_size=3000), st.integers(), st.lists(st.text(max_size=500))),
        max_size=30,
    )
)
def test_a_summary_is_valid_json_within_the_limit_whatever_the_body(body: dict[str, Any]) -> None:
    text = summary_json(body)
    parsed = json.loads(text)
    assert isinstance(parsed, dict)
    assert len(text.encode("utf-8")) <= MAX_SUMMARY_BYTES
    if len(json.dumps(body, sort_keys=True).encode("utf-8")) <= MAX_SUMMARY_BYTES:
        assert parsed == body
    else:
        assert parsed["truncated"] is True and set(parsed["fields"]) <= set(body)
