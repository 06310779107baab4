"""What payment_service knows of a loan: where it lives (``LoanView``) and what the loan
service did with a payment (``Applied``). Plain values; the adapters fill them from the
loan service's answers and events."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

ALLOCATION_PARTS = ("principal", "interest", "fees", "penalties", "overpayment")
OUTSTANDING_PARTS = ("principal", "interest", "fees", "penalties", "total")


def _decimal(text: str) -> Decimal:
    return Decimal(text) if text else Decimal(0)


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
    ``loan.repayment_applied`` event)."""

    allocation: dict[str, str]
    outstanding: dict[str, str]
    loan_status: int
    institution_id: str = ""
    branch_id: str = ""
    currency: str = ""

    def part(self, name: str) -> Decimal:
        return _decimal(self.allocation.get(name, ""))


@dataclass(frozen=True)
class LoanSnapshot:
    """The loan as a loan event shows it (amounts as the loan service's decimal strings)."""

    id: str
    institution_id: str
    branch_id: str
    borrower_id: str
    status: str  # "active", "closed"...
    currency: str
    version: int = 0
    principal: str = ""
    disbursement_date: str = ""
    outstanding_principal: str = ""
    written_off_principal: str = ""
    # The reason each reversed repayment was reversed for, by payment id.
    reversal_reasons: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class LoanEventData:
    """What payment_service reads of a ``loan.*`` event."""

    routing_key: str
    institution_id: str  # the loan's, else the event's
    branch_id: str  # the event's
    aggregate_version: int
    occurred_at_ms: int  # 0 when the event says not when
    loan: LoanSnapshot
    payment_id: str = ""
    applied: Applied | None = None
    disbursed_net: str = ""
    fees_deducted: str = ""
    channel: str = ""
    business_date: str = ""
