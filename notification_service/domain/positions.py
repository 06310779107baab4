"""The read model of loans this service keeps from loan events: where each loan stands and
its schedule, enough to remind borrowers of what falls due and to judge arrears alerts
without asking loan_service."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal

from notification_service.domain.facts import Installment, LoanFact


@dataclass(frozen=True)
class LoanPosition:
    loan_id: str
    institution_id: str
    branch_id: str
    borrower_id: str
    currency: str
    status: str
    version: int
    outstanding: Decimal
    outstanding_principal: Decimal
    days_past_due: int
    oldest_unpaid_due_date: date | None
    installments: tuple[Installment, ...]
    principal: Decimal | None = None

    def apply(self, fact: LoanFact) -> LoanPosition:
        """The position after a newer event (the caller drops older ones): its figures, and
        the installments it changed merged into the schedule held."""
        by_number = {i.number: i for i in self.installments}
        for changed in fact.changed_installments:
            by_number[changed.number] = changed
        kept = tuple(by_number[n] for n in sorted(by_number) if n <= max(fact.installment_count, 0))
        principal = fact.details.get("principal", self.principal)
        return replace(
            self,
            branch_id=fact.event.branch_id or self.branch_id,
            status=fact.status,
            version=fact.version,
            outstanding=fact.outstanding,
            outstanding_principal=fact.outstanding_principal,
            days_past_due=fact.days_past_due,
            oldest_unpaid_due_date=fact.oldest_unpaid_due_date,
            installments=kept,
            principal=principal,
        )

    def due_on(self, day: date) -> list[Installment]:
        """The installments falling due on `day` with something left to pay."""
        return [i for i in self.installments if i.due_date == day and i.unpaid > 0]

    def days_past_due_on(self, day: date) -> int:
        """Days past due as of `day` (the stored count is as of the last event; the days
        since pass without one)."""
        if self.oldest_unpaid_due_date is None or self.status != "active":
            return 0
        return max(0, (day - self.oldest_unpaid_due_date).days)

    def overdue_on(self, day: date) -> Decimal:
        return sum((i.unpaid for i in self.installments if i.due_date < day), Decimal(0))

    def unpaid_due_dates(self) -> list[date]:
        return sorted({i.due_date for i in self.installments if i.unpaid > 0})


def new_position(fact: LoanFact) -> LoanPosition:
    empty = LoanPosition(
        loan_id=fact.loan_id,
        institution_id=fact.event.institution_id,
        branch_id=fact.event.branch_id,
        borrower_id=fact.borrower_id,
        currency=fact.currency,
        status=fact.status,
        version=0,
        outstanding=Decimal(0),
        outstanding_principal=Decimal(0),
        days_past_due=0,
        oldest_unpaid_due_date=None,
        installments=(),
    )
    return empty.apply(fact)


def reminder_date(business_date: date, days_before: int) -> date:
    """The due date whose reminders go out after the close of `business_date`."""
    return business_date + timedelta(days=days_before)
