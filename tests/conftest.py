"""Fixtures shared by every tier.

Server URLs come from the environment (`MONGODB_URL`, ...), else from the servers `make`
started (deploy/local/servers.env), else from testcontainers where a Docker engine exists.
Under CI=true a missing server fails the run; it is never skipped.

Every test carries the marker of its tier (its folder under tests/: unit, integration, e2e),
so that `-m unit` and the like select exactly that tier; collection fails otherwise.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from urllib.parse import urlparse

import pytest

from tools.fleet import SERVER_VARS, local_server_urls

TESTS = Path(__file__).parent
TIERS = ("unit", "integration", "e2e")


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects what it does not select
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Refuses to run a test that lacks its tier's marker (`pytestmark = pytest.mark.unit` in
    a module under tests/unit, and so on)."""
    unmarked = []
    for item in items:
        folder = item.path.relative_to(TESTS).parts[0] if item.path.is_relative_to(TESTS) else ""
        if folder in TIERS and item.get_closest_marker(folder) is None:
            unmarked.append(f"{item.nodeid} (under tests/{folder}, not marked `{folder}`)")
    if unmarked:
        raise pytest.UsageError(
            "tests without the marker of their tier; add e.g. `pytestmark = pytest.mark.unit` "
            "to their module:\n  " + "\n  ".join(unmarked)
        )


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
