"""What every service process shares at start-up: servers, peers, the outbox relay, consumers.

A service's `bootstrap.py` builds its adapters and servicer from a `Runtime`; its `__main__`
calls `run(...)`, which connects (with readiness waits), serves, and stops gracefully.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import grpc
import redis.asyncio as aioredis
from tenacity import AsyncRetrying, stop_after_delay, wait_exponential

from shared.auth import TokenAuthenticator, jwks_from_auth_service
from shared.config import ServiceSettings
from shared.events import EventConsumer, EventPublisher, OutboxRelay
from shared.grpc_client import open_channel
from shared.grpc_server import Authenticator, build_server, serve_until_signalled
from shared.logging import configure_logging, get_logger
from shared.mongo import connect
from shared.tracing import configure_tracing

log = get_logger(__name__)

#: The gRPC services each peer serves: (stub module, service name).
_PEER_SERVICES = {
    "auth": [("kopa.auth.v1.auth_pb2", "AuthService")],
    "user": [
        ("kopa.user.v1.user_pb2", "UserService"),
        ("kopa.user.v2.user_pb2", "UserService"),
        ("kopa.user.v1.groups_pb2", "GroupService"),
        ("kopa.user.v1.documents_pb2", "DocumentService"),
    ],
    "loan": [
        ("kopa.loan.v1.loan_pb2", "LoanService"),
        ("kopa.loan.v2.loans_pb2", "LoanService"),
        ("kopa.loan.v2.repayments_pb2", "RepaymentService"),
        ("kopa.loan.v2.group_loans_pb2", "GroupLoanService"),
        ("kopa.loan.v2.securities_pb2", "LoanSecurityService"),
    ],
    "payment": [
        ("kopa.payment.v1.payment_pb2", "PaymentService"),
        ("kopa.payment.v2.repayments_pb2", "RepaymentService"),
        ("kopa.payment.v2.ledger_pb2", "LedgerService"),
        ("kopa.payment.v2.repayments_pb2", "MobileMoneyService"),
    ],
    "scoring": [
        ("kopa.scoring.v1.scoring_pb2", "ScoringService"),
        ("kopa.scoring.v2.scoring_pb2", "ScoringService"),
    ],
    "reporting": [
        ("kopa.reporting.v1.reporting_pb2", "ReportingService"),
        ("kopa.reporting.v2.reporting_pb2", "ReportingService"),
    ],
    "notification": [
        ("kopa.notification.v1.notification_pb2", "NotificationService"),
        ("kopa.notification.v1.notification_pb2", "WebhookService"),
        ("kopa.notification.v1.notification_pb2", "AlertService"),
        ("kopa.notification.v1.notification_pb2", "ScheduleService"),
    ],
}


def peer_services(peer: str) -> list[Any]:
    """The descriptors of the gRPC services `peer` serves."""
    import importlib

    return [
        importlib.import_module(module).DESCRIPTOR.services_by_name[service]
        for module, service in _PEER_SERVICES[peer]
    ]


@dataclass
class Runtime:
    settings: ServiceSettings
    name: str
    mongo: Any = None
    db: Any = None
    redis: aioredis.Redis | None = None
    publisher: EventPublisher | None = None
    relay: OutboxRelay | None = None
    authenticate: Authenticator | None = None
    consumers: list[EventConsumer] = field(default_factory=list)
    closers: list[Callable[[], Awaitable[Any]]] = field(default_factory=list)
    _channels: dict[str, grpc.aio.Channel] = field(default_factory=dict)

    def channel(self, peer: str) -> grpc.aio.Channel:
        if peer not in self._channels:
            address = getattr(self.settings, f"{peer}_service_addr")
            self._channels[peer] = open_channel(address, peer_services(peer))
        return self._channels[peer]

    async def connect(self) -> None:
        s = self.settings
        self.mongo, self.db = connect(s.mongodb_url, s.mongodb_database, app_name=self.name)
        async for attempt in AsyncRetrying(
            stop=stop_after_delay(60), wait=wait_exponential(max=3), reraise=True
        ):
            with attempt:
                await self.mongo.admin.command("ping")
        self.redis = aioredis.from_url(s.redis_url, decode_responses=True)
        await self.redis.ping()
        self.publisher = EventPublisher(s.amqp_url, self.name, s.kopa_namespace)
        await self.publisher.connect()
        if self.authenticate is None:
            self.authenticate = TokenAuthenticator(
                jwks_from_auth_service(self.channel("auth")), self.redis
            )
        log.info("connected", mongodb=s.mongodb_database)

    def start_relay(self, collections: Iterable[str]) -> OutboxRelay:
        assert self.publisher is not None
        self.relay = OutboxRelay(
            self.db, self.publisher, collections, sweep_interval=self.settings.outbox_sweep_seconds
        )
        return self.relay

    def consume(
        self,
        bindings: Iterable[str],
        handler: Callable[[str, bytes, dict[str, Any]], Awaitable[None]],
        *,
        queue: str | None = None,
    ) -> None:
        ns = self.settings.kopa_namespace
        self.consumers.append(
            EventConsumer(
                self.settings.amqp_url,
                f"{ns}.{queue or self.name}",
                bindings,
                handler,
                namespace=ns,
            )
        )

    def on_close(self, closer: Callable[[], Awaitable[Any]]) -> None:
        self.closers.append(closer)

    async def close(self) -> None:
        for closer in self.closers:
            await closer()
        for consumer in self.consumers:
            await consumer.stop()
        if self.relay:
            await self.relay.stop()
        if self.publisher:
            await self.publisher.close()
        for ch in self._channels.values():
            await ch.close()
        if self.redis:
            await self.redis.aclose()  # type: ignore[attr-defined]
        if self.mongo:
            await self.mongo.close()


Setup = Callable[[Runtime], Awaitable[Callable[[grpc.aio.Server], list[str]]]]


async def run(settings: ServiceSettings, name: str, setup: Setup) -> None:
    """Connects, lets `setup` wire the service (returning its registration), serves until
    SIGTERM, then drains and closes everything."""
    configure_logging(name, settings.log_level, settings.log_json)
    configure_tracing(name, settings.otel_exporter_otlp_endpoint)
    runtime = Runtime(settings, name)
    await runtime.connect()
    register = await setup(runtime)
    if runtime.relay is not None:
        await runtime.relay.ensure_indexes()
        runtime.relay.start()
    for consumer in runtime.consumers:
        await consumer.start()
    names: list[str] = []

    def _register(server: grpc.aio.Server) -> list[str]:
        names.extend(register(server))
        return names

    server, port, health = build_server(
        _register,
        host=settings.grpc_host,
        port=settings.grpc_port,
        authenticate=runtime.authenticate,
    )
    log.info("serving", port=port, services=names)
    try:
        await serve_until_signalled(server, health, names)
    finally:
        await runtime.close()
        log.info("stopped")


def main(settings: ServiceSettings, name: str, setup: Setup) -> None:
    asyncio.run(run(settings, name, setup))
