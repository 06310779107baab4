"""Applying repayments: ordered allocation, prepayment, overpayment, payoff, replay.

Order of a repayment dated ``paid_on``:

1. Late penalties triggered by ``paid_on`` are charged first (`arrears.charge_penalties`).
2. **Due installments** (due on or before ``paid_on``) are paid in the product's order:

   * ``penalties_fees_interest_principal``: all penalties due (oldest installment first),
     then all fees, then all interest, then all principal. This is the order DOMAIN.md
     names ("penalties, then fees, then interest, then principal, oldest installment
     first"); in Fineract it is the advanced payment allocation with *vertical*
     processing (``AdvancedPaymentScheduleTransactionProcessor.processPeriodsVertically``,
     rules DUE/PAST_DUE_PENALTY, _FEE, _INTEREST, _PRINCIPAL).
   * ``installment_by_installment``: each due installment's penalties, fees, interest and
     principal before the next. This is exactly what Fineract's ``mifos-standard-strategy``
     (``FineractStyleLoanRepaymentScheduleTransactionProcessor``: penalties, fees, interest,
     principal *within* each installment, installments oldest first) and the *horizontal*
     advanced allocation do.

   The two differ only when more than one installment is due.
3. **Prepayment.** What remains pays future principal (installments not yet due):

   * ``reduce_term``: the installment size is kept (annuity: the same installment;
     equal principal and flat: the same principal per installment), the next installments
     keep falling due in order and the loan ends sooner; installments no longer needed at
     the end are removed (Fineract: "reduce number of installments").
   * ``reduce_installment``: the remaining principal is re-amortized over the same
     remaining installments (Fineract: "reduce EMI amount", future installment rule
     REAMORTIZATION).

   For declining-balance loans the interest of the periods after the current one is
   recomputed on the reduced balance; the current period's interest (the period in which
   ``paid_on`` falls) is kept as scheduled. Flat interest is on the original principal and
   only disappears with removed installments. The prepaid principal is booked as paid on
   the current installment, so every installment's paid amounts stay meaningful.
4. **Payoff.** A remainder that covers all remaining principal closes the loan as a payoff
   would (`payoff_quote`): the current installment's interest becomes the interest earned
   up to ``paid_on``, its not-yet-due fee is dropped, later installments are removed.
5. **Overpayment.** Anything beyond that is kept as a credit balance (``overpayment``).

Reversal: a `LoanState` is a pure function of the schedule and the repayments, so reversing
one means replaying the others (`replay`): the result is exactly "as if it never happened".
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import date
from decimal import Decimal

from .arrears import charge_penalties
from .errors import ValidationError
from .products import (
    AllocationStrategy,
    Amortization,
    InterestMethod,
    LoanProduct,
    PrepaymentStrategy,
)
from .schedule import (
    Schedule,
    _assemble,
    _period_fraction,
    _Rows,
    amortize,
    period_rate,
)
from .state import (
    Allocation,
    Amounts,
    AppliedRepayment,
    InstallmentState,
    LoanState,
    Repayment,
)

ZERO = Decimal(0)
_COMPONENTS = ("penalties", "fees", "interest", "principal")


def apply_repayment(
    state: LoanState,
    product: LoanProduct,
    amount: Decimal,
    paid_on: date,
    repayment_id: str = "",
) -> tuple[LoanState, Allocation]:
    """Apply one repayment; returns the new state and how the money was split."""
    errors: list[tuple[str, str]] = []
    if not isinstance(amount, Decimal) or not amount.is_finite() or amount <= 0:
        errors.append(("amount", "must be a Decimal greater than zero"))
    elif not product.rounding.is_minor(amount):
        errors.append(("amount", f"must have at most {product.currency_decimals} decimals"))
    if not isinstance(paid_on, date):
        errors.append(("paid_on", "must be a date"))
    if errors:
        raise ValidationError(errors)

    state = charge_penalties(state, product, paid_on)
    work = list(state.installments)
    paid = dict.fromkeys(_COMPONENTS, product.rounding.zero)
    due = [i for i, inst in enumerate(work) if inst.due_date <= paid_on]
    remaining = amount

    if product.allocation_strategy is AllocationStrategy.INSTALLMENT_BY_INSTALLMENT:
        order = [(i, c) for i in due for c in _COMPONENTS]
    else:
        order = [(i, c) for c in _COMPONENTS for i in due]
    for index, component in order:
        if remaining <= 0:
            break
        work[index], taken = _pay(work[index], component, remaining)
        paid[component] += taken
        remaining -= taken

    overpayment = product.rounding.zero
    if remaining > 0:
        work, remaining, principal, interest = _prepay(state, work, product, remaining, paid_on)
        paid["principal"] += principal
        paid["interest"] += interest
        overpayment = remaining

    allocation = Allocation(
        principal=paid["principal"],
        interest=paid["interest"],
        fees=paid["fees"],
        penalties=paid["penalties"],
        overpayment=overpayment,
    )
    new_state = replace(
        state,
        installments=tuple(work),
        overpayment=state.overpayment + overpayment,
        applied=(*state.applied, AppliedRepayment(repayment_id, paid_on, amount, allocation)),
    )
    return new_state, allocation


def _pay(
    inst: InstallmentState, component: str, available: Decimal
) -> tuple[InstallmentState, Decimal]:
    owed = getattr(inst, component) - getattr(inst, f"{component}_paid")
    taken = min(owed, available)
    if taken <= 0:
        return inst, ZERO
    field = f"{component}_paid"
    return replace(inst, **{field: getattr(inst, field) + taken}), taken


# --- prepayment and payoff ----------------------------------------------------------------


def _current_index(installments: list[InstallmentState], on: date) -> int | None:
    for i, inst in enumerate(installments):
        if inst.due_date > on:
            return i
    return None


def _accrued(inst: InstallmentState, on: date) -> Decimal:
    """Interest earned in ``inst``'s period up to ``on``, prorated on actual days (as
    Fineract's progressive calculator does for a payoff, whatever the day-count basis)."""
    period = (inst.due_date - inst.start_date).days
    elapsed = min(max((on - inst.start_date).days, 0), period)
    if period <= 0 or elapsed == period:
        return inst.interest_earned
    return inst.interest_earned * Decimal(elapsed) / Decimal(period)


