"""Close of business throughput against the real MongoDB-wire server, and read cost by age.

    .venv/bin/python bench/bench_close_of_business.py [--loans 20000] [--workers 2]
        [--batch 500] [--keep] [--no-worst]

Seeds ``--loans`` active loans of one institution straight into a fresh namespace (built
with the loan domain from a few hundred templates: monthly 12-installment loans disbursed
0-360 days ago; 80% paid every installment on its due date, 12% missed the last one or
two, 8% stopped paying after a few; each stored as the service stores it, stated as of its
last repayment), then runs the close of business four times:

1. ``first``: the first batch ever: loans in arrears and loans with an installment fallen
   due since their last repayment change (about a sixth of them here).
2. ``again``: the same date again: the job is done, nothing is read or written.
3. ``next day``: the everyday case: loans in arrears move on a day, installments falling
   due make loans overdue; loans with nothing due are not even read.
4. ``month +1``: a month later (nobody paid meanwhile): nearly every loan has an
   installment fallen due: close to the worst case, every loan read and written.

It prints loans/second (active loans brought to the date per second of wall time), what
was read and written, and the linear extrapolation to 1,000,000 loans (goal: under 8
minutes on the 2-core development machine), and the service's own CPU per loan without
the database. Then the cost of reading one loan (GetLoan: find by id, mapping to the
proto) at month 1 and at month 24, and of rebuilding it for a write (the aggregate and the
replay of its repayments). The namespace is dropped at the end unless ``--keep``.

Server: ``MONGODB_URL`` from the environment or deploy/local/servers.env.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import secrets
import statistics
import sys
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pymongo import AsyncMongoClient

from loan_service.adapters.repository import (
    HINTS,
    LOANS,
    NEVER,
    PACKED_LOANS,
    Repository,
    encoded_update,
)
from loan_service.adapters.serialization import loan_from_doc, loan_to_doc
from loan_service.domain import Loan, LoanProduct, parse_product
from loan_service.entrypoints.mapping import loan_to_proto
from loan_service.service_layer import views
from loan_service.service_layer.cob import CloseOfBusiness, plan, update_of
from loan_service.service_layer.unit_of_work import partition_of
from loan_service.service_layer.views import pricing_of
from shared.events import EventPublisher, OutboxRelay
from shared.ids import new_id
from shared.statement_counts import StatementCounter
from tools.fleet import local_server_urls

GOAL_LOANS = 1_000_000
GOAL_SECONDS = 8 * 60
INSTITUTION = "inst_bench"
BRANCHES = [f"br_bench_{n}" for n in range(20)]


def server_url(name: str, default: str) -> str:
    return local_server_urls().get(name, default)


def mongodb_url() -> str:
    return server_url("MONGODB_URL", "mongodb://127.0.0.1:27017/")


async def publish_all(repo: Repository, namespace: str, loan_ids: list[str]) -> float:
    """Seconds for the outbox relay (as loan_service runs it) to publish the events the
    run left in the loans' outboxes, to the real broker."""
    publisher = EventPublisher(
        server_url("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/"), "bench", namespace
    )
    relay = OutboxRelay(repo.db, publisher, [LOANS])
    await publisher.connect()
    started = time.perf_counter()
    relay.start()
    for loan_id in loan_ids:
        relay.notify(LOANS, loan_id)
    while True:  # until every notified loan is flushed
        if not relay.backlog:
            break
        await asyncio.sleep(0.1)
    elapsed = time.perf_counter() - started
    left = await repo.loans.count_documents({"_id": {"$in": loan_ids}, "outbox_count": {"$gt": 0}})
    assert left == 0, f"{left} loans still hold events"
    await relay.stop()
    await publisher.close()
    return elapsed


