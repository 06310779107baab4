"""The portfolio over time: per period, the gross portfolio and PAR at the period's end as they
stood on that day, and the money disbursed and collected within the period.

"As they stood" matters: a loan that is current today may have been 40 days late in March, and
one written off today was in the portfolio until the day it was. So every figure is rebuilt
from the loan's dated facts (disbursement, repayments by `paid_on`, reschedule, write-off),
never from its present state.

PAR follows `portfolio` (SEEP/CGAP): the whole outstanding principal of loans whose oldest
unpaid installment is more than N days late, plus restructured loans from their reschedule on.
Installments are paid oldest first, so the oldest unpaid installment on a day is the first
whose cumulative due (principal, interest and fees) exceeds what repayments paid on or before
that day allocated to principal, interest and fees.

Between two of a loan's dated facts its outstanding principal and oldest unpaid installment do
not change, so a loan is a handful of constant segments, and within one segment it crosses
each PAR threshold at most once. Each segment becomes a few +/- changes in a difference array
over the report's days, one running sum gives every day's figures: the cost is
O(loans x facts + days), not O(loans x days).

Amounts are integers in minor units; ratios are `Decimal`.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum
from itertools import accumulate

from reporting_service.domain.portfolio import ratio

TREND_PAR_THRESHOLDS = (1, 30, 90)


class Interval(StrEnum):
    DAY = "day"
    MONTH = "month"


MAX_ROWS = {Interval.DAY: 366, Interval.MONTH: 120}
"""A year of days, ten years of months: beyond that a chart says nothing a coarser one
would not, and the request would cost what a batch job should."""


@dataclass(frozen=True)
class Repayment:
    paid_on: date
    amount: int
    """Everything paid (principal, interest, fees, penalties, any overpayment): collected."""
    principal: int
    """Allocated to principal: what leaves the portfolio."""
    applied: int
    """Allocated to principal, interest and fees: what pays the installments' dues."""


@dataclass(frozen=True)
class Installment:
    due_date: date
    due: int
    """Principal + interest + fees (penalties are not part of the schedule's dues)."""


@dataclass(frozen=True)
class LoanTimeline:
    disbursed_on: date
    principal: int
    """Disbursed: the `disbursed` figure."""
    installments: Sequence[Installment]
    """The schedule in force until the first reschedule (from then on the loan is at risk
    whatever its arrears, so later schedules do not matter)."""
    repayments: Sequence[Repayment] = ()
    """Not reversed."""
    amortized: int | None = None
    """Principal to be repaid (more than `principal` when an upfront fee is financed into the
    loan); None: `principal`."""
    rescheduled_on: date | None = None
    written_off_on: date | None = None
    """From this day on the loan is out of the portfolio."""
    closed_on: date | None = None
    """Paid in full on this day: out of the portfolio from then on."""

    @property
    def owed(self) -> int:
        return self.principal if self.amortized is None else self.amortized


@dataclass(frozen=True)
class Period:
    start: date
    end: date
    """Inclusive."""


@dataclass(frozen=True)
class TrendRow:
    date: date
    gross_portfolio: int
    at_risk: dict[int, int] = field(default_factory=dict)
    disbursed: int = 0
    collected: int = 0

    def par(self, days: int) -> Decimal:
        return ratio(Decimal(self.at_risk[days]), Decimal(self.gross_portfolio))


# --- periods -----------------------------------------------------------------------------


