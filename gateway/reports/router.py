"""Portfolio quality, arrears and trends reports, with CSV and XLSX exports."""

from __future__ import annotations

import csv
import io
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from openpyxl import Workbook

from gateway.convert import from_proto, to_proto
from gateway.deps import Stubs, allowed
from gateway.reports.schemas import (
    ArrearsLine,
    ArrearsReport,
    GroupedPortfolioReport,
    PortfolioReport,
    TrendsReport,
    TrendsRow,
)
from gateway.schema import IsoDate
from kopa.reporting.v2 import reporting_pb2
from shared.dates import from_proto_date
from shared.permissions import Permission as P

router = APIRouter(tags=["reports"])

ARREARS_COLUMNS = list(ArrearsLine.model_fields)
TRENDS_COLUMNS = list(TrendsRow.model_fields)
CSV = "text/csv"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

AsOf = Annotated[IsoDate | None, Query(description="the report's date; default: today")]


def _file_responses() -> dict[int | str, dict[str, Any]]:
    return {
        200: {
            "description": "the report as JSON, or as a CSV or XLSX file to download",
            "content": {
                CSV: {"schema": {"type": "string"}},
                XLSX: {"schema": {"type": "string", "format": "binary"}},
            },
        }
    }


def _download(
    name: str,
    sheet_name: str,
    columns: list[str],
    rows: list[dict[str, Any]],
    format: Literal["csv", "xlsx"],
) -> Response:
    """The rows as a file to download, `name.csv` or `name.xlsx`, one column each."""
    if format == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
        return Response(
            out.getvalue(),
            media_type=CSV,
            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
        )
    book = Workbook(write_only=True)
    sheet = book.create_sheet(sheet_name)
    sheet.append(columns)
    for row in rows:
        sheet.append([row[c] for c in columns])
    buffer = io.BytesIO()
    book.save(buffer)
    return Response(
        buffer.getvalue(),
        media_type=XLSX,
        headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'},
    )


@router.get(
    "/v1/reports/portfolio",
    summary="Portfolio quality",
    dependencies=[allowed(P.REPORTS_READ)],
)
async def portfolio(
    stubs: Stubs,
    as_of: AsOf = None,
    group_by: Annotated[
        Literal["center", "group"] | None,
        Query(description="also the active portfolio per centre or per group (`groups`)"),
    ] = None,
) -> GroupedPortfolioReport | PortfolioReport:
    """The gross portfolio, portfolio at risk (PAR 1, 30, 60 and 90, as in the SEEP/CGAP
    guidelines), and what was disbursed and repaid, as of a date, over the caller's scope
    (their branch for branch staff). Built from the loans' and payments' events: a change
    shows within seconds. With `group_by`, also per centre or group of the group loans'
    member loans (each counted once; the other loans under a null key)."""
    reply = await stubs.reporting.GetPortfolioReport(
        to_proto(reporting_pb2.GetPortfolioReportRequest, as_of=as_of, group_by=group_by)
    )
    if group_by is None:
        return from_proto(PortfolioReport, reply)
    return from_proto(GroupedPortfolioReport, reply)


@router.get(
    "/v1/reports/arrears",
    response_model=ArrearsReport,
    summary="Loans in arrears",
    dependencies=[allowed(P.REPORTS_READ)],
    responses=_file_responses(),
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
    return _download(name, "arrears", ARREARS_COLUMNS, rows, format)


def trends_from_proto(reply: reporting_pb2.GetTrendsReportResponse) -> TrendsReport:
    return from_proto(
        TrendsReport,
        reply,
        from_=from_proto_date(reply.from_date),
        to=from_proto_date(reply.to_date),
        items=[from_proto(TrendsRow, row) for row in reply.rows],
    )


@router.get(
    "/v1/reports/trends",
    response_model=TrendsReport,
    summary="The portfolio over time",
    dependencies=[allowed(P.REPORTS_READ)],
    responses=_file_responses(),
)
async def trends(
    stubs: Stubs,
    from_: Annotated[
        IsoDate | None,
        Query(
            alias="from",
            description="the first day; default: 30 days before `to` by day (31 rows), the "
            "first of the month 11 months before `to`'s by month (12 rows)",
        ),
    ] = None,
    to: Annotated[IsoDate | None, Query(description="the last day; default: today")] = None,
    interval: Annotated[
        Literal["day", "month"],
        Query(description="one row per day, or per calendar month"),
    ] = "day",
    format: Annotated[
        Literal["json", "csv", "xlsx"],
        Query(description="`csv` and `xlsx` answer a file with one row per period"),
    ] = "json",
) -> TrendsReport | Response:
    """The gross portfolio and portfolio at risk (PAR 1, 30 and 90, as in the portfolio report)
    at the end of each day or month from `from` to `to`, as they stood on that day (from the
    disbursements, repayments, reschedules and write-offs dated on or before it, so a
    backdated repayment changes the past rows it falls in), and what was disbursed and
    collected within each period, over the caller's scope (their branch for branch staff).

    A row's `date` is its period's first day; monthly rows follow calendar months, the first
    and last cut at `from` and `to`. A `from` after `to`, or a range of more than 366 daily or
    120 monthly rows, is 422 naming `from`. Built from the loans' events: a change shows
    within seconds. As JSON, or as a spreadsheet (`format=csv` or `xlsx`, the columns of
    `items`) named `trends-<interval>-<from>-<to>`."""
    reply = await stubs.reporting.GetTrendsReport(
        to_proto(
            reporting_pb2.GetTrendsReportRequest,
            from_date=from_,
            to_date=to,
            interval=interval,
        )
    )
    report = trends_from_proto(reply)
    if format == "json":
        return report
    rows = [row.model_dump(mode="json") for row in report.items]
    name = f"trends-{report.interval}-{report.from_.isoformat()}-{report.to.isoformat()}"
    return _download(name, "trends", TRENDS_COLUMNS, rows, format)