def _interest_to_date(
    installments: list[InstallmentState], current: int, product: LoanProduct, on: date
) -> Decimal:
    """Interest owed by ``on`` beyond what the due installments ask for: grace interest
    deferred but not yet recovered, plus the current period's interest earned so far, less
    what was already paid on the current installment."""
    deferred = sum(
        (
            inst.interest_earned + inst.interest_carried - inst.interest
            for inst in installments[:current]
        ),
        ZERO,
    )
    inst = installments[current]
    accrued = product.rounding.round(_accrued(inst, on))
    return max(deferred + inst.interest_carried + accrued - inst.interest_paid, ZERO)


def _prepay(
    state: LoanState,
    work: list[InstallmentState],
    product: LoanProduct,
    amount: Decimal,
    paid_on: date,
) -> tuple[list[InstallmentState], Decimal, Decimal, Decimal]:
    """Apply ``amount`` left after the due installments. Returns (installments, leftover,
    principal paid, interest paid)."""
    c = _current_index(work, paid_on)
    if c is None:
        return work, amount, ZERO, ZERO
    balance = sum((inst.principal_outstanding for inst in work[c:]), ZERO)
    current = work[c]
    if balance <= 0:
        # Only interest pinned by an earlier part payoff can be left.
        owed = current.interest_outstanding
        taken = min(owed, amount)
        if taken > 0:
            work[c] = replace(current, interest_paid=current.interest_paid + taken)
        return work, amount - taken, ZERO, taken

    if amount >= balance:
        interest_due = _interest_to_date(work, c, product, paid_on)
        interest_paid = min(amount - balance, interest_due)
        principal_total = current.principal_paid + balance
        earned = product.rounding.round(_accrued(current, paid_on))
        work[c] = replace(
            current,
            principal=principal_total,
            principal_paid=principal_total,
            interest=current.interest_paid + interest_due,
            interest_paid=current.interest_paid + interest_paid,
            interest_earned=earned,
            fees=current.fees_paid,
        )
        return work[: c + 1], amount - balance - interest_paid, balance, interest_paid

    return _reamortize(state, work, product, c, balance, amount), ZERO, amount, ZERO


