"""The portfolio over time: hand-worked loans checked on chosen days, a day-by-day oracle that
follows the definitions literally, and the properties the figures must keep whatever the loans."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reporting_service.domain.trends import (
    Installment,
    Interval,
    LoanTimeline,
    Period,
    Repayment,
    TrendRow,
    default_start,
    periods,
    row_count,
    trends,
)
from reporting_service.service_layer.handlers import trends_range
from shared.errors import ValidationError
from tests.support.errors import fields_of

pytestmark = pytest.mark.unit

D = date.fromisoformat
JAN1 = D("2026-01-01")


def monthly(*dues: int, first: str = "2026-02-01") -> list[Installment]:
    start = D(first)
    return [
        Installment(
            date(start.year + (start.month - 1 + k) // 12, (start.month - 1 + k) % 12 + 1, 1), due
        )
        for k, due in enumerate(dues)
    ]


def paid(on: str, principal: int, interest: int = 0, extra: int = 0) -> Repayment:
    return Repayment(
        paid_on=D(on),
        amount=principal + interest + extra,
        principal=principal,
        applied=principal + interest,
    )


# Two loans of 1,200.00 (minor units) disbursed on Jan 1, repaid 400.00 + 20.00 interest on the
# 1st of Feb, Mar and Apr. A pays February on time and stops. B pays February 19 days late,
# then March on time, then stops.
LOAN_A = LoanTimeline(
    disbursed_on=JAN1,
    principal=120_000,
    installments=monthly(42_000, 42_000, 42_000),
    repayments=[paid("2026-02-01", 40_000, 2_000)],
)
LOAN_B = LoanTimeline(
    disbursed_on=JAN1,
    principal=120_000,
    installments=monthly(42_000, 42_000, 42_000),
    repayments=[paid("2026-02-20", 40_000, 2_000), paid("2026-03-01", 40_000, 2_000)],
)


def by_day(loans: list[LoanTimeline], start: str, end: str) -> dict[str, TrendRow]:
    rows = trends(loans, periods(D(start), D(end), Interval.DAY))
    return {r.date.isoformat(): r for r in rows}


def figures(row: TrendRow) -> tuple[int, str, str, str]:
    return (row.gross_portfolio, str(row.par(1)), str(row.par(30)), str(row.par(90)))


def test_two_loans_day_by_day_as_they_stood_then() -> None:
    rows = by_day([LOAN_A, LOAN_B], "2026-01-01", "2026-04-30")
    assert rows["2026-01-01"].disbursed == 240_000 and rows["2026-01-02"].disbursed == 0
    assert figures(rows["2026-01-01"]) == (240_000, "0.0000", "0.0000", "0.0000")
    # A paid on the day: 800.00 + B's 1,200.00 left; B is due today, not late yet.
    assert rows["2026-02-01"].collected == 42_000
    assert figures(rows["2026-02-01"]) == (200_000, "0.0000", "0.0000", "0.0000")
    # One day late is not "more than 1 day"; two days is: B's whole 1,200.00 is at risk.
    assert figures(rows["2026-02-02"]) == (200_000, "0.0000", "0.0000", "0.0000")
    assert figures(rows["2026-02-03"]) == (200_000, "0.6000", "0.0000", "0.0000")
    assert figures(rows["2026-02-19"]) == (200_000, "0.6000", "0.0000", "0.0000")
    # B catches up on the 20th: current again from that day, although it is late today.
    assert rows["2026-02-20"].collected == 42_000
    assert figures(rows["2026-02-20"]) == (160_000, "0.0000", "0.0000", "0.0000")
    # March: B pays on time, A does not; A's 800.00 of 1,200.00 is at risk from the 3rd.
    assert figures(rows["2026-03-01"]) == (120_000, "0.0000", "0.0000", "0.0000")
    assert figures(rows["2026-03-03"]) == (120_000, "0.6667", "0.0000", "0.0000")
    assert figures(rows["2026-03-31"]) == (120_000, "0.6667", "0.0000", "0.0000")
    # 31 days: A enters PAR30. B's April installment is due today.
    assert figures(rows["2026-04-01"]) == (120_000, "0.6667", "0.6667", "0.0000")
    assert figures(rows["2026-04-03"]) == (120_000, "1.0000", "0.6667", "0.0000")
    assert sum(r.collected for r in rows.values()) == 3 * 42_000


def test_months_are_cut_at_the_range_and_state_the_last_day() -> None:
    rows = trends([LOAN_A, LOAN_B], periods(D("2026-01-15"), D("2026-06-30"), Interval.MONTH))
    assert [r.date.isoformat() for r in rows] == [
        "2026-01-15",
        "2026-02-01",
        "2026-03-01",
        "2026-04-01",
        "2026-05-01",
        "2026-06-01",
    ]
    january, february, *_, june = rows
    # Disbursed on Jan 1, before the range: in the portfolio, not in the flows.
    assert (january.disbursed, january.gross_portfolio) == (0, 240_000)
    assert (february.collected, february.gross_portfolio) == (84_000, 160_000)
    assert str(february.par(1)) == "0.0000"  # both current on Feb 28
    # June 30: A 121 days late (over 90), B 90 days late (not over 90).
    assert figures(june) == (120_000, "1.0000", "1.0000", "0.6667")


def test_a_written_off_loan_leaves_the_portfolio_on_its_write_off_day() -> None:
    loan = LoanTimeline(
        disbursed_on=JAN1,
        principal=100_000,
        installments=monthly(110_000),
        written_off_on=D("2026-03-15"),
    )
    rows = by_day([loan], "2026-03-14", "2026-03-15")
    assert figures(rows["2026-03-14"]) == (100_000, "1.0000", "1.0000", "0.0000")
    assert figures(rows["2026-03-15"]) == (0, "0.0000", "0.0000", "0.0000")


def test_a_rescheduled_loan_is_at_risk_from_its_reschedule_whatever_it_owes() -> None:
    loan = LoanTimeline(
        disbursed_on=JAN1,
        principal=120_000,
        installments=monthly(42_000, 42_000, 42_000),
        repayments=[paid("2026-02-01", 40_000, 2_000)],
        rescheduled_on=D("2026-02-15"),
    )
    rows = by_day([loan, LOAN_A], "2026-02-14", "2026-02-15")
    assert figures(rows["2026-02-14"]) == (160_000, "0.0000", "0.0000", "0.0000")
    assert figures(rows["2026-02-15"]) == (160_000, "0.5000", "0.5000", "0.5000")


def test_a_closed_loan_is_out_on_its_last_payment_even_if_allocations_drifted() -> None:
    loan = LoanTimeline(
        disbursed_on=JAN1,
        principal=10_000,
        installments=monthly(10_500),
        repayments=[paid("2026-01-20", 9_999, 501)],
        closed_on=D("2026-01-20"),
    )
    rows = by_day([loan], "2026-01-19", "2026-01-20")
    assert rows["2026-01-19"].gross_portfolio == 10_000
    assert rows["2026-01-20"].gross_portfolio == 0 and rows["2026-01-20"].collected == 10_500


def test_a_financed_fee_is_owed_but_not_disbursed() -> None:
    loan = LoanTimeline(
        disbursed_on=JAN1, principal=100_000, amortized=103_000, installments=monthly(110_000)
    )
    (row,) = trends([loan], periods(JAN1, JAN1, Interval.DAY))
    assert (row.disbursed, row.gross_portfolio) == (100_000, 103_000)


def test_periods_and_default_ranges() -> None:
    assert periods(D("2026-01-15"), D("2026-03-10"), Interval.MONTH) == [
        Period(D("2026-01-15"), D("2026-01-31")),
        Period(D("2026-02-01"), D("2026-02-28")),
        Period(D("2026-03-01"), D("2026-03-10")),
    ]
    assert periods(D("9999-12-30"), D("9999-12-31"), Interval.MONTH) == [
        Period(D("9999-12-30"), D("9999-12-31"))
    ]
    assert default_start(D("2026-03-31"), Interval.DAY) == D("2026-03-01")
    assert default_start(D("2026-03-15"), Interval.MONTH) == D("2025-04-01")
    assert row_count(D("2025-04-01"), D("2026-03-15"), Interval.MONTH) == 12
    assert default_start(D("0001-01-05"), Interval.DAY) == date.min
    assert default_start(D("0001-06-05"), Interval.MONTH) == date.min


TODAY = D("2026-03-31")


def test_the_range_defaults_to_a_month_of_days_or_a_year_of_months() -> None:
    assert trends_range("", "", "", TODAY) == (D("2026-03-01"), TODAY, Interval.DAY)
    assert trends_range("", "", "month", TODAY) == (D("2025-04-01"), TODAY, Interval.MONTH)
    assert trends_range("2026-01-01", "2026-01-31", "day", TODAY)[:2] == (
        D("2026-01-01"),
        D("2026-01-31"),
    )


@pytest.mark.parametrize(
    ("from_text", "to_text", "interval", "fields"),
    [
        ("2026-04-01", "2026-03-31", "day", ["from"]),
        ("2026-13-01", "", "day", ["from"]),
        ("", "31/03/2026", "day", ["to"]),
        ("", "", "week", ["interval"]),
        ("yesterday", "", "year", ["interval", "from"]),
        ("2025-03-30", "2026-03-31", "day", ["from"]),  # 367 days
        ("2016-03-01", "2026-03-31", "month", ["from"]),  # 121 months
    ],
)
def test_bad_ranges_are_refused_naming_the_field(
    from_text: str, to_text: str, interval: str, fields: list[str]
) -> None:
    with pytest.raises(ValidationError) as refused:
        trends_range(from_text, to_text, interval, TODAY)
    assert fields_of(refused) == fields


def test_the_longest_ranges_allowed() -> None:
    assert trends_range("2025-03-31", "2026-03-31", "day", TODAY)[0] == D("2025-03-31")
    assert trends_range("2016-04-01", "2026-03-31", "month", TODAY)[0] == D("2016-04-01")
    # No arithmetic past the calendar's ends.
    assert trends_range("", "0001-01-05", "day", TODAY)[0] == date.min
    assert trends_range("", "9999-12-31", "month", TODAY)[0] == D("9999-01-01")


# --- an oracle: each day, each loan, straight from the definitions ---------------------------

THRESHOLDS = (1, 30, 90)


def oracle(loans: list[LoanTimeline], day: date) -> tuple[int, dict[int, int]]:
    gross, at_risk = 0, dict.fromkeys(THRESHOLDS, 0)
    for loan in loans:
        ended = [d for d in (loan.written_off_on, loan.closed_on) if d is not None]
        if loan.disbursed_on > day or any(d <= day for d in ended):
            continue
        done = [r for r in loan.repayments if r.paid_on <= day]
        owed = loan.amortized if loan.amortized is not None else loan.principal
        outstanding = max(0, owed - sum(r.principal for r in done))
        applied = sum(r.applied for r in done)
        oldest = None
        running = 0
        for inst in sorted(loan.installments, key=lambda i: i.due_date):
            running += inst.due
            if running > applied:
                oldest = inst.due_date
                break
        gross += outstanding
        for n in THRESHOLDS:
            restructured = loan.rescheduled_on is not None and loan.rescheduled_on <= day
            late = oldest is not None and (day - oldest).days > n
            if restructured or late:
                at_risk[n] += outstanding
    return gross, at_risk


BASE = D("2025-10-01")


@st.composite
def loan_timelines(draw: st.DrawFn, *, on_time: bool = False) -> LoanTimeline:
    disbursed = BASE + timedelta(days=draw(st.integers(0, 200)))
    gap = draw(st.sampled_from([7, 14, 30]))
    count = draw(st.integers(1, 6))
    principals = draw(st.lists(st.integers(0, 50_000), min_size=count, max_size=count))
    interests = draw(st.lists(st.integers(0, 5_000), min_size=count, max_size=count))
    principal = sum(principals) or 1
    installments = [
        Installment(disbursed + timedelta(days=gap * (k + 1)), p + i)
        for k, (p, i) in enumerate(zip(principals, interests, strict=True))
    ]
    repayments = []
    if on_time:
        for inst, p in zip(installments, principals, strict=True):
            early = draw(st.integers(0, gap - 1))
            repayments.append(
                Repayment(inst.due_date - timedelta(days=early), inst.due, p, inst.due)
            )
        return LoanTimeline(disbursed, principal, installments, repayments)
    left = principal
    for _ in range(draw(st.integers(0, 6))):
        part = draw(st.integers(0, left))
        left -= part
        interest = draw(st.integers(0, 5_000))
        extra = draw(st.integers(0, 1_000))
        on = disbursed + timedelta(days=draw(st.integers(0, 250)))
        repayments.append(Repayment(on, part + interest + extra, part, part + interest))
    closed = None
    if left == 0 and repayments and draw(st.booleans()):
        closed = max(r.paid_on for r in repayments)
    maybe_day = st.none() | st.integers(0, 300).map(lambda n: disbursed + timedelta(days=n))
    return LoanTimeline(
        disbursed_on=disbursed,
        principal=principal,
        installments=installments,
        repayments=repayments,
        amortized=draw(st.none() | st.integers(principal, principal + 5_000)),
        rescheduled_on=draw(maybe_day),
        written_off_on=None if closed else draw(maybe_day),
        closed_on=closed,
    )


portfolios = st.lists(loan_timelines(), max_size=8)
starts = st.integers(0, 400).map(lambda n: BASE + timedelta(days=n))


@settings(max_examples=150, deadline=None)
@given(portfolios, starts, st.integers(0, 120))
def test_every_day_matches_the_definitions(
    loans: list[LoanTimeline], start: date, length: int
) -> None:
    end = start + timedelta(days=length)
    for row in trends(loans, periods(start, end, Interval.DAY)):
        gross, at_risk = oracle(loans, row.date)
        assert row.gross_portfolio == gross, row.date
        assert row.at_risk == at_risk, row.date
        assert row.disbursed == sum(
            loan.principal for loan in loans if loan.disbursed_on == row.date
        )
        assert row.collected == sum(
            r.amount for loan in loans for r in loan.repayments if r.paid_on == row.date
        )


@settings(max_examples=100, deadline=None)
@given(st.lists(loan_timelines(on_time=True), max_size=8), starts, st.integers(0, 200))
def test_loans_paid_on_time_hold_what_was_lent_less_what_came_back(
    loans: list[LoanTimeline], start: date, length: int
) -> None:
    end = start + timedelta(days=length)
    for row in trends(loans, periods(start, end, Interval.DAY)):
        lent = sum(loan.principal for loan in loans if loan.disbursed_on <= row.date)
        back = sum(r.principal for loan in loans for r in loan.repayments if r.paid_on <= row.date)
        assert row.gross_portfolio == lent - back
        assert row.at_risk == dict.fromkeys(THRESHOLDS, 0)


@settings(max_examples=100, deadline=None)
@given(portfolios, starts, st.integers(0, 365), st.sampled_from(list(Interval)))
def test_par_is_a_share_and_longer_arrears_are_fewer(
    loans: list[LoanTimeline], start: date, length: int, interval: Interval
) -> None:
    for row in trends(loans, periods(start, start + timedelta(days=length), interval)):
        assert row.gross_portfolio >= row.at_risk[1] >= row.at_risk[30] >= row.at_risk[90] >= 0
        ratios = [row.par(1), row.par(30), row.par(90)]
        assert Decimal(1) >= ratios[0] >= ratios[1] >= ratios[2] >= 0
        assert all(r.as_tuple().exponent == -4 for r in ratios)


@settings(max_examples=100, deadline=None)
@given(portfolios, starts, st.integers(1, 120), st.data())
def test_splitting_a_range_in_two_gives_the_same_rows(
    loans: list[LoanTimeline], start: date, length: int, data: st.DataObject
) -> None:
    end = start + timedelta(days=length)
    cut = start + timedelta(days=data.draw(st.integers(0, length - 1)))
    whole = trends(loans, periods(start, end, Interval.DAY))
    halves = trends(loans, periods(start, cut, Interval.DAY)) + trends(
        loans, periods(cut + timedelta(days=1), end, Interval.DAY)
    )
    assert whole == halves
    # By month, a cut between two months leaves every row as it was.
    months = periods(start, end, Interval.MONTH)
    if len(months) > 1:
        boundary = months[data.draw(st.integers(1, len(months) - 1))].start
        assert trends(loans, months) == trends(
            loans, periods(start, boundary - timedelta(days=1), Interval.MONTH)
        ) + trends(loans, periods(boundary, end, Interval.MONTH))


@settings(max_examples=100, deadline=None)
@given(portfolios, starts, st.integers(0, 150))
def test_a_month_row_adds_up_its_days(loans: list[LoanTimeline], start: date, length: int) -> None:
    end = start + timedelta(days=length)
    days = trends(loans, periods(start, end, Interval.DAY))
    for month in trends(loans, periods(start, end, Interval.MONTH)):
        inside = [
            d for d in days if (d.date.year, d.date.month) == (month.date.year, month.date.month)
        ]
        assert month.disbursed == sum(d.disbursed for d in inside)
        assert month.collected == sum(d.collected for d in inside)
        # The stock figures are those of the month's last day in the range.
        assert (month.gross_portfolio, month.at_risk) == (
            inside[-1].gross_portfolio,
            inside[-1].at_risk,
        )
