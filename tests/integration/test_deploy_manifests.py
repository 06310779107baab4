"""The deployment files, checked offline: no Docker engine, no cluster, no network.

- docker-compose.yml against the Compose Specification schema that check-jsonschema vendors
  (`--builtin-schema vendor.compose-spec`);
- every Kubernetes manifest under deploy/k8s against the Kubernetes 1.33 schemas that
  kubernetes-validate ships (`-k 1.33 --strict`);
- then the facts those schemas cannot see: the same seven programs in Compose, Kubernetes and
  the Dockerfile; health checks and probes everywhere; every service waits for healthy servers;
  every service gets its server URLs; no default secrets; the Dockerfile targets run the right
  module as a non-root user; the healthcheck script tells serving from not serving.
"""

from __future__ import annotations

import fnmatch
import importlib.util
import json
import re
import shlex
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

pytestmark = pytest.mark.integration

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


# ----------------------------------------------------------------------------- loading


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(data, dict) and isinstance(data.get("services"), dict)
    return data


@pytest.fixture(scope="module")
def ours(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The compose services built from this repository (the rest are third-party servers)."""
    return {name: svc for name, svc in compose["services"].items() if "build" in svc}


def k8s_files() -> list[Path]:
    return sorted(K8S.glob("*.yaml")) + sorted(K8S.glob("*.yml"))


@pytest.fixture(scope="module")
def k8s_docs() -> list[tuple[Path, dict[str, Any]]]:
    docs: list[tuple[Path, dict[str, Any]]] = []
    for path in k8s_files():
        if path.name == "kustomization.yaml":
            continue
        docs.extend((path, d) for d in yaml.safe_load_all(path.read_text()) if d is not None)
    assert docs, "no manifests under deploy/k8s"
    return docs


def of_kind(docs: list[tuple[Path, dict[str, Any]]], kind: str) -> dict[str, dict[str, Any]]:
    return {
        d["metadata"]["name"]: d
        for path, d in docs
        if d.get("kind") == kind and path.name not in NOT_IN_KUSTOMIZATION
    }


# ----------------------------------------------------------------------------- schemas


def test_compose_file_matches_the_compose_spec() -> None:
    result = run_tool("check-jsonschema", "--builtin-schema", "vendor.compose-spec", str(COMPOSE))
    assert result.returncode == 0, result.stdout + result.stderr


def test_k8s_manifests_match_kubernetes_1_33_strict() -> None:
    files = [str(p) for p in k8s_files() if p.name != "kustomization.yaml"]
    result = run_tool("kubernetes-validate", "-k", "1.33", "--strict", *files)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    # An unknown kind or apiVersion is only a warning to the tool; here it is an error.
    assert "Couldn't find schema" not in output, output
    assert output.count("passed for resource") == sum(
        1 for f in files for d in yaml.safe_load_all(Path(f).read_text()) if d is not None
    )


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
    # The service credential reaches the two services that use it, and no other.
    holders = {name for name, svc in ours.items() if "KOPA_SERVICE_SECRET" in svc["environment"]}
    assert holders == {"auth", "payment"}
    gateway = ours["gateway"]["environment"]
    for var in ("REDIS_URL", "GATEWAY_HOST", "GATEWAY_PORT", "KOPA_NAMESPACE", *PEER_VARS):
        assert gateway.get(var) not in (None, ""), f"gateway: {var} unset"
    # Least privilege: the gateway has no business with MongoDB or RabbitMQ.
    assert "MONGODB_URL" not in gateway and "AMQP_URL" not in gateway
    # Every peer address names the compose service listening on that port.
    for name, svc in ours.items():
        for var, peer in PEER_VARS.items():
            assert svc["environment"][var] == f"{peer}:{PORTS[peer]}", f"{name}: {var}"


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


# ----------------------------------------------------------------------------- Kubernetes


def test_every_deployment_is_probed_limited_and_hardened(
    k8s_docs: list[tuple[Path, dict[str, Any]]],
) -> None:
    for name, deployment in of_kind(k8s_docs, "Deployment").items():
        pod = deployment["spec"]["template"]["spec"]
        assert pod.get("terminationGracePeriodSeconds", 30) >= 15, name
        assert pod.get("securityContext", {}).get("runAsNonRoot") is True, name
        assert pod.get("enableServiceLinks") is False, f"{name}: GATEWAY_PORT would be overridden"
        volumes = {v["name"] for v in pod.get("volumes", [])}
        for container in pod["containers"]:
            where = f"{name}/{container['name']}"
            limits = container.get("resources", {}).get("limits", {})
            assert {"cpu", "memory"} <= set(limits), f"{where}: resource limits"
            assert {"cpu", "memory"} <= set(container["resources"].get("requests", {})), where
            security = container.get("securityContext", {})
            assert security.get("readOnlyRootFilesystem") is True, where
            assert security.get("allowPrivilegeEscalation") is False, where
            assert "ALL" in security.get("capabilities", {}).get("drop", []), where
            mounts = {m["mountPath"]: m["name"] for m in container.get("volumeMounts", [])}
            assert mounts.get("/tmp") in volumes, f"{where}: a writable /tmp"
            refs = [e.get("configMapRef", {}).get("name") for e in container.get("envFrom", [])]
            assert "kopa-config" in refs, where
            readiness, liveness = container.get("readinessProbe"), container.get("livenessProbe")
            assert readiness and liveness, f"{where}: readiness and liveness probes"
            ports = {p["name"]: p["containerPort"] for p in container["ports"]}
            if name == "gateway":
                assert readiness["httpGet"]["path"] == "/readyz", where
                assert liveness["httpGet"]["path"] == "/healthz", where
                env = {e["name"]: e.get("value") for e in container.get("env", [])}
                assert int(env["GATEWAY_PORT"]) == ports["http"], where
            else:
                env = {e["name"]: e.get("value") for e in container.get("env", [])}
                assert int(env["GRPC_PORT"]) == PORTS[name] == ports["grpc"], where
                for probe in (readiness, liveness, container.get("startupProbe")):
                    assert probe and probe["grpc"]["port"] == PORTS[name], where


def test_services_select_their_deployments_and_match_the_peer_addresses(
    k8s_docs: list[tuple[Path, dict[str, Any]]],
) -> None:
    deployments = of_kind(k8s_docs, "Deployment")
    config = of_kind(k8s_docs, "ConfigMap")["kopa-config"]["data"]
    for name, service in of_kind(k8s_docs, "Service").items():
        selector = service["spec"]["selector"]
        pod_labels = deployments[name]["spec"]["template"]["metadata"]["labels"]
        assert selector.items() <= pod_labels.items(), f"{name}: selector misses its pods"
        assert deployments[name]["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
        container = deployments[name]["spec"]["template"]["spec"]["containers"][0]
        named = {p["name"] for p in container["ports"]}
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in named, f"{name}: targetPort {port['targetPort']}"
        if name in PORTS:
            assert (
                config[f"{name.upper()}_SERVICE_ADDR"]
                == f"{name}:{service['spec']['ports'][0]['port']}"
            )


def test_the_service_secret_reaches_auth_and_payment_only(
    k8s_docs: list[tuple[Path, dict[str, Any]]],
) -> None:
    # The Secrets are created out of band, as secret.example.yaml documents them.
    secrets = {d["metadata"]["name"] for _, d in k8s_docs if d["kind"] == "Secret"}
    holders = set()
    for name, deployment in of_kind(k8s_docs, "Deployment").items():
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        for env in container.get("env", []):
            ref = env.get("valueFrom", {}).get("secretKeyRef")
            if env["name"] == "KOPA_SERVICE_SECRET":
                assert ref == {"name": "kopa-service", "key": "KOPA_SERVICE_SECRET"}, name
                assert "optional" not in ref, f"{name}: production needs it"
                holders.add(name)
            if ref:
                assert ref["name"] in secrets, f"{name}: {ref['name']} is not documented"
    assert holders == {"auth", "payment"}


def test_configmap_has_server_urls_and_no_credentials(
    k8s_docs: list[tuple[Path, dict[str, Any]]],
) -> None:
    config = of_kind(k8s_docs, "ConfigMap")["kopa-config"]["data"]
    for var in (*SERVER_URL_VARS, "ELASTICSEARCH_URL", "KOPA_NAMESPACE", "GRPC_HOST", *PEER_VARS):
        assert config.get(var), f"kopa-config: {var} unset"
    assert config["KOPA_ENV"] == "production"
    for var, value in config.items():
        assert not SECRET_NAME.search(var), f"{var} belongs in a Secret"
        if "://" in value:
            assert urlsplit(value).password is None, f"{var}: credentials belong in a Secret"


def test_gateway_has_a_disruption_budget_and_an_autoscaler(
    k8s_docs: list[tuple[Path, dict[str, Any]]],
) -> None:
    pod_labels = of_kind(k8s_docs, "Deployment")["gateway"]["spec"]["template"]["metadata"][
        "labels"
    ]
    budgets = [
        p
        for p in of_kind(k8s_docs, "PodDisruptionBudget").values()
        if p["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    ]
    assert len(budgets) == 1, "one PodDisruptionBudget selects the gateway"
    hpa = of_kind(k8s_docs, "HorizontalPodAutoscaler")["gateway"]["spec"]
    assert hpa["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "gateway",
    }
    # The budget must leave room for a node drain at the autoscaler's floor.
    assert budgets[0]["spec"].get("minAvailable", 0) < hpa["minReplicas"]


def test_kustomization_lists_every_manifest_but_no_secret(
    k8s_docs: list[tuple[Path, dict[str, Any]]],
) -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    listed = set(kustomization["resources"])
    on_disk = {p.name for p in k8s_files()} - NOT_IN_KUSTOMIZATION
    assert listed == on_disk
    for path, doc in k8s_docs:
        if doc["kind"] == "Secret":
            assert path.name not in listed, f"{path.name}: applying it would clobber real secrets"
            assert not doc.get("data") and not doc.get("stringData"), "placeholders hold no values"


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
def test_kustomization_builds_offline(k8s_docs: list[tuple[Path, dict[str, Any]]]) -> None:
    kubectl = shutil.which("kubectl")
    assert kubectl
    result = subprocess.run(
        [kubectl, "kustomize", str(K8S)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    built = [d for d in yaml.safe_load_all(result.stdout) if d]
    listed = set(yaml.safe_load((K8S / "kustomization.yaml").read_text())["resources"])
    expected = {(d["kind"], d["metadata"]["name"]) for p, d in k8s_docs if p.name in listed}
    assert {(d["kind"], d["metadata"]["name"]) for d in built} == expected
    for doc in built:
        if doc["kind"] != "Namespace":
            assert doc["metadata"].get("namespace") == "kopa", doc["metadata"]["name"]


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