def product(term_max: int = 24) -> LoanProduct:
    return parse_product(
        {
            "name": "bench monthly",
            "currency": "KES",
            "interest_method": "declining_balance",
            "amortization": "equal_installments",
            "annual_interest_rate": "24",
            "repayment_frequency": "monthly",
            "min_principal": "1000",
            "max_principal": "1000000",
            "min_term": 1,
            "max_term": term_max,
            "days_in_year": "360",
            "late_penalty_amount": "50",
        }
    )


def loan_document(loan: Loan, as_of: date, created: datetime) -> dict[str, Any]:
    """The document the service stores for `loan`, stated as of `as_of` (as `handlers`
    writes it)."""
    derived = views.derive(loan, as_of, fallback=created.date())
    assert loan.schedule is not None
    return {
        "_id": loan.id,
        "institution_id": INSTITUTION,
        "branch_id": BRANCHES[0],
        "product_id": "lprod_bench",
        "currency": "KES",
        "partition": 0,
        "request_id": "",
        "open_loans_at_submit": 0,
        "max_open_loans": 0,
        "approved_by": "usr_checker",
        "score": None,
        "pricing": pricing_of(loan.schedule),
        "cob_date": None,
        "classification_history": [],
        "written_off_amounts": None,
        "history": [
            {"status": s, "time": created, "actor_id": "usr_bench", "note": ""}
            for s in ("submitted", "approved", "active")
        ],
        "create_time": created,
        "update_time": created,
        "version": 3 + len(loan.repayments),
        "outbox": [],
        "outbox_count": 0,
        **loan_to_doc(loan, {}),
        **derived.fields,
    }


def aged_loan(
    prod: LoanProduct, disbursed: date, term: int, paid: int, principal: Decimal
) -> tuple[Loan, date]:
    loan = Loan.submit(
        id=new_id("loan"),
        borrower_id=new_id("bor"),
        product=prod,
        principal=principal,
        term=term,
        created_by="usr_maker",
    )
    loan.approve("usr_checker", approver_role="admin", approval_limits={"admin": Decimal("1e12")})
    schedule = loan.disburse(disbursed)
    last = disbursed
    for inst in schedule.installments[:paid]:
        loan.apply_repayment(new_id("pay"), inst.total, inst.due_date)
        last = inst.due_date
    loan.pull_events()
    return loan, last


def templates(as_of: date, count: int, rng: random.Random) -> list[dict[str, Any]]:
    prod = product()
    out = []
    created = datetime.now(UTC)
    for _ in range(count):
        disbursed = as_of - timedelta(days=rng.randint(1, 360))
        principal = Decimal(rng.randint(50, 2000) * 100)
        loan, _ = aged_loan(prod, disbursed, 12, 0, principal)
        due = [i for i in loan.schedule.installments if i.due_date < as_of] if loan.schedule else []
        roll = rng.random()
        if roll < 0.80:
            paid = len(due)
        elif roll < 0.92:
            paid = max(0, len(due) - rng.randint(1, 2))
        else:
            paid = rng.randint(0, max(0, len(due) - 3)) if len(due) > 3 else 0
        loan, last = aged_loan(prod, disbursed, 12, min(paid, 12), principal)
        if loan.status.value != "active":
            continue
        out.append(loan_document(loan, last, created))
    return out


async def seed(repo: Repository, docs: list[dict[str, Any]], n: int) -> float:
    """Inserts `n` loans cloned from the templates, with their close-of-business hints."""
    started = time.perf_counter()
    loans: list[dict[str, Any]] = []
    hints: list[dict[str, Any]] = []
    for i in range(n):
        template = docs[i % len(docs)]
        loan_id = new_id("loan")
        loan = {
            **template,
            "_id": loan_id,
            "partition": partition_of(loan_id),
            "branch_id": BRANCHES[i % len(BRANCHES)],
            "borrower_id": f"bor_{i:08d}",
        }
        loans.append(PACKED_LOANS.pack(loan))
        hints.append(
            {
                "_id": loan_id,
                "institution_id": loan["institution_id"],
                "partition": loan["partition"],
                "status": loan["status"],
                "cob_next_date": loan.get("cob_next_date") or NEVER,
                "version": loan["version"],
            }
        )
        if len(loans) == 1000:
            await repo.loans.insert_many(loans, ordered=False)
            await repo.db[HINTS].insert_many(hints, ordered=False)
            loans, hints = [], []
    if loans:
        await repo.loans.insert_many(loans, ordered=False)
        await repo.db[HINTS].insert_many(hints, ordered=False)
    return time.perf_counter() - started


