"""The gateway's audit entries: what they are about (a creation names the record created), and
the requests that end their own session (left to auth_service, after the session's queued
entries)."""

from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace
from typing import Any

import pytest
from starlette.types import Message, Receive, Scope, Send

from gateway.audit import AuditMiddleware, created_id, ends_session
from kopa.auth.v1 import auth_pb2
from tests.support.waiting import wait_until

pytestmark = pytest.mark.unit


class FakeAuth:
    """auth_service's AppendAuditEntry: records what each call appends; holds every call until
    `release` is set."""

    def __init__(self) -> None:
        self.appended: list[auth_pb2.NewAuditEntry | auth_pb2.AppendAuditEntryRequest] = []
        self.release = asyncio.Event()
        self.release.set()

    async def AppendAuditEntry(
        self, request: auth_pb2.AppendAuditEntryRequest, metadata: Any
    ) -> auth_pb2.AppendAuditEntryResponse:
        await self.release.wait()
        self.appended.extend(request.entries or [request])
        return auth_pb2.AppendAuditEntryResponse()


def answering(status: int, *chunks: bytes, seen: list[str] | None = None) -> Any:
    """A route that reads the body and answers `status` with the body `chunks`."""

    async def route(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        if seen is not None:
            seen.append(scope["path"])
        await send({"type": "http.response.start", "status": status, "headers": []})
        for n, chunk in enumerate(chunks):
            more = n < len(chunks) - 1
            await send({"type": "http.response.body", "body": chunk, "more_body": more})

    return route


async def request(
    audit: AuditMiddleware,
    auth: FakeAuth,
    method: str,
    path: str,
    route: str,
    params: dict[str, str],
    token: str = "token-a",
    *,
    content_type: bytes = b"application/json",
    content: bytes = b"{}",
) -> None:
    """One request as the routers leave its scope (route, path parameters, token)."""
    app = SimpleNamespace(state=SimpleNamespace(upstreams=SimpleNamespace(auth=auth)))
    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "headers": [
            (b"authorization", f"Bearer {token}".encode()),
            (b"content-type", content_type),
        ],
        "app": app,
        "state": {"token": token, "principal": SimpleNamespace(institution_id="inst_1")},
        "route": SimpleNamespace(path=route),
        "path_params": params,
    }
    body = iter([{"type": "http.request", "body": content, "more_body": False}])

    async def receive() -> Message:
        return next(body)

    async def send(message: Message) -> None:
        return None

    await audit(scope, receive, send)


async def settled(audit: AuditMiddleware) -> None:
    """Until every queued entry is sent (after `BATCH_LINGER_SECONDS`), then stop the
    writers."""
    await wait_until(lambda: not audit._unsent, limit=5)
    for writer in audit._writers:
        writer.cancel()


def targets(auth: FakeAuth) -> list[tuple[str, str, str]]:
    return [(e.action, e.target_kind, e.target_id) for e in auth.appended]


async def test_a_creation_is_about_the_record_it_created() -> None:
    auth = FakeAuth()
    new_borrower = b'{"id": "bor_1", "first_name": "Achieng", "consents": [{"id": "c_1"}]}'
    # Answered in two parts, as a streamed answer would be.
    created = AuditMiddleware(answering(201, new_borrower[:20], new_borrower[20:]))
    await request(created, auth, "POST", "/v1/borrowers", "/v1/borrowers", {})
    # Under a record: about that record, whatever the answer holds.
    await request(
        created,
        auth,
        "POST",
        "/v1/loans/loan_9/repayments",
        "/v1/loans/{loan_id}/repayments",
        {"loan_id": "loan_9"},
    )
    changed = AuditMiddleware(answering(200, b'{"id": "bor_1"}'))
    await request(
        changed,
        auth,
        "PATCH",
        "/v1/borrowers/bor_1",
        "/v1/borrowers/{borrower_id}",
        {"borrower_id": "bor_1"},
    )
    # An answer that is not a creation, or holds no id, names nothing.
    await request(changed, auth, "POST", "/v1/loan-quotes", "/v1/loan-quotes", {})
    nameless = AuditMiddleware(answering(201, b"[1, 2]"))
    await request(nameless, auth, "POST", "/v1/branches", "/v1/branches", {})
    for audit in (created, changed, nameless):
        await settled(audit)
    assert sorted(targets(auth)) == sorted(
        [
            ("borrowers.create", "borrowers", "bor_1"),
            ("loans.repayments", "loans", "loan_9"),
            ("borrowers.update", "borrowers", "bor_1"),
            ("loan_quotes.create", "loan-quotes", ""),
            ("branches.create", "branches", ""),
        ]
    )


