"""Repayment schedule generation throughput, in process, on one core.

    .venv/bin/python bench/bench_schedule.py [--loans 5000] [--repeats 5]

For each product shape, generates schedules for ``--loans`` loans with varied principals
and disbursement dates (spread over two years, so month lengths, leap days and year ends
vary) and prints schedules per second (best and median of ``--repeats`` runs) and the mean
time per schedule. Products memoise period rates per product; the "cold" line clears that
memo before every schedule to show the worst case. Goal: >= 20,000 schedules/s for the
12-installment monthly declining-balance loan.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from loan_service.domain.products import (
    Amortization,
    ChargeCalculation,
    DaysInYear,
    FeeTreatment,
    InterestMethod,
    LoanProduct,
    RepaymentFrequency,
    UpfrontFee,
)
from loan_service.domain.schedule import generate_schedule

GOAL_PER_SECOND = 20_000


def product(**changes: Any) -> LoanProduct:
    values: dict[str, Any] = {
        "name": "bench",
        "currency": "KES",
        "interest_method": InterestMethod.DECLINING_BALANCE,
        "amortization": Amortization.EQUAL_INSTALLMENTS,
        "annual_interest_rate": Decimal("18.5"),
        "repayment_frequency": RepaymentFrequency.MONTHLY,
        "min_principal": Decimal("100"),
        "max_principal": Decimal("100000000"),
        "min_term": 1,
        "max_term": 120,
        "days_in_year": DaysInYear.DAYS_360,
    }
    values.update(changes)
    return LoanProduct(**values)


SHAPES: list[tuple[str, LoanProduct, int, bool]] = [
    ("monthly declining annuity, 12, 30/360", product(), 12, False),
    ("monthly declining annuity, 12, 30/360 (cold)", product(), 12, True),
    (
        "monthly declining annuity, 12, actual/365",
        product(days_in_year=DaysInYear.DAYS_365),
        12,
        False,
    ),
    (
        "monthly declining annuity, 12, actual/actual",
        product(days_in_year=DaysInYear.ACTUAL),
        12,
        False,
    ),
    (
        "monthly declining annuity, 12, actual/actual (cold)",
        product(days_in_year=DaysInYear.ACTUAL),
        12,
        True,
    ),
    (
        "monthly equal principal, 24, 2 grace",
        product(amortization=Amortization.EQUAL_PRINCIPAL, grace_on_principal=2, min_term=3),
        24,
        False,
    ),
    (
        "weekly flat, 26, fees",
        product(
            interest_method=InterestMethod.FLAT,
            repayment_frequency=RepaymentFrequency.WEEKLY,
            days_in_year=DaysInYear.DAYS_365,
            installment_fee=Decimal("20"),
            upfront_fee=UpfrontFee(ChargeCalculation.PERCENT, Decimal("2"), FeeTreatment.DEDUCTED),
        ),
        26,
        False,
    ),
    (
        "UGX annuity in 100s, 36, actual/365",
        product(
            currency="UGX",
            currency_decimals=0,
            rounding_multiple=Decimal("100"),
            days_in_year=DaysInYear.DAYS_365,
        ),
        36,
        False,
    ),
]


def run(loans: int, repeats: int, seed: int) -> bool:
    rng = random.Random(seed)
    dates = [date(2024, 1, 1) + timedelta(days=rng.randrange(730)) for _ in range(loans)]
    amounts = [Decimal(rng.randrange(1_000, 500_000)) for _ in range(loans)]
    ok = True
    print(f"{'shape':54s} {'best/s':>9s} {'median/s':>9s} {'us/schedule':>12s}")
    for name, shape, term, cold in SHAPES:
        scale = 100 if shape.currency == "UGX" else 1
        inputs = [(amount * scale, start) for amount, start in zip(amounts, dates, strict=True)]
        rates = []
        for _ in range(repeats):
            started = time.perf_counter()
            if cold:
                memo = shape._cache
                for principal, start in inputs:
                    memo.clear()
                    generate_schedule(shape, principal, term, start)
            else:
                for principal, start in inputs:
                    generate_schedule(shape, principal, term, start)
            rates.append(loans / (time.perf_counter() - started))
        best, median = max(rates), statistics.median(rates)
        print(f"{name:54s} {best:9,.0f} {median:9,.0f} {1e6 / best:12.1f}")
        if name == SHAPES[0][0]:
            ok = best >= GOAL_PER_SECOND
    verdict = "meets" if ok else "MISSES"
    print(f"goal: >= {GOAL_PER_SECOND:,} schedules/s for the first shape: {verdict}")
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loans", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    sys.exit(0 if run(args.loans, args.repeats, args.seed) else 1)


if __name__ == "__main__":
    main()
