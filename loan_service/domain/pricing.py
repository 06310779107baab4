"""Price transparency the MFTransparency way: APR and EIR from the borrower's cash flows.

Cash flows, one per period: ``+ disbursed_amount`` (principal less any deducted upfront fee)
at t0, then ``- installment total`` (principal + interest + fees) at each installment, one
repayment period apart. The periodic rate ``i`` is their internal rate of return;
``APR = i * periods_per_year`` and ``EIR = (1 + i) ** periods_per_year - 1``, both returned
in percent, rounded half-even to two places. An irregular first period is counted as one
period, as MFTransparency's calculator does.

The IRR is solved in Decimal (34 digits) by safeguarded Newton: a Newton step when it stays
inside the bracket where NPV changes sign, bisection otherwise; at most 200 iterations,
stopping when the step is below 1e-20.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Context, Decimal, localcontext

from .errors import ValidationError
from .schedule import Schedule

_CTX = Context(prec=34, rounding=ROUND_HALF_EVEN)
_ZERO = Decimal(0)
_ONE = Decimal(1)
_HUNDRED = Decimal(100)
_CENT = Decimal("0.01")
_TOLERANCE = Decimal("1e-20")
_MAX_ITERATIONS = 200


@dataclass(frozen=True, slots=True)
class Pricing:
    """``apr`` and ``eir`` in percent (``Decimal("12.68")``); ``periodic_rate`` a fraction."""

    apr: Decimal
    eir: Decimal
    periodic_rate: Decimal


def _npv(rate: Decimal, flows: Sequence[Decimal]) -> tuple[Decimal, Decimal]:
    """NPV and its derivative at ``rate`` (flows at t = 0, 1, 2, ...)."""
    v = _ONE / (_ONE + rate)
    npv = _ZERO
    slope = _ZERO
    discount = _ONE
    for t, flow in enumerate(flows):
        npv += flow * discount
        if t:
            slope -= t * flow * discount * v
        discount *= v
    return npv, slope


def irr(cash_flows: Sequence[Decimal]) -> Decimal:
    """The periodic internal rate of return of ``cash_flows`` (t = 0, 1, 2, ...), which must
    be one inflow followed by outflows (or the reverse)."""
    flows = [Decimal(f) for f in cash_flows]
    if len(flows) < 2 or flows[0] == 0 or not any(f for f in flows[1:]):
        raise ValidationError.of("cash_flows", "need a non-zero first flow and later flows")
    if any(f * flows[0] > 0 for f in flows[1:]):
        raise ValidationError.of("cash_flows", "later flows must oppose the first")
    with localcontext(_CTX):
        if flows[0] < 0:
            flows = [-f for f in flows]
        low, high = Decimal("-0.9"), _ONE
        # With one inflow first, NPV rises with the rate (later outflows are discounted
        # harder): widen each bound until NPV has the right sign at it.
        while _npv(high, flows)[0] < 0:
            low = high
            high *= 2
            if high > Decimal(1_000_000):
                raise ValidationError.of("cash_flows", "no rate of return below 1e6 per period")
        while _npv(low, flows)[0] > 0:
            high = low
            low = -_ONE + (_ONE + low) / 1000
            if _ONE + low < Decimal("1e-30"):
                raise ValidationError.of("cash_flows", "the rate of return is below -100%")
        rate = _ZERO if low < 0 < high else (low + high) / 2
        for _ in range(_MAX_ITERATIONS):
            value, slope = _npv(rate, flows)
            if value == 0:
                return rate
            if value > 0:
                high = rate
            else:
                low = rate
            step_ok = slope != 0
            candidate = rate - value / slope if step_ok else rate
            if not step_ok or not low < candidate < high:
                candidate = (low + high) / 2
            if abs(candidate - rate) < _TOLERANCE:
                return candidate
            rate = candidate
        return rate


def cash_flows(schedule: Schedule) -> list[Decimal]:
    return [schedule.disbursed_amount, *(-inst.total for inst in schedule.installments)]


def price(schedule: Schedule) -> Pricing:
    """APR and EIR of a schedule (see the module docstring)."""
    periodic = irr(cash_flows(schedule))
    with localcontext(_CTX):
        n = schedule.periods_per_year
        apr = (periodic * n * _HUNDRED).quantize(_CENT, ROUND_HALF_EVEN)
        eir = (((_ONE + periodic) ** n - _ONE) * _HUNDRED).quantize(_CENT, ROUND_HALF_EVEN)
    return Pricing(apr=apr, eir=eir, periodic_rate=periodic)


__all__ = ["Pricing", "cash_flows", "irr", "price"]
