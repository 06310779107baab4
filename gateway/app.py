"""The HTTP gateway: REST + OpenAPI for the web client, JWT authentication, RBAC, and
REST-to-gRPC. It keeps no data of its own and talks to services only over gRPC."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import redis.asyncio as aioredis
from fastapi import FastAPI, Response
from grpc_health.v1 import health_pb2, health_pb2_grpc
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway import problems
from gateway.audit import AuditMiddleware
from gateway.routers import ROUTERS
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


class EdgeMiddleware:
    """Request id, client address, body size limit, access log and metrics (pure ASGI: cheap)."""

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body = max_body_bytes

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

        length = headers.get("content-length")
        if length and length.isdigit() and int(length) > self.max_body:
            await self._reject(send, 413, f"the body exceeds {self.max_body} bytes", request_id)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body:
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
            await self._reject(send, 413, f"the body exceeds {self.max_body} bytes", request_id)
            status_holder["status"] = 413
        finally:
            route = scope.get("route")
            route_path = getattr(route, "path", "unmatched")
            elapsed = time.perf_counter() - started
            REQUESTS.labels(scope["method"], route_path, status_holder["status"]).inc()
            LATENCY.labels(scope["method"], route_path).observe(elapsed)
            log.info("http_request", status=status_holder["status"], ms=round(elapsed * 1000, 2))

    async def _reject(self, send: Send, status: int, detail: str, request_id: str) -> None:
        import orjson

        body = orjson.dumps(problem(status, detail, reason="BODY_TOO_LARGE"))
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

    app = FastAPI(
        title="Kopa API",
        version="1.0.0",
        description="Loan management for microfinance institutions. Errors are RFC 9457 "
        "problem+json; amounts are decimal strings in major units.",
        lifespan=lifespan,
    )
    problems.install(app)
    for router in ROUTERS:
        app.include_router(router)

    @app.get("/healthz", tags=["operations"])
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["operations"])
    async def readyz(response: Response) -> dict[str, Any]:
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
        return {"status": "ready" if ready else "not ready", "checks": checks}

    @app.get("/metrics", tags=["operations"], include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    FastAPIInstrumentor.instrument_app(app, excluded_urls="healthz,metrics")
    app.add_middleware(AuditMiddleware)
    app.add_middleware(EdgeMiddleware, max_body_bytes=settings.max_body_bytes)
    return app
