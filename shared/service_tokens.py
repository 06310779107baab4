"""A Kopa service's own access tokens, for the calls it makes with no user behind them
(payment_service posting a matched mobile-money receipt, notification_service reading the
borrower a reminder goes to): asked from auth_service (IssueServiceToken, for the internal
credential ``KOPA_SERVICE_SECRET``) once per institution, and kept until shortly before they
expire. What such a token may do is `shared.permissions.Role.SERVICE`'s; see
``auth_service/domain/service_identity.py``.

`AbstractServiceTokens` is the port a service's use cases ask (their unit tests' fakes
subclass it); `ServiceTokens` implements it over gRPC. Importing this module imports no gRPC
and no stub (`ServiceTokens` does when it first asks), so that a service layer may depend
on the port and still import nothing of the wire (tests/unit/payment/test_payment_layers.py).
"""

from __future__ import annotations

import abc
import asyncio
import time
from collections.abc import Callable
from typing import Any


class AbstractServiceTokens(abc.ABC):
    """A service's own access tokens, one per institution it acts for."""

    @abc.abstractmethod
    async def token(self, institution_id: str) -> str:
        """A service token for the institution; raises when it cannot be had."""

    @abc.abstractmethod
    def forget(self, institution_id: str) -> None:
        """Drop a token a peer refused (revoked, or signed by a retired key)."""


class ServiceTokens(AbstractServiceTokens):
    """The tokens of service `service` (its name as auth_service knows it, e.g.
    ``payment_service``), from auth_service, each kept until shortly before it expires.
    Concurrent askers for one institution share one request."""

    RENEW_BEFORE_SECONDS = 60.0

    def __init__(
        self,
        stub: Any,
        credential: str,
        *,
        service: str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._stub = stub  # auth_pb2_grpc.AuthServiceStub
        self._service = service
        self._credential = credential
        self._clock = clock
        self._held: dict[str, tuple[float, str]] = {}  # institution -> (renew at, token)
        self._locks: dict[str, asyncio.Lock] = {}

    def _fresh(self, institution_id: str) -> str | None:
        held = self._held.get(institution_id)
        return held[1] if held is not None and held[0] > self._clock() else None

    async def token(self, institution_id: str) -> str:
        """A service token for the institution. Raises like any peer call: a ``shared.errors``
        class when auth_service refuses, the original ``grpc.aio.AioRpcError`` when it cannot
        be reached."""
        token = self._fresh(institution_id)
        if token is not None:
            return token
        async with self._locks.setdefault(institution_id, asyncio.Lock()):
            token = self._fresh(institution_id)
            if token is not None:
                return token
            asked = self._clock()
            reply = await self._issue(institution_id)
            # Counted from when it was asked for, so the token is never kept past its expiry;
            # a short-lived one is renewed at half its life.
            keep = max(reply.expires_in - self.RENEW_BEFORE_SECONDS, reply.expires_in / 2)
            self._held[institution_id] = (asked + keep, reply.access_token)
            return str(reply.access_token)

    def forget(self, institution_id: str) -> None:
        self._held.pop(institution_id, None)

    async def _issue(self, institution_id: str) -> Any:
        """auth_service's IssueServiceTokenResponse; a refusal as its ``shared.errors``
        class. (The wire's modules are imported here: see the module's docstring.)"""
        import grpc

        from kopa.auth.v1 import auth_pb2
        from shared.rpc_errors import reraise_as_domain

        request = auth_pb2.IssueServiceTokenRequest(
            service=self._service, institution_id=institution_id, credential=self._credential
        )
        try:
            return await self._stub.IssueServiceToken(request)
        except grpc.aio.AioRpcError as err:
            refused = reraise_as_domain(err)
            if refused is not None:
                raise refused from None
            raise