def _month_start(day: date, back: int = 0) -> date:
    index = day.year * 12 + day.month - 1 - back
    return date(index // 12, index % 12 + 1, 1)


def default_start(end: date, interval: Interval) -> date:
    """31 daily rows or 12 monthly rows ending with `end` (never before the calendar's first
    day)."""
    if interval is Interval.MONTH:
        if end.year * 12 + end.month - 1 < 11 + 12:  # before year 2: nothing to go back to
            return date.min
        return _month_start(end, back=11)
    return end - timedelta(days=30) if end - date.min >= timedelta(days=30) else date.min


def row_count(start: date, end: date, interval: Interval) -> int:
    if interval is Interval.MONTH:
        return (end.year - start.year) * 12 + end.month - start.month + 1
    return (end - start).days + 1


def periods(start: date, end: date, interval: Interval) -> list[Period]:
    """Consecutive periods covering `start`..`end`; calendar months cut at both ends."""
    if end < start:
        return []
    if interval is Interval.DAY:
        return [Period(d, d) for d in _days(start, end)]
    out = []
    first = start
    while first <= end:
        if first.month == 12:
            following = date(first.year + 1, 1, 1) if first.year < date.max.year else None
        else:
            following = date(first.year, first.month + 1, 1)
        last = end if following is None else min(end, following - timedelta(days=1))
        out.append(Period(first, last))
        if following is None:
            break
        first = following
    return out


def _days(start: date, end: date) -> Iterable[date]:
    for offset in range((end - start).days + 1):
        yield start + timedelta(days=offset)


# --- the figures ---------------------------------------------------------------------------


def trends(
    loans: Iterable[LoanTimeline],
    report_periods: Sequence[Period],
    thresholds: Sequence[int] = TREND_PAR_THRESHOLDS,
) -> list[TrendRow]:
    """One row per period, in order. `report_periods` must be consecutive (as `periods`
    makes them)."""
    sheet = TrendSheet(report_periods, thresholds)
    for loan in loans:
        sheet.add(loan)
    return sheet.rows()


class TrendSheet:
    """The report being built, one loan at a time: memory grows with the report's days, not
    with the number of loans read."""

    def __init__(
        self, report_periods: Sequence[Period], thresholds: Sequence[int] = TREND_PAR_THRESHOLDS
    ) -> None:
        self.periods = list(report_periods)
        self.thresholds = tuple(thresholds)
        self._starts = [p.start for p in self.periods]
        if self.periods:
            self._first, self._last = self.periods[0].start, self.periods[-1].end
            width = (self._last - self._first).days + 1
        else:
            self._first = self._last = date.min
            width = 0
        # Changes of the stock figures (gross, then one series per threshold) by day of the
        # report; what changed before the first day is the opening balance (index 0), what
        # changes after the last day is never read.
        self._stock = [[0] * (width + 1) for _ in range(1 + len(self.thresholds))]
        self._disbursed = [0] * len(self.periods)
        self._collected = [0] * len(self.periods)

    def _period_of(self, day: date) -> int | None:
        if not self.periods or day < self._first or day > self._last:
            return None
        return bisect.bisect_right(self._starts, day) - 1

    def _change(self, series: int, day: date, amount: int) -> None:
        if not self.periods or day > self._last:
            return
        self._stock[series][max(0, (day - self._first).days)] += amount

    def add(self, loan: LoanTimeline) -> None:
        if (p := self._period_of(loan.disbursed_on)) is not None:
            self._disbursed[p] += loan.principal
        for r in loan.repayments:
            if (p := self._period_of(r.paid_on)) is not None:
                self._collected[p] += r.amount
        for begin, until, outstanding, oldest_unpaid, restructured in _segments(loan):
            self._span(0, begin, until, outstanding)
            for series, days in enumerate(self.thresholds, start=1):
                if restructured:
                    self._span(series, begin, until, outstanding)
                elif oldest_unpaid is not None:
                    # More than `days` days late from the day after due date + `days`.
                    late_from = _plus_days(oldest_unpaid, days + 1)
                    if late_from is not None:
                        self._span(series, max(begin, late_from), until, outstanding)

    def _span(self, series: int, begin: date, until: date | None, amount: int) -> None:
        if until is not None and begin >= until:
            return
        self._change(series, begin, amount)
        if until is not None:
            self._change(series, until, -amount)

    def rows(self) -> list[TrendRow]:
        running = [list(accumulate(s)) for s in self._stock]
        out = []
        for i, period in enumerate(self.periods):
            at = (period.end - self._first).days
            out.append(
                TrendRow(
                    date=period.start,
                    gross_portfolio=running[0][at],
                    at_risk={d: running[s][at] for s, d in enumerate(self.thresholds, start=1)},
                    disbursed=self._disbursed[i],
                    collected=self._collected[i],
                )
            )
        return out


Segment = tuple[date, date | None, int, date | None, bool]
"""From (inclusive), until (exclusive; None: for ever), outstanding principal, due date of the
oldest unpaid installment (None: nothing unpaid), restructured."""


def _segments(loan: LoanTimeline) -> list[Segment]:
    ends = [d for d in (loan.written_off_on, loan.closed_on) if d is not None]
    end = min(ends) if ends else None
    if end is not None and end <= loan.disbursed_on:
        return []
    # A repayment dated before the disbursement (not accepted by loan_service, but a read model
    # should not invent negative time) counts from the disbursement.
    by_day: dict[date, tuple[int, int]] = {}
    for r in loan.repayments:
        day = max(r.paid_on, loan.disbursed_on)
        principal, applied = by_day.get(day, (0, 0))
        by_day[day] = (principal + r.principal, applied + r.applied)
    facts = {loan.disbursed_on, *by_day}
    if loan.rescheduled_on is not None:
        facts.add(max(loan.rescheduled_on, loan.disbursed_on))
    days = sorted(d for d in facts if end is None or d < end)
    schedule = sorted(loan.installments, key=lambda i: i.due_date)
    cumulative_due = list(accumulate(i.due for i in schedule))
    due_dates = [i.due_date for i in schedule]

    out: list[Segment] = []
    repaid = applied = 0
    for i, day in enumerate(days):
        principal, paid = by_day.get(day, (0, 0))
        repaid += principal
        applied += paid
        until = days[i + 1] if i + 1 < len(days) else end
        outstanding = max(0, loan.owed - repaid)
        if outstanding == 0:
            continue
        k = bisect.bisect_right(cumulative_due, applied)
        oldest_unpaid = due_dates[k] if k < len(due_dates) else None
        restructured = loan.rescheduled_on is not None and loan.rescheduled_on <= day
        out.append((day, until, outstanding, oldest_unpaid, restructured))
    return out


def _plus_days(day: date, days: int) -> date | None:
    try:
        return day + timedelta(days=days)
    except OverflowError:
        return None
