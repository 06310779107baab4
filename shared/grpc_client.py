"""The one client-channel factory: default deadlines, retries of idempotent calls, and the
caller's token, request id and trace context forwarded to the peer.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import grpc
from opentelemetry.instrumentation.grpc import aio_client_interceptors

from shared import context as request_context
from shared.grpc_server import MAX_MESSAGE_BYTES

DEFAULT_DEADLINE_SECONDS = 20.0

# Reads, and writes that the callee makes idempotent (request ids, payment ids), may be retried
# on UNAVAILABLE: a retry can never apply twice.
IDEMPOTENT_PREFIXES = ("Get", "List", "Search", "Quote", "Verify", "Score")


class ForwardContextInterceptor(grpc.aio.UnaryUnaryClientInterceptor):
    async def intercept_unary_unary(
        self,
        continuation: Callable[[grpc.aio.ClientCallDetails, Any], Any],
        details: grpc.aio.ClientCallDetails,
        request: Any,
    ) -> Any:
        ctx = request_context.current()
        metadata = grpc.aio.Metadata(*(details.metadata or ()))
        if ctx.token and "authorization" not in metadata:
            metadata.add("authorization", f"Bearer {ctx.token}")
        if ctx.request_id and "x-request-id" not in metadata:
            metadata.add("x-request-id", ctx.request_id)
        if ctx.client_address and "x-client-address" not in metadata:
            metadata.add("x-client-address", ctx.client_address)
        if ctx.user_agent and "x-client-user-agent" not in metadata:
            metadata.add("x-client-user-agent", ctx.user_agent)
        new = grpc.aio.ClientCallDetails(
            method=details.method,
            timeout=details.timeout if details.timeout is not None else DEFAULT_DEADLINE_SECONDS,
            metadata=metadata,
            credentials=details.credentials,
            wait_for_ready=details.wait_for_ready,
        )
        return await continuation(new, request)


def service_config(idempotent_methods: Iterable[tuple[str, str]]) -> str:
    """gRPC's service config retrying the (service, method) pairs given on UNAVAILABLE."""
    return json.dumps(
        {
            "methodConfig": [
                {
                    "name": [{"service": s, "method": m} for s, m in idempotent_methods],
                    "retryPolicy": {
                        "maxAttempts": 4,
                        "initialBackoff": "0.05s",
                        "maxBackoff": "1s",
                        "backoffMultiplier": 2,
                        "retryableStatusCodes": ["UNAVAILABLE"],
                    },
                }
            ]
        }
    )


def retried_methods(
    services: Sequence[Any], extra_idempotent: Iterable[str] = ()
) -> list[tuple[str, str]]:
    """The (service, method) pairs of `services` a channel may retry: the idempotent ones."""
    extra = set(extra_idempotent)
    return [
        (service.full_name, m.name)
        for service in services
        for m in service.methods
        if m.name.startswith(IDEMPOTENT_PREFIXES) or m.name in extra
    ]


def open_channel(
    target: str, services: Sequence[Any], extra_idempotent: Iterable[str] = ()
) -> grpc.aio.Channel:
    """A long-lived channel to `target` for the services it serves, by descriptor (e.g.
    `loan_pb2.DESCRIPTOR.services_by_name["LoanService"]`)."""
    methods = retried_methods(services, extra_idempotent)
    return grpc.aio.insecure_channel(
        target,
        options=[
            ("grpc.service_config", service_config(methods)),
            ("grpc.enable_retries", 1),
            ("grpc.keepalive_time_ms", 30_000),
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
        ],
        interceptors=[*aio_client_interceptors(), ForwardContextInterceptor()],
    )
