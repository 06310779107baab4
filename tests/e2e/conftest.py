"""The fleet started as in production (separate processes), on its own ports and namespace,
beside any dev platform that `make up` started on the same servers."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import schemathesis
from playwright.sync_api import Browser, Page, sync_playwright
from schemathesis.specs.openapi.schemas import OpenApiSchema

from tests.support.staff import Institution, make_institution

ROOT = Path(__file__).resolve().parents[2]
BOOTSTRAP_EMAIL = "platform@e2e.kopa.test"
BOOTSTRAP_PASSWORD = f"E2e-{secrets.token_urlsafe(16)}"
E2E_LOGIN_LIMIT = 300


@dataclass
class Fleet:
    url: str
    state: Path
    args: list[str]
    env: dict[str, str]

    @property
    def namespace(self) -> str:
        """The prefix of this fleet's databases, queues and indexes."""
        return self.args[self.args.index("--namespace") + 1]

    def pid(self, name: str) -> int:
        return int((self.state / "run" / f"{name}.pid").read_text())

    def up(self) -> None:
        """Starts whatever is not running (after a test killed something)."""
        started = subprocess.run(
            [*self.args, "up"], env=self.env, capture_output=True, text=True, check=False
        )
        assert started.returncode == 0, started.stdout + started.stderr


@pytest.fixture(scope="session")
def fleet_control(fleet: Fleet) -> Fleet:
    return fleet


@pytest.fixture(scope="session")
def fleet(server_urls: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    state = tmp_path_factory.mktemp("fleet")
    namespace = f"e2e{secrets.token_hex(4)}"
    gateway_port = 18000 + secrets.randbelow(1000)
    # Below Linux's ephemeral range (32768-60999): a port picked there can be taken by any
    # outgoing connection meanwhile, and a service then fails to bind it.
    port_base = 21000 + 10 * secrets.randbelow(700)
    env = {
        **os.environ,
        **server_urls,
        "KOPA_BOOTSTRAP_EMAIL": BOOTSTRAP_EMAIL,
        "KOPA_BOOTSTRAP_PASSWORD": BOOTSTRAP_PASSWORD,
        "KOPA_ENV": "test",
        # Every test logs in from 127.0.0.1; the limit itself is tested from its own address.
        "LOGIN_RATE_LIMIT_PER_MINUTE": str(E2E_LOGIN_LIMIT),
        # The fuzzer (test_public_api) sends thousands of requests a minute as one user, and
        # fails logins by the hundred from 127.0.0.1, the address every other test logs in from.
        "RATE_LIMIT_PER_MINUTE": "1000000",
        "LOGIN_FAILURES_PER_ADDRESS": "1000000",
        # Test institutions run their close of business by hand, on the dates the tests
        # choose: the clock moves only an institution whose schedule a test enables, and
        # then looks every second.
        "CLOCK_DEFAULT_ENABLED": "false",
        "CLOCK_TICK_SECONDS": "1",
        # A failing webhook endpoint is given up in seconds, not a day.
        "WEBHOOK_RETRY_SECONDS": "0,1,1",
    }
    args = [
        sys.executable,
        str(ROOT / "tools/fleet.py"),
        "--state-dir",
        str(state),
        "--namespace",
        namespace,
        "--port-base",
        str(port_base),
        "--gateway-port",
        str(gateway_port),
    ]
    started = subprocess.run([*args, "up"], env=env, capture_output=True, text=True, check=False)
    if started.returncode != 0:
        subprocess.run([*args, "down", "--forget-broker"], env=env, check=False)
        pytest.fail(f"the fleet did not start:\n{started.stdout}\n{started.stderr}", pytrace=False)
    try:
        yield Fleet(f"http://127.0.0.1:{gateway_port}", state, args, env)
    finally:
        subprocess.run(
            [*args, "down", "--forget-broker"], env=env, check=False, capture_output=True
        )
        logs = state / "log"
        if logs.exists():
            for log in sorted(logs.glob("*.log")):
                errors = [
                    line
                    for line in log.read_text(errors="replace").splitlines()
                    if '"level": "error"' in line or "Traceback" in line
                ]
                if errors:
                    print(f"--- {log.name}: {len(errors)} error lines, first: {errors[0][:500]}")


@pytest.fixture(scope="session")
def api_schema(fleet: Fleet) -> OpenApiSchema:
    return schemathesis.openapi.from_url(f"{fleet.url}/openapi.json")


@pytest.fixture(scope="session")
def http(fleet: Fleet, api_schema: OpenApiSchema) -> Iterator[httpx.Client]:
    """Every answer an e2e test receives is checked against the OpenAPI document: its status
    is declared for the operation, its content type too, and its body matches the schema."""

    def conforms(response: httpx.Response) -> None:
        response.read()
        request = response.request
        request.read()  # a multipart upload is sent as a stream; the check reads it again
        operation = api_schema.find_operation_by_path(request.method, request.url.path)
        if operation is not None:
            operation.validate_response(response)

    # Idle connections are dropped before the gateway's keep-alive (uvicorn: 5 s) would close
    # them: a request sent on one just as the server closes it goes unanswered.
    with httpx.Client(
        base_url=fleet.url,
        timeout=30,
        event_hooks={"response": [conforms]},
        limits=httpx.Limits(keepalive_expiry=2.0),
    ) as client:
        yield client


@pytest.fixture(scope="session")
def platform_token(http: httpx.Client) -> str:
    reply = http.post(
        "/v1/auth/login", json={"email": BOOTSTRAP_EMAIL, "password": BOOTSTRAP_PASSWORD}
    )
    assert reply.status_code == 200, reply.text
    return str(reply.json()["access_token"])


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium (`make browser` installs it), driven by Playwright. Per module: the
    sync API runs an event loop of its own in this thread while it is open, and the async
    tests collected after the browser tests need the thread's loop back."""
    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail("chromium is not installed: run `make browser`", pytrace=False)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser, fleet: Fleet) -> Iterator[Page]:
    """A fresh browser profile (no cookies, cache or service worker) on the console."""
    context = browser.new_context(base_url=fleet.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    opened = context.new_page()
    yield opened
    context.close()


@pytest.fixture(scope="session")
def institution(http: httpx.Client, platform_token: str) -> Institution:
    """One institution with staff of every role, shared by the browser tests."""
    return make_institution(http, platform_token)
