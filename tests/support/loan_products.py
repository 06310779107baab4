"""Builders for the loan domain's unit tests: products, and the textbook loan."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from loan_service.domain.products import (
    Amortization,
    DaysInYear,
    InterestMethod,
    LoanProduct,
    RepaymentFrequency,
)
from loan_service.domain.schedule import Schedule, generate_schedule
from loan_service.domain.state import LoanState

D = Decimal
START = date(2024, 1, 15)  # installments of 8,884.88 due on the 15th from Feb 15, 2024
LEVEL = D("8884.88")


def make_product(**changes: Any) -> LoanProduct:
    """A permissive declining-balance monthly 30/360 annuity product, 12% a year."""
    values: dict[str, Any] = {
        "name": "Test product",
        "currency": "KES",
        "interest_method": InterestMethod.DECLINING_BALANCE,
        "amortization": Amortization.EQUAL_INSTALLMENTS,
        "annual_interest_rate": D("12"),
        "repayment_frequency": RepaymentFrequency.MONTHLY,
        "min_principal": D("1"),
        "max_principal": D("100000000"),
        "min_term": 1,
        "max_term": 520,
        "days_in_year": DaysInYear.DAYS_360,
    }
    values.update(changes)
    if "min_term" not in changes:
        grace = max(changes.get("grace_on_principal", 0), changes.get("grace_on_interest", 0))
        values["min_term"] = grace + 1
    return LoanProduct(**values)


def textbook(**product_changes: Any) -> tuple[LoanProduct, Schedule, LoanState]:
    """100,000 over 12 months from START on make_product(**product_changes): its product,
    schedule and state."""
    product = make_product(**product_changes)
    schedule = generate_schedule(product, D("100000"), 12, START)
    return product, schedule, LoanState.from_schedule(schedule)
