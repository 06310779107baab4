"""The loan aggregate to a MongoDB document and back (pure: no I/O).

Amounts are stored as decimal strings (exact, and readable in a shell), dates as ISO 8601
strings (so they compare and sort like dates). A table of schedule or state rows is stored
as ONE string: a row per line, its columns in the fixed orders below joined by ``|``. A loan
document is decoded for every read and write and by the close of business, and the server
decodes every array element and sub-document on its own (FerretDB: JSON with a schema per
value; measured, a 104-row loan's rows were a third of its CPU as an array of strings). No
query looks inside a schedule, so nothing is lost by storing it as a value.

``product``
    `LoanProduct.to_mapping()` (the flat strings `parse_product` reads back). Parsed products
    are cached by their canonical JSON, so the close of business parses each distinct
    product once, not once per loan.
``schedule``
    {principal, disbursement_date, disbursed_amount, upfront_fee, total_interest,
    total_fees, total_repayment, currency, periods_per_year, rows: "SCHEDULE_COLUMNS\n..."}
``base_state`` (the state replays start from: a reschedule's; null while it is the schedule's)
    {principal, overpayment, rows: "STATE_COLUMNS\n..."}
``repayments``
    "REPAYMENT_COLUMNS\n...": every payment applied, in order, with the split made when it
    was first applied (what the ledger booked; a repeat of the payment id returns it), empty
    allocation columns when none was kept. Read with `stored_repayments`.
``reversal_reasons``
    {payment id: reason} of the reversed ones (free text, so not in the table).
``refunds``
    "REFUND_COLUMNS\n...": the credit balance paid back, in order (absent: none). Read with
    `stored_refunds`.
``schedule_history``
    [{schedule, product, superseded_on, reason}]: every schedule a reschedule replaced.
``checkpoint`` (null before the first repayment)
    {count, key, principal, overpayment, rows: "STATE_COLUMNS\n..."}: the state after the
    repayments so far (see `Checkpoint`), so that a write replays only the new ones.
``unpaid_installments``, ``unpaid_complete_before`` (derived with ``view``, see `views`)
    "UNPAID_COLUMNS\n...": of an active loan's view, the installments with something left to
    pay (penalties included), in due-date order, with what is left: every one due by the
    view's date and the next `UNPAID_AHEAD`, so that a collection sheet reads these two short
    fields instead of the loan ("" when not active). The list is complete for the
    installments due before ``unpaid_complete_before`` ("": complete). See `unpaid_rows`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from typing import Any

import orjson

from loan_service.domain import LoanProduct, LoanStatus, parse_product
from loan_service.domain.lifecycle import (
    Approval,
    Checkpoint,
    EligibilityOverride,
    Loan,
    RecordedRepayment,
    Refund,
    RuleFailure,
    ScheduleVersion,
)
from loan_service.domain.schedule import Installment, Schedule
from loan_service.domain.state import Allocation, InstallmentState, LoanState, Repayment

SCHEDULE_COLUMNS = (
    "number",
    "due_date",
    "start_date",
    "principal",
    "interest",
    "fees",
    "total",
    "balance",
    "interest_earned",
)
STATE_COLUMNS = (
    "number",
    "start_date",
    "due_date",
    "principal",
    "interest",
    "fees",
    "interest_earned",
    "penalties",
    "principal_paid",
    "interest_paid",
    "fees_paid",
    "penalties_paid",
    "penalty_charged_on",
    "interest_carried",
)

REPAYMENT_COLUMNS = (
    "id",
    "amount",
    "paid_on",
    "reversed",
    "segment",
    "principal",
    "interest",
    "fees",
    "penalties",
    "overpayment",
)
_ALLOCATION_PARTS = REPAYMENT_COLUMNS[5:]
REFUND_COLUMNS = ("id", "amount", "refunded_on")
UNPAID_COLUMNS = ("number", "due_date", "left")

D = Decimal
SEP = "|"
ROW_SEP = "\n"


def pack_rows(rows: Iterable[str]) -> str:
    return ROW_SEP.join(rows)


def row_count(rows: str | list[str]) -> int:
    """How many rows a stored table has, without splitting them."""
    if isinstance(rows, str):
        return rows.count(ROW_SEP) + 1 if rows else 0
    return len(rows)


def split_rows(rows: str | list[str]) -> list[list[str]]:
    """The rows of a stored table (a list: a document written before tables were packed)."""
    if isinstance(rows, str):
        rows = rows.split(ROW_SEP) if rows else []
    return [row.split(SEP) for row in rows]


def d2s(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


def s2d(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


# --- products ------------------------------------------------------------------------------

_PRODUCTS: dict[str, LoanProduct] = {}
_PRODUCT_CACHE_LIMIT = 4096


def product_key(mapping: dict[str, Any]) -> str:
    return json.dumps(mapping, sort_keys=True, separators=(",", ":"))


def product_to_doc(product: LoanProduct) -> dict[str, Any]:
    return product.to_mapping()


def product_from_doc(mapping: dict[str, Any]) -> LoanProduct:
    key = product_key(mapping)
    product = _PRODUCTS.get(key)
    if product is None:
        product = parse_product(mapping)
        if len(_PRODUCTS) >= _PRODUCT_CACHE_LIMIT:
            _PRODUCTS.clear()
        _PRODUCTS[key] = product
    return product


# --- schedules and states ------------------------------------------------------------------


def schedule_to_doc(schedule: Schedule) -> dict[str, Any]:
    return {
        "principal": str(schedule.principal),
        "disbursement_date": schedule.disbursement_date.isoformat(),
        "disbursed_amount": str(schedule.disbursed_amount),
        "upfront_fee": str(schedule.upfront_fee),
        "total_interest": str(schedule.total_interest),
        "total_fees": str(schedule.total_fees),
        "total_repayment": str(schedule.total_repayment),
        "currency": schedule.currency,
        "periods_per_year": schedule.periods_per_year,
        "rows": pack_rows(
            SEP.join(
                (
                    str(i.number),
                    i.due_date.isoformat(),
                    i.start_date.isoformat(),
                    str(i.principal),
                    str(i.interest),
                    str(i.fees),
                    str(i.total),
                    str(i.balance),
                    str(i.interest_earned),
                )
            )
            for i in schedule.installments
        ),
    }


def schedule_from_doc(doc: dict[str, Any]) -> Schedule:
    fromiso = date.fromisoformat
    rows = tuple(
        Installment(
            number=int(r[0]),
            due_date=fromiso(r[1]),
            principal=D(r[3]),
            interest=D(r[4]),
            fees=D(r[5]),
            total=D(r[6]),
            balance=D(r[7]),
            start_date=fromiso(r[2]),
            interest_earned=D(r[8]),
        )
        for r in split_rows(doc["rows"])
    )
    return Schedule(
        installments=rows,
        principal=D(doc["principal"]),
        disbursement_date=fromiso(doc["disbursement_date"]),
        disbursed_amount=D(doc["disbursed_amount"]),
        upfront_fee=D(doc["upfront_fee"]),
        total_interest=D(doc["total_interest"]),
        total_fees=D(doc["total_fees"]),
        total_repayment=D(doc["total_repayment"]),
        currency=doc["currency"],
        periods_per_year=doc["periods_per_year"],
    )


def state_rows(state: LoanState) -> str:
    return pack_rows(
        SEP.join(
            (
                str(i.number),
                i.start_date.isoformat(),
                i.due_date.isoformat(),
                str(i.principal),
                str(i.interest),
                str(i.fees),
                str(i.interest_earned),
                str(i.penalties),
                str(i.principal_paid),
                str(i.interest_paid),
                str(i.fees_paid),
                str(i.penalties_paid),
                i.penalty_charged_on.isoformat() if i.penalty_charged_on else "",
                str(i.interest_carried),
            )
        )
        for i in state.installments
    )


#: How many unpaid installments due after a loan's view date `unpaid_rows` lists: a sheet
#: for a later date than those reads the loan whole.
UNPAID_AHEAD = 4


def unpaid_rows(
    installments: Iterable[InstallmentState], as_of: date, ahead: int = UNPAID_AHEAD
) -> tuple[str, str]:
    """The ``unpaid_installments`` of a state's installments as of `as_of`, with the date
    before which it lists them all (``unpaid_complete_before``, "" for all): those with
    something left to pay of their principal, interest, fees or penalties, with what is
    left, every one due by `as_of` and the next `ahead` (a short field, whatever the term)."""
    lines: list[str] = []
    day = as_of.isoformat()
    for i in installments:
        left = (
            D(0)
            + (i.principal - i.principal_paid)
            + (i.interest - i.interest_paid)
            + (i.fees - i.fees_paid)
            + (i.penalties - i.penalties_paid)
        )
        if left <= 0:
            continue
        due = i.due_date.isoformat()
        if due > day:
            if ahead == 0:
                return pack_rows(lines), due
            ahead -= 1
        lines.append(SEP.join((str(i.number), due, str(left))))
    return pack_rows(lines), ""


_UNPAID_PARTS = [
    (STATE_COLUMNS.index(c), STATE_COLUMNS.index(f"{c}_paid"))
    for c in ("principal", "interest", "fees", "penalties")
]
_NUMBER, _DUE = STATE_COLUMNS.index("number"), STATE_COLUMNS.index("due_date")


def unpaid_rows_of_view(rows: str | list[str]) -> str:
    """All of `unpaid_rows` from a stored view's rows (`STATE_COLUMNS`), without building
    its installments: for a loan stored before ``unpaid_installments`` was, or a sheet's date
    past its ``unpaid_complete_before``."""
    lines = []
    for row in split_rows(rows):
        left = sum((D(row[d]) - D(row[p]) for d, p in _UNPAID_PARTS), D(0))
        if left > 0:
            lines.append(SEP.join((row[_NUMBER], row[_DUE], str(left))))
    return pack_rows(lines)


def rows_to_installments(rows: str | list[str]) -> tuple[InstallmentState, ...]:
    fromiso = date.fromisoformat
    return tuple(
        InstallmentState(
            number=int(r[0]),
            start_date=fromiso(r[1]),
            due_date=fromiso(r[2]),
            principal=D(r[3]),
            interest=D(r[4]),
            fees=D(r[5]),
            interest_earned=D(r[6]),
            penalties=D(r[7]),
            principal_paid=D(r[8]),
            interest_paid=D(r[9]),
            fees_paid=D(r[10]),
            penalties_paid=D(r[11]),
            penalty_charged_on=fromiso(r[12]) if r[12] else None,
            interest_carried=D(r[13]),
        )
        for r in split_rows(rows)
    )


def state_to_doc(state: LoanState) -> dict[str, Any]:
    return {
        "principal": str(state.principal),
        "overpayment": str(state.overpayment),
        "rows": state_rows(state),
    }


def state_from_doc(doc: dict[str, Any]) -> LoanState:
    return LoanState(
        installments=rows_to_installments(doc["rows"]),
        principal=D(doc["principal"]),
        overpayment=D(doc["overpayment"]),
    )


def allocation_to_doc(allocation: Allocation) -> dict[str, str]:
    return {
        "principal": str(allocation.principal),
        "interest": str(allocation.interest),
        "fees": str(allocation.fees),
        "penalties": str(allocation.penalties),
        "overpayment": str(allocation.overpayment),
    }


def allocation_from_doc(doc: dict[str, str] | None) -> Allocation:
    if not doc:
        return Allocation()
    return Allocation(
        principal=D(doc["principal"]),
        interest=D(doc["interest"]),
        fees=D(doc["fees"]),
        penalties=D(doc["penalties"]),
        overpayment=D(doc.get("overpayment", "0")),
    )


# --- the aggregate -------------------------------------------------------------------------


def loan_to_doc(loan: Loan, allocations: dict[str, dict[str, str]]) -> dict[str, Any]:
    """The aggregate's own fields (what `loan_from_doc` needs to rebuild it). ``allocations``
    maps a payment id to the allocation first made for it."""
    override = loan.eligibility_override
    approval = loan.approval
    return {
        "status": loan.status.value,
        "borrower_id": loan.borrower_id,
        "product": product_to_doc(loan.product),
        "principal": str(loan.principal),
        "term": loan.term,
        "created_by": loan.created_by,
        "expected_disbursement_date": d2s(loan.expected_disbursement_date),
        "first_repayment_date": d2s(loan.first_repayment_date),
        "purpose": loan.purpose or "",
        "eligibility_failures": [
            {"rule": f.rule, "message": f.message} for f in loan.eligibility_failures
        ],
        "eligibility_override": None
        if override is None
        else {
            "by": override.by,
            "role": override.role,
            "reason": override.reason,
            "rules": list(override.rules),
        },
        "approval": None
        if approval is None
        else {
            "approver_id": approval.approver_id,
            "role": approval.role,
            "note": approval.note,
            "approved_on": d2s(approval.approved_on),
        },
        "rejection_reason": loan.rejection_reason,
        "disbursement_date": d2s(loan.disbursement_date),
        "schedule": schedule_to_doc(loan.schedule) if loan.schedule is not None else None,
        # The starting state equals the schedule's until a reschedule: stored only then.
        "base_state": state_to_doc(loan.base_state)
        if loan.base_state is not None and loan.schedule_history
        else None,
        "base_date": d2s(loan.base_date),
        "repayments": pack_rows(
            SEP.join(
                (
                    r.repayment.id,
                    str(r.repayment.amount),
                    r.repayment.paid_on.isoformat(),
                    "1" if r.reversed else "",
                    str(r.segment),
                    *_allocation_columns(allocations.get(r.repayment.id)),
                )
            )
            for r in loan.repayments
        ),
        "reversal_reasons": {
            r.repayment.id: r.reversal_reason for r in loan.repayments if r.reversal_reason
        },
        "refunds": pack_rows(
            SEP.join((r.id, str(r.amount), r.refunded_on.isoformat())) for r in loan.refunds
        ),
        "schedule_history": [
            {
                "schedule": schedule_to_doc(v.schedule),
                "product": product_to_doc(v.product),
                "superseded_on": v.superseded_on.isoformat(),
                "reason": v.reason,
            }
            for v in loan.schedule_history
        ],
        "closed_on": d2s(loan.closed_on),
        "written_off_on": d2s(loan.written_off_on),
        "write_off_reason": loan.write_off_reason,
        "checkpoint": checkpoint_to_doc(loan.new_checkpoint()),
    }


def checkpoint_to_doc(checkpoint: Checkpoint | None) -> dict[str, Any] | None:
    if checkpoint is None:
        return None
    return {"count": checkpoint.count, "key": checkpoint.key, **state_to_doc(checkpoint.state)}


def checkpoint_from_doc(doc: dict[str, Any] | None) -> Checkpoint | None:
    if not doc:
        return None
    return Checkpoint(state_from_doc(doc), int(doc["count"]), str(doc["key"]))


def loan_from_doc(doc: dict[str, Any]) -> Loan:
    override = doc.get("eligibility_override")
    approval = doc.get("approval")
    schedule = schedule_from_doc(doc["schedule"]) if doc.get("schedule") else None
    if doc.get("base_state"):
        base_state: LoanState | None = state_from_doc(doc["base_state"])
    else:
        base_state = LoanState.from_schedule(schedule) if schedule is not None else None
    return Loan(
        id=doc["_id"],
        borrower_id=doc["borrower_id"],
        product=product_from_doc(doc["product"]),
        principal=D(doc["principal"]),
        term=doc["term"],
        created_by=doc["created_by"],
        status=LoanStatus(doc["status"]),
        expected_disbursement_date=s2d(doc.get("expected_disbursement_date")),
        first_repayment_date=s2d(doc.get("first_repayment_date")),
        purpose=doc.get("purpose") or None,
        eligibility_failures=tuple(
            RuleFailure(f["rule"], f["message"]) for f in doc.get("eligibility_failures") or []
        ),
        eligibility_override=None
        if not override
        else EligibilityOverride(
            override["by"], override["role"], override["reason"], tuple(override["rules"])
        ),
        approval=None
        if not approval
        else Approval(
            approval["approver_id"],
            approval["role"],
            approval.get("note"),
            s2d(approval.get("approved_on")),
        ),
        rejection_reason=doc.get("rejection_reason"),
        disbursement_date=s2d(doc.get("disbursement_date")),
        schedule=schedule,
        base_state=base_state,
        base_date=s2d(doc.get("base_date")),
        repayments=[
            RecordedRepayment(
                Repayment(r["id"], D(r["amount"]), date.fromisoformat(r["paid_on"])),
                reversed=r["reversed"],
                reversal_reason=r["reversal_reason"],
                segment=r["segment"],
            )
            for r in stored_repayments(doc)
        ],
        refunds=stored_refunds(doc),
        schedule_history=[
            ScheduleVersion(
                schedule=schedule_from_doc(v["schedule"]),
                product=product_from_doc(v["product"]),
                superseded_on=date.fromisoformat(v["superseded_on"]),
                reason=v["reason"],
            )
            for v in doc.get("schedule_history") or []
        ],
        closed_on=s2d(doc.get("closed_on")),
        written_off_on=s2d(doc.get("written_off_on")),
        write_off_reason=doc.get("write_off_reason"),
        checkpoint=checkpoint_from_doc(doc.get("checkpoint")),
    )


def _allocation_columns(allocation: dict[str, str] | None) -> tuple[str, ...]:
    if not allocation:
        return ("",) * len(_ALLOCATION_PARTS)
    return tuple(allocation.get(part, "0") for part in _ALLOCATION_PARTS)


def stored_repayments(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """The loan's applied payments as ``{id, amount, paid_on, reversed, reversal_reason,
    segment, allocation}`` (``allocation``: the first split, or None)."""
    table = doc.get("repayments") or ""
    if isinstance(table, list):  # a document written before the table was packed
        return [
            {
                **r,
                "reversed": r.get("reversed", False),
                "reversal_reason": r.get("reversal_reason"),
                "segment": r.get("segment", 0),
                "allocation": r.get("allocation"),
            }
            for r in table
        ]
    reasons = doc.get("reversal_reasons") or {}
    out = []
    for row in split_rows(table):
        parts = row[5:]
        out.append(
            {
                "id": row[0],
                "amount": row[1],
                "paid_on": row[2],
                "reversed": row[3] == "1",
                "reversal_reason": reasons.get(row[0]),
                "segment": int(row[4]),
                "allocation": dict(zip(_ALLOCATION_PARTS, parts, strict=True))
                if parts[0]
                else None,
            }
        )
    return out


def stored_refunds(doc: dict[str, Any]) -> list[Refund]:
    """The loan's refunds of its credit balance, in order (none when the field is absent)."""
    return [
        Refund(r[0], D(r[1]), date.fromisoformat(r[2]))
        for r in split_rows(doc.get("refunds") or "")
    ]


def contributions_to_doc(contributions: Iterable[tuple[str, int, str]]) -> str:
    """A score's rule contributions as one JSON string (one value to decode, not a
    sub-document per rule: a 30-rule scorecard made a quarter of a loan document)."""
    return orjson.dumps(
        [{"rule": rule, "points": points, "note": note} for rule, points, note in contributions]
    ).decode()


def contributions_from_doc(value: str | list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """The stored contributions (a list: a score stored before they were one string)."""
    if isinstance(value, str):
        return list(orjson.loads(value))
    return list(value or [])


def first_allocations(doc: dict[str, Any]) -> dict[str, dict[str, str]]:
    """Payment id -> the allocation stored when it was first applied."""
    return {r["id"]: r["allocation"] for r in stored_repayments(doc) if r["allocation"]}
