"""docker-compose.yml, checked offline: against the Compose Specification schema that
check-jsonschema vendors (`--builtin-schema vendor.compose-spec`); the same eight programs in
Compose, Kubernetes and the Dockerfile; then what the schema cannot see — health checks on each
service's own port, server URLs and peers, waiting for healthy servers, no default secrets, and
notification_service's channels (Kannel, SMTP, webhooks) and clock."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.support.deploy import (
    COMPOSE,
    FLEET,
    PEER_VARS,
    PORTS,
    REQUIRED_INTERPOLATION,
    SECRET_NAME,
    SERVER_URL_VARS,
    SERVICE_SECRET_HOLDERS,
    SERVICES,
    SMS_DELIVERY_REPORTS_PATH,
    of_kind,
    run_tool,
    without_interpolation,
)

pytestmark = pytest.mark.integration


# ----------------------------------------------------------------------------- schemas


def test_compose_file_matches_the_compose_spec() -> None:
    result = run_tool("check-jsonschema", "--builtin-schema", "vendor.compose-spec", str(COMPOSE))
    assert result.returncode == 0, result.stdout + result.stderr


# ----------------------------------------------------------------------------- one fleet


def test_compose_kubernetes_and_dockerfile_describe_the_same_fleet(
    ours: dict[str, dict[str, Any]], k8s_docs: list[tuple[Path, dict[str, Any]]]
) -> None:
    assert set(ours) == FLEET
    assert set(of_kind(k8s_docs, "Deployment")) == FLEET
    assert set(of_kind(k8s_docs, "Service")) == FLEET
    targets = {svc["build"].get("target") for svc in ours.values()}
    assert targets == {f"{n}_service" for n in SERVICES} | {"gateway"}


# ----------------------------------------------------------------------------- compose


def test_compose_fleet_has_healthchecks_on_its_own_port(ours: dict[str, dict[str, Any]]) -> None:
    for name, svc in ours.items():
        check = svc.get("healthcheck")
        assert check and not check.get("disable"), f"{name}: no healthcheck"
        test = check["test"]
        assert isinstance(test, list) and test[0] in ("CMD", "CMD-SHELL"), f"{name}: {test}"
        joined = " ".join(test)
        if name == "gateway":
            assert f":{svc['environment']['GATEWAY_PORT']}/" in joined, joined
        else:
            assert "grpc" in test and f"127.0.0.1:{PORTS[name]}" in joined, joined
        assert svc.get("restart") in ("always", "unless-stopped", "on-failure"), name
        assert svc.get("read_only") is True, f"{name}: root filesystem should be read-only"


def test_compose_services_get_their_server_urls_and_peers(ours: dict[str, dict[str, Any]]) -> None:
    for name in SERVICES:
        env = ours[name]["environment"]
        assert isinstance(env, dict), f"{name}: write environment as a mapping"
        for var in (*SERVER_URL_VARS, "KOPA_NAMESPACE", "GRPC_HOST", "GRPC_PORT", *PEER_VARS):
            assert env.get(var) not in (None, ""), f"{name}: {var} unset"
        assert env["KOPA_ENV"] == "production", name
        assert env["GRPC_HOST"] == "0.0.0.0", name
        assert int(env["GRPC_PORT"]) == PORTS[name], name
    assert ours["reporting"]["environment"].get("ELASTICSEARCH_URL")
    for var in ("KOPA_BOOTSTRAP_EMAIL", "KOPA_BOOTSTRAP_PASSWORD"):
        assert ours["auth"]["environment"].get(var), f"auth: {var} unset"
    # The service credential reaches the services that use it, and no other.
    holders = {name for name, svc in ours.items() if "KOPA_SERVICE_SECRET" in svc["environment"]}
    assert holders == SERVICE_SECRET_HOLDERS
    gateway = ours["gateway"]["environment"]
    for var in ("REDIS_URL", "GATEWAY_HOST", "GATEWAY_PORT", "KOPA_NAMESPACE", *PEER_VARS):
        assert gateway.get(var) not in (None, ""), f"gateway: {var} unset"
    # Least privilege: the gateway has no business with MongoDB or RabbitMQ.
    assert "MONGODB_URL" not in gateway and "AMQP_URL" not in gateway
    # Every peer address names the compose service listening on that port.
    for name, svc in ours.items():
        for var, peer in PEER_VARS.items():
            assert svc["environment"][var] == f"{peer}:{PORTS[peer]}", f"{name}: {var}"


def _default_of(value: str) -> str:
    """`${VAR:-default}` (or `${VAR-default}`) is its default; anything else is itself."""
    found = re.fullmatch(r"\$\{[A-Z][A-Z0-9_]*:?-([^}]*)\}", value)
    return found.group(1) if found else value


def test_compose_notification_has_its_channels_and_its_clock(
    compose: dict[str, Any], ours: dict[str, dict[str, Any]]
) -> None:
    services = compose["services"]
    notification = ours["notification"]
    env = notification["environment"]
    # SMS through Kannel, an SMS gateway outside this file: its address and sendsms-user are
    # required, as every secret is, so nothing starts pointing at a Kannel that is not there.
    assert env["SMS_PROVIDER"] == "kannel"
    for var in ("KANNEL_SENDSMS_URL", "KANNEL_USERNAME", "KANNEL_PASSWORD"):
        assert REQUIRED_INTERPOLATION.match(str(env.get(var, ""))), f"notification: {var}"
    # Kannel reports delivery to the gateway (by default, the gateway service of this file).
    report = urlsplit(_default_of(str(env["SMS_DELIVERY_REPORT_URL"])))
    assert report.hostname == "gateway", report
    assert report.port == int(ours["gateway"]["environment"]["GATEWAY_PORT"]), report
    assert report.path == SMS_DELIVERY_REPORTS_PATH, report
    # Email: by default the mail catcher of this file, healthy before the service starts.
    smtp = urlsplit(_default_of(str(env["SMTP_URL"])))
    assert smtp.scheme in ("smtp", "smtp+starttls", "smtps"), smtp
    assert smtp.hostname in services, f"SMTP_URL: {smtp.hostname} is not a compose service"
    assert smtp.password is None, "a default SMTP_URL carries no credentials"
    assert notification["depends_on"][smtp.hostname]["condition"] == "service_healthy"
    assert services[smtp.hostname].get("healthcheck"), smtp.hostname
    # Production-like: webhooks reach public https endpoints only.
    assert str(env["WEBHOOKS_ALLOW_PRIVATE"]).lower() == "false"
    assert str(env["WEBHOOKS_ALLOW_HTTP"]).lower() == "false"
    # No CronJob here: the service's own loop turns the clock.
    assert float(env["CLOCK_TICK_SECONDS"]) > 0
    # The gateway serves the notification routes and waits for the service.
    assert ours["gateway"]["depends_on"]["notification"]["condition"] == "service_healthy"


def _server_hosts(env: dict[str, Any]) -> set[str]:
    hosts = set()
    for var, value in env.items():
        if var.endswith("_URL") and value and "://" in str(value):
            host = urlsplit(without_interpolation(str(value))).hostname
            if host:
                hosts.add(host)
    return hosts


def test_compose_fleet_waits_for_healthy_servers_and_peers(
    compose: dict[str, Any], ours: dict[str, dict[str, Any]]
) -> None:
    services = compose["services"]
    for name, svc in ours.items():
        depends = svc.get("depends_on")
        assert isinstance(depends, dict), f"{name}: depends_on must name conditions"
        needed = _server_hosts(svc["environment"])
        if name == "gateway":
            needed |= SERVICES
        elif name != "auth":
            needed.add("auth")  # every service fetches auth's JWKS to verify tokens
        for host in needed:
            assert host in services, f"{name}: {host} is not a compose service"
            assert depends.get(host, {}).get("condition") == "service_healthy", (
                f"{name} must depend on {host} with condition service_healthy"
            )
        if name in SERVICES:
            assert {"mongodb", "rabbitmq", "redis"} <= needed, name
    assert "elasticsearch" in _server_hosts(ours["reporting"]["environment"])
    # Every dependency is satisfiable: healthy needs a healthcheck, completed needs a one-shot.
    for name, svc in services.items():
        for dep, spec in (svc.get("depends_on") or {}).items():
            assert dep in services, f"{name} depends on unknown {dep}"
            condition = spec.get("condition")
            if condition == "service_healthy":
                assert services[dep].get("healthcheck"), f"{dep} has no healthcheck"
            elif condition == "service_completed_successfully":
                assert services[dep].get("restart", "no") == "no", f"{dep} must be one-shot"


def test_compose_servers_are_healthchecked_and_mongodb_is_a_replica_set(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    for server in ("mongodb", "elasticsearch", "rabbitmq", "redis"):
        assert services[server].get("healthcheck"), f"{server}: no healthcheck"
        assert services[server].get("volumes"), f"{server}: data is not on a volume"
    assert "--replSet" in services["mongodb"]["command"]
    assert "rs.initiate" in " ".join(services["mongodb-init"]["command"])
    assert "_cluster/health" in " ".join(services["elasticsearch"]["healthcheck"]["test"])
    for name, svc in ours_env(compose):
        mongo = svc.get("MONGODB_URL")
        if mongo:
            assert "replicaSet=rs0" in mongo, f"{name}: MONGODB_URL must name the replica set"


def ours_env(compose: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, svc in compose["services"].items():
        env = svc.get("environment") or {}
        if isinstance(env, dict):
            yield name, env


def test_compose_has_no_default_secrets(compose: dict[str, Any]) -> None:
    for name, env in ours_env(compose):
        for var, value in env.items():
            value = "" if value is None else str(value)
            if SECRET_NAME.search(var):
                assert REQUIRED_INTERPOLATION.match(value), (
                    f"{name}: {var} must come from a required variable, ${{{var}:?...}}"
                )
            if "://" in value:
                password = re.match(r"^[a-z+]+://[^:/@]*:([^@]*)@", value)
                if password:
                    assert REQUIRED_INTERPOLATION.match(password.group(1)), (
                        f"{name}: the password in {var} must come from a required variable"
                    )
