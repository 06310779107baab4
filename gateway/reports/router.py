"""Portfolio quality and arrears reports, with CSV and XLSX exports."""

from __future__ import annotations

import csv
import io
from typing import Any, Literal

from fastapi import APIRouter, Response
from openpyxl import Workbook

from gateway.convert import to_json
from gateway.deps import Stubs, allowed
from kopa.reporting.v1 import reporting_pb2
from shared.permissions import Permission as P

router = APIRouter(tags=["reports"])

ARREARS_COLUMNS = [
    "loan_id",
    "borrower_id",
    "branch_id",
    "days_past_due",
    "overdue_principal",
    "overdue_interest",
    "overdue_total",
    "outstanding_principal",
    "bucket",
]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@router.get("/v1/reports/portfolio", dependencies=[allowed(P.REPORTS_READ)])
async def portfolio(stubs: Stubs, as_of: str = "") -> dict[str, Any]:
    reply = await stubs.reporting.GetPortfolioReport(
        reporting_pb2.GetPortfolioReportRequest(as_of=as_of)
    )
    return to_json(reply)


@router.get("/v1/reports/arrears", response_model=None, dependencies=[allowed(P.REPORTS_READ)])
async def arrears(
    stubs: Stubs, as_of: str = "", format: Literal["json", "csv", "xlsx"] = "json"
) -> dict[str, Any] | Response:
    reply = await stubs.reporting.GetArrearsReport(
        reporting_pb2.GetArrearsReportRequest(as_of=as_of)
    )
    rows = [to_json(line) for line in reply.lines]
    if format == "json":
        return {"as_of": as_of, "currency": reply.currency, "items": rows}
    name = f"arrears-{as_of or 'today'}"
    if format == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=ARREARS_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
        return Response(
            out.getvalue(),
            media_type="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
        )
    book = Workbook(write_only=True)
    sheet = book.create_sheet("arrears")
    sheet.append(ARREARS_COLUMNS)
    for row in rows:
        sheet.append([row.get(c) for c in ARREARS_COLUMNS])
    buffer = io.BytesIO()
    book.save(buffer)
    return Response(
        buffer.getvalue(),
        media_type=XLSX,
        headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'},
    )
