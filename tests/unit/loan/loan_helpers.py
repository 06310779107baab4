"""Shared builders for the loan domain tests (imported as a plain module)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from loan_service.domain.products import (
    Amortization,
    DaysInYear,
    InterestMethod,
    LoanProduct,
    RepaymentFrequency,
)

D = Decimal


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
