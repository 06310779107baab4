"""What payment_service knows of a loan: where it lives (``LoanView``) and what the loan
service did with a payment (``Applied``). Plain values; the adapters fill them from the
loan service's answers and events."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

ALLOCATION_PARTS = ("principal", "interest", "fees", "penalties", "overpayment")
OUTSTANDING_PARTS = ("principal", "interest", "fees", "penalties", "total")
ZERO = Decimal(0)


@dataclass(frozen=True)
class LoanView:
    loan_id: str
    institution_id: str
    branch_id: str
    borrower_id: str
    status: str  # "active", "closed"...
    currency: str


@dataclass(frozen=True)
class Applied:
    """What the loan service did with a payment (ApplyRepayment's answer, or the
    ``loan.repayment_applied`` event): the split of the payment (``ALLOCATION_PARTS``) and
    what the loan owed after it (``OUTSTANDING_PARTS``), exact amounts of ``currency``."""

    allocation: Mapping[str, Decimal]
    outstanding: Mapping[str, Decimal]
    loan_status: int
    institution_id: str = ""
    branch_id: str = ""
    currency: str = ""

    def part(self, name: str) -> Decimal:
        return self.allocation.get(name, ZERO)


@dataclass(frozen=True)
class LoanPosition:
    """Where the loan stands after the change a loan event reports."""

    id: str
    institution_id: str
    branch_id: str
    borrower_id: str
    status: str  # "active", "closed"...
    currency: str
    outstanding_principal: Decimal = Decimal(0)


@dataclass(frozen=True)
class LoanEventData:
    """What payment_service reads of a ``loan.*`` event (amounts exact, dates as dates: the
    adapter converted them once)."""

    routing_key: str
    institution_id: str  # the loan's, else the event's
    branch_id: str  # the event's
    aggregate_version: int
    occurred_at_ms: int  # 0 when the event says not when
    loan: LoanPosition
    payment_id: str = ""
    applied: Applied | None = None
    # ``loan.disbursed``: the contract principal, what was paid out and the fees deducted.
    principal: Decimal = Decimal(0)
    disbursed_net: Decimal | None = None
    fees_deducted: Decimal = Decimal(0)
    channel: str = ""
    # ``loan.written_off``: the principal written off.
    written_off_principal: Decimal | None = None
    # ``loan.repayment_reversed``: why.
    reversal_reason: str = ""
    # The business date of the change (None: the event names none).
    business_date: dt.date | None = None
