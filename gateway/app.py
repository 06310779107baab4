"""The HTTP gateway: REST + OpenAPI for the web client, JWT authentication, RBAC, and
REST-to-gRPC. It keeps no data of its own and talks to services only over gRPC."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Literal

import orjson
import redis.asyncio as aioredis
from fastapi import Depends, FastAPI, Request, Response
from fastapi_offline import FastAPIOffline
from grpc_health.v1 import health_pb2, health_pb2_grpc
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from pydantic import BaseModel, Field
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway import console, openapi, problems
from gateway.audit import AuditMiddleware
from gateway.documents import router as documents
from gateway.routers import ROUTERS
from gateway.schema import refuse_control_characters
from gateway.settings import GatewaySettings
from gateway.upstreams import Upstreams
from shared import context as request_context
from shared.auth import TokenAuthenticator, jwks_from_auth_service
from shared.logging import bind_context, clear_context, configure_logging, get_logger
from shared.rpc_errors import problem
from shared.tracing import configure_tracing, current_traceparent

log = get_logger(__name__)

REQUESTS = Counter("kopa_http_requests_total", "HTTP requests", ["method", "route", "status"])
LATENCY = Histogram(
    "kopa_http_request_seconds",
    "HTTP latency",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)


#: Paths whose POST carries a file as `multipart/form-data` instead of a JSON body: a KYC
#: document upload (gateway/documents). Another method there may send either, so that it
#: meets the router's 405 rather than a 415.
UPLOAD_PATHS = (compile_path(documents.UPLOAD_PATH)[0],)
#: Room for a multipart body's boundaries, part headers and `kind` around the file.
MULTIPART_OVERHEAD_BYTES = 64 * 1024


def _is_upload_path(path: str) -> bool:
    return any(pattern.match(path) for pattern in UPLOAD_PATHS)


class EdgeMiddleware:
    """Request id, client address, body size limit, access log and metrics (pure ASGI: cheap)."""

    def __init__(self, app: ASGIApp, max_body_bytes: int, max_upload_bytes: int) -> None:
        self.app = app
        self.max_body = max_body_bytes
        self.max_upload = max_upload_bytes + MULTIPART_OVERHEAD_BYTES

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode().lower(): v.decode("latin-1") for k, v in scope["headers"]}
        request_id = headers.get("x-request-id") or uuid.uuid4().hex
        client = scope.get("client") or ("", 0)
        clear_context()
        bind_context(request_id=request_id, path=scope["path"], method=scope["method"])
        request_context.set_current(
            request_context.RequestContext(
                request_id=request_id,
                client_address=client[0],
                user_agent=headers.get("user-agent", "")[:200],
            )
        )
        started = time.perf_counter()
        status_holder = {"status": 500}

        upload_path = _is_upload_path(scope["path"])
        upload = upload_path and scope["method"] == "POST"
        max_body = self.max_upload if upload_path else self.max_body
        length = headers.get("content-length")
        if length and length.isdigit() and int(length) > max_body:
            await self._reject(send, 413, f"the body exceeds {max_body} bytes", request_id)
            return
        content_type = headers.get("content-type", "")
        if _sends_body(scope["method"], headers) and not (
            _is_multipart(content_type)
            if upload
            else _is_json(content_type) or (upload_path and _is_multipart(content_type))
        ):
            await self._reject(
                send,
                415,
                "send the file as `multipart/form-data` with the parts `file` and `kind`"
                if upload
                else "send the body as JSON, with `Content-Type: application/json`",
                request_id,
                reason="UNSUPPORTED_MEDIA_TYPE",
            )
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_body:
                    raise _BodyTooLarge
            return message

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                extra = [(b"x-request-id", request_id.encode())]
                traceparent = current_traceparent()
                if traceparent:
                    extra.append((b"traceparent", traceparent.encode()))
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        try:
            await self.app(scope, limited_receive, send_with_headers)
        except _BodyTooLarge:
            await self._reject(send, 413, f"the body exceeds {max_body} bytes", request_id)
            status_holder["status"] = 413
        finally:
            route = scope.get("route")
            route_path = getattr(route, "path", "unmatched")
            elapsed = time.perf_counter() - started
            REQUESTS.labels(scope["method"], route_path, status_holder["status"]).inc()
            LATENCY.labels(scope["method"], route_path).observe(elapsed)
            log.info("http_request", status=status_holder["status"], ms=round(elapsed * 1000, 2))

    async def _reject(
        self,
        send: Send,
        status: int,
        detail: str,
        request_id: str,
        reason: str = "BODY_TOO_LARGE",
    ) -> None:
        body = orjson.dumps(problem(status, detail, reason=reason))
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/problem+json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"x-request-id", request_id.encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


class _BodyTooLarge(Exception):
    pass


def _sends_body(method: str, headers: dict[str, str]) -> bool:
    if method not in ("POST", "PUT", "PATCH"):
        return False
    length = headers.get("content-length", "")
    return (length.isdigit() and int(length) > 0) or "transfer-encoding" in headers


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


def _is_multipart(content_type: str) -> bool:
    return content_type.split(";", 1)[0].strip().lower() == "multipart/form-data"


class Health(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    status: Literal["ready", "not ready"]
    checks: dict[str, str] = Field(
        description="per service and server: SERVING, or why not",
        examples=[{"redis": "SERVING", "loan": "SERVING", "auth": "unavailable: AioRpcError"}],
    )


DESCRIPTION = """Loan management for microfinance institutions: staff onboard borrowers, price
and approve loans, collect repayments and keep balanced books.

