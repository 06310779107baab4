"""The audit trail of every state-changing request.

After a request that changed something (POST, PUT, PATCH, DELETE answered with 2xx) by an
authenticated caller, the gateway appends an entry to the institution's hash-chained log in
auth_service: who, role, institution, action (`loans.approve`), target, request id and a
summary of the change (the request body with secrets redacted). The append runs after the
response has been sent, so it adds no latency to the request, and one writer per institution
appends in order: concurrent appends to one hash chain would only contend for its head.

The writer sends whatever has queued up for its institution while the previous call ran
and for `BATCH_LINGER_SECONDS` more (at most `MAX_ENTRIES_PER_CALL`) in one
AppendAuditEntry call, which auth_service appends as one segment of the chain (one insert
and one head move, however many entries). Each entry names its actor by the access token
of the request it records; the call is made with the first one's. If auth_service refuses
the whole call because of one entry (a token revoked or expired since, an invalid summary),
the entries are sent again one by one, so only that one is missing, as when every entry
had its own call.

An entry's target is the record the URL names (its first path id); a creation at a
collection's URL (`POST /v1/borrowers` answered 201) names the record created, by the `id`
of the answer, so that the record's entries start with its creation.

A request that ends its own session (`SESSION_ENDING`: logout, ending a session) is not
appended here: its token is revoked by the time the entry would be sent, so auth_service
records it itself, just before ending the session. Before such a request reaches
auth_service, the entries still queued with its token are appended first (waiting at most
`FLUSH_SECONDS`), for the same reason.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import grpc
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kopa.auth.v1 import auth_pb2
from shared import context as request_context
from shared.logging import get_logger

log = get_logger(__name__)

CHANGING = {"POST", "PUT", "PATCH", "DELETE"}
SECRET_FIELDS = {
    "password",
    "temporary_password",
    "current_password",
    "new_password",
    "refresh_token",
    "otp",
    "code",
}
MAX_SUMMARY_BYTES = 8 * 1024
MAX_ENTRIES_PER_CALL = 100
#: How long the writer lets entries gather before a call. Each call costs auth_service two
#: statements whatever its size; without the wait a busy institution's entries went out
#: 1.3 a call (bench/bench_repayments.py). The request has been answered already: only the
#: entry waits.
BATCH_LINGER_SECONDS = 0.1
#: The largest answer to a creation read for the new record's `id` (a loan with a long
#: schedule is some tens of kB).
MAX_CREATED_BYTES = 1024 * 1024
#: Requests that end the caller's session, which auth_service records itself (see above), by
#: method and path (exact, or a prefix ending in `/`): `POST /v1/auth/logout` and
#: `DELETE /v1/me/sessions/{session_id}`.
SESSION_ENDING = {("POST", "/v1/auth/logout"), ("DELETE", "/v1/me/sessions/")}
#: How long a session-ending request waits for its token's queued entries to be appended.
FLUSH_SECONDS = 5.0
#: Refusals that one entry of a call can cause: the entries are then sent one by one.
REFUSED_FOR_ONE_ENTRY = {
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.PERMISSION_DENIED,
    grpc.StatusCode.UNAUTHENTICATED,
}


def summary_json(summary: Any) -> str:
    """The entry's summary as JSON of at most MAX_SUMMARY_BYTES. A larger body is summarised
    by its field names (cutting the JSON text would make it invalid, and auth_service would
    refuse the whole entry)."""
    text = json.dumps(summary, sort_keys=True, default=str)
    size = len(text.encode("utf-8"))
    if size <= MAX_SUMMARY_BYTES:
        return text
    fields = sorted(str(k) for k in summary) if isinstance(summary, dict) else []
    while True:
        short = json.dumps({"truncated": True, "bytes": size, "fields": fields})
        if len(short.encode("utf-8")) <= MAX_SUMMARY_BYTES or not fields:
            return short
        fields = fields[: len(fields) // 2]


@dataclass(frozen=True)
class Pending:
    """An entry waiting for its institution's writer."""

    app: Any
    entry: auth_pb2.NewAuditEntry
    token: str


