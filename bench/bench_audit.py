"""What the audit trail costs the database per audited request: repayments through the
gateway (each one appends an entry to the institution's hash chain in auth_service, after
the response), counting the PostgreSQL statements behind FerretDB on auth's audit tables.

Needs the local PostgreSQL to log every statement (`ALTER SYSTEM SET
log_min_duration_statement = 0`; the log is /var/lib/kopa/log/postgresql.log, or
KOPA_POSTGRESQL_LOG). Starts its own fleet (own namespace, so only its own schema
`<namespace>_auth` is counted), sets up a few active loans, then for each concurrency posts
the repayments, waits until auth has written nothing on the audit tables for a while, and
prints the statements per audited request by table (executed statements: `execute` of the
extended protocol and simple queries; BEGIN/COMMIT name no table and are not counted).
A last phase fires a burst of cheap audited requests (branch creations), faster than one
append at a time keeps up with, to show what the gateway's batching of appends does.

    python bench/bench_audit.py [--loans 32] [--repayments 300] [--concurrency 1 32]
                                [--burst 300]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import time
from collections import Counter
from collections.abc import Awaitable
from datetime import date
from pathlib import Path

import httpx
from bench_repayments import cpu_seconds, fleet_pids, run_with_fleet, setup

PG_LOG = Path(os.environ.get("KOPA_POSTGRESQL_LOG", "/var/lib/kopa/log/postgresql.log"))
AUDIT_TABLES = ("audit_log", "audit_heads", "write_claims")
QUIET_SECONDS = 3.0


def namespace_of(state: Path) -> str:
    """The fleet's namespace, from its auth process's environment."""
    pid = fleet_pids(state)["auth"][0]
    environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    for item in environ:
        if item.startswith(b"KOPA_NAMESPACE="):
            return item.split(b"=", 1)[1].decode()
    raise SystemExit("cannot tell the fleet's namespace")


class StatementLog:
    """Statements on one schema's tables, read from the PostgreSQL log as it grows."""

    def __init__(self, schema: str) -> None:
        self.pattern = re.compile(
            r"LOG:  duration: [0-9.]+ ms  (?:execute [^:]*|statement): (\w+)[^\"]*"
            + re.escape(f'"{schema}".')
            + r'"([a-z_]+?)_[0-9a-f]{8}"'
        )
        self.offset = PG_LOG.stat().st_size
        self.last_activity = time.monotonic()

    def read(self) -> Counter[tuple[str, str]]:
        """(table, verb) -> count, of what was logged since the last read."""
        counts: Counter[tuple[str, str]] = Counter()
        with PG_LOG.open("rb") as log:
            log.seek(self.offset)
            data = log.read()
        end = data.rfind(b"\n") + 1
        self.offset += end
        for line in data[:end].decode(errors="replace").splitlines():
            match = self.pattern.search(line)
            if match:
                counts[(match.group(2), match.group(1).upper())] += 1
        return counts

    async def until_quiet(self, tables: tuple[str, ...]) -> Counter[tuple[str, str]]:
        """Everything logged until `tables` saw no statement for QUIET_SECONDS."""
        total: Counter[tuple[str, str]] = Counter()
        quiet_since = self.last_activity = time.monotonic()
        deadline = time.monotonic() + 120
        while time.monotonic() - quiet_since < QUIET_SECONDS:
            if time.monotonic() > deadline:
                raise SystemExit("auth kept writing to the audit tables")
            await asyncio.sleep(0.25)
            fresh = self.read()
            if any(table in tables for table, _ in fresh):
                quiet_since = self.last_activity = time.monotonic()
            total += fresh
        return total


async def chain_length(client: httpx.AsyncClient, admin: dict[str, str]) -> int:
    reply = await client.get("/v1/audit-log/verify", headers=admin)
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["ok"], body
    return int(body["checked"])


async def repay(
    client: httpx.AsyncClient,
    loan_ids: list[str],
    agent: dict[str, str],
    numbers: range,
    concurrency: int,
) -> list[int]:
    """Post one repayment per number, `concurrency` at a time; the numbers of those that
    were made (201: audited; a 409, the loan changed concurrently, is not)."""
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in numbers:
        queue.put_nowait(i)
    audited: list[int] = []
    paid_on = date.today().isoformat()

    async def worker() -> None:
        while not queue.empty():
            i = queue.get_nowait()
            reply = await client.post(
                f"/v1/loans/{loan_ids[i % len(loan_ids)]}/repayments",
                json={"amount": "1.00", "paid_on": paid_on},
                headers={**agent, "Idempotency-Key": f"audit-bench-{i}"},
            )
            assert reply.status_code in (201, 409), reply.text
            if reply.status_code == 201:
                audited.append(i)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return audited


