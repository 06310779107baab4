"""Verifying the caller in every service (defence in depth) and at the gateway.

Access tokens are checked against auth_service's public JWKS (fetched over gRPC, refreshed
when an unknown `kid` appears, so key rotation needs no restart) and against the revocation
keys in Redis (logout, password change and account disable take effect at once).

Service tokens (role `service`) are signed by the same keys but only ever travel between
services: the gateway builds its authenticator with `accept_service_tokens=False`, so one
presented from outside is refused as if it were forged.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import redis.asyncio as aioredis

from shared.errors import Unauthenticated
from shared.permissions import Principal
from shared.tokens import (
    KeySet,
    TokenInvalid,
    TokenReason,
    decode_access_token,
    revoked_session_key,
    revoked_token_key,
)

JwksSource = Callable[[], Awaitable[dict[str, Any]]]

JWKS_REFRESH_MIN_INTERVAL = 5.0


SERVICE_TOKEN_REFUSED = "SERVICE_TOKEN_REFUSED"  # noqa: S105 - a reason code


class TokenAuthenticator:
    def __init__(
        self, jwks_source: JwksSource, redis: aioredis.Redis, *, accept_service_tokens: bool = True
    ) -> None:
        self._source = jwks_source
        self._redis = redis
        self._accept_service_tokens = accept_service_tokens
        self._keys: KeySet | None = None
        self._fetched_at = 0.0
        self._lock = asyncio.Lock()

    async def _refresh(self, *, force: bool) -> KeySet:
        async with self._lock:
            stale = time.monotonic() - self._fetched_at > JWKS_REFRESH_MIN_INTERVAL
            if self._keys is None or (force and stale):
                jwks = await self._source()
                if self._keys is None:
                    self._keys = KeySet.from_jwks(jwks)
                else:
                    self._keys.update_from_jwks(jwks)
                self._fetched_at = time.monotonic()
            return self._keys

    async def __call__(self, token: str) -> Principal:
        keys = self._keys or await self._refresh(force=False)
        try:
            claims = decode_access_token(token, keys)
        except TokenInvalid as exc:
            if exc.reason != TokenReason.KID_UNKNOWN:
                raise Unauthenticated(exc.message, reason=exc.reason) from None
            try:
                claims = decode_access_token(token, await self._refresh(force=True))
            except TokenInvalid as again:
                raise Unauthenticated(again.message, reason=again.reason) from None
        if claims.principal.is_service and not self._accept_service_tokens:
            raise Unauthenticated(
                "A service token is not accepted here; log in as a user.",
                reason=SERVICE_TOKEN_REFUSED,
            )
        revoked = await self._redis.exists(
            revoked_session_key(claims.session_id), revoked_token_key(claims.jti)
        )
        if revoked:
            refused = TokenInvalid.revoked()
            raise Unauthenticated(refused.message, reason=refused.reason)
        return claims.principal


def jwks_from_auth_service(channel: Any) -> JwksSource:
    """A JWKS source that asks auth_service over an open gRPC channel."""
    from kopa.auth.v1 import auth_pb2, auth_pb2_grpc

    stub = auth_pb2_grpc.AuthServiceStub(channel)

    async def fetch() -> dict[str, Any]:
        response = await stub.GetJwks(auth_pb2.GetJwksRequest(), timeout=5)
        return dict(json.loads(response.jwks_json))

    return fetch
