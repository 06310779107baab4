"""Scorecard evaluation throughput, in process, on one core.

    .venv/bin/python bench/bench_scorecard.py [--applicants 50000] [--seed 1]

Builds a 30-rule scorecard (comparisons, arithmetic, membership, functions, null tests),
compiles it once, then scores randomly generated applicants (about 10% of values missing,
money as decimal strings as it arrives in JSON). Prints applicants per second and the
p50/p99/max latency of one evaluation. Goal: >= 5,000 applicants/s per core.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scoring_service.domain.scorecard import (
    ScorecardVersion,
    build_version,
    compile_version,
    evaluate,
)

GOAL_PER_SECOND = 5_000

RULES: list[dict[str, Any]] = [
    {"name": "income high", "when": "borrower.monthly_income >= 1500", "points": 60},
    {"name": "income mid", "when": "between(borrower.monthly_income, 500, 1499.99)", "points": 30},
    {"name": "income low", "when": "borrower.monthly_income < 200", "points": -50},
    {"name": "no income", "when": "borrower.monthly_income == null", "points": -40},
    {"name": "young", "when": "borrower.age < 23", "points": -20},
    {"name": "prime age", "when": "borrower.age >= 30 and borrower.age <= 55", "points": 25},
    {"name": "senior", "when": "borrower.age > 65", "points": -10},
    {"name": "household", "when": "borrower.household_size > 7", "points": -15},
    {
        "name": "income per head",
        "when": "borrower.monthly_income / max(borrower.household_size, 1) >= 150",
        "points": 20,
    },
    {"name": "trade", "when": "borrower.business_type in ['retail', 'services']", "points": 15},
    {"name": "farming", "when": "borrower.business_type == 'agriculture'", "points": -5},
    {"name": "established", "when": "borrower.years_in_business >= 3", "points": 20},
    {"name": "startup", "when": "borrower.years_in_business < 1", "points": -25},
    {
        "name": "affordable",
        "when": "loan.installment_amount / borrower.monthly_income <= 0.3",
        "points": 40,
    },
    {
        "name": "stretched",
        "when": "loan.installment_amount / borrower.monthly_income > 0.5",
        "points": -60,
    },
    {
        "name": "big loan",
        "when": "loan.principal > 12 * borrower.monthly_income",
        "points": -45,
    },
    {"name": "short term", "when": "loan.term <= 12", "points": 10},
    {"name": "long term", "when": "loan.term > 36", "points": -15},
    {
        "name": "productive",
        "when": "loan.purpose in ['working_capital', 'inventory', 'equipment']",
        "points": 20,
    },
    {"name": "consumption", "when": "loan.purpose == 'consumption'", "points": -20},
    {"name": "never late", "when": "history.max_days_past_due == 0", "points": 50},
    {"name": "late", "when": "history.max_days_past_due > 30", "points": -120},
    {"name": "very late", "when": "history.max_days_past_due > 90", "points": -150},
    {"name": "repeat", "when": "history.loans_repaid >= 2", "points": 35},
    {
        "name": "loyal",
        "when": "min(history.loans_repaid, 10) * 5 - history.open_loans * 10 > 20",
        "points": 15,
    },
    {"name": "written off", "when": "history.loans_written_off > 0", "points": -300},
    {"name": "many open", "when": "history.open_loans >= 3", "points": -40},
    {"name": "group", "when": "group.is_member and group.size >= 5", "points": 30},
    {"name": "large group", "when": "group.is_member and group.size > 30", "points": -10},
    {"name": "individual", "when": "not group.is_member", "points": -5},
]
CUTOFFS = {"AA": 800, "A": 650, "B": 550, "C": 450}


def scorecard() -> ScorecardVersion:
    assert len(RULES) == 30
    return build_version(
        scorecard_id="bench", number=1, base_score=500, rules=RULES, cutoffs=CUTOFFS
    )


def applicant(rng: random.Random) -> dict[str, Any]:
    def maybe(value: Any) -> Any:
        return None if rng.random() < 0.1 else value

    income = rng.lognormvariate(6.5, 0.7)
    return {
        "borrower": {
            "monthly_income": maybe(f"{income:.2f}"),
            "age": maybe(rng.randint(18, 75)),
            "household_size": maybe(rng.randint(1, 10)),
            "gender": maybe(rng.choice(["female", "male"])),
            "business_type": maybe(
                rng.choice(["retail", "services", "agriculture", "manufacturing"])
            ),
            "years_in_business": maybe(rng.randint(0, 20)),
        },
        "loan": {
            "principal": maybe(f"{rng.randint(100, 20000)}.00"),
            "term": maybe(rng.choice([6, 12, 18, 24, 36, 48])),
            "installment_amount": maybe(f"{income * rng.uniform(0.05, 0.8):.2f}"),
            "purpose": maybe(
                rng.choice(["working_capital", "inventory", "equipment", "consumption"])
            ),
        },
        "history": {
            "max_days_past_due": maybe(rng.choice([0, 0, 0, 3, 10, 31, 45, 120])),
            "loans_repaid": maybe(rng.randint(0, 8)),
            "loans_written_off": maybe(rng.choice([0] * 19 + [1])),
            "open_loans": maybe(rng.randint(0, 4)),
        },
        "group": {"is_member": maybe(rng.random() < 0.7), "size": maybe(rng.randint(3, 40))},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--applicants", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    rng = random.Random(args.seed)
    applicants = [applicant(rng) for _ in range(args.applicants)]
    version = scorecard()

    started = time.perf_counter()
    compiled = compile_version(version)
    compile_ms = (time.perf_counter() - started) * 1000

    for document in applicants[:1000]:  # warm-up
        compiled.evaluate(document)

    # Throughput: the public entry point (cache lookup by version included), no timers inside.
    started = time.perf_counter()
    for document in applicants:
        evaluate(version, document)
    elapsed = time.perf_counter() - started
    per_second = len(applicants) / elapsed

    # Latency of single evaluations.
    clock = time.perf_counter_ns
    latencies = []
    for document in applicants:
        t0 = clock()
        evaluate(version, document)
        latencies.append(clock() - t0)
    latencies.sort()
    p50 = latencies[len(latencies) // 2] / 1000
    p99 = latencies[int(len(latencies) * 0.99)] / 1000
    worst = latencies[-1] / 1000
    mean = statistics.fmean(latencies) / 1000

    scores = [evaluate(version, d).score for d in applicants[:5000]]
    print(f"scorecard: {len(version.rules)} rules, compiled once in {compile_ms:.1f} ms")
    print(
        f"applicants: {len(applicants)} (about 10% of values missing), "
        f"Python {sys.version.split()[0]}"
    )
    print(f"throughput: {per_second:,.0f} applicants/s on one core (goal >= {GOAL_PER_SECOND:,})")
    print(
        f"latency per evaluation: mean {mean:.1f} us, p50 {p50:.1f} us, "
        f"p99 {p99:.1f} us, max {worst:.1f} us"
    )
    print(f"score range seen: {min(scores)}..{max(scores)}")
    return 0 if per_second >= GOAL_PER_SECOND else 1


if __name__ == "__main__":
    sys.exit(main())
