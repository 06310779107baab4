"""notification_service's two hot paths against the real servers, with the service's own use
cases wired by its bootstrap:

    .venv/bin/python bench/bench_notifications.py [--messages 2000] [--concurrency 64]
        [--skip-dlr] [--rate 200] [--seconds 30] [--only messages|webhooks]
        [--profile DIR [--profile-seconds 15]]

1. **Messages.** ``--messages`` repayment_received messages composed by the service's
   Messenger (template from the store, Jinja2 sandbox, message stored queued; at
   ``--concurrency`` at once, as the consumer's prefetch would), then sent by its Dispatcher
   through the KannelSms adapter to the real Kannel (``KANNEL_SENDSMS_URL``), whose fake
   SMSC takes them. Prints rendered/s (compose), submitted/s (dispatch to Kannel), and
   delivered/s: Kannel calls each message's delivery-report URL back (8 "delivered to the
   SMSC", then 1 "delivered to the phone"), here a listener in this process that hands
   each report to ``Dispatcher.report`` as the gateway's callback route does; until every
   message is delivered (``--skip-dlr``: reports answered and dropped, no delivered/s).
   Borrowers come from an in-memory Directory of synthetic borrowers: user_service is not
   what is measured. The institution's quiet hours are off (the bench runs at any hour).
2. **Event to webhook.** The service's consumer (``EventConsumer`` with its EventHandler
   over the wired Intake, a queue of a throwaway namespace on the real RabbitMQ) and its
   background loops; one webhook endpoint in the store subscribed to ``payment.posted``,
   pointing at a real HTTP listener in this process. ``payment.posted`` events
   (``kopa.payment.v2.PaymentPosted``, ``occurred_at`` = publish time) are published as
   payment_service's relay publishes them (``EventPublisher``, confirms, the same headers)
   at a steady ``--rate`` per second for ``--seconds``. Prints p50/p95/p99/max of the delay
   from publish to the listener receiving the signed POST, deliveries/s, every request's
   signature checked with the standardwebhooks library, and whether the goal (p95 under
   2 s at 200 events/s, all delivered) was met.

Part 1 runs in this process (the service's use cases, the listener of delivery reports).
Part 2 runs notification_service as production does, as its own process (``python -m
notification_service`` on the bench's namespace; its CPU and statements printed apart from
this process's publisher, listener and signature checks); ``--in-process`` wires it into this
process instead (its consumer and loops beside the publisher), for ``--profile``. The CPU
printed is each process's share of the machine next to FerretDB, PostgreSQL, RabbitMQ and
Kannel. MongoDB-wire statements are counted by
command. The throwaway database and the namespace's queues and exchanges are removed at the
end. `--profile DIR` samples this process with py-spy (bench/profiling.py) during each part
and prints its top frames.

Servers: deploy/local/servers.env, the environment winning (tools/fleet.py).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import resource
import secrets
import shutil
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import redis.asyncio as aioredis  # noqa: E402
from bench_repayments import cpu_seconds, pids_matching  # noqa: E402
from google.protobuf.timestamp_pb2 import Timestamp  # noqa: E402
from profiling import print_top_frames, start_py_spy  # noqa: E402
from pymongo import AsyncMongoClient  # noqa: E402
from standardwebhooks import Webhook  # noqa: E402

from kopa.common.v1 import common_pb2  # noqa: E402
from kopa.loan.v1 import loan_pb2  # noqa: E402
from kopa.payment.v2 import events_pb2 as pay_ev  # noqa: E402
from kopa.payment.v2 import repayments_pb2 as pay  # noqa: E402
from notification_service.adapters import repository as r  # noqa: E402
from notification_service.adapters.webhooks import new_secret  # noqa: E402
from notification_service.bootstrap import SERVICE_NAME, Settings, Wiring, wire  # noqa: E402
from notification_service.domain.messages import Status  # noqa: E402
from notification_service.domain.schedule import Schedule  # noqa: E402
from notification_service.domain.templates import Kind  # noqa: E402
from notification_service.domain.webhooks import Endpoint, EndpointStatus  # noqa: E402
from notification_service.entrypoints.events import BINDINGS, EventHandler  # noqa: E402
from notification_service.service_layer.messages import money  # noqa: E402
from notification_service.service_layer.ports import (  # noqa: E402
    BorrowerNotFound,
    Directory,
    Person,
    StaffMember,
)
from shared import statement_counts  # noqa: E402
from shared.dates import to_proto_date  # noqa: E402
from shared.events import EventConsumer, EventPublisher, outbox_fields  # noqa: E402
from shared.ids import new_id  # noqa: E402
from shared.logging import configure_logging  # noqa: E402
from shared.money import to_money  # noqa: E402
from shared.service import Runtime  # noqa: E402
from shared.statement_counts import FLUSH_SECONDS, StatementCounter  # noqa: E402
from tools.fleet import forget_broker, grpc_serving, local_server_urls  # noqa: E402

INSTITUTION = "inst_bench"
BRANCH = "br_bench"
GOAL_P95_SECONDS = 2.0
GOAL_RATE = 200.0
# Peers are not called by what is measured; pointed at a port nobody listens on so that a
# slip could never reach another fleet's services.
NOWHERE = "127.0.0.1:9"
SERVERS = ("kopa-ferretdb", "postgres", "beam.smp", "redis-server", "bearerbox", "smsbox")


# --- what the service is given instead of its peers ------------------------------------------


class SyntheticBorrowers(Directory):
    """Borrowers made up on demand (`bor_bench_<n>`), with Kenyan numbers of their own."""

    FIRST = ("Achieng", "Wanjiru", "Kamau", "Otieno", "Njeri", "Mwangi", "Akinyi", "Kiprop")
    LAST = ("Odhiambo", "Kariuki", "Mutua", "Chebet", "Wafula", "Njoroge", "Ouma", "Kiptoo")

    def __init__(self, run: int) -> None:
        self.run = run

    def phone(self, n: int) -> str:
        return f"+2547{self.run:02d}{n:06d}"

    async def borrower(self, institution_id: str, borrower_id: str) -> Person:
        if not borrower_id.startswith("bor_bench_"):
            raise BorrowerNotFound(institution_id, borrower_id)
        n = int(borrower_id.removeprefix("bor_bench_"))
        first, last = self.FIRST[n % 8], self.LAST[n // 8 % 8]
        return Person(borrower_id, BRANCH, first, last, self.phone(n))

    async def institution_name(self, institution_id: str) -> str:
        return "Umoja Microfinance"

    async def staff(self, institution_id: str, roles: tuple[str, ...]) -> list[StaffMember]:
        return []


# --- a real HTTP listener in this event loop ----------------------------------------------------

Handle = Callable[[str, str, dict[str, str], bytes], Awaitable[int]]
REASONS = {200: "OK", 204: "No Content", 400: "Bad Request", 500: "Internal Server Error"}


class Listener:
    """An HTTP/1.1 server on 127.0.0.1 (keep-alive, Content-Length bodies): each request goes
    to `handle(method, target, headers, body)`, answered with the status it returns."""

    def __init__(self, handle: Handle) -> None:
        self._handle = handle
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.StreamWriter] = set()
        self.url = ""

    async def __aenter__(self) -> Listener:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, backlog=1024)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._connections):  # kept alive by their clients: hung up
            writer.close()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._server.wait_closed(), 2)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._connections.add(writer)
        try:
            while line := await reader.readline():
                method, target, version = line.decode("latin-1").split(" ", 2)
                headers = {}
                while (header := await reader.readline()) not in (b"\r\n", b"\n", b""):
                    name, _, value = header.decode("latin-1").partition(":")
                    headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length") or 0))
                status = await self._handle(method, target, headers, body)
                close = (
                    headers.get("connection", "").lower() == "close"
                    or version.strip() == "HTTP/1.0"
                )
                head = f"HTTP/1.1 {status} {REASONS.get(status, 'Status')}\r\nContent-Length: 0\r\n"
                writer.write((head + ("Connection: close\r\n" if close else "") + "\r\n").encode())
                await writer.drain()
                if close:
                    break
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            pass
        finally:
            self._connections.discard(writer)
            writer.close()


# --- measuring ----------------------------------------------------------------------------------


def cpu_now() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass
class Phase:
    """Wall time, this process's CPU and the statements sent, from `start()` to `stop()`."""

    statements: StatementCounter
    wall: float = 0.0
    cpu: float = 0.0
    sent: Counter[str] = field(default_factory=Counter)

    servers: dict[str, float] = field(default_factory=dict)

    def start(self) -> Phase:
        self._wall, self._cpu = time.perf_counter(), cpu_now()
        self._before = Counter(self.statements.counts)
        self._servers = server_cpu()
        return self

    def stop(self) -> Phase:
        self.wall = time.perf_counter() - self._wall
        self.cpu = cpu_now() - self._cpu
        self.sent = Counter(self.statements.counts) - self._before
        after = server_cpu()
        self.servers = {k: after[k] - self._servers.get(k, 0.0) for k in after}
        return self

    def server_share(self) -> str:
        """The servers' CPU over the phase, in % of one core: shared with whatever else uses
        them (another fleet, a test run), so an upper bound of this bench's share."""
        return ", ".join(
            f"{name} {seconds / self.wall * 100:.0f}%"
            for name, seconds in sorted(self.servers.items(), key=lambda kv: -kv[1])
            if seconds >= 0.05
        )

    def statements_each(self, n: int) -> str:
        total = sum(self.sent.values())
        detail = ", ".join(f"{k} {v / n:.2f}" for k, v in self.sent.most_common())
        return f"{total / n:.2f} ({detail})"


