"""The stored forms of journal entries and charts (``adapters.serialization``): the documents
the repository writes for a ``BookedEntry`` and a chart keep the shape they always had (the
same fields in the same order), and every document ever written loads back."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from payment_service.adapters.serialization import (
    booked_entry_from_doc,
    booked_entry_to_doc,
    chart_to_doc,
    versioned_chart_from_doc,
)
from payment_service.domain.ledger import (
    BookedEntry,
    ChartOfAccounts,
    JournalEntry,
    JournalLine,
    Source,
    SourceKind,
    VersionedChart,
)
from payment_service.domain.loans import Applied

pytestmark = pytest.mark.unit

POSTED = dt.datetime(2026, 3, 31, 9, 0, tzinfo=dt.UTC)
ENTRY = JournalEntry(
    id="repayment:pay_1",
    institution_id="inst-1",
    currency="KES",
    date=dt.date(2026, 3, 31),
    posted_at=POSTED,
    lines=(
        JournalLine.dr("1000", Decimal("150.00")),
        JournalLine.cr("1100", Decimal("100.00")),
        JournalLine.cr("4000", Decimal("50.00")),
    ),
    source=Source(SourceKind.REPAYMENT, "pay_1"),
    request_id="req-1",
    loan_id="loan_1",
    memo="Repayment",
)
APPLIED = Applied(
    allocation={"principal": Decimal("100.00"), "interest": Decimal("50.00")},
    outstanding={"principal": Decimal("900.00"), "total": Decimal("900.00")},
    loan_status=2,
    institution_id="inst-1",
    branch_id="br-1",
    currency="KES",
)


def entry_fields() -> list[tuple[str, Any]]:
    """The fields of ``ENTRY``'s document, in the order they were always written."""
    return [
        ("_id", "repayment:pay_1"),
        ("institution_id", "inst-1"),
        ("currency", "KES"),
        ("date", "2026-03-31"),
        ("posted_at", POSTED),
        (
            "lines",
            [
                {"account_code": "1000", "debit": "150.00", "credit": "0.00"},
                {"account_code": "1100", "debit": "0.00", "credit": "100.00"},
                {"account_code": "4000", "debit": "0.00", "credit": "50.00"},
            ],
        ),
        ("accounts", ["1000", "1100", "4000"]),
        ("source", {"kind": "repayment", "id": "pay_1"}),
        ("request_id", "req-1"),
        ("loan_id", "loan_1"),
        ("memo", "Repayment"),
        ("reverses", None),
    ]


def test_a_payments_entry_is_stored_with_its_branch_and_the_loan_services_answer() -> None:
    doc = booked_entry_to_doc(BookedEntry(ENTRY, branch_id="br-1", applied=APPLIED))
    applied = {
        "allocation": {"principal": "100.00", "interest": "50.00"},
        "outstanding": {"principal": "900.00", "total": "900.00"},
        "loan_status": 2,
        "institution_id": "inst-1",
        "branch_id": "br-1",
        "currency": "KES",
    }
    assert list(doc.items()) == [*entry_fields(), ("branch_id", "br-1"), ("applied", applied)]
    assert list(doc["applied"]) == list(applied)  # same order inside too


def test_an_entry_without_branch_or_answer_stores_neither_field() -> None:
    assert list(booked_entry_to_doc(BookedEntry(ENTRY)).items()) == entry_fields()
    doc = booked_entry_to_doc(BookedEntry(ENTRY, branch_id=""))
    assert list(doc.items()) == [*entry_fields(), ("branch_id", "")]


@pytest.mark.parametrize(
    "booked",
    [
        BookedEntry(ENTRY),
        BookedEntry(ENTRY, branch_id=""),
        BookedEntry(ENTRY, branch_id="br-1"),
        BookedEntry(ENTRY, branch_id="br-1", applied=APPLIED),
    ],
)
def test_a_booked_entry_loads_back_as_stored(booked: BookedEntry) -> None:
    assert booked_entry_from_doc(booked_entry_to_doc(booked)) == booked


def test_older_documents_load() -> None:
    doc = dict(entry_fields())
    doc["posted_at"] = POSTED.replace(tzinfo=None)  # as the driver returns it
    del doc["memo"], doc["reverses"]
    doc["applied"] = {}  # never written, but an empty answer is no answer
    booked = booked_entry_from_doc(doc)
    assert booked == BookedEntry(
        JournalEntry(**{**ENTRY.__dict__, "memo": ""}), branch_id=None, applied=None
    )
    doc["applied"] = {"allocation": {"principal": "1.00"}}
    assert booked_entry_from_doc(doc).applied == Applied({"principal": Decimal("1.00")}, {}, 0)


def test_a_chart_is_stored_with_its_version() -> None:
    chart = ChartOfAccounts.default("inst-1", "KES")
    chart.add_account("6100", "Staff costs", "expense")
    doc = chart_to_doc(chart, version=3, now=POSTED)
    assert list(doc) == [
        "_id",
        "currency",
        "income_recognition",
        "accounts",
        "version",
        "update_time",
    ]
    assert (doc["_id"], doc["version"], doc["update_time"]) == ("inst-1", 3, POSTED)
    assert versioned_chart_from_doc(doc) == VersionedChart(chart, 3)
