"""Arrears: days past due, overdue amounts, delinquency buckets, PAR flags, late penalties.

Definitions (SEEP/CGAP consensus, see ``/work/shared/DOMAIN.md``):

* An installment is **past due** on ``as_of`` when its due date is before ``as_of`` and
  some of its principal, interest or fees is unpaid (unpaid penalties alone do not keep an
  installment past due). Its days past due are ``as_of - due_date``. An installment
  falling due on ``as_of`` is due, not past due.
* A loan's **days past due** are those of its oldest past-due installment; 0 if none.
* **PAR>N**: a loan is in PAR>N when its days past due exceed N.

Late-penalty rule (one charge per installment, idempotent):

* The penalty of an installment is triggered on ``due_date + tolerance_days + 1`` (the
  first day it is more than ``tolerance_days`` late), if principal, interest or fees of
  it are still unpaid at the start of that day. Payments dated on the trigger day are
  late and do not avoid it.
* Flat: the product's amount. Percent: that percent of the installment's unpaid principal,
  interest and fees at the trigger, rounded to the product's unit.
* It is charged once: the installment records ``penalty_charged_on`` (the trigger date,
  never the date the batch happened to run), so charging again for the same or any later
  date changes nothing, and replaying repayments yields the same penalties whenever the
  batch runs. `allocation.replay` charges penalties as of each repayment date before
  applying it, which is what makes "unpaid at the start of the trigger day" exact.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal

from .errors import ValidationError
from .products import HUNDRED, ChargeCalculation, LoanProduct
from .state import Amounts, InstallmentState, LoanState

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class Bucket:
    """Loans with ``min_days <= days past due <= max_days`` (no upper bound when None)."""

    name: str
    min_days: int
    max_days: int | None


DEFAULT_BUCKETS: tuple[Bucket, ...] = (
    Bucket("current", 0, 0),
    Bucket("1-30", 1, 30),
    Bucket("31-60", 31, 60),
    Bucket("61-90", 61, 90),
    Bucket("91-180", 91, 180),
    Bucket("over_180", 181, None),
)

DEFAULT_PAR_THRESHOLDS: tuple[int, ...] = (1, 30, 60, 90)


def validate_buckets(buckets: Sequence[Bucket]) -> None:
    """Buckets must start at 0, be contiguous and end unbounded, so every loan has one."""
    errors: list[tuple[str, str]] = []
    if not buckets:
        errors.append(("buckets", "at least one bucket is required"))
    else:
        expected = 0
        for i, bucket in enumerate(buckets):
            if bucket.min_days != expected:
                errors.append((f"buckets[{i}].min_days", f"must be {expected}"))
                break
            if bucket.max_days is None:
                if i != len(buckets) - 1:
                    errors.append((f"buckets[{i}].max_days", "only the last may be open"))
                break
            if bucket.max_days < bucket.min_days:
                errors.append((f"buckets[{i}].max_days", "must not be below min_days"))
                break
            expected = bucket.max_days + 1
        else:
            errors.append((f"buckets[{len(buckets) - 1}].max_days", "the last must be open"))
        names = [b.name for b in buckets]
        if len(set(names)) != len(names):
            errors.append(("buckets", "names must be unique"))
    if errors:
        raise ValidationError(errors)


def installment_days_past_due(installment: InstallmentState, as_of: date) -> int:
    if installment.due_date >= as_of or installment.scheduled_outstanding <= 0:
        return 0
    return (as_of - installment.due_date).days


def days_past_due(state: LoanState, as_of: date) -> int:
    """Days since the oldest unpaid installment fell due; 0 when none is past due."""
    for inst in state.installments:
        if inst.due_date >= as_of:
            return 0
        if inst.scheduled_outstanding > 0:
            return (as_of - inst.due_date).days
    return 0


def overdue_amounts(state: LoanState, as_of: date) -> Amounts:
    """Everything unpaid on installments that fell due before ``as_of``, penalties included."""
    total = Amounts()
    for inst in state.installments:
        if inst.due_date < as_of:
            total = total + inst.outstanding
    return total


def delinquency_bucket(dpd: int, buckets: Sequence[Bucket] = DEFAULT_BUCKETS) -> str:
    for bucket in buckets:
        if dpd >= bucket.min_days and (bucket.max_days is None or dpd <= bucket.max_days):
            return bucket.name
    raise ValidationError.of("buckets", f"no bucket covers {dpd} days past due")


def in_par(dpd: int, threshold: int) -> bool:
    """PAR>N membership: more than N days past due."""
    return dpd > threshold


def par_flags(dpd: int, thresholds: Iterable[int] = DEFAULT_PAR_THRESHOLDS) -> dict[int, bool]:
    return {n: in_par(dpd, n) for n in thresholds}


# --- penalties ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PenaltyCharge:
    installment_number: int
    amount: Decimal
    charged_on: date


def penalty_trigger_date(installment: InstallmentState, product: LoanProduct) -> date | None:
    if product.late_penalty is None:
        return None
    return installment.due_date + timedelta(days=product.late_penalty.tolerance_days + 1)


def _penalty_amount(installment: InstallmentState, product: LoanProduct) -> Decimal:
    spec = product.late_penalty
    assert spec is not None
    if spec.calculation is ChargeCalculation.FLAT:
        return product.rounding.minor_round(spec.amount)
    return product.rounding.round(installment.scheduled_outstanding * spec.amount / HUNDRED)


def penalties_due(state: LoanState, product: LoanProduct, as_of: date) -> tuple[PenaltyCharge, ...]:
    """Every late penalty the loan owes as of ``as_of``: those already charged and those
    triggered since. Pure and repeatable."""
    charges: list[PenaltyCharge] = []
    for inst in state.installments:
        if inst.penalty_charged_on is not None:
            charges.append(PenaltyCharge(inst.number, inst.penalties, inst.penalty_charged_on))
            continue
        trigger = penalty_trigger_date(inst, product)
        if trigger is None or trigger > as_of or inst.scheduled_outstanding <= 0:
            continue
        amount = _penalty_amount(inst, product)
        if amount > 0:
            charges.append(PenaltyCharge(inst.number, amount, trigger))
    return tuple(charges)


def charge_penalties(state: LoanState, product: LoanProduct, as_of: date) -> LoanState:
    """The state with every penalty triggered by ``as_of`` charged. Idempotent.

    Exact when ``state`` holds no repayment dated after a newly triggered penalty's trigger
    date, which holds for states built by `allocation.replay` (see the module docstring)."""
    if product.late_penalty is None:
        return state
    changed = False
    installments = list(state.installments)
    for i, inst in enumerate(installments):
        if inst.penalty_charged_on is not None:
            continue
        trigger = penalty_trigger_date(inst, product)
        if trigger is None or trigger > as_of:
            # Installments are in due-date order: no later one can be triggered either.
            break
        if inst.scheduled_outstanding <= 0:
            continue
        amount = _penalty_amount(inst, product)
        installments[i] = replace(
            inst, penalties=inst.penalties + amount, penalty_charged_on=trigger
        )
        changed = True
    return replace(state, installments=tuple(installments)) if changed else state


# --- summary ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InstallmentArrears:
    number: int
    due_date: date
    days_past_due: int
    overdue: Amounts


@dataclass(frozen=True, slots=True)
class ArrearsStatus:
    as_of: date
    days_past_due: int
    bucket: str
    overdue: Amounts
    par: dict[int, bool]
    installments: tuple[InstallmentArrears, ...]


def arrears_status(
    state: LoanState,
    as_of: date,
    *,
    buckets: Sequence[Bucket] = DEFAULT_BUCKETS,
    par_thresholds: Iterable[int] = DEFAULT_PAR_THRESHOLDS,
) -> ArrearsStatus:
    """Days past due, bucket, overdue amounts and PAR flags of a loan as of a date."""
    dpd = days_past_due(state, as_of)
    rows = tuple(
        InstallmentArrears(
            inst.number, inst.due_date, installment_days_past_due(inst, as_of), inst.outstanding
        )
        for inst in state.installments
        if inst.due_date < as_of and not inst.is_paid
    )
    return ArrearsStatus(
        as_of,
        dpd,
        delinquency_bucket(dpd, buckets),
        overdue_amounts(state, as_of),
        par_flags(dpd, par_thresholds),
        rows,
    )


__all__ = [
    "DEFAULT_BUCKETS",
    "DEFAULT_PAR_THRESHOLDS",
    "ArrearsStatus",
    "Bucket",
    "InstallmentArrears",
    "PenaltyCharge",
    "arrears_status",
    "charge_penalties",
    "days_past_due",
    "delinquency_bucket",
    "in_par",
    "installment_days_past_due",
    "overdue_amounts",
    "par_flags",
    "penalties_due",
    "penalty_trigger_date",
    "validate_buckets",
]
