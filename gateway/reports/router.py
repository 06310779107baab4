"""Portfolio quality and arrears reports, with CSV and XLSX exports."""

from __future__ import annotations

import csv
import io
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from openpyxl import Workbook

from gateway.convert import from_proto, to_proto
from gateway.deps import Stubs, allowed
from gateway.reports.schemas import ArrearsLine, ArrearsReport, PortfolioReport
from gateway.schema import IsoDate
from kopa.reporting.v1 import reporting_pb2
from shared.permissions import Permission as P

router = APIRouter(tags=["reports"])

ARREARS_COLUMNS = list(ArrearsLine.model_fields)
CSV = "text/csv"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

AsOf = Annotated[IsoDate | None, Query(description="the report's date; default: today")]


@router.get(
    "/v1/reports/portfolio",
    summary="Portfolio quality",
    dependencies=[allowed(P.REPORTS_READ)],
)
async def portfolio(stubs: Stubs, as_of: AsOf = None) -> PortfolioReport:
    """The gross portfolio, portfolio at risk (PAR 1, 30, 60 and 90, as in the SEEP/CGAP
    guidelines), and what was disbursed and repaid, as of a date, over the caller's scope
    (their branch for branch staff). Built from the loans' and payments' events: a change
    shows within seconds."""
    reply = await stubs.reporting.GetPortfolioReport(
        to_proto(reporting_pb2.GetPortfolioReportRequest, as_of=as_of)
    )
    return from_proto(PortfolioReport, reply)


@router.get(
    "/v1/reports/arrears",
    response_model=ArrearsReport,
    summary="Loans in arrears",
    dependencies=[allowed(P.REPORTS_READ)],
    responses={
        200: {
            "description": "the report as JSON, or as a CSV or XLSX file to download",
            "content": {
                CSV: {"schema": {"type": "string"}},
                XLSX: {"schema": {"type": "string", "format": "binary"}},
            },
        }
    },
)
async def arrears(
    stubs: Stubs,
    as_of: AsOf = None,
    format: Annotated[
        Literal["json", "csv", "xlsx"],
        Query(description="`csv` and `xlsx` answer a file with one row per loan"),
    ] = "json",
) -> ArrearsReport | Response:
    """Every `active` loan of the caller's scope with an installment unpaid after its due
    date, most days past due first: what is overdue, the principal still owed and the
    delinquency bucket. As JSON, or as a spreadsheet (`format=csv` or `xlsx`, the same
    columns as the JSON lines) named `arrears-<as_of>` (`arrears-today` without `as_of`)."""
    reply = await stubs.reporting.GetArrearsReport(
        to_proto(reporting_pb2.GetArrearsReportRequest, as_of=as_of)
    )
    report = ArrearsReport(
        as_of=as_of.isoformat() if as_of else "",
        currency=reply.currency,
        items=[from_proto(ArrearsLine, line) for line in reply.lines],
    )
    if format == "json":
        return report
    rows = [line.model_dump() for line in report.items]
    name = f"arrears-{report.as_of or 'today'}"
    if format == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=ARREARS_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
        return Response(
            out.getvalue(),
            media_type=CSV,
            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
        )
    book = Workbook(write_only=True)
    sheet = book.create_sheet("arrears")
    sheet.append(ARREARS_COLUMNS)
    for row in rows:
        sheet.append([row[c] for c in ARREARS_COLUMNS])
    buffer = io.BytesIO()
    book.save(buffer)
    return Response(
        buffer.getvalue(),
        media_type=XLSX,
        headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'},
    )
