"""The ReportingService servicer."""

from __future__ import annotations

from typing import TypeAlias

import grpc

from kopa.reporting.v1 import reporting_pb2, reporting_pb2_grpc
from reporting_service.service_layer.handlers import ReportingHandlers

Ctx: TypeAlias = grpc.aio.ServicerContext

INTERVALS = {
    reporting_pb2.TREND_INTERVAL_UNSPECIFIED: "",
    reporting_pb2.TREND_INTERVAL_DAY: "day",
    reporting_pb2.TREND_INTERVAL_MONTH: "month",
}
INTERVAL_ENUMS = {word: number for number, word in INTERVALS.items() if word}


class ReportingServicer(reporting_pb2_grpc.ReportingServiceServicer):
    def __init__(self, handlers: ReportingHandlers) -> None:
        self.h = handlers

    async def SearchBorrowers(
        self, request: reporting_pb2.SearchBorrowersRequest, context: Ctx
    ) -> reporting_pb2.SearchBorrowersResponse:
        hits = await self.h.search_borrowers(request.query, request.page_size)
        return reporting_pb2.SearchBorrowersResponse(
            borrowers=[reporting_pb2.BorrowerHit(**h) for h in hits]
        )

    async def GetPortfolioReport(
        self, request: reporting_pb2.GetPortfolioReportRequest, context: Ctx
    ) -> reporting_pb2.GetPortfolioReportResponse:
        group_by = {
            reporting_pb2.PORTFOLIO_GROUPING_CENTER: "center",
            reporting_pb2.PORTFOLIO_GROUPING_GROUP: "group",
        }.get(request.group_by, "")
        report = await self.h.portfolio(request.as_of, group_by)
        return reporting_pb2.GetPortfolioReportResponse(
            **{k: v for k, v in report.items() if k != "groups"},
            groups=[reporting_pb2.PortfolioGroup(**g) for g in report["groups"]],
        )

    async def GetArrearsReport(
        self, request: reporting_pb2.GetArrearsReportRequest, context: Ctx
    ) -> reporting_pb2.GetArrearsReportResponse:
        currency, lines = await self.h.arrears(request.as_of)
        return reporting_pb2.GetArrearsReportResponse(
            currency=currency, lines=[reporting_pb2.ArrearsLine(**line) for line in lines]
        )

    async def GetTrendsReport(
        self, request: reporting_pb2.GetTrendsReportRequest, context: Ctx
    ) -> reporting_pb2.GetTrendsReportResponse:
        # An enum number this build does not know is passed on as text the handler refuses.
        interval = INTERVALS.get(request.interval, str(request.interval))
        report = await self.h.trends(request.from_date, request.to_date, interval)
        return reporting_pb2.GetTrendsReportResponse(
            currency=report["currency"],
            interval=INTERVAL_ENUMS[report["interval"]],
            from_date=report["from_date"],
            to_date=report["to_date"],
            rows=[reporting_pb2.TrendsRow(**row) for row in report["rows"]],
        )
