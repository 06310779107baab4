"""The Kubernetes manifests under deploy/k8s, checked offline: against the Kubernetes 1.33
schemas that kubernetes-validate ships (`-k 1.33 --strict`); then probes, limits and
hardening, services and peer addresses, secrets and the config map, the gateway's disruption
budget and autoscaler, and a kustomization that lists every manifest and builds offline."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from tests.support.deploy import (
    K8S,
    NOT_IN_KUSTOMIZATION,
    PEER_VARS,
    PORTS,
    SECRET_NAME,
    SERVER_URL_VARS,
    k8s_files,
    of_kind,
    run_tool,
)

pytestmark = pytest.mark.integration


# ----------------------------------------------------------------------------- schemas


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
