"""The Kubernetes manifests under deploy/k8s, checked offline: against the Kubernetes 1.33
schemas that kubernetes-validate ships (`-k 1.33 --strict`); then probes, limits and
hardening, services and peer addresses, secrets and the config maps, the gateway's disruption
budget and autoscaler, the institution's clock as a CronJob beside notification_service's
replicas, webhooks kept off private addresses, and a kustomization that lists every manifest
and builds offline."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from tests.support.deploy import (
    CLOCK_CRONJOB,
    CLOCK_MODULE,
    K8S,
    NOT_IN_KUSTOMIZATION,
    PEER_VARS,
    PORTS,
    ROOT,
    SECRET_NAME,
    SERVER_URL_VARS,
    SERVICE_SECRET_HOLDERS,
    SMS_DELIVERY_REPORTS_PATH,
    container_env,
    k8s_files,
    of_kind,
    pod_template,
    run_tool,
    workloads,
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


def test_the_service_secret_reaches_the_services_that_use_it_only(
    k8s_docs: list[tuple[Path, dict[str, Any]]],
) -> None:
    # The Secrets are created out of band, as secret.example.yaml documents them.
    secrets = {d["metadata"]["name"] for _, d in k8s_docs if d["kind"] == "Secret"}
    holders = set()
    for name, workload in workloads(k8s_docs).items():
        container = pod_template(workload)["spec"]["containers"][0]
        for source in container.get("envFrom", []):
            if "secretRef" in source:
                ref_name = source["secretRef"]["name"]
                assert ref_name in secrets, f"{name}: {ref_name} is not documented"
        for env in container.get("env", []):
            ref = env.get("valueFrom", {}).get("secretKeyRef")
            if env["name"] == "KOPA_SERVICE_SECRET":
                assert ref == {"name": "kopa-service", "key": "KOPA_SERVICE_SECRET"}, name
                assert "optional" not in ref, f"{name}: production needs it"
                holders.add(name)
            if ref:
                assert ref["name"] in secrets, f"{name}: {ref['name']} is not documented"
    # The clock's CronJob asks for service tokens as its service does.
    assert holders == SERVICE_SECRET_HOLDERS | {CLOCK_CRONJOB}


def test_configmaps_have_server_urls_and_no_credentials(
    k8s_docs: list[tuple[Path, dict[str, Any]]],
) -> None:
    config = of_kind(k8s_docs, "ConfigMap")["kopa-config"]["data"]
    for var in (*SERVER_URL_VARS, "ELASTICSEARCH_URL", "KOPA_NAMESPACE", "GRPC_HOST", *PEER_VARS):
        assert config.get(var), f"kopa-config: {var} unset"
    assert config["KOPA_ENV"] == "production"
    for name, config_map in of_kind(k8s_docs, "ConfigMap").items():
        for var, value in config_map["data"].items():
            assert not SECRET_NAME.search(var), f"{name}: {var} belongs in a Secret"
            if "://" in value:
                password = urlsplit(value).password
                assert password is None, f"{name}: {var}: credentials belong in a Secret"


def test_every_deployment_gets_every_peer_address(
    k8s_docs: list[tuple[Path, dict[str, Any]]],
) -> None:
    # The gateway included: it calls notification_service for the notification routes.
    for name, deployment in of_kind(k8s_docs, "Deployment").items():
        env = container_env(k8s_docs, pod_template(deployment)["spec"]["containers"][0])
        for var, peer in PEER_VARS.items():
            assert env.get(var) == f"{peer}:{PORTS[peer]}", f"{name}: {var}"


# ----------------------------------------------------------------------------- notification


def test_the_clock_is_a_cronjob_and_the_replicas_do_not_tick(
    k8s_docs: list[tuple[Path, dict[str, Any]]],
) -> None:
    deployment = of_kind(k8s_docs, "Deployment")["notification"]
    cronjob = of_kind(k8s_docs, "CronJob").get(CLOCK_CRONJOB)
    assert cronjob, f"no CronJob {CLOCK_CRONJOB}: nothing would close the business day"
    service = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container_env(k8s_docs, service)["CLOCK_TICK_SECONDS"] == "0"
    assert deployment["spec"]["replicas"] >= 2

    spec = cronjob["spec"]
    assert spec["schedule"] == "*/5 * * * *", spec["schedule"]
    # One turn at a time; a late turn is dropped well before the next one is due.
    assert spec["concurrencyPolicy"] == "Forbid"
    assert 0 < spec["startingDeadlineSeconds"] < 300
    assert spec["successfulJobsHistoryLimit"] >= 1 and spec["failedJobsHistoryLimit"] >= 1
    job = spec["jobTemplate"]["spec"]
    assert job.get("activeDeadlineSeconds"), "a hung turn would block every later one"
    pod = pod_template(cronjob)
    assert pod["spec"]["restartPolicy"] in ("Never", "OnFailure")
    [clock] = pod["spec"]["containers"]
    # One turn of the clock (then exit), from the service's own image.
    command = [*clock.get("command", []), *clock.get("args", [])]
    assert command == ["python", "-m", CLOCK_MODULE], command
    assert (ROOT / (CLOCK_MODULE.replace(".", "/") + ".py")).is_file(), CLOCK_MODULE
    assert clock["image"] == service["image"]
    # The same configuration as the service, but its port.
    assert clock["envFrom"] == service["envFrom"]
    service_env = [e for e in service["env"] if e["name"] != "GRPC_PORT"]
    assert sorted(clock["env"], key=lambda e: e["name"]) == sorted(
        service_env, key=lambda e: e["name"]
    )
    # Hardened as the Deployments are (the namespace enforces the restricted standard).
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
    assert pod["spec"].get("automountServiceAccountToken") is False
    assert pod["spec"].get("enableServiceLinks") is False
    security = clock["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert "ALL" in security["capabilities"]["drop"]
    assert {"cpu", "memory"} <= set(clock["resources"]["limits"])
    volumes = {v["name"] for v in pod["spec"].get("volumes", [])}
    mounts = {m["mountPath"]: m["name"] for m in clock.get("volumeMounts", [])}
    assert mounts.get("/tmp") in volumes, "a writable /tmp"
    # Its pods are not the service's: no Service routes calls to them, no budget counts them.
    labels = pod["metadata"]["labels"].items()
    for name, svc in of_kind(k8s_docs, "Service").items():
        assert not svc["spec"]["selector"].items() <= labels, f"Service {name} selects the clock"
    for name, pdb in of_kind(k8s_docs, "PodDisruptionBudget").items():
        assert not pdb["spec"]["selector"]["matchLabels"].items() <= labels, f"budget {name}"


def test_notification_channels_are_configured_and_webhooks_stay_public(
    k8s_docs: list[tuple[Path, dict[str, Any]]],
) -> None:
    runs_notification = {
        name: pod_template(w)["spec"]["containers"][0]
        for name, w in workloads(k8s_docs).items()
        if "notification_service" in pod_template(w)["spec"]["containers"][0]["image"]
    }
    assert set(runs_notification) == {"notification", CLOCK_CRONJOB}
    for name, container in runs_notification.items():
        env = container_env(k8s_docs, container)
        # Production: webhooks never reach private, loopback or link-local addresses, nor http.
        assert env.get("WEBHOOKS_ALLOW_PRIVATE") == "false", name
        assert env.get("WEBHOOKS_ALLOW_HTTP") == "false", name
        assert env.get("SMS_PROVIDER") == "kannel", name
        assert urlsplit(env["KANNEL_SENDSMS_URL"]).path == "/cgi-bin/sendsms", name
        assert env.get("KANNEL_USERNAME"), name
        assert "KANNEL_PASSWORD" in env and env["KANNEL_PASSWORD"] is None, f"{name}: a Secret"
        report = urlsplit(env["SMS_DELIVERY_REPORT_URL"])
        assert report.path == SMS_DELIVERY_REPORTS_PATH, name
        assert report.hostname and report.hostname.split(".")[0] == "gateway", name
        assert report.port == 8000, name
        assert urlsplit(env["SMTP_URL"]).scheme in ("smtp", "smtp+starttls", "smtps"), name
    # Nothing else is told it may reach private addresses either.
    for name, workload in workloads(k8s_docs).items():
        for container in pod_template(workload)["spec"]["containers"]:
            env = container_env(k8s_docs, container)
            assert env.get("WEBHOOKS_ALLOW_PRIVATE", "false") == "false", name


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