def _reamortize(
    state: LoanState,
    work: list[InstallmentState],
    product: LoanProduct,
    c: int,
    balance: Decimal,
    prepaid: Decimal,
) -> list[InstallmentState]:
    """Rebuild installments ``c``.. after ``prepaid`` of principal, per the product's
    prepayment strategy."""
    rnd = product.rounding
    tail = work[c:]
    current = tail[0]
    new_balance = balance - prepaid
    first_number = current.number
    principal_grace = max(0, product.grace_on_principal - (first_number - 1))
    interest_grace = product.grace_on_interest
    declining = product.interest_method is InterestMethod.DECLINING_BALANCE
    annuity = declining and product.amortization is Amortization.EQUAL_INSTALLMENTS

    if declining:
        rates = [
            period_rate(product, inst.start_date, inst.due_date, regular=inst.number > 1)
            for inst in tail
        ]
        # The interest the current period was scheduled with: on its opening balance.
        opening = sum((inst.principal for inst in tail), ZERO)
        first_interest = rnd.round(opening * rates[0])
        flat_interest = None
    else:
        rates = [ZERO] * len(tail)
        flat_interest = [_flat_interest(state, product, inst) for inst in tail]
        first_interest = flat_interest[0]

    level: Decimal | None = None
    principal_each: Decimal | None = None
    shorten = product.prepayment_strategy is PrepaymentStrategy.REDUCE_TERM
    if shorten:
        # The installment size to keep: from the first later installment that is a full,
        # ordinary one (amortizing, outside interest grace, not the last).
        for inst in tail[1:-1]:
            if inst.number > product.grace_on_principal and inst.number > interest_grace:
                if annuity:
                    level = inst.principal + inst.interest_earned
                else:
                    principal_each = inst.principal
                break
        else:
            shorten = False
    amortizing = len(tail) - principal_grace
    if not shorten and new_balance < rnd.unit * amortizing:
        # Too little left to give every installment a unit of principal: shorten instead.
        shorten = True
        principal_each = None if annuity else rnd.unit

    rows: _Rows = amortize(
        product,
        new_balance,
        rates,
        principal_grace=principal_grace,
        flat_interest=flat_interest,
        first_interest=first_interest,
        level=level,
        principal_each=principal_each,
        shorten=shorten,
    )
    deferred_before = ZERO
    if product.recover_grace_interest:
        deferred_before = sum(
            (inst.interest_earned for inst in work[:c] if inst.number <= interest_grace), ZERO
        )
    rebuilt = _assemble(
        product,
        rows,
        [inst.start_date for inst in tail],
        [inst.due_date for inst in tail],
        new_balance,
        first_number=first_number,
        deferred_before=deferred_before,
        keep_first=(current.interest, current.interest_earned),
    )
    prepaid_total = current.principal_paid + prepaid
    out = work[:c]
    out.append(
        replace(
            current,
            principal=prepaid_total + rebuilt[0].principal,
            principal_paid=prepaid_total,
        )
    )
    out.extend(
        InstallmentState(
            number=row.number,
            start_date=row.start_date,
            due_date=row.due_date,
            principal=row.principal,
            interest=row.interest,
            fees=row.fees,
            interest_earned=row.interest_earned,
        )
        for row in rebuilt[1:]
    )
    return out


def _flat_interest(state: LoanState, product: LoanProduct, inst: InstallmentState) -> Decimal:
    """Flat interest of an installment: on the original principal, prorated for an
    irregular first period (as `generate_schedule` does)."""
    ppy = Decimal(product.periods_per_year)
    if inst.number == 1:
        fraction = _period_fraction(product, inst.start_date, inst.due_date)
        return product.rounding.round(state.principal * product.rate * fraction / ppy)
    return product.rounding.round(state.principal * product.rate / ppy)


# --- payoff -------------------------------------------------------------------------------


def payoff_quote(state: LoanState, product: LoanProduct, as_of: date) -> Amounts:
    """What closes the loan on ``as_of``: all unpaid principal; interest of installments due
    by then plus the current period's interest earned to date (prorated on actual days);
    fees of due installments; penalties charged by then. Paying ``total`` on ``as_of``
    closes the loan with nothing left over."""
    state = charge_penalties(state, product, as_of)
    installments = list(state.installments)
    principal = state.principal_outstanding
    interest = fees = penalties = ZERO
    for inst in installments:
        penalties += inst.penalties_outstanding
        if inst.due_date <= as_of:
            interest += inst.interest_outstanding
            fees += inst.fees_outstanding
    c = _current_index(installments, as_of)
    if c is not None and principal > 0:
        interest += _interest_to_date(installments, c, product, as_of)
    elif c is not None:
        interest += installments[c].interest_outstanding
    return Amounts(principal, interest, fees, penalties)


# --- replay -------------------------------------------------------------------------------


def replay(
    start: Schedule | LoanState,
    repayments: Iterable[Repayment],
    product: LoanProduct,
    as_of: date | None = None,
) -> LoanState:
    """The loan state after applying ``repayments`` (in ``paid_on`` order, stable for the
    same day) to a schedule or an earlier state, with penalties charged up to ``as_of``.
    Repayments dated after ``as_of`` are ignored. Reversing a repayment = replaying the
    others."""
    state = LoanState.from_schedule(start) if isinstance(start, Schedule) else start
    ordered = sorted(enumerate(repayments), key=lambda item: (item[1].paid_on, item[0]))
    for _, repayment in ordered:
        if as_of is not None and repayment.paid_on > as_of:
            break
        state, _ = apply_repayment(
            state, product, repayment.amount, repayment.paid_on, repayment.id
        )
    if as_of is not None:
        state = charge_penalties(state, product, as_of)
    return state


__all__ = ["apply_repayment", "payoff_quote", "replay"]
