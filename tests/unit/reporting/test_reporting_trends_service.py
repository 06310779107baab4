"""From lean loan events to the trends report: what the indexed loan keeps for its timeline, and
the report the handler answers from indexed loans (a fake index, no Elasticsearch)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import date
from typing import Any

import pytest
from google.protobuf import json_format
from google.protobuf.message import Message
from google.type import date_pb2

from kopa.common.v1 import common_pb2
from kopa.loan.v1 import events_pb2, loan_pb2
from reporting_service.adapters.search_index import Indexed, SearchIndex
from reporting_service.entrypoints.mapping import trends_to_proto
from reporting_service.service_layer.handlers import ReportingHandlers, timeline_of
from shared import context
from shared.errors import ValidationError
from shared.permissions import Principal, Role

pytestmark = pytest.mark.unit


class FakeIndex(SearchIndex):
    def __init__(self) -> None:
        super().__init__(None, "test")  # type: ignore[arg-type]
        self.docs: dict[str, dict[str, dict[str, Any]]] = {}
        self.queries: list[dict[str, Any]] = []

    async def put(self, *docs: Indexed) -> None:
        for d in docs:
            self.docs.setdefault(d.index, {})[d.doc_id] = d.doc

    async def merge(
        self,
        index: str,
        doc_id: str,
        change: Callable[[dict[str, Any] | None, int], dict[str, Any]],
        *also: Indexed,
    ) -> None:
        docs = self.docs.setdefault(index, {})
        docs[doc_id] = change(docs.get(doc_id), 0)
        await self.put(*also)

    async def scan(
        self, index: str, query: dict[str, Any], *, batch: int = 500
    ) -> AsyncIterator[dict[str, Any]]:
        self.queries.append(query)
        for doc in self.docs.get(index, {}).values():
            yield doc


def day(text: str) -> date_pb2.Date:
    d = date.fromisoformat(text)
    return date_pb2.Date(year=d.year, month=d.month, day=d.day)


def installment(n: int, due: str, principal: int, interest: int) -> events_pb2.InstallmentPosition:
    return events_pb2.InstallmentPosition(
        number=n,
        due_date=day(due),
        due=events_pb2.LoanAmounts(principal=principal, interest=interest),
    )


SCHEDULE = [
    installment(1, "2026-02-01", 40_000, 2_000),
    installment(2, "2026-03-01", 40_000, 2_000),
    installment(3, "2026-04-01", 40_000, 2_000),
]


def position(**changes: Any) -> events_pb2.LoanPosition:
    base: dict[str, Any] = {
        "loan_id": "loan_1",
        "institution_id": "inst_1",
        "branch_id": "br_1",
        "borrower_id": "bor_1",
        "status": loan_pb2.LOAN_STATUS_ACTIVE,
        "currency": "KES",
        "outstanding": events_pb2.LoanAmounts(principal=80_000),
        "installment_count": 3,
    }
    return events_pb2.LoanPosition(**(base | changes))


async def send(
    handlers: ReportingHandlers,
    key: str,
    message: Callable[..., Message],
    version: int,
    loan: events_pb2.LoanPosition,
    **event: Any,
) -> None:
    meta = common_pb2.EventMeta(event_type=key, aggregate_version=version)
    body = message(meta=meta, loan=loan, **event).SerializeToString()
    await handlers.on_event(key, body, {})


async def disburse(h: ReportingHandlers) -> None:
    await send(
        h,
        "loan.disbursed",
        events_pb2.LoanDisbursed,
        3,
        position(
            outstanding=events_pb2.LoanAmounts(principal=120_000), changed_installments=SCHEDULE
        ),
        disbursement_date=day("2026-01-01"),
        principal=120_000,
    )


async def repay(
    h: ReportingHandlers, version: int, pid: str, on: str, principal: int, interest: int
) -> None:
    await send(
        h,
        "loan.repayment_applied",
        events_pb2.RepaymentApplied,
        version,
        position(),
        payment_id=pid,
        amount=principal + interest,
        paid_on=day(on),
        allocation=events_pb2.LoanAllocation(principal=principal, interest=interest),
    )


def handlers_with(index_: FakeIndex) -> ReportingHandlers:
    async def currency(_: Principal) -> str:
        return "KES"

    return ReportingHandlers(index_, currency)


async def test_the_indexed_loan_keeps_its_dated_facts_in_minor_units() -> None:
    fake = FakeIndex()
    h = handlers_with(fake)
    await disburse(h)
    await repay(h, 4, "pay_1", "2026-02-01", 40_000, 2_000)
    await repay(h, 5, "pay_2", "2026-02-05", 8_000, 2_000)
    await send(
        h,
        "loan.repayment_reversed",
        events_pb2.RepaymentReversed,
        6,
        position(),
        payment_id="pay_2",
        amount=10_000,
        paid_on=day("2026-02-05"),
    )
    doc = fake.docs[fake.loans]["loan_1"]
    assert doc["settled_on"] is None
    timeline = doc["snapshot"]["timeline"]
    assert timeline["amortized_minor"] == 120_000
    assert [i["due_minor"] for i in timeline["installments"]] == [42_000] * 3
    parsed = timeline_of(doc)
    assert parsed is not None and parsed.disbursed_on == date(2026, 1, 1)
    assert parsed.principal == 120_000 and parsed.written_off_on is None
    # The reversed payment is not part of the loan's history any more.
    assert [(r.paid_on, r.amount, r.principal, r.applied) for r in parsed.repayments] == [
        (date(2026, 2, 1), 42_000, 40_000, 42_000)
    ]
    payments = fake.docs[fake.repayments]
    assert (payments["pay_1"]["reversed"], payments["pay_2"]["reversed"]) == (False, True)


async def test_a_backdated_write_off_is_dated_by_its_event_not_by_later_ones() -> None:
    fake = FakeIndex()
    h = handlers_with(fake)
    await disburse(h)
    written_off = position(status=loan_pb2.LOAN_STATUS_WRITTEN_OFF)
    await send(
        h,
        "loan.written_off",
        events_pb2.LoanWrittenOff,
        7,
        written_off,
        written_off_on=day("2026-05-31"),
    )
    doc = fake.docs[fake.loans]["loan_1"]
    assert doc["snapshot"]["timeline"]["written_off_on"] == "2026-05-31"
    assert doc["settled_on"] == "2026-05-31"
    assert doc["outstanding_principal_minor"] == 0
    # A later event (scored, say) carries no write-off date and changes none.
    await send(h, "loan.scored", events_pb2.LoanScored, 8, written_off)
    assert fake.docs[fake.loans]["loan_1"]["settled_on"] == "2026-05-31"


async def test_a_rescheduled_loan_keeps_its_original_schedule_and_the_reschedule_day() -> None:
    fake = FakeIndex()
    h = handlers_with(fake)
    await send(
        h,
        "loan.rescheduled",
        events_pb2.LoanRescheduled,
        5,
        position(
            rescheduled=True,
            installment_count=1,
            changed_installments=[installment(1, "2026-03-15", 80_000, 3_000)],
        ),
        rescheduled_on=day("2026-02-15"),
    )
    # The disbursement comes after the reschedule (a redelivery): it sets the original
    # schedule, not the current one.
    await disburse(h)
    doc = fake.docs[fake.loans]["loan_1"]
    timeline = doc["snapshot"]["timeline"]
    assert timeline["rescheduled_on"] == "2026-02-15"
    assert [i["due_date"] for i in timeline["installments"]] == [
        "2026-02-01",
        "2026-03-01",
        "2026-04-01",
    ]
    assert [(r["due_date"], r["total"]) for r in doc["snapshot"]["schedule"]] == [
        ("2026-03-15", "830.00")
    ]


async def test_a_closed_loan_is_settled_on_its_closing_day() -> None:
    fake = FakeIndex()
    h = handlers_with(fake)
    await disburse(h)
    closed = position(status=loan_pb2.LOAN_STATUS_CLOSED, outstanding=events_pb2.LoanAmounts())
    await send(h, "loan.closed", events_pb2.LoanClosed, 5, closed, closed_on=day("2026-03-10"))
    doc = fake.docs[fake.loans]["loan_1"]
    assert doc["settled_on"] == "2026-03-10"
    assert doc["snapshot"]["timeline"]["closed_on"] == "2026-03-10"


async def test_a_routing_key_this_release_does_not_know_is_skipped() -> None:
    fake = FakeIndex()
    await handlers_with(fake).on_event("loan.teleported", b"\x08\x01", {})
    assert fake.docs == {}


def as_principal(role: Role, branch: str | None = None) -> None:
    context.set_current(
        context.RequestContext(
            principal=Principal(
                user_id="usr_1",
                role=role,
                institution_id="inst_1",
                branch_id=branch,
                session_id="ses_1",
            )
        )
    )


async def test_the_report_as_v1_text_keeps_to_the_callers_scope() -> None:
    fake = FakeIndex()
    h = handlers_with(fake)
    await disburse(h)
    await repay(h, 4, "pay_1", "2026-02-01", 40_000, 2_000)
    # A document from before the timeline was kept is left out rather than guessed at.
    fake.docs[fake.loans]["old"] = {"id": "old", "disbursement_date": "2026-01-01", "snapshot": {}}
    as_principal(Role.BRANCH_MANAGER, "br_1")
    report = json_format.MessageToDict(
        trends_to_proto(await h.trends("2026-03-02", "2026-03-03", "day")),
        preserving_proto_field_name=True,
        always_print_fields_with_no_presence=True,
    )
    assert (report["currency"], report["interval"]) == ("KES", "TREND_INTERVAL_DAY")
    assert (report["from_date"], report["to_date"]) == ("2026-03-02", "2026-03-03")
    assert report["rows"] == [
        {
            "date": "2026-03-02",
            "gross_portfolio": "800.00",
            "par1": "0.0000",
            "par30": "0.0000",
            "par90": "0.0000",
            "disbursed": "0.00",
            "collected": "0.00",
        },
        {
            "date": "2026-03-03",
            "gross_portfolio": "800.00",
            "par1": "1.0000",
            "par30": "0.0000",
            "par90": "0.0000",
            "disbursed": "0.00",
            "collected": "0.00",
        },
    ]
    filters = fake.queries[-1]["bool"]["filter"]
    assert {"term": {"institution_id": "inst_1"}} in filters
    assert {"term": {"branch_id": "br_1"}} in filters


async def test_the_report_refuses_a_bad_range_before_reading_anything() -> None:
    fake = FakeIndex()
    as_principal(Role.ADMIN)
    with pytest.raises(ValidationError) as refused:
        await handlers_with(fake).trends("2026-03-04", "2026-03-03", "month")
    assert refused.value.field_errors == [("from", "must not be after `to` (2026-03-03)")]
    assert fake.queries == []
