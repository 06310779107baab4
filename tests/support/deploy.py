"""The deployment files the deploy tests read (docker-compose.yml, deploy/k8s, the
Dockerfile's helpers), what the fleet is made of, and the command-line validators they run."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
K8S = ROOT / "deploy/k8s"
DOCKERIGNORE = ROOT / ".dockerignore"
HEALTHCHECK_SCRIPT = ROOT / "deploy/docker/healthcheck.py"
BIN = Path(sys.executable).parent

PORTS = {
    "auth": 50051,
    "user": 50052,
    "loan": 50053,
    "payment": 50054,
    "scoring": 50055,
    "reporting": 50056,
    "notification": 50057,
}
SERVICES = set(PORTS)
FLEET = SERVICES | {"gateway"}
SERVER_URL_VARS = ("MONGODB_URL", "AMQP_URL", "REDIS_URL")
PEER_VARS = {f"{name.upper()}_SERVICE_ADDR": name for name in PORTS}
# The services that get service tokens from auth (and auth, which issues them).
SERVICE_SECRET_HOLDERS = {"auth", "payment", "notification"}
# The institution's clock in Kubernetes: a CronJob running one turn of it, in the
# notification_service image; the Deployment's replicas do not tick (CLOCK_TICK_SECONDS=0).
CLOCK_CRONJOB = "notification-clock"
CLOCK_MODULE = "notification_service.entrypoints.clock_tick"
SMS_DELIVERY_REPORTS_PATH = "/v1/sms/delivery-reports"
NOT_IN_KUSTOMIZATION = {"kustomization.yaml", "secret.example.yaml"}
REQUIRED_INTERPOLATION = re.compile(r"^\$\{[A-Z][A-Z0-9_]*:\?[^}]+\}$")
SECRET_NAME = re.compile(r"PASSWORD|PASS$|SECRET|TOKEN|PRIVATE_KEY")


def run_tool(name: str, *args: str) -> subprocess.CompletedProcess[str]:
    tool = BIN / name
    if not tool.exists():
        pytest.fail(f"{tool} is missing: it is a dev dependency (uv sync)", pytrace=False)
    return subprocess.run(
        [str(tool), *args], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )


def without_interpolation(value: str) -> str:
    """`${VAR:?message}` and friends become a placeholder, so URLs parse."""
    return re.sub(r"\$\{[^}]*\}", "interpolated", value)


def k8s_files() -> list[Path]:
    return sorted(K8S.glob("*.yaml")) + sorted(K8S.glob("*.yml"))


def of_kind(docs: list[tuple[Path, dict[str, Any]]], kind: str) -> dict[str, dict[str, Any]]:
    return {
        d["metadata"]["name"]: d
        for path, d in docs
        if d.get("kind") == kind and path.name not in NOT_IN_KUSTOMIZATION
    }


def pod_template(workload: dict[str, Any]) -> dict[str, Any]:
    """The pod template of a Deployment or a CronJob."""
    if workload["kind"] == "CronJob":
        return workload["spec"]["jobTemplate"]["spec"]["template"]
    return workload["spec"]["template"]


def workloads(docs: list[tuple[Path, dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """Every Deployment and CronJob by name: what runs Kopa's code."""
    return {**of_kind(docs, "Deployment"), **of_kind(docs, "CronJob")}


def container_env(
    docs: list[tuple[Path, dict[str, Any]]], container: dict[str, Any]
) -> dict[str, str | None]:
    """The container's environment as the kubelet builds it from its ConfigMaps (envFrom, in
    order) and its own `env` (which wins); a value from a Secret is None."""
    maps = of_kind(docs, "ConfigMap")
    env: dict[str, str | None] = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            env.update(maps[source["configMapRef"]["name"]].get("data", {}))
    for entry in container.get("env", []):
        if "value" in entry:
            env[entry["name"]] = entry["value"]
        elif not entry.get("valueFrom", {}).get("secretKeyRef", {}).get("optional"):
            env[entry["name"]] = None
    return env
