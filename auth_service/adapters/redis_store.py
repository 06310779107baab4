"""Redis: session revocation marks (read by every verifier) and the per-address login
throttle."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from auth_service.domain.lockout import AddressThrottlePolicy, ThrottleDecision
from shared.tokens import ACCESS_TOKEN_TTL, CLOCK_LEEWAY, revoked_session_key

REVOCATION_TTL = ACCESS_TOKEN_TTL + CLOCK_LEEWAY + timedelta(seconds=30)
"""How long a revoked session stays marked: past the expiry of any access token it got."""


class Revocations:
    """Marks sessions ended so their outstanding access tokens are refused at once by
    `shared.auth.TokenAuthenticator` (gateway, every service, auth_service itself)."""

    def __init__(self, redis: Any, ttl: timedelta = REVOCATION_TTL) -> None:
        self._redis = redis
        self._ttl = int(ttl.total_seconds())

    async def revoke_sessions(self, session_ids: Iterable[str]) -> None:
        ids = list(session_ids)
        if not ids:
            return
        async with self._redis.pipeline(transaction=False) as pipe:
            for sid in ids:
                pipe.set(revoked_session_key(sid), "1", ex=self._ttl)
            await pipe.execute()

    async def is_revoked(self, session_id: str) -> bool:
        return bool(await self._redis.exists(revoked_session_key(session_id)))


class LoginThrottle:
    """`AddressThrottlePolicy` over Redis: a fixed window of failed logins per client
    address (IPv6 per /64), shared by every replica."""

    def __init__(self, redis: Any, policy: AddressThrottlePolicy) -> None:
        self._redis = redis
        self.policy = policy

    async def check(self, address: str) -> ThrottleDecision:
        key = self.policy.redis_key(address)
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.get(key)
            pipe.ttl(key)
            count, ttl = await pipe.execute()
        return self.policy.decide(int(count or 0), int(ttl) if ttl is not None else None)

    async def record_failure(self, address: str) -> None:
        key = self.policy.redis_key(address)
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.incr(key)
            pipe.expire(key, self.policy.window_seconds, nx=True)
            await pipe.execute()