- **Sign in** with `POST /v1/auth/login`, then send `Authorization: Bearer <access_token>`
  (the Authorize button here). Each operation's description names the permission it checks
  and the roles that hold it; agents and branch managers see only their branch, and nobody
  sees another institution's data (it is 404).
- **Amounts** are decimal strings in major units of the institution's currency (`"1250.50"`),
  rates decimal strings in percent per year (`"18.5"`), dates ISO 8601 (`"2026-03-31"`),
  timestamps RFC 3339 in UTC.
- **Lists** take `page_size` and `page_token` and answer `{items, next_page_token}`.
- **Money-moving requests** take an `Idempotency-Key` header: a retry with the same key and
  body returns the first answer and applies nothing again.
- **Errors** are RFC 9457 `application/problem+json` (the `Problem` schema) with a stable
  `reason` code and `errors` naming every bad field; no input makes the API answer 5xx.
"""


async def _no_control_characters(request: Request) -> None:
    refuse_control_characters(request.path_params, request.query_params.multi_items())


def create_app(settings: GatewaySettings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging("gateway", settings.log_level, settings.log_json)
        configure_tracing("gateway", settings.otel_exporter_otlp_endpoint)
        app.state.settings = settings
        app.state.upstreams = Upstreams.open(settings)
        app.state.redis = aioredis.from_url(settings.redis_url, decode_responses=True)
        app.state.authenticate = TokenAuthenticator(
            jwks_from_auth_service(app.state.upstreams.channels["auth"]),
            app.state.redis,
            accept_service_tokens=False,
        )
        log.info("gateway_started", port=settings.gateway_port)
        yield
        await app.state.upstreams.close()
        await app.state.redis.aclose()

    # The docs pages load Swagger UI and ReDoc from the gateway itself: an MFI's office LAN
    # often has no internet, and a CDN-hosted page is blank there.
    app = FastAPIOffline(
        title="Kopa API",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        dependencies=[Depends(_no_control_characters)],
    )
    problems.install(app)
    openapi.install(app)
    for router in ROUTERS:
        app.include_router(router)

    @app.get("/healthz", tags=["operations"], summary="Liveness")
    async def healthz() -> Health:
        """The gateway process answers; says nothing of the services behind it."""
        return Health(status="ok")

    @app.get(
        "/readyz",
        tags=["operations"],
        summary="Readiness",
        responses={503: {"model": Readiness, "description": "a check failed"}},
    )
    async def readyz(response: Response) -> Readiness:
        """Ready when every service answers its gRPC health check as SERVING and Redis
        answers; otherwise 503 with each check's state."""
        checks: dict[str, str] = {}

        async def check(name: str, channel: Any) -> None:
            try:
                reply = await health_pb2_grpc.HealthStub(channel).Check(
                    health_pb2.HealthCheckRequest(), timeout=2
                )
                checks[name] = health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
            except Exception as exc:
                checks[name] = f"unavailable: {type(exc).__name__}"

        async def check_redis() -> None:
            try:
                await app.state.redis.ping()
                checks["redis"] = "SERVING"
            except Exception as exc:
                checks["redis"] = f"unavailable: {type(exc).__name__}"

        await asyncio.gather(
            check_redis(), *(check(n, c) for n, c in app.state.upstreams.channels.items())
        )
        ready = all(v == "SERVING" for v in checks.values())
        response.status_code = 200 if ready else 503
        return Readiness(status="ready" if ready else "not ready", checks=checks)

    @app.get("/metrics", tags=["operations"], include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    console.install(app)
    FastAPIInstrumentor.instrument_app(app, excluded_urls="healthz,metrics")
    app.add_middleware(AuditMiddleware)
    app.add_middleware(
        EdgeMiddleware,
        max_body_bytes=settings.max_body_bytes,
        max_upload_bytes=settings.max_document_bytes,
    )
    return app
