"""scoring_service for the integration tests, over gRPC against real MongoDB-wire, RabbitMQ
and Redis servers.

The servicer runs in-process on port 0 behind the shared server builder, wired by the
service's own `bootstrap.setup`; callers authenticate with real EdDSA access tokens verified
against a local JWKS (and Redis for revocation), exactly as in production.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import grpc
import redis.asyncio as aioredis

from kopa.scoring.v1 import events_pb2, scoring_pb2, scoring_pb2_grpc
from kopa.scoring.v2 import scoring_pb2_grpc as scoring_v2_grpc
from scoring_service.adapters.repository import Repository
from scoring_service.bootstrap import Settings, setup
from scoring_service.service_layer.handlers import ScoringHandlers
from shared.auth import TokenAuthenticator
from shared.events import EventPublisher
from shared.grpc_server import build_server
from shared.mongo import connect
from shared.permissions import Principal, Role
from shared.service import Runtime
from shared.tokens import KeySet, issue_access_token
from tests.support.broker import observing, remove_broker_namespace

CUTOFFS = [
    {"band": "AA", "min_score": 800},
    {"band": "A", "min_score": 650},
    {"band": "B", "min_score": 550},
    {"band": "C", "min_score": 450},
]
RULES: list[dict[str, Any]] = [
    {"name": "income", "when": "borrower.monthly_income >= 500", "points": 80},
    {"name": "late", "when": "history.max_days_past_due > 30", "points": -150},
    {
        "name": "affordable",
        "when": "loan.installment_amount / borrower.monthly_income <= 0.3",
        "points": 40,
    },
    {"name": "group", "when": "group.is_member and group.size >= 5", "points": 30},
    {"name": "written off", "when": "history.loans_written_off > 0", "points": -400},
]
APPLICANT = {
    "borrower": {"monthly_income": 600.00},
    "loan": {"installment_amount": "180"},
    "history": {"max_days_past_due": 0, "loans_written_off": 0},
    "group": {"is_member": True, "size": 6},
}


@dataclass
class Env:
    stub: scoring_pb2_grpc.ScoringServiceStub
    #: kopa.scoring.v2's ScoringService (typed) on the same server.
    v2: scoring_v2_grpc.ScoringServiceStub
    keyset: KeySet
    db: Any
    repo: Repository
    handlers: ScoringHandlers
    publisher: EventPublisher
    events: list[events_pb2.ScorecardEvent] = field(default_factory=list)

    def token(self, role: Role, institution: str | None, branch: str | None = None) -> str:
        principal = Principal(
            user_id=f"usr_{secrets.token_hex(4)}",
            role=role,
            institution_id=institution,
            branch_id=branch,
            session_id=f"ses_{secrets.token_hex(4)}",
        )
        return issue_access_token(self.keyset, principal).token


def new_institution() -> str:
    return f"inst_{secrets.token_hex(6)}"


def card(
    rules: list[dict[str, Any]],
    *,
    name: str = "Retail",
    key: str = "",
    base: int = 500,
    cutoffs: list[dict[str, Any]] | None = None,
) -> scoring_pb2.Scorecard:
    return scoring_pb2.Scorecard(
        name=name,
        scorecard_key=key,
        base_score=base,
        rules=[scoring_pb2.Rule(**r) for r in rules],
        cutoffs=[scoring_pb2.Cutoff(**c) for c in (CUTOFFS if cutoffs is None else cutoffs)],
    )


@contextlib.asynccontextmanager
async def scoring_env(server_urls: dict[str, str]) -> AsyncIterator[Env]:
    """scoring_service and a watcher of its events, in a namespace of its own; everything it
    made is removed after."""
    namespace = f"it{secrets.token_hex(4)}"
    settings = Settings.model_validate(
        {
            "kopa_namespace": namespace,
            "mongodb_url": server_urls["MONGODB_URL"],
            "amqp_url": server_urls["AMQP_URL"],
            "redis_url": server_urls["REDIS_URL"],
        }
    )
    mongo, db = connect(settings.mongodb_url, settings.mongodb_database, app_name="it-scoring")
    redis = aioredis.from_url(settings.redis_url, decode_responses=True)
    keyset = KeySet.generate()

    async def local_jwks() -> dict[str, Any]:
        return keyset.jwks()

    authenticate = TokenAuthenticator(local_jwks, redis)
    publisher = EventPublisher(settings.amqp_url, "scoring", namespace)
    await publisher.connect()
    runtime = Runtime(
        settings,
        "scoring",
        mongo=mongo,
        db=db,
        redis=redis,
        publisher=publisher,
        authenticate=authenticate,
    )
    register = await setup(runtime)
    assert runtime.relay is not None
    await runtime.relay.ensure_indexes()
    runtime.relay.start()
    for consumer in runtime.consumers:
        await consumer.start()

    events: list[events_pb2.ScorecardEvent] = []

    async def watch(key: str, body: bytes, headers: dict[str, Any]) -> None:
        events.append(events_pb2.ScorecardEvent.FromString(body))

    server, port, _ = build_server(register, port=0, authenticate=authenticate)
    await server.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    repo = Repository(db)
    try:
        async with observing(settings.amqp_url, namespace, "watch", ["scorecard.*"], watch):
            yield Env(
                stub=scoring_pb2_grpc.ScoringServiceStub(channel),
                v2=scoring_v2_grpc.ScoringServiceStub(channel),
                keyset=keyset,
                db=db,
                repo=repo,
                handlers=ScoringHandlers(repo, lambda collection, doc_id: None),
                publisher=publisher,
                events=events,
            )
    finally:
        await channel.close()
        await server.stop(0)
        await mongo.drop_database(settings.mongodb_database)
        await remove_broker_namespace(settings.amqp_url, namespace, ["scoring", "watch"])
        await runtime.close()  # consumers, relay, publisher, redis, mongo
