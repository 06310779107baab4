"""The collection sheet's own conversion gives what the generic one (`from_proto`) gives."""

from __future__ import annotations

import pytest
from google.type import date_pb2, money_pb2

from gateway.collection_sheets.router import sheet_from_proto
from gateway.collection_sheets.schemas import CollectionSheet
from gateway.convert import from_proto
from kopa.loan.v2 import loans_pb2

pytestmark = pytest.mark.unit


def kes(units: int, nanos: int = 0) -> money_pb2.Money:
    return money_pb2.Money(currency_code="KES", units=units, nanos=nanos)


def test_the_sheet_converts_as_the_generic_conversion_does() -> None:
    grouped = loans_pb2.CollectionSheetItem(
        loan_id="loan_1",
        borrower_id="bor_1",
        borrower_name="Achieng Odhiambo",
        group_id="grp_1",
        group_name="Tumaini",
        phone="+254712345678",
        installment_number=2,
        due_date=date_pb2.Date(year=2026, month=3, day=15),
        amount_due=kes(1040, 260_000_000),
        arrears=kes(1040, 260_000_000),
        days_past_due=16,
    )
    alone = loans_pb2.CollectionSheetItem(
        loan_id="loan_2",
        borrower_id="bor_2",
        installment_number=1,
        due_date=date_pb2.Date(year=2026, month=3, day=31),
        amount_due=kes(500),
        arrears=kes(0),
    )
    reply = loans_pb2.GetCollectionSheetResponse(
        date=date_pb2.Date(year=2026, month=3, day=31), currency="KES", items=[grouped, alone]
    )
    sheet = sheet_from_proto(reply)
    assert sheet == from_proto(CollectionSheet, reply)
    assert (sheet.items[1].group_id, sheet.items[1].group_name) == (None, None)
    assert sheet.items[1].borrower_name == ""  # not read: still a string, as the contract says
    shown = sheet.model_dump(mode="json")
    assert (shown["date"], shown["items"][0]["due_date"]) == ("2026-03-31", "2026-03-15")
    assert [(i["amount_due"], i["arrears"]) for i in shown["items"]] == [
        ("1040.26", "1040.26"),
        ("500.00", "0.00"),
    ]

    empty = loans_pb2.GetCollectionSheetResponse(date=date_pb2.Date(year=2026, month=3, day=31))
    assert sheet_from_proto(empty) == from_proto(CollectionSheet, empty)
    assert sheet_from_proto(empty).currency is None
