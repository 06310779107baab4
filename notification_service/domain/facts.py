"""What the service learns from other services' events, decoded from their contracts by
`adapters.event_codec`: only what messages, alerts and webhooks need."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any


@dataclass(frozen=True)
class Installment:
    number: int
    due_date: date
    due: Decimal
    paid: Decimal

    @property
    def unpaid(self) -> Decimal:
        return self.due - self.paid


@dataclass(frozen=True)
class Event:
    """Any event: enough to route it and to deliver it to webhooks."""

    id: str
    type: str
    institution_id: str
    branch_id: str
    aggregate_id: str
    occurred_at: datetime
    #: Makes the public JSON of what happened (amounts as decimal strings, dates ISO): a
    #: webhook's `data`. Made only when an endpoint wants the event (most events go to none,
    #: and turning a message into JSON is the costliest part of reading it).
    payload: Callable[[], dict[str, Any]]

    @property
    def data(self) -> dict[str, Any]:
        return self.payload()


@dataclass(frozen=True)
class LoanFact:
    """A loan event: the loan's position after it and what happened."""

    event: Event
    loan_id: str
    borrower_id: str
    currency: str
    status: str
    version: int
    outstanding: Decimal
    outstanding_principal: Decimal
    days_past_due: int
    oldest_unpaid_due_date: date | None
    installment_count: int
    changed_installments: tuple[Installment, ...]
    #: By event type: principal, amount, paid_on, reason, disbursement_date, maturity_date,
    #: approved_on, business_date (amounts as Decimal, dates as date).
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PaymentFact:
    event: Event
    payment_id: str
    loan_id: str
    amount: Decimal
    currency: str


@dataclass(frozen=True)
class BusinessDayClosed:
    event: Event
    business_date: date
