"""The one gRPC server builder: health, reflection, tracing, request context, error mapping,
graceful stop on SIGTERM.

`build_server` returns `(server, port)` so tests can bind port 0.
"""

from __future__ import annotations

import asyncio
import signal
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from opentelemetry.instrumentation.grpc import aio_server_interceptor

from shared import context as request_context
from shared.errors import DomainError, ValidationError
from shared.logging import bind_context, clear_context, get_logger
from shared.protos import field_with_nul
from shared.rpc_errors import abort, reraise_as_domain

log = get_logger(__name__)

Authenticator = Callable[[str], Awaitable[Any]]

#: The largest message a server takes or sends: a KYC document travels whole, up to
#: user_service's MAX_DOCUMENT_BYTES (at most 15 MiB), with room for its envelope.
MAX_MESSAGE_BYTES = 16 * 1024 * 1024


class RequestContextInterceptor(grpc.aio.ServerInterceptor):
    """Authenticates the bearer token (if any), binds log context, maps errors to statuses."""

    def __init__(self, authenticate: Authenticator | None) -> None:
        self._authenticate = authenticate

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        if handler is None or handler.unary_unary is None:
            return handler
        inner = handler.unary_unary
        method = details.method
        authenticate = self._authenticate

        async def unary(request: Any, context: grpc.aio.ServicerContext) -> Any:
            md = {k: v for k, v in context.invocation_metadata() or () if isinstance(v, str)}
            request_id = md.get("x-request-id") or uuid.uuid4().hex
            token = md.get("authorization", "").removeprefix("Bearer ").strip()
            clear_context()
            bind_context(request_id=request_id, rpc=method)
            started = time.perf_counter()
            try:
                principal = await authenticate(token) if (token and authenticate) else None
                if principal is not None:
                    bind_context(principal=principal.user_id, institution=principal.institution_id)
                request_context.set_current(
                    request_context.RequestContext(
                        request_id=request_id,
                        token=token,
                        principal=principal,
                        client_address=md.get("x-client-address", ""),
                        user_agent=md.get("x-client-user-agent", ""),
                    )
                )
                if bad := field_with_nul(request):
                    raise ValidationError.of(bad, "must not contain a NUL character")
                return await inner(request, context)
            except DomainError as err:
                log.info("rpc_refused", reason=err.reason, detail=err.message)
                await abort(context, err)
            except grpc.aio.AioRpcError as err:
                # A peer refused: pass client-caused errors through unchanged, hide the rest.
                passthrough = reraise_as_domain(err)
                if passthrough is not None:
                    await abort(context, passthrough)
                log.warning("upstream_failed", code=err.code().name, detail=err.details())
                await context.abort(grpc.StatusCode.UNAVAILABLE, "a dependency is unavailable")
            except grpc.aio.AbortError:
                raise
            except Exception:
                log.exception("rpc_crashed")
                await context.abort(grpc.StatusCode.INTERNAL, "internal error")
            finally:
                log.debug("rpc_done", ms=round((time.perf_counter() - started) * 1000, 2))

        return grpc.unary_unary_rpc_method_handler(
            unary,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )


def build_server(
    register: Callable[[grpc.aio.Server], Iterable[str]],
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    authenticate: Authenticator | None = None,
) -> tuple[grpc.aio.Server, int, health.aio.HealthServicer]:
    """A server with the servicers `register` adds (it returns their full service names)."""
    server = grpc.aio.server(
        interceptors=[aio_server_interceptor(), RequestContextInterceptor(authenticate)],
        options=[
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            ("grpc.so_reuseport", 0),
        ],
    )
    names = list(register(server))
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        [
            *names,
            health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
            reflection.SERVICE_NAME,
        ],
        server,
    )
    bound = server.add_insecure_port(f"{host}:{port}")
    if bound == 0:
        raise SystemExit(f"cannot bind gRPC port {host}:{port}: is another process using it?")
    return server, bound, health_servicer


async def serve_until_signalled(
    server: grpc.aio.Server,
    health_servicer: health.aio.HealthServicer,
    service_names: Iterable[str],
    *,
    grace_seconds: float = 10.0,
) -> None:
    """Starts, marks SERVING, and on SIGTERM/SIGINT drains in-flight calls before returning."""
    await server.start()
    for name in [*service_names, ""]:
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("shutting_down", grace_seconds=grace_seconds)
    await health_servicer.enter_graceful_shutdown()
    await server.stop(grace_seconds)
