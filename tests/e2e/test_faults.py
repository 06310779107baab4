"""Issue 5, fault tests: kill a service or the broker in the middle of posting, and flood one
repayment.

Afterwards nothing is lost, nothing is doubled, the trial balance is zero and the loan's
balances equal what was posted; after a broker crash every event still gets through.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_all
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import aio_pika
import httpx
import pytest
from pymongo import MongoClient

from tests.support.staff import PASSWORD, bearer, login
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e


def active_loan(
    http: httpx.Client, platform_token: str
) -> tuple[str, dict[str, str], dict[str, str]]:
    tag = secrets.token_hex(3)
    platform = bearer(platform_token)
    inst = http.post(
        "/v1/institutions", json={"name": f"Fault {tag}", "currency": "KES"}, headers=platform
    ).json()
    http.post(
        "/v1/users",
        headers=platform,
        json={
            "email": f"admin-{tag}@f.test",
            "full_name": "Admin",
            "role": "admin",
            "password": PASSWORD,
            "institution_id": inst["id"],
        },
    )
    admin = login(http, f"admin-{tag}@f.test")
    branch = http.post("/v1/branches", json={"name": "Main"}, headers=admin).json()
    for role in ("agent", "branch_manager"):
        http.post(
            "/v1/users",
            headers=admin,
            json={
                "email": f"{role}-{tag}@f.test",
                "full_name": role,
                "role": role,
                "password": PASSWORD,
                "branch_id": branch["id"],
            },
        )
    agent, manager = login(http, f"agent-{tag}@f.test"), login(http, f"branch_manager-{tag}@f.test")
    product = http.post(
        "/v1/loan-products",
        headers=admin,
        json={
            "name": "P",
            "interest_method": "declining_balance",
            "annual_interest_rate": "24",
            "repayment_frequency": "monthly",
            "min_principal": "1000",
            "max_principal": "900000",
            "min_term": 3,
            "max_term": 24,
            "days_in_year": "360",
        },
    ).json()["id"]
    borrower = http.post(
        "/v1/borrowers",
        headers=agent,
        json={
            "first_name": "Juma",
            "last_name": "Hamisi",
            "national_id": f"F{secrets.randbelow(10**9):09d}",
            "phone": f"+25471{secrets.randbelow(10**7):07d}",
            "date_of_birth": "1979-07-07",
            "branch_id": branch["id"],
        },
    ).json()["id"]
    loan = http.post(
        "/v1/loans",
        headers=agent,
        json={"borrower_id": borrower, "product_id": product, "principal": "600000.00", "term": 12},
    ).json()["id"]
    assert http.post(f"/v1/loans/{loan}/approve", headers=manager, json={}).status_code == 200
    started = (date.today() - timedelta(days=20)).isoformat()
    assert (
        http.post(
            f"/v1/loans/{loan}/disburse", headers=manager, json={"disbursement_date": started}
        ).status_code
        == 200
    )
    return loan, agent, admin


def post(http: httpx.Client, loan: str, agent: dict[str, str], key: str) -> int:
    try:
        reply = http.post(
            f"/v1/loans/{loan}/repayments",
            headers={**agent, "Idempotency-Key": key},
            json={"amount": "100.00", "paid_on": date.today().isoformat()},
        )
    except httpx.TransportError:
        return 0
    return reply.status_code


def check_books(
    http: httpx.Client, loan: str, agent: dict[str, str], admin: dict[str, str], keys: int
) -> None:
    payments = http.get(
        f"/v1/loans/{loan}/repayments", headers=agent, params={"page_size": 200}
    ).json()["items"]
    assert len(payments) == keys, f"{len(payments)} payments for {keys} keys"
    assert all(p["status"] == "posted" for p in payments)
    state = http.get(f"/v1/loans/{loan}", headers=agent).json()
    principal_paid = sum(Decimal(p["allocation"]["principal"]) for p in payments)
    assert Decimal(state["outstanding"]["principal"]) == Decimal("600000.00") - principal_paid
    assert sum(Decimal(p["amount"]) for p in payments) == Decimal("100.00") * keys

    def books() -> dict[str, Any] | None:
        data = http.get("/v1/ledger/trial-balance", headers=admin).json()
        cash = [line for line in data["lines"] if line["account_code"] == "1000"]
        received = Decimal(cash[0]["debit"]) if cash else Decimal(0)
        return data if received == Decimal("100.00") * keys else None

    data = eventually(books)
    assert Decimal(data["total_debit"]) == Decimal(data["total_credit"])


@pytest.mark.parametrize("victim", ["payment", "loan"])
def test_a_service_killed_mid_posting_loses_and_doubles_nothing(
    http: httpx.Client, platform_token: str, fleet_control: Any, victim: str
) -> None:
    loan, agent, admin = active_loan(http, platform_token)
    keys = [f"k-{victim}-{n}-{secrets.token_hex(2)}" for n in range(24)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        futures = [pool.submit(post, http, loan, agent, key) for key in keys]
        time.sleep(0.3)
        os.kill(fleet_control.pid(victim), signal.SIGKILL)
        first = [f.result() for f in futures]
    assert any(code != 201 for code in first), "the kill should have interrupted something"
    fleet_control.up()
    # Clients retry what failed, with the same keys, until each is answered.
    for key, code in zip(keys, first, strict=True):
        if code != 201:

            def answered(key: str = key) -> bool:
                return post(http, loan, agent, key) == 201

            eventually(answered)
    check_books(http, loan, agent, admin, len(keys))


def test_a_flood_of_one_repayment_applies_once(http: httpx.Client, platform_token: str) -> None:
    loan, agent, admin = active_loan(http, platform_token)
    key = f"flood-{secrets.token_hex(3)}"
    with ThreadPoolExecutor(max_workers=16) as pool:
        codes = list(pool.map(lambda _: post(http, loan, agent, key), range(32)))
    assert codes.count(201) >= 1
    assert set(codes) <= {201, 409}
    eventually(lambda: post(http, loan, agent, key) == 201)
    check_books(http, loan, agent, admin, 1)


# --- the broker killed mid-posting ------------------------------------------------------

INFRA = Path(__file__).resolve().parents[2] / "deploy/local/infra.sh"
STATE_DIR = Path(os.environ.get("KOPA_STATE_DIR", "/var/lib/kopa"))
# What a client retries with the same key: no answer, a server fault, the same key still
# being worked on by a concurrent request, or a posting the service says was not applied.
RETRY_CODES = {0, 500, 502, 503, 504}
RETRY_REASONS = {"IDEMPOTENCY_REQUEST_IN_PROGRESS", "NOT_APPLIED"}
# Should this test process die while the broker is down, a detached process starts it again.
WATCHDOG_SECONDS = 90
WATCHDOG = (
    "import subprocess, sys, time; time.sleep(float(sys.argv[2])); "
    "subprocess.run([sys.argv[1], 'status', 'rabbitmq']).returncode == 0 "
    "or subprocess.run([sys.argv[1], 'start', 'rabbitmq'])"
)
FLEET = ["auth", "user", "loan", "payment", "scoring", "reporting", "gateway"]


def running(pid: int) -> bool:
    """A killed process that its parent has not reaped yet (a zombie) is not running."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