def test_the_created_id_is_the_answers_own() -> None:
    assert created_id(b'{"items": [{"id": "x"}], "id": "loan_1"}') == "loan_1"
    for answer in (b'{"id": 7}', b'{"items": [{"id": "x"}]}', b'"id"', b"{not json", b"\xff"):
        assert created_id(answer) == "", answer


def test_the_requests_that_end_their_own_session() -> None:
    assert ends_session("POST", "/v1/auth/logout")
    assert ends_session("DELETE", "/v1/me/sessions/ses_1")
    assert not ends_session("GET", "/v1/me/sessions/ses_1")
    assert not ends_session("POST", "/v1/auth/logout-all")
    assert not ends_session("DELETE", "/v1/me/sessionsX")
    assert not ends_session("POST", "/v1/auth/refresh")


async def test_a_sign_out_is_left_to_auth_service_after_the_sessions_queued_entries() -> None:
    auth = FakeAuth()
    seen: list[str] = []
    audit = AuditMiddleware(answering(204, b"", seen=seen))
    auth.release.clear()  # auth_service is slow: the changes' entries wait in the queue
    for n in range(3):
        await request(
            audit,
            auth,
            "PUT",
            f"/v1/borrowers/bor_{n}",
            "/v1/borrowers/{borrower_id}",
            {"borrower_id": f"bor_{n}"},
        )
    await request(
        audit,
        auth,
        "DELETE",
        "/v1/branches/br_1",
        "/v1/branches/{branch_id}",
        {"branch_id": "br_1"},
        token="token-b",
    )
    seen.clear()
    logout = asyncio.create_task(
        request(audit, auth, "POST", "/v1/auth/logout", "/v1/auth/logout", {})
    )
    for _ in range(50):
        await asyncio.sleep(0)
    # The logout has not reached auth_service while its session's entries are unsent.
    assert seen == [] and not logout.done()
    auth.release.set()
    await asyncio.wait_for(logout, 5)
    assert seen == ["/v1/auth/logout"]
    assert [e.target_id for e in auth.appended if e.target_kind == "borrowers"] == [
        "bor_0",
        "bor_1",
        "bor_2",
    ]
    # Another session's logout does not wait, and no sign-out is appended by the gateway.
    auth.release.clear()
    await request(
        audit,
        auth,
        "PUT",
        "/v1/borrowers/bor_3",
        "/v1/borrowers/{borrower_id}",
        {"borrower_id": "bor_3"},
    )
    await asyncio.wait_for(
        request(
            audit,
            auth,
            "DELETE",
            "/v1/me/sessions/ses_2",
            "/v1/me/sessions/{session_id}",
            {"session_id": "ses_2"},
            token="token-c",
        ),
        1,
    )
    auth.release.set()
    await settled(audit)
    assert not [a for a, _, _ in targets(auth) if a in ("auth.logout", "me.sessions")]
    assert len(auth.appended) == 5


async def test_an_upload_is_summarised_by_what_was_stored_not_by_its_bytes() -> None:
    auth = FakeAuth()
    stored = (
        b'{"id": "doc_1", "kind": "national_id", "file_name": "id.png", "content_type": '
        b'"image/png", "size": 5120, "sha256": "ab12", "ocr": {"status": "pending"}}'
    )
    audit = AuditMiddleware(answering(201, stored))
    await request(
        audit,
        auth,
        "POST",
        "/v1/borrowers/bor_1/documents",
        "/v1/borrowers/{borrower_id}/documents",
        {"borrower_id": "bor_1"},
        content_type=b"multipart/form-data; boundary=x",
        content=b"--x\r\nContent-Disposition: form-data; name=file\r\n\r\n\x89PNG...",
    )
    await settled(audit)
    (entry,) = auth.appended
    assert (entry.action, entry.target_id) == ("borrowers.documents", "bor_1")
    assert json.loads(entry.summary_json) == {
        "upload": {
            "id": "doc_1",
            "kind": "national_id",
            "file_name": "id.png",
            "content_type": "image/png",
            "size": 5120,
            "sha256": "ab12",
        }
    }
