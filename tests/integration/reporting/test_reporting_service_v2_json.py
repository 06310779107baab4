"""The API's JSON is the same whichever version of kopa.reporting.*.ReportingService the
gateway reads: the gateway's response models fed v1's text and v2's Money, Date and enums give
the same JSON for the portfolio (whole and per centre), arrears and trends (by day and by
month) reports of loans the real loan_service disbursed, repaid and reversed, indexed by the
real reporting_service from the events it published."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest

from gateway.convert import from_proto
from gateway.reports.router import trends_from_proto
from gateway.reports.schemas import (
    ArrearsLine,
    GroupedPortfolioReport,
    PortfolioReport,
    TrendsReport,
    TrendsRow,
)
from kopa.loan.v2 import repayments_pb2
from kopa.reporting.v1 import reporting_pb2 as v1
from kopa.reporting.v1 import reporting_pb2_grpc as v1_grpc
from kopa.reporting.v2 import reporting_pb2 as v2
from kopa.reporting.v2 import reporting_pb2_grpc as v2_grpc
from shared.dates import to_proto_date
from tests.support.loan_world import TODAY, World, active, create_product, institution
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration


def shown(model: Any) -> Any:
    return model.model_dump(mode="json")


async def test_the_reports_show_the_same_json_from_v1_and_v2(world: World, reporting: Any) -> None:
    old_stub, new_stub = (
        v1_grpc.ReportingServiceStub(reporting),
        v2_grpc.ReportingServiceStub(reporting),
    )
    inst = institution(world)
    product = await create_product(inst)
    late = await active(inst, product.id, TODAY - timedelta(days=75), principal="12000.00")
    await active(inst, product.id, TODAY - timedelta(days=10), principal="5000.50")
    for payment_id, units in (("pay_1", 2500), ("pay_2", 700)):
        await world.money.ApplyRepayment(
            repayments_pb2.ApplyRepaymentRequest(
                loan_id=late.id,
                payment_id=payment_id,
                amount=units * 100 + 5,
                currency="KES",
                paid_on=to_proto_date(TODAY - timedelta(days=40)),
            ),
            metadata=inst.manager,
        )
    await world.money.ReverseRepayment(
        repayments_pb2.ReverseRepaymentRequest(loan_id=late.id, payment_id="pay_2", reason="x"),
        metadata=inst.manager,
    )
    who = inst.admin

    async def indexed() -> bool:
        reply = await old_stub.GetPortfolioReport(v1.GetPortfolioReportRequest(), metadata=who)
        return reply.active_loans == 2 and reply.repaid == "2500.05"

    await wait_until(indexed, limit=60)

    as_of = TODAY.isoformat()
    for group_by, model in ((0, PortfolioReport), (v1.PORTFOLIO_GROUPING_CENTER, None)):
        old_p = await old_stub.GetPortfolioReport(
            v1.GetPortfolioReportRequest(as_of=as_of, group_by=group_by), metadata=who
        )
        new_p = await new_stub.GetPortfolioReport(
            v2.GetPortfolioReportRequest(as_of=to_proto_date(as_of), group_by=group_by),
            metadata=who,
        )
        shape = model or GroupedPortfolioReport
        json = shown(from_proto(shape, new_p))
        assert json == shown(from_proto(shape, old_p))
        assert (json["disbursed"], json["repaid"], json["as_of"]) == ("17000.50", "2500.05", as_of)
    assert json["groups"][0]["key"] is None  # loans of no centre
    assert json["groups"][0]["gross_portfolio"] == json["gross_portfolio"]

    old_a = await old_stub.GetArrearsReport(v1.GetArrearsReportRequest(), metadata=who)
    new_a = await new_stub.GetArrearsReport(v2.GetArrearsReportRequest(), metadata=who)
    lines = [shown(from_proto(ArrearsLine, line)) for line in new_a.lines]
    assert lines == [shown(from_proto(ArrearsLine, line)) for line in old_a.lines]
    assert [line["loan_id"] for line in lines] == [late.id]
    assert new_a.currency == old_a.currency == "KES"

    def old_trends(reply: Any) -> TrendsReport:
        # As the gateway read v1: ISO text for the range.
        return from_proto(
            TrendsReport,
            reply,
            from_=reply.from_date,
            to=reply.to_date,
            items=[from_proto(TrendsRow, row) for row in reply.rows],
        )

    start = date(TODAY.year - 1, TODAY.month, 1)
    for interval, first, last in ((1, None, None), (2, start, TODAY)):
        old_t = await old_stub.GetTrendsReport(
            v1.GetTrendsReportRequest(
                interval=interval,
                from_date=first.isoformat() if first else "",
                to_date=last.isoformat() if last else "",
            ),
            metadata=who,
        )
        new_t = await new_stub.GetTrendsReport(
            v2.GetTrendsReportRequest(
                interval=interval, from_date=to_proto_date(first), to_date=to_proto_date(last)
            ),
            metadata=who,
        )
        json = shown(trends_from_proto(new_t))
        assert json == shown(old_trends(old_t))
        assert json["to"] == as_of
        if interval == 2:
            assert sum(Decimal(row["disbursed"]) for row in json["items"]) == Decimal("17000.50")
        else:
            assert json["items"][-1]["gross_portfolio"] != "0.00"
