"""Login cost: the argon2id verification in-process, then logins per second through the whole
path (HTTP → gateway → auth_service → argon2 in a worker thread → MongoDB wire and Redis).

    python bench/bench_login.py [--verifies 40] [--users 64] [--logins 600] [--concurrency 8]

In-process: CPU and wall time of one `PasswordHasher.verify` (a login's password check) and
one `hash` (creating a user, changing a password) with the production parameters
(`auth_service.domain.passwords.ARGON2_PARAMETERS`), best of a few rounds. Through the
gateway: a fleet of its own (as bench_repayments.py starts it), `--users` staff accounts
logging in round robin, so concurrent logins rarely race for one account's lockout counters
(a race costs the loser a second verification). Every login comes from this one address, so
the gateway's per-address login limit is raised for the run; the failed-login throttle is
untouched (every login here succeeds).
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from collections.abc import Awaitable
from dataclasses import asdict
from pathlib import Path

import httpx
from bench_repayments import PASSWORD, closed_loop, run_with_fleet, setup

from auth_service.domain.passwords import ARGON2_PARAMETERS, PasswordHasher


def argon2_costs(rounds: int) -> dict[str, tuple[float, float]]:
    """(CPU ms, wall ms) per verify and per hash: the best round of `rounds`."""
    hasher = PasswordHasher()
    stored = hasher.hash(PASSWORD)
    costs: dict[str, tuple[float, float]] = {}
    for name, call in (
        ("verify", lambda: hasher.verify(stored, PASSWORD)),
        ("hash", lambda: hasher.hash(PASSWORD)),
    ):
        best_cpu = best_wall = float("inf")
        for _ in range(rounds):
            cpu, wall = time.process_time(), time.perf_counter()
            call()
            best_cpu = min(best_cpu, (time.process_time() - cpu) * 1000)
            best_wall = min(best_wall, (time.perf_counter() - wall) * 1000)
        costs[name] = (best_cpu, best_wall)
    return costs


async def run_logins(
    base: str, email: str, users: int, total: int, concurrency: int, state: Path
) -> None:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as client:
        print(f"creating {users} staff accounts...", flush=True)
        _, _, admin = await setup(client, email, 0)
        emails = [f"auditor-{n}@bench.test" for n in range(users)]
        for address in emails:
            reply = await client.post(
                "/v1/users",
                headers=admin,
                json={
                    "email": address,
                    "full_name": "Bench auditor",
                    "role": "auditor",
                    "password": PASSWORD,
                },
            )
            assert reply.status_code == 201, reply.text

        def login(i: int) -> Awaitable[httpx.Response]:
            return client.post(
                "/v1/auth/login", json={"email": emails[i % users], "password": PASSWORD}
            )

        await closed_loop("logins", total, concurrency, state, login, expected=200)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--verifies", type=int, default=40, help="in-process rounds")
    parser.add_argument("--users", type=int, default=64)
    parser.add_argument("--logins", type=int, default=600)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()

    params = ", ".join(f"{k}={v}" for k, v in asdict(ARGON2_PARAMETERS).items())
    print(f"python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs")
    print(f"argon2id {params} (memory_cost in KiB)")
    costs = argon2_costs(args.verifies)
    print(f"best of {args.verifies} rounds:")
    for name, (cpu, wall) in costs.items():
        print(f"in-process {name:6}  {cpu:6.1f} ms CPU  {wall:6.1f} ms wall")
    ceiling = (os.cpu_count() or 1) * 1000 / costs["verify"][0]
    print(f"ceiling from argon2 alone on every CPU: {ceiling:.0f} logins/s\n", flush=True)

    # One client address for every login: lift the per-address limit, not the throttle.
    os.environ["LOGIN_RATE_LIMIT_PER_MINUTE"] = str(10 * args.logins)
    run_with_fleet(
        lambda url, email, state: run_logins(
            url, email, args.users, args.logins, args.concurrency, state
        )
    )


if __name__ == "__main__":
    main()
