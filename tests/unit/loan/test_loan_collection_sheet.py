"""The collection sheet from stored loans: what is left of each installment due, the loan's
arrears on the day, whose portfolio a loan is in, and the order of the sheet."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D
from typing import Any

import pytest

from loan_service.adapters.peers import BorrowerContact
from loan_service.adapters.serialization import STATE_COLUMNS
from loan_service.service_layer.collection_sheet import assemble, due_installments, in_portfolio

pytestmark = pytest.mark.unit


def row(number: int, due: str, dues: str, paid: str = "0|0|0|0") -> str:
    """A state row: dues and paid amounts as `principal|interest|fees|penalties`."""
    p, i, f, pen = dues.split("|")
    pp, ip, fp, penp = paid.split("|")
    values = {
        "number": str(number),
        "start_date": "2025-01-15",
        "due_date": due,
        "principal": p,
        "interest": i,
        "fees": f,
        "interest_earned": "0",
        "penalties": pen,
        "principal_paid": pp,
        "interest_paid": ip,
        "fees_paid": fp,
        "penalties_paid": penp,
        "penalty_charged_on": "",
        "interest_carried": "0",
    }
    return "|".join(values[c] for c in STATE_COLUMNS)


def loan(loan_id: str = "loan_1", borrower: str = "bor_1", **fields: Any) -> dict[str, Any]:
    rows = [
        row(1, "2025-02-15", "900|100|0|25", "900|100|0|0"),  # only its penalty is left
        row(2, "2025-03-15", "920|80|0|0", "400|80|0|0"),
        row(3, "2025-04-15", "940|60|0|0"),
        row(4, "2025-05-15", "960|40|0|0"),
    ]
    return {
        "_id": loan_id,
        "borrower_id": borrower,
        "currency": "KES",
        "created_by": "usr_maker",
        "oldest_unpaid_due_date": "2025-03-15",
        "view": {"as_of": "2025-04-15", "rows": "\n".join(rows)},
        **fields,
    }


def test_each_installment_due_by_the_day_with_what_is_left_penalties_included() -> None:
    lines = due_installments(loan(), date(2025, 4, 15))
    assert [(x.number, x.due_date, x.amount_due) for x in lines] == [
        (1, "2025-02-15", D(25)),
        (2, "2025-03-15", D(520)),
        (3, "2025-04-15", D(1000)),  # due on the day: on the sheet, not yet in arrears
    ]
    assert {x.arrears for x in lines} == {D(545)}
    assert {x.days_past_due for x in lines} == {31}  # since the oldest unpaid (2025-03-15)
    assert due_installments(loan(), date(2025, 2, 14)) == []
    (only,) = due_installments(loan(oldest_unpaid_due_date="2025-02-15"), date(2025, 2, 15))
    assert (only.arrears, only.days_past_due) == (D(0), 0)


def contact(borrower: str, name: str, agent: str = "", group: str = "") -> BorrowerContact:
    return BorrowerContact(borrower, name, "+254700000000", agent, group, group.upper())


def test_a_loan_is_in_the_portfolio_of_its_borrowers_agent_else_of_whoever_submitted_it() -> None:
    assert in_portfolio(loan(), contact("bor_1", "A", agent="usr_a"), "usr_a")
    assert not in_portfolio(loan(), contact("bor_1", "A", agent="usr_a"), "usr_maker")
    assert in_portfolio(loan(), contact("bor_1", "A"), "usr_maker")
    assert in_portfolio(loan(), None, "usr_maker")  # a borrower user_service did not return
    assert not in_portfolio(loan(), None, "usr_a")


def test_the_sheet_is_by_group_name_individuals_last_then_borrower_name() -> None:
    contacts = {
        "bor_z": contact("bor_z", "Zawadi Mushi", group="grp_b"),
        "bor_a": contact("bor_a", "amina Otieno", group="grp_b"),
        "bor_i": contact("bor_i", "Baraka Mwangi"),
        "bor_g": contact("bor_g", "Zuberi Juma", group="grp_a"),
    }
    loans = [loan(f"loan_{b}", b) for b in contacts]
    sheet = assemble(date(2025, 3, 15), loans, contacts, agent_id="")
    assert sheet.currency == "KES"
    assert [(i.due.borrower_id, i.due.number) for i in sheet.items] == [
        ("bor_g", 1),
        ("bor_g", 2),
        ("bor_a", 1),
        ("bor_a", 2),
        ("bor_z", 1),
        ("bor_z", 2),
        ("bor_i", 1),
        ("bor_i", 2),
    ]
    assert assemble(date(2025, 3, 15), loans, contacts, agent_id="usr_other").items == []
