"""Request dependencies, as `Annotated` aliases the routers use."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from gateway.upstreams import Upstreams
from shared import context as request_context
from shared.errors import RateLimited, Unauthenticated
from shared.permissions import Permission, Principal, require


def _upstreams(request: Request) -> Upstreams:
    return request.app.state.upstreams  # type: ignore[no-any-return]


Stubs = Annotated[Upstreams, Depends(_upstreams)]


BEARER = HTTPBearer(
    scheme_name="bearer",
    bearerFormat="JWT",
    description="The `access_token` of `POST /v1/auth/login` (EdDSA JWT, 15 minutes); renew "
    "it with `POST /v1/auth/refresh`.",
    auto_error=False,
)
"""Declares the scheme in the OpenAPI document (the Authorize button of /docs); the refusal
of a missing token is ours, as problem+json."""


async def _principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)],
) -> Principal:
    token = credentials.credentials if credentials else ""
    if not token.strip():
        raise Unauthenticated(
            "send `Authorization: Bearer <access_token>`; log in to get one", reason="TOKEN_MISSING"
        )
    principal = await request.app.state.authenticate(token.strip())
    await _rate_limit(
        request, f"p:{principal.user_id}", request.app.state.settings.rate_limit_per_minute
    )
    ctx = request_context.current()
    request_context.set_current(
        request_context.RequestContext(
            request_id=ctx.request_id,
            token=token.strip(),
            principal=principal,
            client_address=ctx.client_address,
            user_agent=ctx.user_agent,
        )
    )
    request.state.principal = principal
    request.state.token = token.strip()
    return principal  # type: ignore[no-any-return]


async def _rate_limit(request: Request, key: str, per_minute: int) -> None:
    """A fixed one-minute window in Redis; shared by every gateway replica of this fleet
    (the namespace keeps another fleet on the same Redis, a test run beside a dev platform,
    out of its count)."""
    window = int(time.time() // 60)
    redis = request.app.state.redis
    bucket = f"{request.app.state.settings.kopa_namespace}:rl:{key}:{window}"
    async with redis.pipeline(transaction=False) as pipe:
        pipe.incr(bucket)
        pipe.expire(bucket, 61)
        count, _ = await pipe.execute()
    if count > per_minute:
        retry = 60 - int(time.time() % 60)
        raise RateLimited(
            f"more than {per_minute} requests a minute; retry in {retry} s",
            retry_after_seconds=retry,
        )


async def rate_limit_client(request: Request, per_minute: int) -> None:
    address = request.client.host if request.client else "unknown"
    await _rate_limit(request, f"ip:{address}:{request.url.path}", per_minute)


CurrentPrincipal = Annotated[Principal, Depends(_principal)]


def allowed(permission: Permission, *alternatives: Permission) -> Any:
    """A route dependency that checks the permission table before any upstream is called: the
    caller must hold `permission` or one of the `alternatives` (a route that shows each caller
    what their permissions allow, such as the live event stream)."""
    permissions = (permission, *alternatives)

    async def check(principal: CurrentPrincipal) -> None:
        if not any(p in principal.permissions for p in permissions):
            require(principal, permission)  # refuses, saying why

    check.permissions = permissions  # type: ignore[attr-defined]  # read by gateway.openapi
    return Depends(check)