def server_cpu() -> dict[str, float]:
    """CPU seconds so far of the local servers' processes (bench_repayments' reading)."""
    return {name: cpu_seconds(pids) for name, pids in pids_matching(SERVERS).items()}


def percentile(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class Profiler:
    """py-spy on this process for `seconds` from `begin(name)` (bench/profiling.py's)."""

    def __init__(self, out: Path | None, seconds: int, state: Path) -> None:
        self.out, self.seconds, self.state = out, seconds, state
        self._spies: list[subprocess.Popen[bytes]] = []
        self._names: list[str] = []

    async def begin(self, name: str) -> None:
        if self.out is None:
            return
        (self.state / "run").mkdir(parents=True, exist_ok=True)
        (self.state / "run" / f"{name}.pid").write_text(str(os.getpid()))
        self._spies += start_py_spy(self.state, self.out, self.seconds, (name,))
        self._names.append(name)
        await asyncio.sleep(1.5)  # let py-spy attach

    async def finish(self) -> None:
        for spy in self._spies:
            await asyncio.to_thread(spy.wait)
        self._spies = []

    def report(self) -> None:
        if self.out is not None and self._names:
            print_top_frames(self.out, tuple(self._names), count=20)
        shutil.rmtree(self.state, ignore_errors=True)  # the pid files py-spy was pointed at


# --- wiring ---------------------------------------------------------------------------------------


async def wired(
    urls: dict[str, str], namespace: str, dlr_url: str, statements: StatementCounter
) -> tuple[Wiring, Runtime]:
    """The service as bootstrap wires it, over a MongoDB client that counts statements."""
    values: dict[str, Any] = {
        "kopa_namespace": namespace,
        "mongodb_url": urls["MONGODB_URL"],
        "amqp_url": urls["AMQP_URL"],
        "redis_url": urls["REDIS_URL"],
        "kopa_service_secret": secrets.token_hex(16),
        "kannel_sendsms_url": urls["KANNEL_SENDSMS_URL"],
        "kannel_username": urls.get("KANNEL_USERNAME", "kopa"),
        "kannel_password": urls.get("KANNEL_PASSWORD", ""),
        "sms_delivery_report_url": dlr_url,
        "webhooks_allow_private": True,
        "webhooks_allow_http": True,
        "clock_tick_seconds": 0,
        "auth_service_addr": NOWHERE,
        "user_service_addr": NOWHERE,
        "loan_service_addr": NOWHERE,
        "log_level": "warning",
    }
    settings = Settings(**values)
    runtime = Runtime(settings, SERVICE_NAME)
    # shared.mongo.connect's client, with a counter of this bench's own
    runtime.mongo = AsyncMongoClient(
        settings.mongodb_url,
        appname=SERVICE_NAME,
        tz_aware=True,
        serverSelectionTimeoutMS=10_000,
        retryWrites=True,
        retryReads=True,
        event_listeners=[statements],
    )
    runtime.db = runtime.mongo[settings.mongodb_database]
    runtime.redis = aioredis.from_url(settings.redis_url, decode_responses=True)
    wiring = wire(settings, runtime)
    for repository in wiring.repositories:
        await repository.ensure_indexes()
    # Quiet hours off: the bench measures sending, not waiting for the morning.
    await r.MongoSchedules(runtime.db).add(
        Schedule(INSTITUTION, quiet_hours_start="", quiet_hours_end="", enabled=False)
    )
    return wiring, runtime


# --- part 1: messages -----------------------------------------------------------------------------


async def bench_messages(
    args: argparse.Namespace,
    urls: dict[str, str],
    namespace: str,
    statements: StatementCounter,
    profiler: Profiler,
) -> None:
    reports: Counter[str] = Counter()
    delivered_at: dict[str, float] = {}
    expected = [args.messages]
    all_delivered = asyncio.Event()
    wiring: Wiring | None = None

    async def on_report(method: str, target: str, headers: dict[str, str], body: bytes) -> int:
        query = {k: v[0] for k, v in parse_qs(urlsplit(target).query).items()}
        reports[query.get("dlr_type", "?")] += 1
        if args.skip_dlr or wiring is None:
            return 200
        try:
            n = await wiring.dispatcher.report(
                query["notification_id"],
                query["token"],
                int(query["dlr_type"]),
                query.get("reply", ""),
            )
        except Exception as exc:  # counted, as the gateway's route would answer an error
            reports[f"error {type(exc).__name__}"] += 1
            return 500
        if n.status is Status.DELIVERED:
            delivered_at.setdefault(n.id, time.perf_counter())
            if len(delivered_at) >= expected[0]:
                all_delivered.set()
        return 200

    async with Listener(on_report) as callbacks:
        wiring, runtime = await wired(urls, namespace, f"{callbacks.url}/dlr", statements)
        try:
            messenger = wiring.intake.messenger
            directory = SyntheticBorrowers(secrets.randbelow(100))
            messenger.directory = directory
            total = args.messages
            paid_on = date.today().isoformat()
            limit = asyncio.Semaphore(args.concurrency)

            async def compose(n: int) -> int:
                async with limit:
                    made = await messenger.compose(
                        kind=Kind.REPAYMENT_RECEIVED,
                        event_id=new_id("evt"),
                        institution_id=INSTITUTION,
                        borrower_id=f"bor_bench_{n}",
                        loan_id=new_id("loan"),
                        values={
                            "currency": "KES",
                            "amount": money(Decimal(500 + n % 37 * 50), "KES"),
                            "paid_on": paid_on,
                            "balance": money(Decimal(48_250) - n % 91 * 125, "KES"),
                        },
                    )
                    return len(made)

            print(
                f"\n== messages: {total} repayment_received SMS, "
                f"Kannel at {urls['KANNEL_SENDSMS_URL']}"
            )
            await profiler.begin("messages")
            phase = Phase(statements).start()
            made = sum(await asyncio.gather(*(compose(n) for n in range(total))))
            composed = phase.stop()
            print(
                f"rendered   {made} in {composed.wall:.2f} s -> {made / composed.wall:,.0f}/s  "
                f"(compose at concurrency {args.concurrency}: borrower, preferences, schedule, "
                "template, render, insert, live publish)"
            )
            print(
                f"  CPU {composed.cpu:.2f} s = {composed.cpu / made * 1000:.2f} ms a message; "
                f"statements a message {composed.statements_each(made)}"
            )
            print(f"  servers' CPU meanwhile (% of one core): {composed.server_share()}")

            phase = Phase(statements).start()
            tried = await wiring.dispatcher.send_due()
            dispatched = phase.stop()
            dispatch_end = time.perf_counter()
            sent = await runtime.db[r.NOTIFICATIONS].count_documents(
                {"institution_id": INSTITUTION, "status": {"$in": ["sent", "delivered"]}}
            )
            print(
                f"submitted  {sent} of {tried} tried in {dispatched.wall:.2f} s -> "
                f"{sent / dispatched.wall:,.0f}/s  (Dispatcher.send_due: claim a batch, sendsms "
                "each, save; delivery reports handled meanwhile)"
            )
            print(
                f"  CPU {dispatched.cpu:.2f} s = {dispatched.cpu / max(tried, 1) * 1000:.2f} ms "
                f"a message; statements a message {dispatched.statements_each(max(tried, 1))}"
            )
            print(f"  servers' CPU meanwhile (% of one core): {dispatched.server_share()}")
            if args.skip_dlr:
                print("delivered  not measured (--skip-dlr: reports answered and dropped)")
            else:
                expected[0] = sent
                if len(delivered_at) >= sent:
                    all_delivered.set()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(all_delivered.wait(), args.dlr_wait)
                if delivered_at:
                    last = max(delivered_at.values())
                    span = last - (dispatch_end - dispatched.wall)
                    print(
                        f"delivered  {len(delivered_at)} of {sent} (reports of type 1) "
                        f"{last - dispatch_end:+.2f} s after the dispatch ended -> "
                        f"{len(delivered_at) / span:,.0f}/s from the dispatch's start"
                    )
                else:
                    print(f"delivered  none within {args.dlr_wait:.0f} s")
            print(f"  delivery reports received by type: {dict(sorted(reports.items()))}")
            # A report that comes before the dispatcher has recorded the submission wins the
            # version guard, and the submission's record (send time, provider id, attempts)
            # is then lost.
            unrecorded = await runtime.db[r.NOTIFICATIONS].count_documents(
                {"institution_id": INSTITUTION, "status": {"$ne": "queued"}, "send_time": None}
            )
            print(f"  messages past queued with no send time recorded: {unrecorded}")
            await profiler.finish()
        finally:
            await close(wiring, runtime)


# --- part 2: event to webhook ------------------------------------------------------------------


def payment_posted(loan_id: str) -> pay_ev.PaymentPosted:
    stamp = Timestamp()
    stamp.FromDatetime(datetime.now(UTC))
    payment_id = new_id("pay")

    def kes(amount: str) -> Any:
        return to_money(Decimal(amount), "KES")

    return pay_ev.PaymentPosted(
        meta=common_pb2.EventMeta(
            event_id=new_id("evt"),
            event_type="payment.posted",
            institution_id=INSTITUTION,
            branch_id=BRANCH,
            aggregate_id=payment_id,
            aggregate_version=2,
            occurred_at=stamp,
            request_id=new_id("req"),
            actor_id="usr_bench_agent",
        ),
        loan_id=loan_id,
        kind=pay.PAYMENT_KIND_REPAYMENT,
        amount=kes("1000.00"),
        paid_on=to_proto_date(date.today()),
        channel=pay.PAYMENT_CHANNEL_MOBILE_MONEY,
        reference=f"QK{secrets.token_hex(4).upper()}",
        allocation=pay.Allocation(
            principal=kes("820.00"),
            interest=kes("180.00"),
            fees=kes("0"),
            penalties=kes("0"),
            overpayment=kes("0"),
        ),
        outstanding=pay.Outstanding(
            principal=kes("41230.00"),
            interest=kes("2210.50"),
            fees=kes("0"),
            penalties=kes("0"),
            total=kes("43440.50"),
        ),
        loan_status=loan_pb2.LOAN_STATUS_ACTIVE,
        entry_id=new_id("jre"),
        recorded_by="usr_bench_agent",
    )


async def bench_webhooks(
    args: argparse.Namespace,
    urls: dict[str, str],
    namespace: str,
    statements: StatementCounter,
    profiler: Profiler,
) -> None:
    secret = new_secret()
    verifier = Webhook(secret)
    published: dict[str, float] = {}
    by_payment: dict[str, float] = {}
    consumed: list[float] = []
    delays: list[float] = []
    received_at: list[float] = []
    seen: Counter[str] = Counter()
    bad: Counter[str] = Counter()

    async def on_webhook(method: str, target: str, headers: dict[str, str], body: bytes) -> int:
        now = time.perf_counter()
        try:
            envelope = verifier.verify(body, headers)
        except Exception as exc:
            bad[type(exc).__name__] += 1
            return 400
        seen[headers["webhook-id"]] += 1
        if seen[headers["webhook-id"]] == 1:
            sent = published.get(envelope["data"]["id"])
            if sent is None:
                bad["unknown event"] += 1
            else:
                delays.append(now - sent)
                received_at.append(now)
        return 204

    async with Listener(on_webhook) as endpoint_listener:
        service: ServiceProcess | None = None
        if args.in_process:
            wiring, runtime = await wired(urls, namespace, "http://127.0.0.1:9/dlr", statements)
            handler = EventHandler(wiring.intake)

            async def timed(routing_key: str, body: bytes, headers: dict[str, Any]) -> None:
                """The service's handler, and when it was done with each event (fanned out)."""
                await handler(routing_key, body, headers)
                sent = by_payment.get(str(headers.get("aggregate_id")))
                if sent is not None:
                    consumed.append(time.perf_counter() - sent)

            consumer = EventConsumer(
                urls["AMQP_URL"], f"{namespace}.notification", BINDINGS, timed, namespace=namespace
            )
            store = runtime.db
        else:
            service = await ServiceProcess.start(urls, namespace)
            store_client: AsyncMongoClient[Any] = AsyncMongoClient(
                urls["MONGODB_URL"], tz_aware=True
            )
            store = store_client[f"{namespace}_notification"]
        publisher = EventPublisher(urls["AMQP_URL"], "payment_service", namespace)
        try:
            await r.MongoEndpoints(store).add(
                Endpoint(
                    id=new_id("whe"),
                    institution_id=INSTITUTION,
                    url=f"{endpoint_listener.url}/hooks/kopa",
                    event_types=("payment.posted",),
                    description="bench",
                    secret=secret,
                    status=EndpointStatus.ENABLED,
                    create_time=datetime.now(UTC),
                )
            )
            if service is None:
                await consumer.start()
                for worker in wiring.loops:
                    worker.start()
            await publisher.connect()
            total = int(args.rate * args.seconds)
            loans = [new_id("loan") for _ in range(500)]
            events = [
                outbox_fields([payment_posted(loans[n % 500])])["outbox"][0] for n in range(5)
            ]
            del events  # warm the codecs (first-use costs out of the measurement)
            print(
                f"\n== event -> webhook: payment.posted at {args.rate:g}/s for {args.seconds:g} s "
                f"({total} events), one endpoint, RabbitMQ at {urls['AMQP_URL'].split('@')[-1]}"
            )
            await profiler.begin("webhooks")
            in_flight: set[asyncio.Task[None]] = set()
            failures: Counter[str] = Counter()

            async def publish(entry: dict[str, Any], event_id: str) -> None:
                published[event_id] = by_payment[entry["headers"]["aggregate_id"]] = (
                    time.perf_counter()
                )
                try:
                    await publisher.publish(entry)
                except Exception as exc:
                    failures[type(exc).__name__] += 1

            phase = Phase(statements).start()
            service_cpu = service.cpu() if service else 0.0
            service_statements = service.statements() if service else Counter[str]()
            loop = asyncio.get_running_loop()
            began = loop.time()
            lag = 0.0
            for n in range(total):
                due = began + n / args.rate
                wait = due - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                else:
                    lag = max(lag, -wait)
                event = payment_posted(loans[n % len(loans)])
                entry = outbox_fields([event])["outbox"][0]
                task = asyncio.create_task(publish(entry, event.meta.event_id))
                in_flight.add(task)
                task.add_done_callback(in_flight.discard)
            publishing = loop.time() - began
            await asyncio.gather(*in_flight)
            # until every event's webhook came, or none came for --drain seconds
            last_count, last_change = -1, time.perf_counter()
            while len(delays) < total and time.perf_counter() - last_change < args.drain:
                if len(delays) != last_count:
                    last_count, last_change = len(delays), time.perf_counter()
                await asyncio.sleep(0.1)
            done = phase.stop()
            await profiler.finish()
            if service is not None:
                service_cpu = service.cpu() - service_cpu
                await asyncio.sleep(FLUSH_SECONDS + 0.5)  # its last statement counts
                service_statements = service.statements() - service_statements

            rate = total / publishing
            print(
                f"published  {total} in {publishing:.2f} s -> {rate:,.1f}/s "
                f"(publisher at most {lag * 1000:.0f} ms behind its schedule; "
                f"{sum(failures.values())} failed)"
            )
            if delays:
                ordered = sorted(delays)
                first_publish = min(published.values())
                span = max(received_at) - first_publish
                p50, p95, p99 = (percentile(ordered, q) for q in (0.50, 0.95, 0.99))
                print(
                    f"delivered  {len(delays)} of {total} ({sum(seen.values()) - len(seen)} "
                    f"repeated) -> {len(delays) / span:,.1f}/s; signatures failed: "
                    f"{sum(bad.values())} {dict(bad) if bad else ''}"
                )
                print(
                    f"delay publish -> signed POST received, s: p50 {p50:.3f}  p95 {p95:.3f}  "
                    f"p99 {p99:.3f}  max {ordered[-1]:.3f}"
                )
                if consumed:
                    taken = sorted(consumed)
                    print(
                        f"  of which publish -> consumed and fanned out, s: p50 "
                        f"{percentile(taken, 0.5):.3f}  p95 {percentile(taken, 0.95):.3f}  "
                        f"max {taken[-1]:.3f} ({len(taken)} events)"
                    )
                met = (
                    p95 < GOAL_P95_SECONDS
                    and len(delays) == total
                    and rate >= 0.95 * GOAL_RATE
                    and not bad
                )
                print(
                    f"goal (p95 < {GOAL_P95_SECONDS:g} s at {GOAL_RATE:g} events/s, all "
                    f"delivered): {'MET' if met else 'NOT MET'}"
                    + ("" if rate >= 0.95 * GOAL_RATE else f" (offered only {rate:.0f}/s)")
                )
            else:
                print(f"delivered  none of {total}")
            events_handled = max(len(delays), 1)
            if service is not None:
                each = sum(service_statements.values()) / events_handled
                detail = ", ".join(
                    f"{k} {v / events_handled:.2f}" for k, v in service_statements.most_common()
                )
                print(
                    f"  notification_service (its own process): CPU {service_cpu:.2f} s "
                    f"({service_cpu / done.wall * 100:.0f}% of one core) = "
                    f"{service_cpu / events_handled * 1000:.2f} ms an event (consume, fan out, "
                    f"deliver); statements an event {each:.2f} ({detail})"
                )
            work = "publish, receive, verify"
            if service is None:
                work = "publish, consume, fan out, deliver, receive, verify"
            print(
                f"  this process: CPU {done.cpu:.2f} s over {done.wall:.1f} s "
                f"({done.cpu / done.wall * 100:.0f}% of one core) = "
                f"{done.cpu / events_handled * 1000:.2f} ms an event ({work})"
            )
            print(f"  statements an event {done.statements_each(events_handled)}")
            print(f"  servers' CPU meanwhile (% of one core): {done.server_share()}")
        finally:
            if service is None:
                for worker in wiring.loops:
                    await worker.stop()
                await consumer.stop()
                await close(wiring, runtime)
            else:
                service.stop()
                await store_client.close()
            await publisher.close()


class ServiceProcess:
    """notification_service as it runs in production: its own process (`python -m
    notification_service`), on the bench's namespace, its statements counted in a directory
    of the bench's (shared.statement_counts)."""

    def __init__(self, proc: subprocess.Popen[bytes], counts: Path, log: Path) -> None:
        self.proc = proc
        self.counts = counts
        self.log = log

    @classmethod
    async def start(cls, urls: dict[str, str], namespace: str) -> ServiceProcess:
        state = Path(f"/tmp/kopa-bench-{namespace}")
        counts = state / "statements"
        counts.mkdir(parents=True, exist_ok=True)
        # Below the ephemeral range, where an outgoing connection cannot hold it.
        port = 29000 + secrets.randbelow(900)
        env = {
            **os.environ,
            **urls,
            "KOPA_NAMESPACE": namespace,
            "KOPA_ENV": "local",
            "KOPA_SERVICE_SECRET": secrets.token_hex(16),
            "GRPC_PORT": str(port),
            "WEBHOOKS_ALLOW_PRIVATE": "true",
            "WEBHOOKS_ALLOW_HTTP": "true",
            "CLOCK_TICK_SECONDS": "0",
            "AUTH_SERVICE_ADDR": NOWHERE,
            "USER_SERVICE_ADDR": NOWHERE,
            "LOAN_SERVICE_ADDR": NOWHERE,
            "LOG_LEVEL": "warning",
            "LOG_JSON": "true",
            statement_counts.ENV: str(counts),
        }
        log = state / "notification.log"
        with log.open("wb") as out:
            # Started once, before anything is measured: a blocking call is harmless here.
            proc = subprocess.Popen(  # noqa: ASYNC220
                [sys.executable, "-m", "notification_service"],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=out,
                stdin=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + 60
        while not grpc_serving(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise SystemExit(f"notification_service did not start: {log.read_text()[-3000:]}")
            await asyncio.sleep(0.2)
        return cls(proc, counts, log)

    def cpu(self) -> float:
        return cpu_seconds([self.proc.pid])

    def statements(self) -> Counter[str]:
        return sum(statement_counts.totals(self.counts).values(), Counter[str]())

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.counts.parent, ignore_errors=True)


async def close(wiring: Wiring, runtime: Runtime) -> None:
    sms = wiring.dispatcher.sms
    if hasattr(sms, "aclose"):
        await sms.aclose()
    await runtime.redis.aclose()  # type: ignore[union-attr]
    for channel in runtime._channels.values():
        await channel.close()
    await runtime.mongo.close()


async def clean_up(urls: dict[str, str], namespace: str) -> None:
    """Drops both parts' databases and deletes their queues and exchanges; each step tried
    whatever became of the others (a broker restarted meanwhile by someone else, say)."""
    client: AsyncMongoClient[Any] = AsyncMongoClient(urls["MONGODB_URL"])
    for ns in (f"{namespace}m", f"{namespace}w"):
        for step in (
            client.drop_database(f"{ns}_notification"),
            forget_broker(urls["AMQP_URL"], ns),
        ):
            try:
                await step
            except Exception as exc:
                print(f"clean-up of {ns} incomplete: {exc!r}", file=sys.stderr)
    await client.close()


# --- main -----------------------------------------------------------------------------------------


async def run(args: argparse.Namespace) -> None:
    urls = local_server_urls()
    missing = [
        k for k in ("MONGODB_URL", "AMQP_URL", "REDIS_URL", "KANNEL_SENDSMS_URL") if k not in urls
    ]
    if missing:
        raise SystemExit(f"{', '.join(missing)} unknown: run deploy/local/infra.sh start")
    namespace = f"bench{secrets.token_hex(3)}"
    statements = StatementCounter(Path("/dev/null"))  # read in place, never flushed
    profiler = Profiler(args.profile, args.profile_seconds, Path(f"/tmp/kopa-bench-{namespace}"))
    load = os.getloadavg()
    print(
        f"python {platform.python_version()}, {os.cpu_count()} CPUs, load {load[0]:.2f} "
        f"{load[1]:.2f} {load[2]:.2f} at the start; namespace {namespace}; notification_service "
        + ("in this process" if args.in_process else "in its own process for part 2")
    )
    started_cpu, started = cpu_now(), time.perf_counter()
    try:
        if args.only in (None, "messages"):
            await bench_messages(args, urls, f"{namespace}m", statements, profiler)
        if args.only in (None, "webhooks"):
            await bench_webhooks(args, urls, f"{namespace}w", statements, profiler)
    finally:
        await clean_up(urls, namespace)
    print(
        f"\nthis process: {cpu_now() - started_cpu:.1f} CPU s in "
        f"{time.perf_counter() - started:.1f} s "
        f"(load at the end {os.getloadavg()[0]:.2f}); namespace's database, queues and "
        "exchanges removed"
    )
    profiler.report()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=64, help="compose at once")
    parser.add_argument("--skip-dlr", action="store_true", help="drop Kannel's reports")
    parser.add_argument("--dlr-wait", type=float, default=60, help="seconds to wait for DLRs")
    parser.add_argument("--rate", type=float, default=GOAL_RATE, help="events a second")
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument(
        "--drain", type=float, default=30, help="give up when no webhook came for this long"
    )
    parser.add_argument("--only", choices=["messages", "webhooks"])
    parser.add_argument(
        "--in-process",
        action="store_true",
        help="part 2 with the service in this process (for --profile), not its own",
    )
    parser.add_argument("--profile", type=Path, help="sample this process with py-spy")
    parser.add_argument("--profile-seconds", type=int, default=15)
    args = parser.parse_args()
    configure_logging("bench_notifications", "warning")
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