async def create_branches(
    client: httpx.AsyncClient, admin: dict[str, str], numbers: range, concurrency: int
) -> list[int]:
    """POST /v1/branches once per number, `concurrency` at a time: a cheap audited request
    (one insert in user_service), so that requests arrive faster than single appends."""
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in numbers:
        queue.put_nowait(i)
    audited: list[int] = []

    async def worker() -> None:
        while not queue.empty():
            i = queue.get_nowait()
            reply = await client.post("/v1/branches", json={"name": f"Branch {i}"}, headers=admin)
            assert reply.status_code == 201, reply.text
            audited.append(i)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return audited


class Phases:
    """Runs load phases against one fleet and prints what each cost auth's audit tables."""

    def __init__(self, client: httpx.AsyncClient, admin: dict[str, str], state: Path) -> None:
        self.client = client
        self.admin = admin
        self.statements = StatementLog(f"{namespace_of(state)}_auth")
        self.auth_pids = fleet_pids(state)["auth"]

    async def settle(self) -> None:
        await self.statements.until_quiet(AUDIT_TABLES)

    async def measure(self, label: str, load: Awaitable[list[int]]) -> None:
        before = await chain_length(self.client, self.admin)
        self.statements.read()  # not the verification's own reads
        cpu = cpu_seconds(self.auth_pids)
        began = time.perf_counter()
        audited = await load
        elapsed = time.perf_counter() - began
        counts = await self.statements.until_quiet(AUDIT_TABLES)
        drained = self.statements.last_activity - began
        cpu = cpu_seconds(self.auth_pids) - cpu
        after = await chain_length(self.client, self.admin)
        self.statements.read()
        entries = len(audited)
        assert after - before == entries, (before, after, entries)
        audit = {k: v for k, v in counts.items() if k[0] in AUDIT_TABLES}
        other = sum(v for k, v in counts.items() if k[0] not in AUDIT_TABLES)
        if not audit:
            print("\nno statement logged: is log_min_duration_statement = 0 on?")
            return
        calls = audit.get(("audit_heads", "UPDATE"), 0)
        print(
            f"\n{label}: {entries} audited requests in {elapsed:.1f} s "
            f"({entries / elapsed:.0f}/s); the last appended about {drained:.1f} s after the "
            "start (±0.3 s); all in the chain, which verifies"
        )
        print(
            f"  audit statements per audited request: {sum(audit.values()) / entries:.2f}  "
            f"(appends: {calls}, {entries / max(calls, 1):.1f} entries each; auth CPU "
            f"{cpu / entries * 1000:.2f} ms per request; other auth statements: {other})"
        )
        for (table, verb), count in sorted(audit.items()):
            print(f"    {table:14} {verb:7} {count / entries:6.2f}")


async def run(
    base: str,
    email: str,
    state: Path,
    loans: int,
    total: int,
    concurrencies: list[int],
    burst: int,
) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        print(f"setting up {loans} active loans...", flush=True)
        loan_ids, agent, admin = await setup(client, email, loans)
        phases = Phases(client, admin, state)
        await phases.settle()
        done = 0
        for concurrency in concurrencies:
            numbers = range(done, done + total)
            done += total
            await phases.measure(
                f"repayments at concurrency {concurrency}",
                repay(client, loan_ids, agent, numbers, concurrency),
            )
        if burst:
            await phases.measure(
                f"burst of {burst} branch creations at concurrency 64",
                create_branches(client, admin, range(burst), 64),
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--loans", type=int, default=32)
    parser.add_argument("--repayments", type=int, default=300)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 32])
    parser.add_argument("--burst", type=int, default=300, help="0: no burst phase")
    args = parser.parse_args()
    if not PG_LOG.exists():
        # `make bench` runs every benchmark: this one only where the statement log is.
        print(f"skipped: no PostgreSQL statement log at {PG_LOG} (set KOPA_POSTGRESQL_LOG)")
        return
    run_with_fleet(
        lambda url, email, state: run(
            url, email, state, args.loans, args.repayments, args.concurrency, args.burst
        )
    )


if __name__ == "__main__":
    main()
