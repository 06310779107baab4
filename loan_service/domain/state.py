"""The state of a disbursed loan: what each installment asks for and what has been paid.

A `LoanState` is derived, never edited by hand: it starts from a `Schedule` and changes
only through `allocation.apply_repayment` and `arrears.charge_penalties`, so it can always
be re-derived by replaying the repayments (`allocation.replay`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal

from .schedule import Schedule

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class Amounts:
    """A breakdown by component, e.g. what is outstanding or overdue."""

    principal: Decimal = ZERO
    interest: Decimal = ZERO
    fees: Decimal = ZERO
    penalties: Decimal = ZERO

    @property
    def total(self) -> Decimal:
        return self.principal + self.interest + self.fees + self.penalties

    def __add__(self, other: Amounts) -> Amounts:
        return Amounts(
            self.principal + other.principal,
            self.interest + other.interest,
            self.fees + other.fees,
            self.penalties + other.penalties,
        )


@dataclass(frozen=True, slots=True)
class Allocation:
    """How one repayment was split. ``overpayment`` is money beyond everything owed; it is
    kept as a credit balance on the loan."""

    principal: Decimal = ZERO
    interest: Decimal = ZERO
    fees: Decimal = ZERO
    penalties: Decimal = ZERO
    overpayment: Decimal = ZERO

    @property
    def total(self) -> Decimal:
        return self.principal + self.interest + self.fees + self.penalties + self.overpayment


@dataclass(frozen=True, slots=True)
class Repayment:
    """Money received for a loan. Replays apply repayments in ``paid_on`` order, keeping
    the given order for the same day."""

    id: str
    amount: Decimal
    paid_on: date


@dataclass(frozen=True, slots=True)
class AppliedRepayment:
    repayment_id: str
    paid_on: date
    amount: Decimal
    allocation: Allocation


@dataclass(frozen=True, slots=True)
class InstallmentState:
    """An installment's dues (``principal`` … ``penalties``) and what has been paid of each.

    ``interest_earned`` is the interest accrued over the period (see `Installment`);
    ``interest_carried`` is interest earned before the period and carried into it by a
    reschedule (already earned, so never prorated); ``penalty_charged_on`` marks the late
    penalty as charged so charging is idempotent."""

    number: int
    start_date: date
    due_date: date
    principal: Decimal
    interest: Decimal
    fees: Decimal
    interest_earned: Decimal
    penalties: Decimal = ZERO
    principal_paid: Decimal = ZERO
    interest_paid: Decimal = ZERO
    fees_paid: Decimal = ZERO
    penalties_paid: Decimal = ZERO
    penalty_charged_on: date | None = None
    interest_carried: Decimal = ZERO

    @property
    def principal_outstanding(self) -> Decimal:
        return self.principal - self.principal_paid

    @property
    def interest_outstanding(self) -> Decimal:
        return self.interest - self.interest_paid

    @property
    def fees_outstanding(self) -> Decimal:
        return self.fees - self.fees_paid

    @property
    def penalties_outstanding(self) -> Decimal:
        return self.penalties - self.penalties_paid

    @property
    def outstanding(self) -> Amounts:
        return Amounts(
            self.principal_outstanding,
            self.interest_outstanding,
            self.fees_outstanding,
            self.penalties_outstanding,
        )

    @property
    def scheduled_outstanding(self) -> Decimal:
        """Principal, interest and fees still owed: what makes an installment overdue."""
        return self.principal_outstanding + self.interest_outstanding + self.fees_outstanding

    @property
    def paid(self) -> Amounts:
        return Amounts(self.principal_paid, self.interest_paid, self.fees_paid, self.penalties_paid)

    @property
    def total(self) -> Decimal:
        return self.principal + self.interest + self.fees + self.penalties

    @property
    def is_paid(self) -> bool:
        return self.scheduled_outstanding == 0 and self.penalties_outstanding == 0


@dataclass(frozen=True, slots=True)
class LoanState:
    """A loan's installments with dues and payments, and its credit balance."""

    installments: tuple[InstallmentState, ...]
    principal: Decimal
    overpayment: Decimal = ZERO
    #: The repayments this state's replay applied, with their splits (not those folded into
    #: the state it started from, such as a loan's `Checkpoint`).
    applied: tuple[AppliedRepayment, ...] = ()

    @classmethod
    def from_schedule(cls, schedule: Schedule) -> LoanState:
        return cls(
            tuple(
                InstallmentState(
                    number=i.number,
                    start_date=i.start_date,
                    due_date=i.due_date,
                    principal=i.principal,
                    interest=i.interest,
                    fees=i.fees,
                    interest_earned=i.interest_earned,
                )
                for i in schedule.installments
            ),
            schedule.principal,
        )

    @property
    def outstanding(self) -> Amounts:
        total = Amounts()
        for inst in self.installments:
            total = total + inst.outstanding
        return total

    @property
    def principal_outstanding(self) -> Decimal:
        return sum((i.principal_outstanding for i in self.installments), ZERO)

    @property
    def paid(self) -> Amounts:
        total = Amounts()
        for inst in self.installments:
            total = total + inst.paid
        return total

    @property
    def is_settled(self) -> bool:
        """Everything owed is paid (the loan can close)."""
        return all(i.is_paid for i in self.installments)

    def allocation_of(self, repayment_id: str) -> Allocation | None:
        for applied in self.applied:
            if applied.repayment_id == repayment_id:
                return applied.allocation
        return None

    def replace(self, **changes: object) -> LoanState:
        return replace(self, **changes)  # type: ignore[arg-type]


__all__ = [
    "Allocation",
    "Amounts",
    "AppliedRepayment",
    "InstallmentState",
    "LoanState",
    "Repayment",
]
