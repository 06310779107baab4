"""Latency of `POST /v1/loans/{id}/score` through the gateway (gateway → loan_service →
user_service + scoring_service → MongoDB wire), with a published 30-rule scorecard.

    python bench/bench_score_call.py [--loans 20] [--calls 400] [--concurrency 4]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path

import httpx
from bench_repayments import PASSWORD, run_with_fleet, setup

RULES = [
    {"name": f"income band {n}", "when": f"borrower.monthly_income >= {1000 * n}", "points": 10}
    for n in range(1, 21)
] + [{"name": f"term {n}", "when": f"loan.term <= {10 * n}", "points": 5} for n in range(1, 11)]


async def measure(url: str, email: str, loans: int, calls: int, concurrency: int) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        loan_ids, _, admin = await setup(client, email, loans)
        risk = {
            "email": "risk@bench.test",
            "full_name": "Risk",
            "role": "risk_officer",
            "password": PASSWORD,
        }
        assert (await client.post("/v1/users", json=risk, headers=admin)).status_code == 201
        token = (
            await client.post("/v1/auth/login", json={"email": risk["email"], "password": PASSWORD})
        ).json()["access_token"]
        officer = {"Authorization": f"Bearer {token}"}
        card = await client.post(
            "/v1/scorecards",
            headers=officer,
            json={"name": "Bench 30 rules", "base_score": 400, "rules": RULES},
        )
        assert card.status_code == 201, card.text
        published = await client.post(
            f"/v1/scorecards/{card.json()['id']}/publish", headers=officer
        )
        assert published.status_code == 200, published.text
        latencies: list[float] = []
        queue: asyncio.Queue[int] = asyncio.Queue()
        for i in range(calls):
            queue.put_nowait(i)

        async def worker() -> None:
            while not queue.empty():
                i = queue.get_nowait()
                started = time.perf_counter()
                reply = await client.post(
                    f"/v1/loans/{loan_ids[i % len(loan_ids)]}/score", headers=officer
                )
                latencies.append(time.perf_counter() - started)
                assert reply.status_code == 200, reply.text

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - began
    ordered = sorted(latencies)
    pct = {
        q: ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 for q in (0.5, 0.9, 0.99)
    }
    print(
        f"\nscore calls: {calls} in {elapsed:.1f} s -> {calls / elapsed:.0f}/s at "
        f"concurrency {concurrency}"
    )
    print(
        f"latency ms: p50 {pct[0.5]:.1f}  p90 {pct[0.9]:.1f}  p99 {pct[0.99]:.1f}  "
        f"max {ordered[-1] * 1000:.1f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--loans", type=int, default=20)
    parser.add_argument("--calls", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()

    async def load(url: str, email: str, _: Path) -> None:
        await measure(url, email, args.loans, args.calls, args.concurrency)

    run_with_fleet(load)


if __name__ == "__main__":
    main()
