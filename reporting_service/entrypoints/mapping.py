"""The queries' typed answers as proto messages, for both versions of the contract.

kopa.reporting.v1 and kopa.reporting.v2 answer the same messages by the same field names; they
differ only in how a value is written (a `Wire`): v1 writes amounts as decimal strings with
exactly the currency's decimals and dates as ISO text, v2 writes `google.type.Money` naming the
currency and `google.type.Date`. Ratios are 4-place decimal text on both."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from types import ModuleType
from typing import Any

from google.type import money_pb2

from kopa.reporting.v1 import reporting_pb2
from kopa.reporting.v2 import reporting_pb2 as reporting_v2
from reporting_service.domain import portfolio, trends
from reporting_service.service_layer import handlers as h
from shared.dates import to_proto_date
from shared.money import fmt, quantum, to_money
from shared.wire import enum_prefix


def _as_money(amount: Decimal, currency: str) -> money_pb2.Money:
    # Rounded half-even to the currency's decimals as `fmt` rounds v1's text, so that both
    # versions show the same amount.
    return to_money(amount.quantize(quantum(currency)), currency)


@dataclass(frozen=True)
class Wire:
    """How one version of the contract writes values."""

    #: The module of its messages.
    pb: ModuleType
    #: An amount of a currency.
    money: Callable[[Decimal, str], Any]
    #: A date.
    day: Callable[[date], Any]


V1 = Wire(pb=reporting_pb2, money=fmt, day=date.isoformat)
V2 = Wire(pb=reporting_v2, money=_as_money, day=to_proto_date)


def borrowers_to_proto(hits: list[h.BorrowerHit], wire: Wire = V1) -> Any:
    return wire.pb.SearchBorrowersResponse(
        borrowers=[
            wire.pb.BorrowerHit(
                id=b.id,
                first_name=b.first_name,
                last_name=b.last_name,
                national_id=b.national_id,
                phone=b.phone,
                branch_id=b.branch_id,
            )
            for b in hits
        ]
    )


def _pars(par: Callable[[int], Decimal], thresholds: tuple[int, ...]) -> dict[str, str]:
    return {f"par{d}": str(par(d)) for d in thresholds}


def portfolio_to_proto(report: h.PortfolioReport, wire: Wire = V1) -> Any:
    currency, f = report.currency, report.figures
    money = wire.money
    return wire.pb.GetPortfolioReportResponse(
        as_of=wire.day(report.as_of),
        currency=currency,
        active_loans=f.active_loans,
        gross_portfolio=money(f.gross_portfolio, currency),
        **_pars(f.par, portfolio.PAR_THRESHOLDS),
        disbursed=money(f.disbursed, currency),
        repaid=money(f.repaid, currency),
        groups=[
            wire.pb.PortfolioGroup(
                key=key,
                active_loans=g.active_loans,
                gross_portfolio=money(g.gross_portfolio, currency),
                **_pars(g.par, portfolio.PAR_THRESHOLDS),
            )
            for key, g in report.groups
        ],
    )


def arrears_to_proto(currency: str, lines: list[h.ArrearsLine], wire: Wire = V1) -> Any:
    money = wire.money
    return wire.pb.GetArrearsReportResponse(
        currency=currency,
        lines=[
            wire.pb.ArrearsLine(
                loan_id=line.loan_id,
                borrower_id=line.borrower_id,
                branch_id=line.branch_id,
                days_past_due=line.days_past_due,
                overdue_principal=money(line.overdue_principal, currency),
                overdue_interest=money(line.overdue_interest, currency),
                overdue_total=money(line.overdue_total, currency),
                outstanding_principal=money(line.outstanding_principal, currency),
                bucket=line.bucket,
                borrower_name=line.borrower_name,
            )
            for line in lines
        ],
    )


def trends_to_proto(report: h.TrendsReport, wire: Wire = V1) -> Any:
    currency, money = report.currency, wire.money
    return wire.pb.GetTrendsReportResponse(
        currency=currency,
        interval=wire.pb.TrendInterval.Value(
            enum_prefix("TrendInterval") + report.interval.value.upper()
        ),
        from_date=wire.day(report.start),
        to_date=wire.day(report.end),
        rows=[
            wire.pb.TrendsRow(
                date=wire.day(row.date),
                gross_portfolio=money(row.gross_portfolio, currency),
                **_pars(row.par.__getitem__, trends.TREND_PAR_THRESHOLDS),
                disbursed=money(row.disbursed, currency),
                collected=money(row.collected, currency),
            )
            for row in report.rows
        ],
    )
