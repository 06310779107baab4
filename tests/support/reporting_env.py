"""reporting_service for the integration tests, beside loan_service's world
(tests.support.loan_world): started as in production by its own `bootstrap.setup` in the
world's namespace, it builds its read models in a real Elasticsearch from the loan events the
real loan_service publishes to RabbitMQ, asks the world's peer for the institution's currency,
and answers kopa.reporting.v1 and v2 over real gRPC with the world's tokens."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import grpc
from pymongo import AsyncMongoClient

from reporting_service.adapters.search_index import SearchIndex, elasticsearch_client
from reporting_service.bootstrap import Settings, setup
from shared.grpc_server import build_server
from shared.permissions import Principal
from shared.service import Runtime
from shared.tokens import decode_access_token
from tests.support.broker import remove_broker_namespace
from tests.support.loan_world import World


@contextlib.asynccontextmanager
async def reporting_beside(world: World, server_urls: dict[str, str]) -> AsyncIterator[Any]:
    """A channel to reporting_service, consuming before anything is published (events sent
    before its queue exists would not reach it); its indexes and queue are removed after."""

    async def authenticate(token: str) -> Principal:
        return decode_access_token(token, world.keyset).principal

    settings = Settings(
        mongodb_url=server_urls["MONGODB_URL"],
        redis_url=server_urls["REDIS_URL"],
        amqp_url=server_urls["AMQP_URL"],
        elasticsearch_url=server_urls["ELASTICSEARCH_URL"],
        kopa_namespace=world.ns,
        kopa_env="test",
        user_service_addr=world.peers,
    )
    runtime = Runtime(settings, "reporting")
    runtime.authenticate = authenticate
    await runtime.connect()
    register = await setup(runtime)
    for consumer in runtime.consumers:
        await consumer.start()
    server, port, _ = build_server(register, port=0, authenticate=authenticate)
    await server.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    try:
        yield channel
    finally:
        await channel.close()
        await server.stop(None)
        await runtime.close()
        await remove_broker_namespace(server_urls["AMQP_URL"], world.ns, ["reporting"])
        index = SearchIndex(elasticsearch_client(settings.elasticsearch_url), world.ns)
        for name in (index.borrowers, index.loans, index.repayments):
            await index.es.indices.delete(index=name, ignore_unavailable=True)
        await index.es.close()
        async with AsyncMongoClient[Any](server_urls["MONGODB_URL"]) as mongo:
            await mongo.drop_database(settings.mongodb_database)
