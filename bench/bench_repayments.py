"""Repayments through the whole path: HTTP → gateway → gRPC → payment → loan → MongoDB wire →
events. Starts its own fleet (own namespace and ports) on the local servers, sets up an
institution with many active loans, then posts repayments at a fixed concurrency and prints
throughput, latency percentiles and CPU per repayment across every process involved.

    python bench/bench_repayments.py [--loans 200] [--repayments 4000] [--concurrency 64]
                                     [--profile DIR [--profile-seconds 15]]

With `--profile DIR`, py-spy samples every service and the gateway for the first
`--profile-seconds` of the load (see bench/profiling.py) and the top frames of each are
printed after the figures; sampling costs CPU, so take the figures from a run without it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
from profiling import print_top_frames, start_py_spy

from shared import statement_counts

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "Bench-Password-123"
SERVER_PROCESSES = ("kopa-ferretdb", "postgres", "beam.smp", "redis-server")


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU of `pids`, with that of their children that have exited: a server
    whose workers come and go (PostgreSQL's backends) keeps their CPU in its own count once
    they end, so re-reading its processes later (`pids_matching`) loses nothing."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += sum(int(f) for f in fields[11:15]) / tick  # utime stime cutime cstime
    return total


def pids_matching(names: tuple[str, ...]) -> dict[str, list[int]]:
    found: dict[str, list[int]] = {n: [] for n in names}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        for name in names:
            if name in cmd:
                found[name].append(int(entry.name))
    return found


def fleet_pids(state: Path) -> dict[str, list[int]]:
    pids = {}
    for pid_file in (state / "run").glob("*.pid"):
        pid = int(pid_file.read_text())
        # The fleet starts each process in its own session: count its children too.
        children = subprocess.run(["pgrep", "-s", str(pid)], capture_output=True, text=True)
        pids[pid_file.stem] = [int(p) for p in children.stdout.split()] or [pid]
    return pids


async def setup(
    client: httpx.AsyncClient, email: str, loans: int
) -> tuple[list[str], dict[str, str], dict[str, str]]:
    async def post(path: str, body: dict, headers: dict) -> dict:
        reply = await client.post(path, json=body, headers=headers)
        assert reply.status_code in (200, 201), (path, reply.text)
        return dict(reply.json())

    async def login(user: str) -> dict:
        reply = await client.post("/v1/auth/login", json={"email": user, "password": PASSWORD})
        assert reply.status_code == 200, reply.text
        return {"Authorization": f"Bearer {reply.json()['access_token']}"}

    platform = await login(email)
    inst = await post("/v1/institutions", {"name": "Bench MFI", "currency": "KES"}, platform)
    await post(
        "/v1/users",
        {
            "email": "admin@bench.test",
            "full_name": "Admin",
            "role": "admin",
            "password": PASSWORD,
            "institution_id": inst["id"],
        },
        platform,
    )
    admin = await login("admin@bench.test")
    branch = await post("/v1/branches", {"name": "Main"}, admin)
    for role in ("agent", "branch_manager"):
        await post(
            "/v1/users",
            {
                "email": f"{role}@bench.test",
                "full_name": role,
                "role": role,
                "password": PASSWORD,
                "branch_id": branch["id"],
            },
            admin,
        )
    agent, manager = await login("agent@bench.test"), await login("branch_manager@bench.test")
    product = await post(
        "/v1/loan-products",
        {
            "name": "Bench",
            "interest_method": "declining_balance",
            "amortization": "equal_installments",
            "annual_interest_rate": "24",
            "repayment_frequency": "weekly",
            "min_principal": "1000",
            "max_principal": "1000000",
            "min_term": 4,
            "max_term": 104,
        },
        admin,
    )
    start = (date.today() - timedelta(days=7)).isoformat()
    ids = []
    for n in range(loans):
        borrower = await post(
            "/v1/borrowers",
            {
                "first_name": "Bench",
                "last_name": f"Borrower {chr(65 + n % 26)}{chr(65 + n // 26 % 26)}",
                "national_id": f"B{n:09d}",
                "phone": f"+2547{20000000 + n:08d}",
                "date_of_birth": "1990-01-01",
                "branch_id": branch["id"],
            },
            agent,
        )
        loan = await post(
            "/v1/loans",
            {
                "borrower_id": borrower["id"],
                "product_id": product["id"],
                "principal": "500000.00",
                "term": 104,
            },
            agent,
        )
        await post(f"/v1/loans/{loan['id']}/approve", {}, manager)
        await post(f"/v1/loans/{loan['id']}/disburse", {"disbursement_date": start}, manager)
        ids.append(loan["id"])
    return ids, agent, admin


async def closed_loop(
    what: str,
    total: int,
    concurrency: int,
    state: Path,
    send: Callable[[int], Awaitable[httpx.Response]],
    expected: int,
) -> None:
    """Sends request ``send(i)`` for i in range(total) from ``concurrency`` workers, each
    sending its next request when the last one was answered, then prints throughput,
    latency percentiles and the CPU per request of every fleet and server process."""
    latencies: list[float] = []
    failures: list[str] = []
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(total):
        queue.put_nowait(i)

    async def worker() -> None:
        while not queue.empty():
            i = queue.get_nowait()
            started = time.perf_counter()
            reply = await send(i)
            latencies.append(time.perf_counter() - started)
            if reply.status_code != expected:
                failures.append(f"{reply.status_code} {reply.text[:200]}")

    watched = {**fleet_pids(state), **pids_matching(SERVER_PROCESSES)}
    statements_dir = state / "statements"
    await asyncio.sleep(2 * statement_counts.FLUSH_SECONDS)  # the set-up's last flush
    statements_before = statement_counts.totals(statements_dir)
    cpu_before = {k: cpu_seconds(v) for k, v in watched.items()}
    print(f"sending {total} {what} at concurrency {concurrency}...", flush=True)
    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - began
    # Read again: processes started meanwhile count, those that ended are in their parent's.
    watched = {**fleet_pids(state), **pids_matching(SERVER_PROCESSES)}
    cpu_after = {k: cpu_seconds(v) for k, v in watched.items()}
    # Relays and consumers finish the requests' events after the answers: wait for them.
    await asyncio.sleep(3)
    statements_after = statement_counts.totals(statements_dir)

    ordered = sorted(latencies)
    pct = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000  # noqa: E731
    print(
        f"\n{what}: {total} ({len(failures)} failed) in {elapsed:.1f} s -> {total / elapsed:.1f}/s"
    )
    print(
        f"latency ms: p50 {pct(0.50):.1f}  p90 {pct(0.90):.1f}  p99 {pct(0.99):.1f}  "
        f"max {ordered[-1] * 1000:.1f}  mean {statistics.mean(latencies) * 1000:.1f}"
    )
    spent = {k: cpu_after[k] - cpu_before[k] for k in watched}
    print(
        f"CPU per request: {sum(spent.values()) / total * 1000:.2f} ms across all processes "
        "(excluding this load generator)"
    )
    for name, seconds in sorted(spent.items(), key=lambda kv: -kv[1]):
        print(f"  {name:16} {seconds / total * 1000:6.2f} ms")
    print_statements(statements_before, statements_after, total)
    if failures:
        print("first failures:", *failures[:5], sep="\n  ")


def print_statements(
    before: dict[str, Counter[str]], after: dict[str, Counter[str]], total: int
) -> None:
    """Statements sent on the MongoDB wire per request, by process and by command, counted
    by each process's PyMongo command listener (shared/statement_counts.py)."""
    spent = {app: after[app] - before.get(app, Counter()) for app in after}
    overall = sum((sum(c.values()) for c in spent.values()), 0)
    print(f"MongoDB-wire statements per request: {overall / total:.2f} (all processes)")
    for app, commands in sorted(spent.items(), key=lambda kv: -sum(kv[1].values())):
        if commands:
            detail = ", ".join(f"{name} {n / total:.2f}" for name, n in commands.most_common())
            print(f"  {app:20} {sum(commands.values()) / total:6.2f}  ({detail})")


