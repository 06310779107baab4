"""The collection sheet from stored loans: what is left of each installment due, the loan's
arrears on the day, whose portfolio a loan is in, and the order of the sheet."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loan_service.adapters.serialization import (
    STATE_COLUMNS,
    rows_to_installments,
    state_rows,
    unpaid_rows,
    unpaid_rows_of_view,
)
from loan_service.domain.state import InstallmentState, LoanState
from loan_service.service_layer.collection_sheet import (
    assemble,
    due_installments,
    in_portfolio,
    read_whole,
)
from loan_service.service_layer.ports import BorrowerContact

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


def test_the_stored_unpaid_installments_give_the_lines_the_view_gives() -> None:
    view = loan()["view"]["rows"]
    everything = "1|2025-02-15|25\n2|2025-03-15|520\n3|2025-04-15|1000\n4|2025-05-15|1000"
    assert unpaid_rows_of_view(view) == everything
    assert unpaid_rows(rows_to_installments(view), date(2025, 4, 15)) == (everything, "")
    stored = {k: v for k, v in loan().items() if k != "view"}
    stored |= {"unpaid_installments": everything, "unpaid_complete_before": ""}
    stored |= {"unpaid_version": 7, "version": 7}
    for day in ("2025-02-14", "2025-02-15", "2025-03-16", "2025-04-15", "2026-01-01"):
        on = date.fromisoformat(day)
        assert not read_whole(stored, on)
        assert due_installments(stored, on) == due_installments(loan(), on)
    assert read_whole(loan(), date(2025, 4, 15))  # stored before the fields were
    # Written since by a writer that did not set them (an older release): stale.
    assert read_whole({**stored, "version": 8}, date(2025, 4, 15))
    paid = {**stored, "unpaid_installments": ""}
    assert due_installments(paid, date(2026, 1, 1)) == []


def test_the_stored_list_stops_a_few_installments_after_the_view_date() -> None:
    installments = rows_to_installments(loan()["view"]["rows"])
    short = unpaid_rows(installments, date(2025, 2, 20), ahead=1)
    assert short == ("1|2025-02-15|25\n2|2025-03-15|520", "2025-04-15")
    listed = {"unpaid_installments": short[0], "unpaid_complete_before": short[1]}
    whole = {**loan(), **listed, "unpaid_version": 3, "version": 3}
    stored = {k: v for k, v in whole.items() if k != "view"}  # what `due_loans` reads
    assert not read_whole(stored, date(2025, 4, 14))
    on = date(2025, 4, 14)
    assert due_installments(stored, on) == due_installments(loan(), on)
    # From its `complete_before` on, the sheet needs the whole loan (its view).
    assert read_whole(stored, date(2025, 4, 15))
    on = date(2025, 4, 15)
    assert due_installments(whole, on) == due_installments(loan(), on)


amounts = st.decimals(min_value=0, max_value=10_000, places=2)


@given(
    st.lists(st.tuples(amounts, amounts, amounts, amounts, st.floats(0, 1)), max_size=12),
    st.integers(1, 12),
    st.integers(0, 4),
)
def test_unpaid_installments_are_what_is_left_of_each_installment(
    parts: list[tuple[D, D, D, D, float]], month: int, ahead: int
) -> None:
    installments = tuple(
        InstallmentState(
            number=n,
            start_date=date(2025, n, 1),
            due_date=date(2025, n, 28),
            principal=principal,
            interest=interest,
            fees=fees,
            interest_earned=interest,
            penalties=penalties,
            principal_paid=(principal * D(paid)).quantize(D("0.01")),
            interest_paid=interest if paid > 0.5 else D(0),
            fees_paid=fees,
            penalties_paid=penalties if paid > 0.2 else D(0),
        )
        for n, (principal, interest, fees, penalties, paid) in enumerate(parts, start=1)
    )
    unpaid = [i for i in installments if i.outstanding.total > 0]
    everything = "\n".join(f"{i.number}|{i.due_date}|{i.outstanding.total}" for i in unpaid)
    assert unpaid_rows(installments, date(2026, 1, 1)) == (everything, "")
    assert unpaid_rows_of_view(state_rows(LoanState(installments, D(0)))) == everything

    as_of = date(2025, month, 15)
    listed, complete_before = unpaid_rows(installments, as_of, ahead)
    lines = listed.split("\n") if listed else []
    assert everything.startswith(listed)
    due_by_then = [i for i in unpaid if i.due_date <= as_of]
    assert len(lines) == min(len(unpaid), len(due_by_then) + ahead)
    left_out = unpaid[len(lines) :]
    assert complete_before == (left_out[0].due_date.isoformat() if left_out else "")


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
