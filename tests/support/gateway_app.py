"""The gateway's real app (its routes, request validation, problem+json answers) over fake
upstream stubs, for tests of what the gateway itself does: no service, no token check."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any, get_args

import grpc
from fastapi import FastAPI
from google.protobuf.message import Message
from grpc_status import rpc_status

from gateway.app import create_app
from gateway.deps import CurrentPrincipal
from gateway.settings import GatewaySettings
from shared.errors import DomainError
from shared.permissions import Principal
from shared.rpc_errors import to_status


class FakeStub:
    """A service's stub: each method answers what `answers` holds under its name (a callable
    is called with the request; an exception is raised) and records its requests."""

    def __init__(self, **answers: Message | Exception | Callable[[Any], Message]) -> None:
        self.answers = answers
        self.requests: dict[str, list[Any]] = {}

    def __getattr__(self, method: str) -> Any:
        if method not in self.answers:
            raise AttributeError(method)

        async def call(request: Any, **_: Any) -> Message:
            self.requests.setdefault(method, []).append(request)
            answer = self.answers[method]
            if isinstance(answer, Exception):
                raise answer
            return answer(request) if callable(answer) else answer

        return call


def failed_call(error: DomainError) -> grpc.aio.AioRpcError:
    """The error a call fails with when the service refuses it with `error` (its rich status
    in the trailing metadata, as shared.rpc_errors.abort sends it)."""
    status = rpc_status.to_status(to_status(error))
    return grpc.aio.AioRpcError(
        status.code,
        grpc.aio.Metadata(),
        grpc.aio.Metadata(*status.trailing_metadata),
        details=status.details,
    )


def gateway_app(principal: Principal | None = None, **stubs: FakeStub) -> FastAPI:
    """The app with `stubs` as its upstreams (by the names of `gateway.upstreams.Upstreams`),
    signed in as `principal` whatever the request's token. Its lifespan is not run: nothing
    connects."""
    settings = GatewaySettings(redis_url="redis://127.0.0.1:1/0")
    app = create_app(settings)
    app.state.settings = settings
    app.state.upstreams = SimpleNamespace(**stubs)
    if principal is not None:
        app.dependency_overrides[get_args(CurrentPrincipal)[1].dependency] = lambda: principal
    return app
