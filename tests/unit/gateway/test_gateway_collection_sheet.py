"""The collection sheet's own conversion gives what the generic one (`from_proto`) gives."""

from __future__ import annotations

import pytest

from gateway.collection_sheets.router import sheet_from_proto
from gateway.collection_sheets.schemas import CollectionSheet
from gateway.convert import from_proto
from kopa.loan.v1 import loan_pb2

pytestmark = pytest.mark.unit


def test_the_sheet_converts_as_the_generic_conversion_does() -> None:
    grouped = loan_pb2.CollectionSheetItem(
        loan_id="loan_1",
        borrower_id="bor_1",
        borrower_name="Achieng Odhiambo",
        group_id="grp_1",
        group_name="Tumaini",
        phone="+254712345678",
        installment_number=2,
        due_date="2026-03-15",
        amount_due="1040.26",
        arrears="1040.26",
        days_past_due=16,
    )
    alone = loan_pb2.CollectionSheetItem(
        loan_id="loan_2",
        borrower_id="bor_2",
        installment_number=1,
        due_date="2026-03-31",
        amount_due="500.00",
        arrears="0.00",
    )
    reply = loan_pb2.GetCollectionSheetResponse(
        date="2026-03-31", currency="KES", items=[grouped, alone]
    )
    sheet = sheet_from_proto(reply)
    assert sheet == from_proto(CollectionSheet, reply)
    assert (sheet.items[1].group_id, sheet.items[1].group_name) == (None, None)
    assert sheet.items[1].borrower_name == ""  # not read: still a string, as the contract says

    empty = loan_pb2.GetCollectionSheetResponse(date="2026-03-31")
    assert sheet_from_proto(empty) == from_proto(CollectionSheet, empty)
    assert sheet_from_proto(empty).currency is None
