"""docker-compose.yml and the Kubernetes manifests, loaded once per module for the deploy
tests of this folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.deploy import COMPOSE, k8s_files


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(data, dict) and isinstance(data.get("services"), dict)
    return data


@pytest.fixture(scope="module")
def ours(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The compose services built from this repository (the rest are third-party servers)."""
    return {name: svc for name, svc in compose["services"].items() if "build" in svc}


@pytest.fixture(scope="module")
def k8s_docs() -> list[tuple[Path, dict[str, Any]]]:
    docs: list[tuple[Path, dict[str, Any]]] = []
    for path in k8s_files():
        if path.name == "kustomization.yaml":
            continue
        docs.extend((path, d) for d in yaml.safe_load_all(path.read_text()) if d is not None)
    assert docs, "no manifests under deploy/k8s"
    return docs
