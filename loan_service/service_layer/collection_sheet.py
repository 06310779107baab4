"""A field agent's collection sheet: what each borrower of a portfolio should pay on a day.

Built from the stored figures (`views`: ``unpaid_installments``, what is left of each
installment not fully paid, and ``oldest_unpaid_due_date``), so it replays nothing and never
unpacks a loan: one query finds the loans with an installment due and unpaid by the date and
reads those fields alone, and each loan's unpaid installments give its lines. (A loan whose
``unpaid_installments`` are missing, stale or stop before the sheet's date is read whole and
its ``view.rows`` give them: `read_whole`.)

An agent's portfolio is the borrowers in their care (the borrower's ``agent_id``, set when an
agent registers them or a manager transfers them) and, for a borrower in no one's care, the
loans the agent submitted: whoever took the application collects it until a manager assigns
the borrower.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from loan_service.adapters.serialization import ROW_SEP, SEP, unpaid_rows_of_view
from loan_service.service_layer.ports import SHEET_FIELDS, BorrowerContact


@dataclass(frozen=True)
class DueInstallment:
    """An installment of a loan due by the sheet's date with something left to pay."""

    loan_id: str
    borrower_id: str
    number: int
    due_date: str
    amount_due: Decimal
    arrears: Decimal
    days_past_due: int


@dataclass(frozen=True)
class SheetItem:
    due: DueInstallment
    borrower: BorrowerContact | None
    """None when user_service did not answer for the borrower (outside the caller's scope)."""


@dataclass(frozen=True)
class CollectionSheet:
    date: date
    currency: str
    items: list[SheetItem]


def read_whole(doc: Mapping[str, Any], on: date) -> bool:
    """Whether the sheet of `on` needs the whole loan, not just its `SHEET_FIELDS`: it was
    stored before they were top-level, its ``unpaid_installments`` are not of its current
    version (a writer that did not set them wrote it since), or they stop before `on`."""
    if any(f not in doc for f in SHEET_FIELDS) or doc["unpaid_version"] != doc["version"]:
        return True
    complete_before = doc["unpaid_complete_before"]
    return bool(complete_before) and on.isoformat() >= complete_before


def due_installments(doc: Mapping[str, Any], on: date) -> list[DueInstallment]:
    """The installments of a stored active loan due on or before `on` with something left to
    pay (penalties included), each with the loan's arrears as of `on`: what is left of its
    installments due before that day."""
    day = on.isoformat()
    if "view" in doc:  # read whole (`read_whole`)
        unpaid = unpaid_rows_of_view((doc["view"] or {}).get("rows") or "")
    else:
        unpaid = doc["unpaid_installments"]
    left: list[tuple[int, str, Decimal]] = []
    for line in unpaid.split(ROW_SEP) if unpaid else ():  # split lazily: few are due yet
        number, due, amount = line.split(SEP)
        if due > day:
            break  # in due-date order
        left.append((int(number), due, Decimal(amount)))
    arrears = sum((amount for _, due, amount in left if due < day), Decimal(0))
    oldest = doc.get("oldest_unpaid_due_date") or ""
    dpd = (on - date.fromisoformat(oldest)).days if oldest and oldest < day else 0
    return [
        DueInstallment(
            loan_id=doc["_id"],
            borrower_id=doc["borrower_id"],
            number=number,
            due_date=due,
            amount_due=amount,
            arrears=arrears,
            days_past_due=dpd,
        )
        for number, due, amount in left
    ]


def in_portfolio(doc: Mapping[str, Any], borrower: BorrowerContact | None, agent_id: str) -> bool:
    """Whether the loan is in `agent_id`'s portfolio (see the module's docstring)."""
    if borrower is not None and borrower.agent_id:
        return borrower.agent_id == agent_id
    return bool(doc.get("created_by") == agent_id)


def sort_key(item: SheetItem) -> tuple[Any, ...]:
    """By centre (borrowers of groups attending none after those that do), group (by name;
    borrowers in no group last), borrower name, due date: the order of an agent's meetings."""
    b = item.borrower
    group = (b.group_name or b.group_id) if b is not None and b.group_id else ""
    center = b.center_id if b is not None else ""
    name = b.name if b is not None else ""
    due = item.due
    return (
        not group,
        not center,
        center,
        group.casefold(),
        b.group_id if b is not None else "",
        name.casefold(),
        due.borrower_id,
        due.due_date,
        due.loan_id,
        due.number,
    )


def assemble(
    on: date,
    loans: Iterable[Mapping[str, Any]],
    contacts: Mapping[str, BorrowerContact],
    agent_id: str,
) -> CollectionSheet:
    """The sheet of `loans` (due by `on`) for `agent_id`'s portfolio, or for all of them when
    `agent_id` is empty."""
    items: list[SheetItem] = []
    currency = ""
    for doc in loans:
        borrower = contacts.get(doc["borrower_id"])
        if agent_id and not in_portfolio(doc, borrower, agent_id):
            continue
        currency = currency or doc["currency"]
        items.extend(SheetItem(due, borrower) for due in due_installments(doc, on))
    items.sort(key=sort_key)
    return CollectionSheet(on, currency, items)
