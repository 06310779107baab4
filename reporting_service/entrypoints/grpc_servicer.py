"""The ReportingService servicers of kopa.reporting.v1 (deprecated) and kopa.reporting.v2.

Both run the same queries (`ReportingUseCases`): a request's fields are read once at the edge
(`shared.wire.request_fields`: v2's google.type.Date as ISO text, enums as words, a malformed
one refused naming its field by the gateway's name) and the queries judge the values; the
answer is written by the version's `mapping.Wire`."""

from __future__ import annotations

from typing import Any, TypeAlias

import grpc

from kopa.reporting.v1 import reporting_pb2_grpc
from kopa.reporting.v2 import reporting_pb2_grpc as reporting_v2_grpc
from reporting_service.entrypoints import mapping as m
from reporting_service.service_layer.handlers import ReportingHandlers
from shared.wire import request_fields

Ctx: TypeAlias = grpc.aio.ServicerContext[Any, Any]

#: The gateway's names of the trends report's range.
RANGE_NAMES = {"from_date": "from", "to_date": "to"}


class ReportingUseCases:
    wire: m.Wire = m.V1

    def __init__(self, handlers: ReportingHandlers) -> None:
        self.h = handlers

    async def SearchBorrowers(self, request: Any, context: Ctx) -> Any:
        hits = await self.h.search_borrowers(request.query, request.page_size)
        return m.borrowers_to_proto(hits, self.wire)

    async def GetPortfolioReport(self, request: Any, context: Ctx) -> Any:
        read = request_fields(request).values
        report = await self.h.portfolio(read["as_of"], read["group_by"])
        return m.portfolio_to_proto(report, self.wire)

    async def GetArrearsReport(self, request: Any, context: Ctx) -> Any:
        currency, lines = await self.h.arrears(request_fields(request).values["as_of"])
        return m.arrears_to_proto(currency, lines, self.wire)

    async def GetTrendsReport(self, request: Any, context: Ctx) -> Any:
        read = request_fields(request, RANGE_NAMES).values
        report = await self.h.trends(read["from_date"], read["to_date"], read["interval"])
        return m.trends_to_proto(report, self.wire)


class ReportingServicer(ReportingUseCases, reporting_pb2_grpc.ReportingServiceServicer):
    """kopa.reporting.v1: amounts as decimal text, dates as ISO text."""

    wire = m.V1


class ReportingServicerV2(ReportingUseCases, reporting_v2_grpc.ReportingServiceServicer):
    """kopa.reporting.v2: google.type.Money, google.type.Date and enums."""

    wire = m.V2
