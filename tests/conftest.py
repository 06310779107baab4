"""Fixtures shared by every tier.

Server URLs come from the environment (`MONGODB_URL`, ...), else from the servers `make`
started (deploy/local/servers.env), else from testcontainers where a Docker engine exists.
Under CI=true a missing server fails the run; it is never skipped.
"""

from __future__ import annotations

import os
import socket
from urllib.parse import urlparse

import pytest

from tools.fleet import SERVER_VARS, local_server_urls


def _reachable(url: str) -> bool:
    parsed = urlparse(url)
    host = parsed.hostname or "127.0.0.1"
    port = parsed.port or {"mongodb": 27017, "amqp": 5672, "redis": 6379}.get(parsed.scheme, 80)
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def _testcontainers() -> dict[str, str]:
    """Servers in containers, where a Docker engine answers (never on the CI machines here)."""
    from testcontainers.elasticsearch import ElasticSearchContainer
    from testcontainers.mongodb import MongoDbContainer
    from testcontainers.rabbitmq import RabbitMqContainer
    from testcontainers.redis import RedisContainer

    mongo = MongoDbContainer("mongo:8").start()
    es = ElasticSearchContainer("elasticsearch:9.3.0").start()
    rabbit = RabbitMqContainer("rabbitmq:4-management").start()
    redis = RedisContainer("redis:7").start()
    return {
        "MONGODB_URL": mongo.get_connection_url(),
        "ELASTICSEARCH_URL": es.get_url(),
        "AMQP_URL": f"amqp://guest:guest@{rabbit.get_container_host_ip()}:"
        f"{rabbit.get_exposed_port(5672)}/",
        "REDIS_URL": f"redis://{redis.get_container_host_ip()}:{redis.get_exposed_port(6379)}/0",
    }


@pytest.fixture(scope="session")
def server_urls() -> dict[str, str]:
    urls = local_server_urls()
    missing = [k for k in SERVER_VARS if k not in urls or not _reachable(urls[k])]
    if missing:
        try:
            urls = _testcontainers()
        except Exception as exc:
            pytest.fail(
                f"servers not reachable: {', '.join(missing)}; no Docker engine for "
                f"testcontainers either ({type(exc).__name__}). Run `make servers` "
                "(deploy/local/infra.sh start) or export the URLs.",
                pytrace=False,
            )
    os.environ.update(urls)
    return urls