SAMPLED = ("gateway", "payment", "loan", "reporting", "scoring", "auth")


async def run_load(
    base: str,
    email: str,
    loans: int,
    total: int,
    concurrency: int,
    state: Path,
    profile: tuple[Path, int] | None = None,
) -> None:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as client:
        print(f"setting up {loans} active loans...", flush=True)
        loan_ids, agent, _ = await setup(client, email, loans)
        paid_on = date.today().isoformat()

        def repay(i: int) -> Awaitable[httpx.Response]:
            return client.post(
                f"/v1/loans/{loan_ids[i % len(loan_ids)]}/repayments",
                json={"amount": "10.00", "paid_on": paid_on},
                headers={**agent, "Idempotency-Key": f"bench-{i}"},
            )

        spies = []
        if profile is not None:
            spies = start_py_spy(state, profile[0], profile[1], SAMPLED)
            await asyncio.sleep(2)  # let py-spy attach
        await closed_loop("repayments", total, concurrency, state, repay, expected=201)
        if profile is not None:
            for spy in spies:
                await asyncio.to_thread(spy.wait)
            print_top_frames(profile[0], SAMPLED, count=8)


def run_with_fleet(load: Callable[[str, str, Path], Coroutine[Any, Any, None]]) -> None:
    """Starts a fleet of its own (own namespace and ports), runs `load(url, email, state)`."""
    state = Path(f"/tmp/kopa-bench-{secrets.token_hex(3)}")
    namespace = f"bench{secrets.token_hex(3)}"
    # Own ports too, so that two benchmarks (or a bench and `make up`) never share a fleet.
    gateway_port = 18900 + secrets.randbelow(90)
    # Below the ephemeral range, where outgoing connections cannot have taken it.
    port_base = 28000 + 10 * secrets.randbelow(80)
    email = "platform@bench.test"
    env = {
        **os.environ,
        "KOPA_BOOTSTRAP_EMAIL": email,
        "KOPA_BOOTSTRAP_PASSWORD": PASSWORD,
        "LOG_LEVEL": "warning",
        statement_counts.ENV: str(state / "statements"),
    }
    fleet = [
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
    subprocess.run([*fleet, "up"], env=env, check=True)
    try:
        asyncio.run(load(f"http://127.0.0.1:{gateway_port}", email, state))
    finally:
        subprocess.run([*fleet, "down", "--forget-broker"], env=env, check=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--loans", type=int, default=100)
    parser.add_argument("--repayments", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=48)
    parser.add_argument("--profile", type=Path, help="sample the processes with py-spy")
    parser.add_argument("--profile-seconds", type=int, default=15)
    args = parser.parse_args()
    profile = (args.profile, args.profile_seconds) if args.profile else None
    # One agent posts every repayment: lift the per-principal limit (600 a minute).
    os.environ["RATE_LIMIT_PER_MINUTE"] = str(100 * args.repayments)
    run_with_fleet(
        lambda url, email, state: run_load(
            url, email, args.loans, args.repayments, args.concurrency, state, profile
        )
    )


if __name__ == "__main__":
    main()
