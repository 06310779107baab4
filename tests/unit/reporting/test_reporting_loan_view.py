"""The loan read model kept from lean events: whatever order they come in and however often,
the document is the one the events make in order, once; and its figures, worked by hand."""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import pytest
from google.type import date_pb2
from hypothesis import given, settings
from hypothesis import strategies as st

from kopa.common.v1 import common_pb2
from kopa.loan.v1 import events_pb2 as ev
from kopa.loan.v1 import loan_pb2
from reporting_service.adapters.loan_changes import loan_change
from reporting_service.domain.loan_view import (
    Amounts,
    Closed,
    Disbursed,
    Fact,
    InstallmentPosition,
    LoanChange,
    Position,
    Reopened,
    RepaymentApplied,
    RepaymentReversed,
    Rescheduled,
    Submitted,
    WrittenOff,
    merge,
    payment_record,
)
from reporting_service.service_layer.handlers import timeline_of

pytestmark = pytest.mark.unit

JAN1 = date(2026, 1, 1)


def merge_all(changes: list[LoanChange]) -> dict[str, Any] | None:
    doc: dict[str, Any] | None = None
    for change in changes:
        doc = merge(doc, change)
    return doc


# --- a loan's life, as the loan service would tell it -----------------------------------------


@dataclass
class Row:
    due_date: date
    principal: int
    interest: int
    paid_principal: int = 0
    paid_interest: int = 0

    @property
    def unpaid(self) -> int:
        return self.principal + self.interest - self.paid_principal - self.paid_interest


@dataclass
class LoanStory:
    """A loan's writes and the events each raises (those of one write share its version)."""

    version: int = 0
    status: str = "submitted"
    rescheduled: bool = False
    rows: dict[int, Row] = field(default_factory=dict)
    events: list[LoanChange] = field(default_factory=list)
    # payment id -> what it paid of each installment: (number, principal, interest)
    splits: dict[str, list[tuple[int, int, int]]] = field(default_factory=dict)

    def write(self, facts: list[Fact | None], changed: list[int] | None = None) -> None:
        """`changed`: the installments the write changed; None: all (a new schedule, a new
        status)."""
        self.version += 1
        numbers = sorted(self.rows) if changed is None else sorted(set(changed))
        unpaid = [r.due_date for r in self.rows.values() if r.unpaid > 0]
        position = Position(
            loan_id="loan_1",
            institution_id="inst_1",
            branch_id="br_1",
            borrower_id="bor_1",
            currency="KES",
            status=self.status,
            outstanding_principal=sum(r.principal - r.paid_principal for r in self.rows.values()),
            days_past_due=self.version,
            delinquency_bucket=f"bucket {self.version % 3}",
            oldest_unpaid_due_date=min(unpaid, default=None),
            rescheduled=self.rescheduled,
            installment_count=len(self.rows),
            changed_installments=[
                InstallmentPosition(
                    number=n,
                    due_date=self.rows[n].due_date,
                    due=Amounts(principal=self.rows[n].principal, interest=self.rows[n].interest),
                    paid=Amounts(
                        principal=self.rows[n].paid_principal,
                        interest=self.rows[n].paid_interest,
                    ),
                )
                for n in numbers
            ],
        )
        self.events += [LoanChange(self.version, position, fact) for fact in facts]

    def pay(self, payment_id: str, on: date, amount: int) -> None:
        """Oldest installment first, interest before principal; closes the loan when paid."""
        left, split = amount, []
        for number in sorted(self.rows):
            row = self.rows[number]
            interest = min(left, row.interest - row.paid_interest)
            principal = min(left - interest, row.principal - row.paid_principal)
            if interest or principal:
                row.paid_interest += interest
                row.paid_principal += principal
                split.append((number, principal, interest))
                left -= interest + principal
        self.splits[payment_id] = split
        principal = sum(p for _, p, _ in split)
        applied: Fact = RepaymentApplied(payment_id, on, amount, principal, amount - left)
        if all(r.unpaid == 0 for r in self.rows.values()):
            self.status = "closed"
            self.write([applied, Closed(on)])
        else:
            self.write([applied], [n for n, _, _ in split])

    def reverse(self, payment_id: str, on: date, amount: int) -> None:
        split = self.splits.pop(payment_id)
        for number, principal, interest in split:
            self.rows[number].paid_principal -= principal
            self.rows[number].paid_interest -= interest
        reversed_: Fact = RepaymentReversed(payment_id, on, amount)
        if self.status == "closed":
            self.status = "active"
            self.write([reversed_, Reopened()])
        else:
            self.write([reversed_], [n for n, _, _ in split])


