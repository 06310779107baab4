"""A service's own service tokens (`shared.service_tokens`): asked from auth_service once per
institution, in the service's name, and kept until shortly before they expire."""

from __future__ import annotations

import asyncio

import pytest

from kopa.auth.v1 import auth_pb2
from shared.service_tokens import ServiceTokens

pytestmark = pytest.mark.unit


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class FakeAuth:
    """auth_service's IssueServiceToken, counting requests; each takes `latency` seconds."""

    def __init__(self, clock: Clock, expires_in: int = 300, latency: float = 0.0) -> None:
        self.clock, self.expires_in, self.latency = clock, expires_in, latency
        self.requests: list[auth_pb2.IssueServiceTokenRequest] = []

    async def IssueServiceToken(
        self, request: auth_pb2.IssueServiceTokenRequest
    ) -> auth_pb2.IssueServiceTokenResponse:
        self.requests.append(request)
        await asyncio.sleep(0)  # let concurrent askers pile up
        self.clock.now += self.latency
        return auth_pb2.IssueServiceTokenResponse(
            access_token=f"token-{len(self.requests)}", expires_in=self.expires_in
        )


def tokens(auth: FakeAuth, service: str = "payment_service") -> ServiceTokens:
    return ServiceTokens(auth, "the-credential", service=service, clock=auth.clock)


@pytest.mark.parametrize("service", ["payment_service", "notification_service"])
async def test_a_token_is_asked_in_the_services_name(service: str) -> None:
    auth = FakeAuth(Clock())
    assert await tokens(auth, service).token("inst-1") == "token-1"
    [request] = auth.requests
    assert (request.service, request.institution_id, request.credential) == (
        service,
        "inst-1",
        "the-credential",
    )


async def test_a_token_is_kept_until_a_minute_before_it_expires() -> None:
    auth = FakeAuth(Clock())
    source = tokens(auth)
    assert await source.token("inst-1") == "token-1"
    auth.clock.now += 239
    assert await source.token("inst-1") == "token-1"
    auth.clock.now += 1
    assert await source.token("inst-1") == "token-2"


async def test_each_institution_has_its_own_token() -> None:
    auth = FakeAuth(Clock())
    source = tokens(auth)
    assert [await source.token(i) for i in ("inst-1", "inst-2", "inst-1")] == [
        "token-1",
        "token-2",
        "token-1",
    ]


async def test_concurrent_askers_share_one_request() -> None:
    auth = FakeAuth(Clock())
    source = tokens(auth)
    got = await asyncio.gather(*(source.token("inst-1") for _ in range(10)))
    assert set(got) == {"token-1"} and len(auth.requests) == 1


async def test_the_lifetime_counts_from_the_request_and_short_ones_renew_at_half_life() -> None:
    slow = FakeAuth(Clock(), latency=30)
    source = tokens(slow)
    await source.token("inst-1")
    slow.clock.now += 209  # 239 s after asking
    assert await source.token("inst-1") == "token-1"
    slow.clock.now += 1
    assert await source.token("inst-1") == "token-2"

    short = FakeAuth(Clock(), expires_in=60)
    source = tokens(short)
    await source.token("inst-1")
    short.clock.now += 30
    assert await source.token("inst-1") == "token-2"


async def test_a_refused_token_is_forgotten() -> None:
    auth = FakeAuth(Clock())
    source = tokens(auth)
    await source.token("inst-1")
    source.forget("inst-1")
    assert await source.token("inst-1") == "token-2"