def redact(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: ("[redacted]" if k in SECRET_FIELDS else redact(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


def action_of(method: str, route_path: str) -> tuple[str, str]:
    """(`loans.approve`, `loans`) for POST /v1/loans/{loan_id}/approve."""
    parts = [p for p in route_path.split("/") if p and p != "v1"]
    kind = parts[0] if parts else "unknown"
    verbs = [p.replace("-", "_") for p in parts[1:] if not p.startswith("{")]
    verb = (
        verbs[-1]
        if verbs
        else {"POST": "create", "PUT": "replace", "PATCH": "update", "DELETE": "delete"}[method]
    )
    return f"{kind.replace('-', '_')}.{verb}", kind


#: What an upload's entry keeps of the stored file (from the answer: the request is the file).
UPLOAD_FIELDS = ("id", "kind", "file_name", "content_type", "size", "sha256")


def upload_summary(answer: bytes) -> dict[str, Any]:
    """The summary of a file upload (a multipart request): what was stored, as the answer
    describes it, without the bytes themselves."""
    try:
        stored = json.loads(answer)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return {"upload": "[answer not json]"}
    if not isinstance(stored, dict):
        return {"upload": "[answer not an object]"}
    return {"upload": {k: stored[k] for k in UPLOAD_FIELDS if k in stored}}


def is_upload(scope: Scope) -> bool:
    content_type = dict(scope.get("headers") or []).get(b"content-type", b"")
    return content_type.startswith(b"multipart/form-data")


def created_id(body: bytes) -> str:
    """The `id` of the record an answer to a creation holds; "" if it holds none."""
    try:
        answer = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return ""
    found = answer.get("id") if isinstance(answer, dict) else None
    return found if isinstance(found, str) else ""


def bearer_token(scope: Scope) -> str:
    """The access token of the request's Authorization header, as the gateway reads it."""
    for name, value in scope.get("headers") or []:
        if name.lower() == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            return token.strip() if scheme.lower() == "bearer" else ""
    return ""


def ends_session(method: str, path: str) -> bool:
    return any(
        method == m and (path == p or (p.endswith("/") and path.startswith(p)))
        for m, p in SESSION_ENDING
    )


def touched_institution(params: dict[str, Any], summary: Any) -> str:
    """The institution a platform administrator's action touched: named in the path
    (`/v1/institutions/{institution_id}/...`) or in the body; "" for the platform's own."""
    body_named = summary.get("institution_id") if isinstance(summary, dict) else None
    return str(params.get("institution_id") or body_named or "")


class AuditMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._queues: dict[str, asyncio.Queue[Pending]] = {}
        self._writers: set[asyncio.Task[None]] = set()
        self._unsent: Counter[str] = Counter()
        """Entries queued and not yet sent, by access token."""
        self._sent = asyncio.Condition()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in CHANGING:
            await self.app(scope, receive, send)
            return
        session_ending = ends_session(scope["method"], scope.get("path", ""))
        if session_ending:
            await self._flush(bearer_token(scope))
        upload = is_upload(scope)
        body = bytearray()
        answer = bytearray()
        status = {"code": 0}

        async def recording_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request" and not upload and len(body) < MAX_SUMMARY_BYTES:
                body.extend(message.get("body", b"")[: MAX_SUMMARY_BYTES - len(body)])
            return message

        async def recording_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            elif (
                message["type"] == "http.response.body"
                and status["code"] == 201
                and (upload or not scope.get("path_params"))
                and len(answer) <= MAX_CREATED_BYTES
            ):
                answer.extend(message.get("body", b""))
            await send(message)

        await self.app(scope, recording_receive, recording_send)
        state = scope.get("state") or {}
        token = state.get("token")
        route = scope.get("route")
        if not (200 <= status["code"] < 300 and token and route is not None):
            return
        if session_ending:
            return
        action, kind = action_of(scope["method"], route.path)
        params = scope.get("path_params") or {}
        target_id = next(iter(params.values()), "") if params else ""
        if not params and status["code"] == 201 and len(answer) <= MAX_CREATED_BYTES:
            target_id = created_id(bytes(answer))
        if upload:
            summary: Any = upload_summary(bytes(answer))
        else:
            try:
                summary = redact(json.loads(body)) if body else {}
            except (json.JSONDecodeError, UnicodeDecodeError):
                summary = {"body": "[not json]"}
        entry = auth_pb2.NewAuditEntry(
            action=action,
            target_kind=kind,
            target_id=str(target_id),
            request_id=request_context.current().request_id,
            summary_json=summary_json(summary),
            institution_id=touched_institution(params, summary),
        )
        principal = state.get("principal")
        chain = entry.institution_id or getattr(principal, "institution_id", None) or "platform"
        queue = self._queues.get(chain)
        if queue is None:
            queue = self._queues[chain] = asyncio.Queue()
            writer = asyncio.create_task(self._write(queue), name=f"audit-{chain}")
            self._writers.add(writer)
        queue.put_nowait(Pending(scope["app"], entry, token))
        self._unsent[token] += 1

    async def _flush(self, token: str) -> None:
        """Wait (at most FLUSH_SECONDS) until no entry queued with `token` is left to send."""
        if not token or not self._unsent[token]:
            return
        try:
            async with asyncio.timeout(FLUSH_SECONDS), self._sent:
                await self._sent.wait_for(lambda: not self._unsent[token])
        except TimeoutError:
            log.warning("audit_not_flushed_before_session_end", entries=self._unsent[token])

    async def _write(self, queue: asyncio.Queue[Pending]) -> None:
        while True:
            batch = [await queue.get()]
            await asyncio.sleep(BATCH_LINGER_SECONDS)
            while len(batch) < MAX_ENTRIES_PER_CALL and not queue.empty():
                batch.append(queue.get_nowait())
            try:
                await self._append(batch)
            finally:
                for pending in batch:
                    self._unsent[pending.token] -= 1
                    if self._unsent[pending.token] <= 0:
                        del self._unsent[pending.token]
                async with self._sent:
                    self._sent.notify_all()

    async def _append(self, batch: Sequence[Pending]) -> None:
        first = batch[0]
        if len(batch) == 1:
            # The single-entry form, which every auth_service version understands.
            e = first.entry
            request = auth_pb2.AppendAuditEntryRequest(
                action=e.action,
                target_kind=e.target_kind,
                target_id=e.target_id,
                request_id=e.request_id,
                summary_json=e.summary_json,
                institution_id=e.institution_id,
            )
        else:
            entries = []
            for pending in batch:
                entry = auth_pb2.NewAuditEntry()
                entry.CopyFrom(pending.entry)
                if pending.token != first.token:
                    entry.access_token = pending.token
                entries.append(entry)
            request = auth_pb2.AppendAuditEntryRequest(entries=entries)
        try:
            await first.app.state.upstreams.auth.AppendAuditEntry(
                request,
                metadata=(
                    ("authorization", f"Bearer {first.token}"),
                    ("x-request-id", first.entry.request_id),
                ),
            )
        except grpc.aio.AioRpcError as exc:
            if len(batch) > 1 and exc.code() in REFUSED_FOR_ONE_ENTRY:
                log.warning("audit_batch_refused", entries=len(batch), code=exc.code().name)
                for pending in batch:
                    await self._append([pending])
                return
            log.error(
                "audit_append_failed",
                entries=len(batch),
                action=first.entry.action,
                request_ids=[p.entry.request_id for p in batch],
                code=exc.code().name,
                detail=exc.details(),
            )
