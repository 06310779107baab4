"""The loan's values as the contract's messages, for its events and its answers alike: the
status enum, the score, amounts as integer minor units (`Minor`), and the loan's position
after a write (`loan_position`: what every loan event and every answer of
kopa.loan.v2.RepaymentService carries)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from functools import partial
from types import ModuleType
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp

from kopa.loan.v1 import events_pb2 as ev
from kopa.loan.v1 import loan_pb2
from loan_service.adapters.serialization import (
    STATE_COLUMNS,
    contributions_from_doc,
    row_count,
    split_rows,
)
from loan_service.domain.state import Allocation, Amounts
from shared.dates import to_proto_date
from shared.money import to_minor

STATUS_TO_PROTO = {
    "submitted": loan_pb2.LOAN_STATUS_SUBMITTED,
    "approved": loan_pb2.LOAN_STATUS_APPROVED,
    "rejected": loan_pb2.LOAN_STATUS_REJECTED,
    "active": loan_pb2.LOAN_STATUS_ACTIVE,
    "closed": loan_pb2.LOAN_STATUS_CLOSED,
    "written_off": loan_pb2.LOAN_STATUS_WRITTEN_OFF,
}
PROTO_TO_STATUS = {v: k for k, v in STATUS_TO_PROTO.items()}


def ts(value: datetime | None) -> Timestamp | None:
    if value is None:
        return None
    out = Timestamp()
    out.FromDatetime(value)
    return out


def score_to_proto(doc: dict[str, Any] | None, pb: ModuleType = loan_pb2) -> Any:
    """The stored score as `pb.LoanScore` (kopa.loan.v1's messages, or v2's: the same)."""
    if not doc:
        return None
    return pb.LoanScore(
        score=doc["score"],
        band=doc["band"],
        scorecard_id=doc["scorecard_id"],
        scorecard_version=doc["scorecard_version"],
        contributions=[
            pb.ScoreContribution(rule=c["rule"], points=c["points"], note=c.get("note", ""))
            for c in contributions_from_doc(doc.get("contributions"))
        ],
        time=ts(doc.get("time")),
    )


#: The state columns an `InstallmentPosition` shows: a write that changes none of them (only
#: interest earned, say) does not list the installment as changed.
_SHOWN = tuple(
    STATE_COLUMNS.index(c)
    for c in (
        "number",
        "due_date",
        "principal",
        "interest",
        "fees",
        "penalties",
        "principal_paid",
        "interest_paid",
        "fees_paid",
        "penalties_paid",
    )
)


_AMOUNT_PARTS = ("principal", "interest", "fees", "penalties")
_ALLOCATION_PARTS = (*_AMOUNT_PARTS, "overpayment")


class Minor:
    """Amounts of one currency as integer minor units (stored decimal strings are exact and
    have at most the currency's decimals, so scaling them loses nothing). Parts come from
    a domain value (`Amounts`, `Allocation`) or its stored form (decimal strings by part)."""

    def __init__(self, currency: str) -> None:
        self.currency = currency

    def __call__(self, amount: Decimal | str | None) -> int:
        return to_minor(amount, self.currency) if amount else 0

    def _parts(self, value: Any, names: tuple[str, ...]) -> dict[str, int]:
        if value is None:
            return {}
        read = value.get if isinstance(value, Mapping) else partial(getattr, value)
        return {name: self(read(name)) for name in names}

    def amounts(self, a: Amounts | Mapping[str, str] | None) -> ev.LoanAmounts:
        return ev.LoanAmounts(**self._parts(a, _AMOUNT_PARTS))

    def allocation(self, a: Allocation | Mapping[str, str] | None) -> ev.LoanAllocation:
        return ev.LoanAllocation(**self._parts(a, _ALLOCATION_PARTS))


def _shown_rows(doc: Mapping[str, Any] | None) -> dict[str, tuple[str, ...]]:
    rows = ((doc or {}).get("view") or {}).get("rows") or ""
    return {r[0]: tuple(r[k] for k in _SHOWN) for r in split_rows(rows)}


def changed_installments(
    before: Mapping[str, Any] | None, after: Mapping[str, Any], minor: Minor
) -> tuple[int, list[ev.InstallmentPosition]]:
    """How many installments the loan has after the write, and those whose dues or payments
    it changed: all of them when the schedule itself may have changed (a new loan, a
    disbursement, a reschedule)."""
    now = _shown_rows(after)
    whole = (
        before is None
        or before.get("status") != after.get("status")
        or len(before.get("schedule_history") or ()) != len(after.get("schedule_history") or ())
    )
    then = {} if whole else _shown_rows(before)
    changed = []
    for number, row in now.items():
        if then.get(number) == row:
            continue
        _, due, p, i, f, pen, pp, ip, fp, penp = row
        changed.append(
            ev.InstallmentPosition(
                number=int(number),
                due_date=to_proto_date(due),
                due=ev.LoanAmounts(
                    principal=minor(p), interest=minor(i), fees=minor(f), penalties=minor(pen)
                ),
                paid=ev.LoanAmounts(
                    principal=minor(pp), interest=minor(ip), fees=minor(fp), penalties=minor(penp)
                ),
            )
        )
    return len(now), changed


def loan_position(
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any],
    minor: Minor,
    *,
    installments: bool = True,
) -> ev.LoanPosition:
    """Where the loan read as `before` (None: its creation) stands `after` a write; without
    the changed installments when `installments` is False (an answer, not an event)."""
    if installments:
        count, changed = changed_installments(before, after, minor)
    else:
        count, changed = row_count(((after.get("view") or {}).get("rows")) or ""), []
    view = after.get("view") or {}
    return ev.LoanPosition(
        loan_id=after["_id"],
        institution_id=after["institution_id"],
        branch_id=after["branch_id"],
        borrower_id=after["borrower_id"],
        currency=after["currency"],
        status=STATUS_TO_PROTO[after["status"]],
        outstanding=minor.amounts(after.get("outstanding")),
        credit_balance=minor(view.get("overpayment")),
        days_past_due=after.get("days_past_due") or 0,
        delinquency_bucket=after.get("delinquency_bucket") or "",
        oldest_unpaid_due_date=to_proto_date(after.get("oldest_unpaid_due_date")),
        rescheduled=bool(after.get("schedule_history")),
        installment_count=count,
        changed_installments=changed,
    )
