"""Portfolio quality as the SEEP/CGAP consensus guidelines define it.

PAR>N is the *entire* outstanding principal of every loan with an installment more than N days
past due, plus restructured (rescheduled) loans, over the gross loan portfolio (all outstanding
principal of active loans). It is not the overdue amount over the portfolio (that is the
arrears rate). A loan's days past due on a date are counted from its oldest unpaid installment.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal

PAR_THRESHOLDS = (1, 30, 60, 90)
RATIO_PLACES = Decimal("0.0001")


def days_past_due(oldest_unpaid_due: date | None, as_of: date) -> int:
    if oldest_unpaid_due is None or oldest_unpaid_due >= as_of:
        return 0
    return (as_of - oldest_unpaid_due).days


def overdue_before(as_of: date, days: int) -> date:
    """Loans whose oldest unpaid installment fell due before this date are more than `days`
    days past due on `as_of`."""
    return as_of - timedelta(days=days)


def ratio(part: Decimal, whole: Decimal) -> Decimal:
    if whole == 0:
        return Decimal("0.0000")
    return (part / whole).quantize(RATIO_PLACES, rounding=ROUND_HALF_EVEN)


@dataclass(frozen=True)
class PortfolioFigures:
    active_loans: int
    gross_portfolio: Decimal
    at_risk: dict[int, Decimal]
    disbursed: Decimal
    repaid: Decimal

    def par(self, days: int) -> Decimal:
        return ratio(self.at_risk[days], self.gross_portfolio)