class Broker:
    """The RabbitMQ that deploy/local/infra.sh runs here: SIGKILLed, then started by infra.sh."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.pidfile = STATE_DIR / "run" / "rabbitmq" / "rabbitmq.pid"
        self.down_at = self.up_at = 0.0

    def pid(self) -> int | None:
        """The broker's Erlang VM (beam.smp), when it runs."""
        try:
            pid = int(self.pidfile.read_text().strip())
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError):
            return None
        return pid if b"beam" in command and running(pid) else None

    def infra(self, command: str, timeout: float) -> bool:
        try:
            done = subprocess.run(
                [str(INFRA), command, "rabbitmq"],
                env=self.env,
                capture_output=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return False
        return done.returncode == 0

    def start(self) -> None:
        """Starts the broker unless it is up; bounded by infra.sh's own readiness timeout."""
        for _ in range(2):
            if self.infra("status", 30) or self.infra("start", 150):
                self.up_at = time.monotonic()
                return
        raise AssertionError("RabbitMQ did not come back: deploy/local/infra.sh start rabbitmq")

    @contextmanager
    def killed(self) -> Iterator[None]:
        """SIGKILLs the broker's VM; however the block ends, the broker is started again."""
        pid = self.pid()
        assert pid is not None, "no broker to kill"
        watchdog = subprocess.Popen(
            [sys.executable, "-c", WATCHDOG, str(INFRA), str(WATCHDOG_SECONDS)],
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            os.kill(pid, signal.SIGKILL)
            self.down_at = time.monotonic()
            eventually(lambda: not running(pid), limit=10)
            yield
        finally:
            try:
                self.start()
            finally:
                watchdog.kill()  # still asleep: it has started nothing
                watchdog.wait()


@pytest.fixture
def broker(fleet_control: Any, server_urls: dict[str, str]) -> Broker:
    amqp = urlparse(server_urls["AMQP_URL"])
    local = amqp.hostname in ("127.0.0.1", "localhost") and (amqp.port or 5672) == 5672
    controlled = Broker(fleet_control.env)
    why = ""
    if not local or controlled.pid() is None:
        why = f"needs the RabbitMQ that deploy/local/infra.sh runs (pid file {controlled.pidfile})"
    elif os.geteuid() != 0:
        why = "infra.sh starts RabbitMQ as root"
    if why:
        if os.environ.get("CI") == "true":
            pytest.fail(why, pytrace=False)
        pytest.skip(why)
    return controlled


@dataclass
class Answer:
    key: str
    payment_id: str
    codes: list[int]
    at: float  # when the 201 came (time.monotonic)


def pay(http: httpx.Client, loan: str, agent: dict[str, str], key: str, deadline: float) -> Answer:
    """One client posting one repayment: the same key again until it is answered."""
    codes: list[int] = []
    while True:
        try:
            reply = http.post(
                f"/v1/loans/{loan}/repayments",
                headers={**agent, "Idempotency-Key": key},
                json={"amount": "100.00", "paid_on": date.today().isoformat()},
            )
            code, body = reply.status_code, reply.json()
        except (httpx.TransportError, ValueError):
            code, body = 0, {}
        codes.append(code)
        if code == 201:
            return Answer(key, body["id"], codes, time.monotonic())
        assert code in RETRY_CODES or body.get("reason") in RETRY_REASONS, f"{key}: {code} {body}"
        assert time.monotonic() < deadline, f"{key}: no answer but {codes}"
        time.sleep(min(0.1 * len(codes), 1.0))


def books_match(
    http: httpx.Client, loan: str, agent: dict[str, str], admin: dict[str, str], ids: list[str]
) -> bool:
    """Each accepted repayment once in the payments, the loan and the ledger; the loan's
    balances are its schedule minus its postings; the institution's books balance."""
    payments = http.get(
        f"/v1/loans/{loan}/repayments", headers=agent, params={"page_size": 200}
    ).json()["items"]
    if sorted(p["id"] for p in payments) != sorted(ids):
        return False
    assert all(p["status"] == "posted" and p["amount"] == "100.00" for p in payments), payments
    state = http.get(f"/v1/loans/{loan}", headers=agent).json()
    applied = state["repayments"]
    assert sorted(r["payment_id"] for r in applied) == sorted(ids)
    for part in ("principal", "interest", "fees", "penalties"):
        due = sum(Decimal(i[part]) for i in state["schedule"])
        paid = sum(Decimal(p["allocation"][part]) for p in payments)
        assert paid == sum(Decimal(r["allocation"][part]) for r in applied), part
        assert Decimal(state["outstanding"][part]) == due - paid, part
    assert sum(Decimal(i["principal"]) for i in state["schedule"]) == Decimal("600000.00")
    lines = http.get(f"/v1/loans/{loan}/statement", headers=admin).json()["items"]
    booked = [line for line in lines if line["source_kind"] == "repayment"]
    if sorted(line["source_id"] for line in booked) != sorted(ids):
        return False
    principal = {p["id"]: Decimal(p["allocation"]["principal"]) for p in payments}
    assert all(Decimal(line["credit"]) == principal[line["source_id"]] for line in booked)
    assert Decimal(lines[-1]["running_balance"]) == Decimal(state["outstanding"]["principal"])
    books = http.get("/v1/ledger/trial-balance", headers=admin).json()
    assert Decimal(books["total_debit"]) == Decimal(books["total_credit"]), books
    cash = next(line for line in books["lines"] if line["account_code"] == "1000")
    return Decimal(cash["debit"]) == Decimal("100.00") * len(ids)


async def queue_depths(amqp_url: str, names: list[str]) -> dict[str, int]:
    """Messages waiting in each queue, exactly (a passive declare, not sampled statistics)."""
    connection = await aio_pika.connect(amqp_url, timeout=10)
    async with connection:
        channel = await connection.channel()
        depths = {}
        for name in names:
            queue = await channel.declare_queue(name, passive=True)
            depths[name] = queue.declaration_result.message_count or 0
        return depths


def test_rabbitmq_killed_mid_posting_loses_and_doubles_nothing(
    http: httpx.Client,
    platform_token: str,
    fleet_control: Any,
    broker: Broker,
    server_urls: dict[str, str],
) -> None:
    started = time.monotonic()
    loans = [active_loan(http, platform_token) for _ in range(3)]
    pids = {name: fleet_control.pid(name) for name in FLEET}
    deadline = time.monotonic() + 180
    # Per loan and phase (before/at the kill, broker down, broker back) 4 keys, each sent by
    # two clients at once, and the first of each phase by four more (a flood of one key).
    futures: dict[str, list[Future[Answer]]] = {}
    key_loan: dict[str, str] = {}

    def phase(pool: ThreadPoolExecutor, name: str) -> list[Future[Answer]]:
        sent = []
        for loan, agent, _ in loans:
            for n in range(4):
                key = f"mq-{name}{n}-{secrets.token_hex(3)}"
                key_loan[key] = loan
                futures[key] = [
                    pool.submit(pay, http, loan, agent, key, deadline)
                    for _ in range(6 if n == 0 else 2)
                ]
                sent += futures[key]
        return sent

    with ThreadPoolExecutor(max_workers=8) as pool:
        before = phase(pool, "a")
        eventually(lambda: sum(f.done() for f in before) >= len(before) // 3, 60, every=0.01)
        with broker.killed():
            in_flight = sum(not f.done() for f in before)
            during = phase(pool, "b")
            wait_all(during, timeout=30)
        phase(pool, "c")
        answers = {key: [f.result() for f in fs] for key, fs in futures.items()}
    posted_at = time.monotonic()
    assert in_flight, "the kill should have come in the middle of posting"

    # The same key always gave the same payment, different keys different payments.
    ids = {key: {a.payment_id for a in got} for key, got in answers.items()}
    assert all(len(v) == 1 for v in ids.values()), ids
    payment_of = {key: v.pop() for key, v in ids.items()}
    assert len(set(payment_of.values())) == len(payment_of)
    ids_of = {
        loan: sorted(payment_of[k] for k, owner in key_loan.items() if owner == loan)
        for loan, _, _ in loans
    }
    # Posting went on while the broker was down: the request path does not need it.
    in_outage = [a for got in answers.values() for a in got if broker.down_at < a.at < broker.up_at]
    assert in_outage, "nothing was posted while the broker was down"

    for loan, agent, admin in loans:
        eventually(lambda: books_match(http, loan, agent, admin, ids_of[loan]), 60)  # noqa: B023

    # Every event got through after the crash: reporting indexed each repayment once and the
    # latest state of each loan; payment's loans read model holds each loan's status; no
    # outbox holds an event and no queue holds a message (none dead-lettered).
    namespace = fleet_control.namespace
    es = server_urls["ELASTICSEARCH_URL"]
    mongo: MongoClient[dict[str, Any]] = MongoClient(server_urls["MONGODB_URL"])
    queues = [
        f"{namespace}.{q}{s}" for q in ("payment", "reporting", "scoring") for s in ("", ".dlq")
    ]

    def events_through() -> bool:
        for loan, agent, _ in loans:
            found = httpx.post(
                f"{es}/{namespace}-repayments/_search",
                json={"query": {"term": {"loan_id": loan}}, "size": 200},
            ).json()["hits"]["hits"]
            if sorted(h["_id"] for h in found) != ids_of[loan]:
                return False
            assert all(h["_source"]["amount_minor"] == 10000 for h in found)
            outstanding = http.get(f"/v1/loans/{loan}", headers=agent).json()["outstanding"]
            indexed = httpx.get(f"{es}/{namespace}-loans/_doc/{loan}").json()["_source"]
            if indexed["outstanding_principal_minor"] != int(
                Decimal(outstanding["principal"]) * 100
            ):
                return False
            written = mongo[f"{namespace}_loan"].loans.find_one({"_id": loan})
            seen = mongo[f"{namespace}_payment"].loans_seen.find_one({"_id": loan})
            if not (written and seen and written.get("outbox_count") == 0):
                return False
            # (A repayment changes nothing the read model keeps, so its version may lag:
            # the empty payment queue below says the consumer saw every event.)
            if seen["status"] != written["status"]:
                return False
        stuck = mongo[f"{namespace}_payment"].payments.count_documents(
            {"loan_id": {"$in": [loan for loan, _, _ in loans]}, "outbox_count": {"$gt": 0}}
        )
        depths = asyncio.run(queue_depths(server_urls["AMQP_URL"], queues))
        return stuck == 0 and not any(depths.values())

    try:
        eventually(events_through, limit=90)
    finally:
        mongo.close()
    healed_at = time.monotonic()

    # No service died (none needs the broker to live), and all of them are ready.
    assert {name: fleet_control.pid(name) for name in FLEET} == pids
    assert all(running(pid) for pid in pids.values())
    assert http.get("/readyz").status_code == 200
    retried = sum(len(a.codes) > 1 for got in answers.values() for a in got)
    print(
        f"\nrabbitmq killed mid-posting: {len(payment_of)} repayments, "
        f"{sum(map(len, answers.values()))} requests ({retried} retried), "
        f"{in_flight} in flight at the kill, {len(in_outage)} answered while the broker was down; "
        f"outage {broker.up_at - broker.down_at:.1f} s, "
        f"events through {healed_at - broker.up_at:.1f} s after it was back "
        f"(posting done {posted_at - broker.up_at:.1f} s after); total {healed_at - started:.1f} s"
    )
