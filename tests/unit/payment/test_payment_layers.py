"""The service layer's boundary: its modules import no proto stub, no gRPC, no broker
client, no entrypoint and no adapter (the ports speak domain objects), not even indirectly
(checked in a fresh interpreter, so that what other tests imported does not count)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]
SERVICE_LAYER = sorted(
    f"payment_service.service_layer.{p.stem}"
    for p in (ROOT / "payment_service" / "service_layer").glob("*.py")
    if p.stem != "__init__"
)
FORBIDDEN = (
    "kopa",
    "grpc",
    "aio_pika",
    "payment_service.entrypoints",
    "payment_service.adapters",
)


def test_the_service_layer_imports_no_stub_driver_or_entrypoint() -> None:
    script = (
        "import importlib, sys\n"
        f"for name in {SERVICE_LAYER!r}: importlib.import_module(name)\n"
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r} "
        f"or any(m == f or m.startswith(f + '.') for f in {FORBIDDEN!r}))\n"
        "print('\\n'.join(bad))\n"
    )
    found = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    assert found == []


def test_the_domain_imports_no_driver_and_nothing_of_the_service_around_it() -> None:
    script = (
        "import importlib, pkgutil, sys\n"
        "import payment_service.domain as d\n"
        "for m in pkgutil.iter_modules(d.__path__): "
        "importlib.import_module('payment_service.domain.' + m.name)\n"
        "print('\\n'.join(sorted(sys.modules)))\n"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    drivers = ("kopa", "grpc", "aio_pika", "pymongo", "bson", "fastapi")
    assert [m for m in loaded if m.split(".")[0] in drivers] == []
    outside = [m for m in loaded if m.startswith("payment_service.")]
    assert all(m.startswith("payment_service.domain") for m in outside), outside
