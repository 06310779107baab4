"""From a loan event to the trends report: what the indexed loan keeps for its timeline, and
the report the handler answers from indexed loans (a fake index, no Elasticsearch)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from typing import Any

import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from kopa.loan.v1 import events_pb2, loan_pb2
from reporting_service.adapters.search_index import Indexed, SearchIndex
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

    async def scan(
        self, index: str, query: dict[str, Any], *, batch: int = 500
    ) -> AsyncIterator[dict[str, Any]]:
        self.queries.append(query)
        for doc in self.docs.get(index, {}).values():
            yield doc


def stamp(day: str, hour: int = 9) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(datetime.fromisoformat(day).replace(hour=hour, tzinfo=UTC))
    return ts


def installment(n: int, due: str, principal: str, interest: str) -> loan_pb2.Installment:
    return loan_pb2.Installment(
        number=n, due_date=due, principal=principal, interest=interest, fees="0.00"
    )


def repayment(
    pid: str, on: str, amount: str, principal: str, interest: str, *, reversed_: bool = False
) -> loan_pb2.AppliedRepayment:
    return loan_pb2.AppliedRepayment(
        payment_id=pid,
        paid_on=on,
        amount=amount,
        allocation=loan_pb2.Allocation(
            principal=principal, interest=interest, fees="0.00", penalties="0.00"
        ),
        reversed=reversed_,
    )


SCHEDULE = [
    installment(1, "2026-02-01", "400.00", "20.00"),
    installment(2, "2026-03-01", "400.00", "20.00"),
    installment(3, "2026-04-01", "400.00", "20.00"),
]


def loan(**changes: Any) -> loan_pb2.Loan:
    base: dict[str, Any] = {
        "id": "loan_1",
        "institution_id": "inst_1",
        "branch_id": "br_1",
        "borrower_id": "bor_1",
        "status": loan_pb2.LOAN_STATUS_ACTIVE,
        "principal": "1200.00",
        "currency": "KES",
        "disbursement_date": "2026-01-01",
        "schedule": SCHEDULE,
        "outstanding": loan_pb2.Outstanding(principal="800.00"),
        "version": 3,
        "repayments": [
            repayment("pay_1", "2026-02-01", "420.00", "400.00", "20.00"),
            repayment("pay_2", "2026-02-05", "100.00", "80.00", "20.00", reversed_=True),
        ],
    }
    return loan_pb2.Loan(**(base | changes))


async def index(
    handlers: ReportingHandlers, key: str, subject: loan_pb2.Loan, **event: Any
) -> None:
    body = events_pb2.LoanEvent(loan=subject, **event).SerializeToString()
    await handlers.on_event(key, body, {})


def handlers_with(index_: FakeIndex) -> ReportingHandlers:
    async def currency(_: Principal) -> str:
        return "KES"

    return ReportingHandlers(index_, currency)


async def test_the_indexed_loan_keeps_its_dated_facts_in_minor_units() -> None:
    fake = FakeIndex()
    h = handlers_with(fake)
    await index(h, "loan.repayment_applied", loan(), payment_id="pay_1")
    doc = fake.docs[fake.loans]["loan_1"]
    assert doc["settled_on"] is None
    timeline = doc["snapshot"]["timeline"]
    assert timeline["amortized_minor"] == 120_000
    assert [i["due_minor"] for i in timeline["installments"]] == [42_000] * 3
    # The reversed payment is not part of the loan's history any more.
    assert timeline["repayments"] == [
        {
            "paid_on": "2026-02-01",
            "amount_minor": 42_000,
            "principal_minor": 40_000,
            "applied_minor": 42_000,
        }
    ]
    parsed = timeline_of(doc)
    assert parsed is not None and parsed.disbursed_on == date(2026, 1, 1)
    assert parsed.principal == 120_000 and parsed.written_off_on is None


async def test_a_backdated_write_off_is_dated_by_its_event_not_by_when_it_was_recorded() -> None:
    fake = FakeIndex()
    h = handlers_with(fake)
    written_off = loan(
        status=loan_pb2.LOAN_STATUS_WRITTEN_OFF,
        history=[
            loan_pb2.StatusChange(status=loan_pb2.LOAN_STATUS_ACTIVE, time=stamp("2026-01-01")),
            loan_pb2.StatusChange(
                status=loan_pb2.LOAN_STATUS_WRITTEN_OFF, time=stamp("2026-06-20")
            ),
        ],
    )
    await index(h, "loan.written_off", written_off, business_date="2026-05-31")
    doc = fake.docs[fake.loans]["loan_1"]
    assert doc["snapshot"]["timeline"]["written_off_on"] == "2026-05-31"
    assert doc["settled_on"] == "2026-05-31"
    # An event that does not carry the write-off's date falls back on the status history.
    await index(h, "loan.scored", written_off, business_date="2026-06-21")
    assert fake.docs[fake.loans]["loan_1"]["settled_on"] == "2026-06-20"


async def test_a_rescheduled_loan_keeps_its_original_schedule_and_the_reschedule_day() -> None:
    fake = FakeIndex()
    h = handlers_with(fake)
    superseded = loan_pb2.ScheduleVersion(
        time=stamp("2026-02-15", hour=0), reason="harvest failed", schedule=SCHEDULE
    )
    new_schedule = [installment(1, "2026-03-15", "800.00", "30.00")]
    await index(
        h,
        "loan.rescheduled",
        loan(schedule=new_schedule, schedule_history=[superseded], rescheduled=True),
        business_date="2026-02-15",
    )
    timeline = fake.docs[fake.loans]["loan_1"]["snapshot"]["timeline"]
    assert timeline["rescheduled_on"] == "2026-02-15"
    assert [i["due_date"] for i in timeline["installments"]] == [
        "2026-02-01",
        "2026-03-01",
        "2026-04-01",
    ]


async def test_a_closed_loan_is_settled_on_its_last_payment() -> None:
    fake = FakeIndex()
    h = handlers_with(fake)
    closed = loan(
        status=loan_pb2.LOAN_STATUS_CLOSED,
        repayments=[
            repayment("pay_1", "2026-02-01", "420.00", "400.00", "20.00"),
            repayment("pay_2", "2026-03-10", "840.00", "800.00", "40.00"),
        ],
    )
    await index(h, "loan.closed", closed, business_date="2026-03-10")
    doc = fake.docs[fake.loans]["loan_1"]
    assert doc["settled_on"] == "2026-03-10"
    assert doc["snapshot"]["timeline"]["closed_on"] == "2026-03-10"


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


async def test_the_report_formats_money_and_ratios_and_keeps_to_the_callers_scope() -> None:
    fake = FakeIndex()
    h = handlers_with(fake)
    await index(h, "loan.repayment_applied", loan(), payment_id="pay_1")
    # A document from before the timeline was kept is left out rather than guessed at.
    fake.docs[fake.loans]["old"] = {"id": "old", "disbursement_date": "2026-01-01", "snapshot": {}}
    as_principal(Role.BRANCH_MANAGER, "br_1")
    report = await h.trends("2026-03-02", "2026-03-03", "day")
    assert (report["currency"], report["interval"]) == ("KES", "day")
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