@st.composite
def loan_stories(draw: st.DrawFn) -> LoanStory:
    story = LoanStory()
    terms = draw(st.integers(1, 4))
    principal = draw(st.integers(1, 5_000)) * terms
    story.write([Submitted(principal)])
    story.status = "approved"
    story.write([None])
    story.status = "active"
    story.rows = {
        k: Row(JAN1 + timedelta(days=30 * k), principal // terms, draw(st.integers(0, 900)))
        for k in range(1, terms + 1)
    }
    story.write([Disbursed(JAN1, principal)])
    day, paid = JAN1, list[tuple[str, date, int]]()
    for k in range(draw(st.integers(0, 5))):
        if story.status != "active":
            break
        owed = sum(r.unpaid for r in story.rows.values())
        amount = draw(st.integers(1, owed))
        day += timedelta(days=draw(st.integers(0, 40)))
        story.pay(f"pay_{k}", day, amount)
        paid.append((f"pay_{k}", day, amount))
        if draw(st.booleans()):
            story.write([None], [])  # a day's arrears: the position alone moves
    if draw(st.booleans()) and paid:
        story.reverse(*draw(st.sampled_from(paid)))
    for reschedule in range(draw(st.integers(0, 2))):
        if story.status != "active":
            break
        owed = sum(r.principal - r.paid_principal for r in story.rows.values())
        terms = draw(st.integers(1, 5))  # fewer installments than before, or more
        day += timedelta(days=1)
        story.rows = {
            k: Row(day + timedelta(days=30 * k), owed // terms + (k == 1) * (owed % terms), 0)
            for k in range(1, terms + 1)
        }
        story.rescheduled = True
        story.write([Rescheduled(day)])
        if owed and draw(st.booleans()):
            day += timedelta(days=draw(st.integers(0, 40)))
            story.pay(f"pay_after_{reschedule}", day, draw(st.integers(1, owed)))
    if story.status == "active" and draw(st.booleans()):
        story.status = "written_off"
        story.write([WrittenOff(day + timedelta(days=90))])
    return story


@settings(max_examples=300, deadline=None)
@given(story=loan_stories(), data=st.data())
def test_any_order_and_any_redelivery_make_the_document_the_events_make_in_order(
    story: LoanStory, data: st.DataObject
) -> None:
    again = data.draw(st.lists(st.sampled_from(story.events), max_size=len(story.events)))
    deliveries = data.draw(st.permutations(story.events + again))
    assert merge_all(deliveries) == merge_all(story.events)


@settings(max_examples=100, deadline=None)
@given(story=loan_stories())
def test_the_events_in_order_keep_the_loans_schedule_and_payments(story: LoanStory) -> None:
    doc = merge_all(story.events)
    assert doc is not None

    def kes(minor: int) -> str:
        return f"{minor // 100}.{minor % 100:02d}"

    assert [
        (r["number"], r["due_date"], r["total"], r["total_paid"])
        for r in doc["snapshot"]["schedule"]
    ] == [
        (
            n,
            row.due_date.isoformat(),
            kes(row.principal + row.interest),
            kes(row.paid_principal + row.paid_interest),
        )
        for n, row in sorted(story.rows.items())
    ]
    assert doc["status"] == story.status
    kept = [r for r in doc["snapshot"]["timeline"]["repayments"] if not r["reversed"]]
    assert sorted(r["payment_id"] for r in kept) == sorted(story.splits)


# --- the figures, by hand -------------------------------------------------------------------


def d(text: str) -> date_pb2.Date:
    day = date.fromisoformat(text)
    return date_pb2.Date(year=day.year, month=day.month, day=day.day)


def installment(n: int, due: str, *, paid: int = 0) -> ev.InstallmentPosition:
    """KES 400.00 principal, 20.00 interest and 5.00 fees due; `paid` of the principal paid,
    with all the interest and fees once any is."""
    return ev.InstallmentPosition(
        number=n,
        due_date=d(due),
        due=ev.LoanAmounts(principal=40_000, interest=2_000, fees=500),
        paid=ev.LoanAmounts(principal=paid, interest=2_000 if paid else 0, fees=500 if paid else 0),
    )


def position(outstanding: int, *installments: ev.InstallmentPosition) -> ev.LoanPosition:
    return ev.LoanPosition(
        loan_id="loan_1",
        institution_id="inst_1",
        branch_id="br_1",
        borrower_id="bor_1",
        currency="KES",
        status=loan_pb2.LOAN_STATUS_ACTIVE,
        outstanding=ev.LoanAmounts(principal=outstanding),
        oldest_unpaid_due_date=d("2026-03-01"),
        installment_count=3,
        changed_installments=installments,
    )


DISBURSED = ev.LoanDisbursed(
    meta=common_pb2.EventMeta(aggregate_version=3),
    loan=position(
        120_000,
        installment(1, "2026-02-01"),
        installment(2, "2026-03-01"),
        installment(3, "2026-04-01"),
    ),
    disbursement_date=d("2026-01-01"),
    principal=120_000,
)
REPAID = ev.RepaymentApplied(
    meta=common_pb2.EventMeta(aggregate_version=4),
    loan=position(80_000, installment(1, "2026-02-01", paid=40_000)),
    payment_id="pay_1",
    amount=43_000,
    paid_on=d("2026-02-01"),
    allocation=ev.LoanAllocation(principal=40_000, interest=2_000, fees=500, overpayment=500),
)


@pytest.mark.parametrize("order", [(DISBURSED, REPAID), (REPAID, DISBURSED)])
def test_a_disbursement_and_a_repayment_in_figures(order: tuple[Any, Any]) -> None:
    doc = merge_all([loan_change(m) for m in order])
    assert doc is not None
    assert (doc["principal_minor"], doc["outstanding_principal_minor"]) == (120_000, 80_000)
    assert (doc["disbursement_date"], doc["oldest_unpaid_due_date"]) == ("2026-01-01", "2026-03-01")
    # What the arrears report reads: total = 400.00 + 20.00 + 5.00 due.
    rows = [{k: r[k] for k in r if k != "version"} for r in doc["snapshot"]["schedule"]]
    unpaid = {"principal_paid": "0.00", "interest_paid": "0.00", "total_paid": "0.00"}
    due = {"principal": "400.00", "interest": "20.00", "total": "425.00"}
    assert rows == [
        {"number": 1, "due_date": "2026-02-01", **due}
        | {"principal_paid": "400.00", "interest_paid": "20.00", "total_paid": "425.00"},
        {"number": 2, "due_date": "2026-03-01", **due, **unpaid},
        {"number": 3, "due_date": "2026-04-01", **due, **unpaid},
    ]
    timeline = timeline_of(doc)
    assert timeline is not None
    assert (timeline.disbursed_on, timeline.principal, timeline.amortized) == (
        date(2026, 1, 1),
        120_000,
        120_000,
    )
    assert [(i.due_date.isoformat(), i.due) for i in timeline.installments] == [
        ("2026-02-01", 42_500),
        ("2026-03-01", 42_500),
        ("2026-04-01", 42_500),
    ]
    # Collected: all 430.00 (the overpayment too); applied to the dues: 425.00.
    assert [
        (r.paid_on.isoformat(), r.amount, r.principal, r.applied) for r in timeline.repayments
    ] == [("2026-02-01", 43_000, 40_000, 42_500)]
    assert (timeline.closed_on, timeline.written_off_on, timeline.rescheduled_on) == (None,) * 3


def test_a_reversal_stands_whichever_comes_first_and_the_index_keeps_its_version() -> None:
    reversed_ = ev.RepaymentReversed(
        meta=common_pb2.EventMeta(aggregate_version=5),
        loan=position(120_000, installment(1, "2026-02-01")),
        payment_id="pay_1",
        amount=43_000,
        paid_on=d("2026-02-01"),
    )
    changes = [loan_change(m) for m in (DISBURSED, REPAID, reversed_)]
    for order in ([0, 1, 2], [0, 2, 1], [2, 1, 0]):
        doc = merge_all([changes[k] for k in order])
        assert doc is not None
        timeline = timeline_of(doc)
        assert timeline is not None and timeline.repayments == []
        assert doc["snapshot"]["schedule"][0]["total_paid"] == "0.00"
    records = [payment_record(c) for c in changes]
    assert records[0] is None
    assert [(r.version, r.doc["reversed"]) for r in records if r] == [(1, False), (2, True)]
    assert records[2] is not None and records[2].doc["amount_minor"] == 43_000


def test_a_reopened_loan_is_not_settled_even_if_its_closing_comes_last() -> None:
    closing = loan_change(
        ev.LoanClosed(
            meta=common_pb2.EventMeta(aggregate_version=6),
            loan=ev.LoanPosition(
                loan_id="loan_1",
                currency="KES",
                status=loan_pb2.LOAN_STATUS_CLOSED,
                installment_count=3,
            ),
            closed_on=d("2026-04-01"),
        )
    )
    reopening = loan_change(
        ev.LoanReopened(meta=common_pb2.EventMeta(aggregate_version=7), loan=position(40_000))
    )
    closed = merge_all([closing])
    assert closed is not None and closed["settled_on"] == "2026-04-01"
    for order in ([closing, reopening], [reopening, closing]):
        doc = merge_all(order)
        assert doc is not None
        assert (doc["status"], doc["settled_on"]) == ("active", None)
        assert doc["snapshot"]["timeline"]["closed_on"] is None


def test_a_shorter_schedule_drops_the_rows_it_no_longer_has_even_when_they_come_late() -> None:
    rescheduled = ev.LoanRescheduled(
        meta=common_pb2.EventMeta(aggregate_version=9),
        loan=position(80_000, installment(1, "2026-05-01")),
        rescheduled_on=d("2026-04-15"),
    )
    rescheduled.loan.installment_count = 1
    rescheduled.loan.rescheduled = True
    doc = merge_all([loan_change(m) for m in (rescheduled, DISBURSED, REPAID)])
    assert doc is not None
    assert [(r["number"], r["due_date"]) for r in doc["snapshot"]["schedule"]] == [
        (1, "2026-05-01")
    ]
    # The trends report still dates the arrears by the schedule the loan was disbursed with.
    assert len(doc["snapshot"]["timeline"]["installments"]) == 3
    assert doc["snapshot"]["timeline"]["rescheduled_on"] == "2026-04-15"
    assert doc["rescheduled"] is True


def test_a_document_indexed_whole_by_the_previous_release_is_adopted_at_its_version() -> None:
    """Indexed at version 3 from a snapshot: one repayment (no id then), two rows."""
    legacy = {
        "id": "loan_1",
        "status": "active",
        "principal_minor": 100_000,
        "disbursement_date": "2026-01-01",
        "snapshot": {
            "schedule": [
                {
                    "number": 1,
                    "due_date": "2026-02-01",
                    "principal": "500.00",
                    "total_paid": "0.00",
                },
                {
                    "number": 2,
                    "due_date": "2026-03-01",
                    "principal": "500.00",
                    "total_paid": "0.00",
                },
            ],
            "timeline": {
                "amortized_minor": 100_000,
                "installments": [],
                "repayments": [{"paid_on": "2026-01-20", "amount_minor": 1_000}],
                "rescheduled_on": None,
                "written_off_on": None,
                "closed_on": None,
            },
        },
    }
    older = merge(legacy, dataclasses.replace(loan_change(REPAID), version=2), 3)
    # An event older than the indexed document changes none of what the document had.
    assert older["snapshot"]["schedule"][0]["total_paid"] == "0.00"
    assert older["principal_minor"] == 100_000
    newer = merge(legacy, dataclasses.replace(loan_change(REPAID), version=4), 3)
    payments = newer["snapshot"]["timeline"]["repayments"]
    assert [p["payment_id"] for p in payments] == [
        "legacy:0",
        *[p["payment_id"] for p in payments if not p["payment_id"].startswith("legacy:")],
    ]
    assert len(payments) == 2
    assert newer["snapshot"]["versions"]["position"] == 4


def test_a_merge_leaves_the_document_it_was_given_as_it_was() -> None:
    """The adapter holds the document it last wrote and merges the next event into it."""
    held = merge_all([loan_change(m) for m in (DISBURSED, REPAID)])
    assert held is not None
    before = copy.deepcopy(held)
    merge(held, dataclasses.replace(loan_change(REPAID), version=99))
    assert held == before
