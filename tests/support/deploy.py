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
}
SERVICES = set(PORTS)
FLEET = SERVICES | {"gateway"}
SERVER_URL_VARS = ("MONGODB_URL", "AMQP_URL", "REDIS_URL")
PEER_VARS = {f"{name.upper()}_SERVICE_ADDR": name for name in PORTS}
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