async def run_cob(cob: CloseOfBusiness, as_of: date) -> tuple[float, dict[str, Any]]:
    cob.timings.clear()
    started = time.perf_counter()
    job = await cob.start(INSTITUTION, as_of, wait=True)
    elapsed = time.perf_counter() - started
    parts = await cob.repo.partitions(job["_id"])
    return elapsed, {
        "state": job["state"],
        "processed": sum(p.get("processed", 0) for p in parts),
        "changed": sum(p.get("changed", 0) for p in parts),
    }


def service_cpu(docs: list[dict[str, Any]], as_of: date) -> tuple[float, int]:
    """Loans/s of the batch's own work (planning each loan's change, building its update),
    without the database: what one core of loan_service can do."""
    started = time.perf_counter()
    changed = 0
    for doc in docs:
        change = plan(doc, as_of)
        if change is not None:
            encoded_update(doc, update_of(change, doc))  # with its events' proto encoding
            changed += 1
    return len(docs) / (time.perf_counter() - started), changed


async def read_costs(repo: Repository, as_of: date) -> list[tuple[str, float, float, float, int]]:
    """(label, find by id us, mapping to the proto us, rebuild+replay us, document bytes) of
    one loan at month 1 and at month 24 of a 36-month loan (bytes: as stored, packed)."""
    import bson

    prod = product(36)
    rows = []
    for months in (1, 24):
        disbursed = as_of - timedelta(days=31 * months + 5)
        loan, last = aged_loan(prod, disbursed, 36, months, Decimal("100000"))
        doc = loan_document(loan, last, datetime.now(UTC))
        doc["partition"] = partition_of(loan.id)
        doc["institution_id"] = "inst_bench_reads"
        await repo.insert_loan(doc)
        finds, maps, rebuilds = [], [], []
        for _ in range(200):
            t = time.perf_counter()
            stored = await repo.get_loan(loan.id)
            finds.append(time.perf_counter() - t)
            assert stored is not None
            t = time.perf_counter()
            loan_to_proto(stored)
            maps.append(time.perf_counter() - t)
            t = time.perf_counter()
            loan_from_doc(stored).state(last)
            rebuilds.append(time.perf_counter() - t)
        rows.append(
            (
                f"month {months:2d} ({months} repayments)",
                statistics.median(finds) * 1e6,
                statistics.median(maps) * 1e6,
                statistics.median(rebuilds) * 1e6,
                len(bson.encode(PACKED_LOANS.pack(stored))),
            )
        )
    return rows


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--loans", type=int, default=20_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--templates", type=int, default=300)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument(
        "--no-worst", action="store_true", help="skip the month +1 run (every loan written)"
    )
    parser.add_argument(
        "--publish",
        action="store_true",
        help="after the first run, time the outbox relay publishing its events to RabbitMQ",
    )
    args = parser.parse_args()

    url = mongodb_url()
    namespace = f"bench{secrets.token_hex(3)}"
    # Counts the statements each run sends (not written to a file: read in place).
    statements = StatementCounter(Path("/dev/null"))
    client: AsyncMongoClient[Any] = AsyncMongoClient(
        url, tz_aware=True, event_listeners=[statements]
    )
    db = client[f"{namespace}_loan"]
    repo = Repository(db)
    await repo.ensure_indexes()
    rng = random.Random(7)
    as_of = datetime.now(UTC).date()
    try:
        print(f"server {url}  namespace {namespace}  loans {args.loans:,}")
        t = time.perf_counter()
        docs = templates(as_of, args.templates, rng)
        print(f"templates: {len(docs)} built with the domain in {time.perf_counter() - t:.1f} s")
        seconds = await seed(repo, docs, args.loans)
        print(
            f"seeded {args.loans:,} active loans in {seconds:.1f} s ({args.loans / seconds:,.0f}/s)"
        )
        sample = [doc for doc in docs for _ in range(max(1, 3000 // len(docs)))]
        for label, day in (("today", as_of), ("in 40 days", as_of + timedelta(days=40))):
            rate, changed = service_cpu(sample, day)
            print(
                f"service CPU alone, as of {label}: {rate:,.0f} loans/s "
                f"({changed * 100 // len(sample)}% of them changing)"
            )
        due = await db[HINTS].count_documents(
            {"institution_id": INSTITUTION, "cob_next_date": {"$lte": as_of.isoformat()}}
        )
        print(f"loans with a change due by {as_of}: {due:,}")

        cob = CloseOfBusiness(
            repo, lambda *_: None, lambda *_: None, workers=args.workers, batch_size=args.batch
        )
        print()
        print(f"{'run':<10} {'as_of':<11} {'seconds':>8} {'read':>8} {'written':>8} {'loans/s':>9}")
        results = []
        for label, day in (
            ("first", as_of),
            ("again", as_of),
            ("next day", as_of + timedelta(days=1)),
            ("month +1", as_of + timedelta(days=31)),
        ):
            if label == "month +1" and args.no_worst:
                continue
            statements.counts.clear()
            elapsed, job = await run_cob(cob, day)
            sent = sum(statements.counts.values())
            rate = args.loans / elapsed if elapsed > 0 else float("inf")
            if label != "again":
                results.append((label, elapsed, rate))
            if label == "again":  # the job was done: its counters are the first run's
                print(
                    f"{label:<10} {day.isoformat():<11} {elapsed:8.2f} {'-':>8} {'-':>8} {'-':>9}"
                )
                continue
            print(
                f"{label:<10} {day.isoformat():<11} {elapsed:8.1f} {job['processed']:8,} "
                f"{job['changed']:8,} {rate:9,.0f}  statements {sent:,} "
                f"({sent / max(job['processed'], 1):.2f} a loan read)"
            )
            if cob.timings:
                print(
                    "           worker seconds: "
                    + ", ".join(f"{k} {v:.1f}" for k, v in cob.timings.items())
                )
            if label == "first" and args.publish:
                eventful = [
                    d["_id"]
                    async for d in repo.loans.find({"outbox_count": {"$gt": 0}}, {"_id": 1})
                ]
                seconds = await publish_all(repo, namespace, eventful)
                print(
                    f"           events of {len(eventful):,} loans published in {seconds:.1f} s "
                    f"({len(eventful) / seconds:,.0f} loans/s; the relay, after the batch)"
                )
        print()
        for label, _elapsed, rate in results:
            projected = GOAL_LOANS / rate
            verdict = "meets" if projected <= GOAL_SECONDS else "misses"
            print(
                f"{label}: 1,000,000 loans at {rate:,.0f} loans/s ~ {projected / 60:.1f} min "
                f"({verdict} the 8 min goal; linear extrapolation from {args.loans:,})"
            )

        print()
        print(
            f"{'reading one loan (GetLoan)':<26} {'find us':>9} {'to proto us':>12} "
            f"{'write-path rebuild us':>22} {'bytes':>7}"
        )
        for label, find_us, map_us, rebuild_us, size in await read_costs(repo, as_of):
            print(f"{label:<26} {find_us:9.0f} {map_us:12.0f} {rebuild_us:22.0f} {size:7,}")
    finally:
        if not args.keep:
            await client.drop_database(f"{namespace}_loan")
        await client.close()


if __name__ == "__main__":
    asyncio.run(main())
