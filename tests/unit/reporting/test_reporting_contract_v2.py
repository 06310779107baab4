"""kopa.reporting.v2's mapping: a request's google.type.Date and enums read at the edge (a
malformed one named by the gateway's name for its field, every such field at once, before any
query runs); the queries' typed answers written as Money naming the currency, Date and enums,
and shown by the gateway exactly as v1's text."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D
from typing import Any

import pytest
from google.type import date_pb2, money_pb2

from gateway.convert import from_proto
from gateway.reports.schemas import ArrearsLine, GroupedPortfolioReport, TrendsRow
from kopa.reporting.v2 import reporting_pb2 as v2
from reporting_service.domain.portfolio import PortfolioFigures
from reporting_service.domain.trends import Interval
from reporting_service.entrypoints import mapping as m
from reporting_service.entrypoints.grpc_servicer import ReportingServicer, ReportingServicerV2
from reporting_service.service_layer import handlers as h
from shared.errors import ValidationError

pytestmark = pytest.mark.unit


def figures(gross: str, at_risk: str, loans: int = 3) -> PortfolioFigures:
    risk = D(at_risk)
    return PortfolioFigures(
        active_loans=loans,
        gross_portfolio=D(gross),
        at_risk={1: risk, 30: risk, 60: D(0), 90: D(0)},
        disbursed=D("15000.00"),
        repaid=D("2500.50"),
    )


REPORT = h.PortfolioReport(
    as_of=date(2026, 3, 31),
    currency="KES",
    figures=figures("8000.00", "1000.00"),
    groups=[("grp_1", figures("6000.00", "1000.00", 2)), ("", figures("2000.00", "0", 1))],
)


def test_a_portfolio_report_is_money_naming_the_currency_a_date_and_ratio_text() -> None:
    reply = m.portfolio_to_proto(REPORT, m.V2)
    assert reply.gross_portfolio == money_pb2.Money(currency_code="KES", units=8000)
    assert reply.repaid == money_pb2.Money(currency_code="KES", units=2500, nanos=500_000_000)
    assert reply.as_of == date_pb2.Date(year=2026, month=3, day=31)
    assert (reply.par1, reply.par30, reply.par60) == ("0.1250", "0.1250", "0.0000")
    assert [(g.key, g.gross_portfolio.units, g.par1) for g in reply.groups] == [
        ("grp_1", 6000, "0.1667"),
        ("", 2000, "0.0000"),
    ]


def test_the_gateway_shows_v2_as_it_showed_v1() -> None:
    def shown(reply: Any) -> Any:
        return from_proto(GroupedPortfolioReport, reply).model_dump(mode="json")

    json = shown(m.portfolio_to_proto(REPORT, m.V2))
    assert json == shown(m.portfolio_to_proto(REPORT, m.V1))
    assert (json["as_of"], json["repaid"], json["groups"][1]["key"]) == (
        "2026-03-31",
        "2500.50",
        None,
    )

    line = h.ArrearsLine(
        loan_id="loan_1",
        borrower_id="bor_1",
        branch_id="br_1",
        days_past_due=53,
        overdue_principal=D("2500"),
        overdue_interest=D("92.305"),  # a sum with more decimals: both round half-even
        overdue_total=D("2592.31"),
        outstanding_principal=D("10000.00"),
        bucket="31-60",
        borrower_name="Achieng Odhiambo",
    )
    lines = [
        from_proto(ArrearsLine, reply.lines[0]).model_dump(mode="json")
        for reply in (m.arrears_to_proto("KES", [line], w) for w in (m.V1, m.V2))
    ]
    assert lines[0] == lines[1]
    assert (lines[1]["overdue_principal"], lines[1]["overdue_interest"]) == ("2500.00", "92.30")


def test_a_trends_report_in_a_currency_without_decimals() -> None:
    report = h.TrendsReport(
        currency="UGX",
        interval=Interval.MONTH,
        start=date(2026, 1, 15),
        end=date(2026, 2, 28),
        rows=[
            h.TrendsPeriod(
                date=date(2026, 1, 15),
                gross_portfolio=D("1500000"),
                par={1: D("0.0811"), 30: D("0.0376"), 90: D("0.0000")},
                disbursed=D("1500000"),
                collected=D("0"),
            )
        ],
    )
    reply = m.trends_to_proto(report, m.V2)
    assert reply.interval == v2.TREND_INTERVAL_MONTH
    assert reply.from_date == date_pb2.Date(year=2026, month=1, day=15)
    row = reply.rows[0]
    assert row.gross_portfolio == money_pb2.Money(currency_code="UGX", units=1_500_000)
    assert row.collected == money_pb2.Money(currency_code="UGX")
    assert from_proto(TrendsRow, row).model_dump(mode="json") == {
        "date": "2026-01-15",
        "gross_portfolio": "1500000",
        "par1": "0.0811",
        "par30": "0.0376",
        "par90": "0.0000",
        "disbursed": "1500000",
        "collected": "0",
    }
    assert m.trends_to_proto(report, m.V1).rows[0].gross_portfolio == "1500000"


class Recorder:
    """The queries, recording what they are asked (the edge is under test, not the queries)."""

    def __init__(self) -> None:
        self.asked: list[tuple[Any, ...]] = []

    async def portfolio(self, as_of: str, group_by: str) -> h.PortfolioReport:
        self.asked.append(("portfolio", as_of, group_by))
        return REPORT

    async def arrears(self, as_of: str) -> tuple[str, list[h.ArrearsLine]]:
        self.asked.append(("arrears", as_of))
        return "KES", []

    async def trends(self, start: str, end: str, interval: str) -> h.TrendsReport:
        self.asked.append(("trends", start, end, interval))
        raise AssertionError("not reached in these tests")


def servicer(cls: type[Any]) -> tuple[Any, Recorder]:
    recorder = Recorder()
    return cls(recorder), recorder


async def test_v2_requests_reach_the_queries_as_v1_text_and_words() -> None:
    new, asked_new = servicer(ReportingServicerV2)
    old, asked_old = servicer(ReportingServicer)
    await new.GetPortfolioReport(
        v2.GetPortfolioReportRequest(
            as_of=date_pb2.Date(year=2026, month=3, day=31), group_by=v2.PORTFOLIO_GROUPING_GROUP
        ),
        None,
    )
    await new.GetArrearsReport(v2.GetArrearsReportRequest(), None)
    await old.GetPortfolioReport(
        old.wire.pb.GetPortfolioReportRequest(as_of="2026-03-31", group_by=2), None
    )
    await old.GetArrearsReport(old.wire.pb.GetArrearsReportRequest(), None)
    assert (
        asked_new.asked
        == asked_old.asked
        == [
            ("portfolio", "2026-03-31", "group"),
            ("arrears", ""),
        ]
    )


@pytest.mark.parametrize(
    ("request_", "errors"),
    [
        (
            v2.GetTrendsReportRequest(
                from_date=date_pb2.Date(year=2026, month=13, day=1),
                to_date=date_pb2.Date(year=2026, month=2, day=30),
                interval=7,
            ),
            {"from", "to", "interval"},
        ),
        (
            v2.GetPortfolioReportRequest(
                as_of=date_pb2.Date(year=2026, month=0, day=5), group_by=9
            ),
            {"as_of", "group_by"},
        ),
        (v2.GetArrearsReportRequest(as_of=date_pb2.Date(month=3, day=31)), {"as_of"}),
    ],
)
async def test_a_malformed_date_or_enum_is_named_before_any_query(
    request_: Any, errors: set[str]
) -> None:
    new, recorder = servicer(ReportingServicerV2)
    method = getattr(new, type(request_).__name__.removesuffix("Request"))
    with pytest.raises(ValidationError) as refused:
        await method(request_, None)
    assert {name for name, _ in refused.value.field_errors} == errors
    assert recorder.asked == []
