"""The Dockerfile and the image's health check, checked offline: each Compose build has its
target, which installs the lock with a pinned uv and runs the right module as a non-root user,
copying only what exists and nothing .dockerignore should keep out; the healthcheck script
tells serving from not serving (gRPC and HTTP)."""

from __future__ import annotations

import fnmatch
import importlib.util
import json
import re
import shlex
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.support.deploy import COMPOSE, DOCKERIGNORE, HEALTHCHECK_SCRIPT, PORTS, ROOT

pytestmark = pytest.mark.integration


# ----------------------------------------------------------------------------- Dockerfile


@dataclass
class Stage:
    name: str
    base: str
    instructions: list[tuple[str, str]] = field(default_factory=list)


def parse_dockerfile(path: Path) -> tuple[dict[str, Stage], dict[str, str]]:
    """Stages by name (lower case) and the global ARG defaults."""
    lines: list[str] = []
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if line.startswith("#") or (not line and not pending):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        lines.append(pending + line)
        pending = ""
    global_args: dict[str, str] = {}
    stages: dict[str, Stage] = {}
    current: Stage | None = None
    for line in lines:
        instruction, _, rest = line.partition(" ")
        instruction, rest = instruction.upper(), rest.strip()
        if instruction == "FROM":
            words = [w for w in rest.split() if not w.startswith("--")]
            base = re.sub(
                r"\$\{(\w+)\}|\$(\w+)",
                lambda m: global_args.get(m.group(1) or m.group(2), ""),
                words[0],
            )
            name = words[2].lower() if len(words) == 3 and words[1].upper() == "AS" else ""
            current = Stage(name or f"#{len(stages)}", base)
            stages[current.name] = current
        elif current is None:
            if instruction == "ARG":
                key, _, default = rest.partition("=")
                global_args[key] = default
        else:
            current.instructions.append((instruction, rest))
    return stages, global_args


def lineage(stages: dict[str, Stage], name: str) -> list[Stage]:
    """The stage and its ancestors, nearest first."""
    chain = [stages[name]]
    while chain[-1].base.lower() in stages:
        chain.append(stages[chain[-1].base.lower()])
    return chain


def effective(stages: dict[str, Stage], name: str, instruction: str) -> str | None:
    for stage in lineage(stages, name):
        for found, args in reversed(stage.instructions):
            if found == instruction:
                return args
    return None


def effective_env(stages: dict[str, Stage], name: str) -> dict[str, str]:
    env: dict[str, str] = {}
    for stage in reversed(lineage(stages, name)):
        for found, args in stage.instructions:
            if found == "ENV":
                for word in shlex.split(args):
                    key, _, value = word.partition("=")
                    env[key] = value
    return env


def dockerignored(relative: str, patterns: list[str]) -> bool:
    """Docker's rule: the last matching pattern wins; a match on a folder covers its files."""
    parts = relative.strip("/").split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    ignored = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        core = pattern.lstrip("!").strip("/")
        if any(fnmatch.fnmatchcase(p, core) for p in prefixes):
            ignored = not negated
    return ignored


def dockerignore_patterns() -> list[str]:
    if not DOCKERIGNORE.exists():
        return []
    return [
        line.strip()
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]


def test_each_compose_build_has_its_dockerfile_target(ours: dict[str, dict[str, Any]]) -> None:
    for name, svc in ours.items():
        build = svc["build"]
        context = (COMPOSE.parent / build.get("context", ".")).resolve()
        dockerfile = context / build.get("dockerfile", "Dockerfile")
        assert dockerfile.is_file(), f"{name}: {dockerfile} does not exist"
        assert dockerfile.resolve().is_relative_to(ROOT / "deploy/docker"), dockerfile
        stages, _ = parse_dockerfile(dockerfile)
        target = build["target"].lower()
        assert target in stages, f"{name}: no stage {target!r} in {dockerfile}"
        module = "gateway" if name == "gateway" else f"{name}_service"
        port = 8000 if name == "gateway" else PORTS[name]
        assert json.loads(effective(stages, target, "CMD") or "[]") == ["python", "-m", module]
        exposed = {
            w
            for s in lineage(stages, target)
            for i, a in s.instructions
            if i == "EXPOSE"
            for w in a.split()
        }
        assert str(port) in exposed, f"{target}: EXPOSE {port}"
        healthcheck = effective(stages, target, "HEALTHCHECK") or ""
        assert " CMD " in f" {healthcheck} " and "NONE" not in healthcheck.split(), target
        user = (effective(stages, target, "USER") or "root").split(":")[0]
        assert user not in ("root", "0"), f"{target} runs as root"
        assert effective(stages, target, "STOPSIGNAL") == "SIGTERM", target
        env = effective_env(stages, target)
        assert {"/app", "/app/proto/gen"} <= set(env.get("PYTHONPATH", "").split(":")), target
        if name != "gateway":
            assert env.get("GRPC_PORT") == str(port), target
        assert lineage(stages, target)[-1].base.startswith("python:3.11-slim"), target


def test_dockerfile_installs_the_lock_with_pinned_uv_and_copies_only_what_exists() -> None:
    dockerfile = ROOT / "deploy/docker/Dockerfile"
    stages, global_args = parse_dockerfile(dockerfile)
    assert global_args.get("UV_VERSION") == "0.13.8"
    assert any(s.base == "ghcr.io/astral-sh/uv:0.13.8" for s in stages.values())
    runs = [a for s in stages.values() for i, a in s.instructions if i == "RUN"]
    assert any("uv sync --frozen --no-dev" in r and "--no-install-project" not in r for r in runs)
    patterns = dockerignore_patterns()
    for stage in stages.values():
        for instruction, args in stage.instructions:
            if instruction != "COPY" or "--from=" in args:
                continue
            sources = [w for w in shlex.split(args) if not w.startswith("--")][:-1]
            for source in sources:
                assert (ROOT / source).exists(), f"COPY {source}: not in the repository"
                assert not dockerignored(source, patterns), f"COPY {source}: .dockerignore'd"
    for private in (
        ".git",
        ".venv",
        ".kopa",
        "tests",
        ".env",
        "deploy/local",
        "shared/__pycache__",
    ):
        assert dockerignored(private, patterns), f"{private} would be sent to the builder"


# ----------------------------------------------------------------------------- health check


@pytest.fixture(scope="module")
def healthcheck() -> Any:
    spec = importlib.util.spec_from_file_location("kopa_healthcheck", HEALTHCHECK_SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_healthcheck_script_tells_serving_from_not_serving(healthcheck: Any) -> None:
    from concurrent import futures

    import grpc
    from grpc_health.v1 import health, health_pb2, health_pb2_grpc

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        servicer.set("", health_pb2.HealthCheckResponse.SERVING)
        assert healthcheck.main(["grpc", f"127.0.0.1:{port}"]) == 0
        servicer.set("", health_pb2.HealthCheckResponse.NOT_SERVING)
        assert healthcheck.main(["grpc", f"127.0.0.1:{port}"]) == 1
    finally:
        server.stop(None)
    assert healthcheck.main(["grpc", f"127.0.0.1:{port}"]) == 1  # nobody listening
    assert healthcheck.main(["nonsense"]) == 1


def test_healthcheck_script_checks_http_status(healthcheck: Any) -> None:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200 if self.path == "/healthz" else 503)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        assert healthcheck.main(["http", f"{base}/healthz"]) == 0
        assert healthcheck.main(["http", f"{base}/readyz"]) == 1
    finally:
        server.shutdown()
        server.server_close()
