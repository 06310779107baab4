"""The figures a loan document stores besides the aggregate: derived as of a business date.

Every write (a use case or the close of business) stores them, so reads, lists and reports
never replay a loan's history:

``view``                    {as_of, principal, overpayment, rows}: the installments with dues
                            and paid amounts (`serialization.STATE_COLUMNS`) as of ``as_of``;
                            ``overpayment`` is the credit balance left after refunds.
``outstanding``             what the schedule still asks for (future interest included).
``outstanding_principal``   for portfolio reports.
``days_past_due``           of the oldest unpaid installment (SEEP) as of ``view.as_of``,
                            active loans only; reads add the days since (`effective_arrears`).
``delinquency_bucket``      ``current``, ``1-30`` ... (`arrears.DEFAULT_BUCKETS`); "" unless active.
``oldest_unpaid_due_date``  due date of the oldest installment with principal, interest or
                            fees unpaid ("" when none); with it a reader computes days past
                            due on any later date without the loan.
``unpaid_installments``     of an active loan's view, the installments with something left
                            to pay and what is left, those due by the view's date and the
                            next few ("" unless active; `serialization.unpaid_rows`), all
                            of them due before ``unpaid_complete_before`` ("": all of them):
                            the collection sheet reads these, not the loan.
``max_days_past_due``       the worst days past due the loan ever reached (scoring history).
``cob_next_date``           the first business date on which the close of business has
                            something to record (`next_change`): an installment falls past
                            due, a penalty triggers, the bucket changes; None when nothing can.
``pricing``                 totals, APR and EIR of the schedule (`pricing_of`; indicative
                            before disbursement).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from loan_service.adapters.serialization import STATE_COLUMNS, split_rows, state_rows, unpaid_rows
from loan_service.domain import (
    DEFAULT_BUCKETS,
    Bucket,
    Loan,
    LoanProduct,
    LoanState,
    LoanStatus,
    ValidationError,
    days_past_due,
    delinquency_bucket,
    generate_schedule,
    price,
)
from loan_service.domain.arrears import penalty_trigger_date
from loan_service.domain.schedule import Schedule

_DUE = STATE_COLUMNS.index("due_date")
_PEN = STATE_COLUMNS.index("penalties")
_SCHEDULED = [
    (STATE_COLUMNS.index(c), STATE_COLUMNS.index(f"{c}_paid"))
    for c in ("principal", "interest", "fees")
]


@dataclass(frozen=True)
class Derived:
    fields: dict[str, Any]
    as_of: date | None

    @property
    def key(self) -> tuple[Any, ...]:
        return change_key(self.fields)


def change_key(doc: dict[str, Any]) -> tuple[Any, ...]:
    """What a close of business compares to decide whether a loan changed (the business date
    alone moving on is not a change)."""
    view = doc.get("view") or {}
    return (
        view.get("rows"),
        view.get("overpayment"),
        doc.get("days_past_due"),
        doc.get("delinquency_bucket"),
        doc.get("oldest_unpaid_due_date"),
        doc.get("unpaid_installments"),
        doc.get("unpaid_complete_before"),
    )


def pricing_of(schedule: Schedule) -> dict[str, str]:
    """The stored ``pricing`` of a schedule: its totals, APR and EIR."""
    pricing = price(schedule)
    return {
        "total_interest": str(schedule.total_interest),
        "total_fees": str(schedule.total_fees),
        "total_repayment": str(schedule.total_repayment),
        "apr": str(pricing.apr),
        "eir": str(pricing.eir),
    }


def indicative_schedule(loan: Loan, fallback: date) -> Schedule | None:
    """The schedule an application would get if disbursed on its expected date."""
    try:
        return generate_schedule(
            loan.product,
            loan.principal,
            loan.term,
            loan.expected_disbursement_date or fallback,
            loan.first_repayment_date
            if loan.first_repayment_date
            and loan.first_repayment_date > (loan.expected_disbursement_date or fallback)
            else None,
        )
    except ValidationError:
        return None


def view_date(loan: Loan, *candidates: date | None) -> date | None:
    """The business date a loan's figures are stated as of: the latest of its own dates
    (disbursement, last reschedule, repayments, write-off) and the given ones (its last close
    of business, the institution's business date, the date of the change)."""
    if loan.base_date is None:
        return None
    dates = [loan.base_date, *(c for c in candidates if c is not None)]
    segment = len(loan.schedule_history)
    dates.extend(
        r.repayment.paid_on for r in loan.repayments if not r.reversed and r.segment == segment
    )
    if loan.status is LoanStatus.WRITTEN_OFF and loan.written_off_on is not None:
        return loan.written_off_on
    return max(dates)


def derive(
    loan: Loan,
    as_of: date | None,
    *,
    fallback: date,
    previous_max_dpd: int = 0,
    buckets: tuple[Bucket, ...] = DEFAULT_BUCKETS,
) -> Derived:
    if loan.base_state is None or as_of is None:
        schedule = indicative_schedule(loan, fallback)
        rows = ""
        principal = loan.principal
        if schedule is not None:
            rows = state_rows(LoanState.from_schedule(schedule))
            principal = schedule.principal
        zero = "0"
        return Derived(
            {
                "view": {
                    "as_of": None,
                    "principal": str(principal),
                    "overpayment": zero,
                    "rows": rows,
                },
                "outstanding": {
                    k: zero for k in ("principal", "interest", "fees", "penalties", "total")
                },
                "outstanding_principal": zero,
                "days_past_due": 0,
                "delinquency_bucket": "",
                "oldest_unpaid_due_date": "",
                "unpaid_installments": "",
                "unpaid_complete_before": "",
                "max_days_past_due": previous_max_dpd,
                "cob_next_date": None,
            },
            None,
        )
    state = loan.state(as_of)
    return derive_from_state(
        state,
        as_of,
        active=loan.status is LoanStatus.ACTIVE,
        product=loan.product,
        previous_max_dpd=previous_max_dpd,
        buckets=buckets,
        refunded=loan.refunded,
    )


def derive_from_state(
    state: LoanState,
    as_of: date,
    *,
    active: bool,
    product: LoanProduct,
    previous_max_dpd: int = 0,
    buckets: tuple[Bucket, ...] = DEFAULT_BUCKETS,
    refunded: Decimal = Decimal(0),
) -> Derived:
    """The stored figures from a loan's state; ``refunded`` (the credit balance paid back) is
    taken off the state's overpayment, so ``view.overpayment`` is the credit left. The close
    of business passes none: it starts from a stored view, already net of refunds."""
    outstanding = state.outstanding
    oldest = next((i for i in state.installments if i.scheduled_outstanding > 0), None)
    dpd = days_past_due(state, as_of) if active else 0
    nxt = next_change(state, as_of, product, dpd, buckets) if active else None
    unpaid, complete_before = unpaid_rows(state.installments, as_of) if active else ("", "")
    return Derived(
        {
            "view": {
                "as_of": as_of.isoformat(),
                "principal": str(state.principal),
                "overpayment": str(state.overpayment - refunded),
                "rows": state_rows(state),
            },
            "outstanding": {
                "principal": str(outstanding.principal),
                "interest": str(outstanding.interest),
                "fees": str(outstanding.fees),
                "penalties": str(outstanding.penalties),
                "total": str(outstanding.total),
            },
            "outstanding_principal": str(outstanding.principal),
            "days_past_due": dpd,
            "delinquency_bucket": delinquency_bucket(dpd, buckets) if active else "",
            "oldest_unpaid_due_date": oldest.due_date.isoformat() if active and oldest else "",
            "unpaid_installments": unpaid,
            "unpaid_complete_before": complete_before,
            "max_days_past_due": max(previous_max_dpd, dpd),
            "cob_next_date": nxt.isoformat() if nxt is not None else None,
        },
        as_of,
    )


def next_change(
    state: LoanState,
    as_of: date,
    product: LoanProduct,
    dpd: int,
    buckets: tuple[Bucket, ...] = DEFAULT_BUCKETS,
) -> date | None:
    """The first business date after `as_of` on which the close of business has something to
    record: an unpaid installment falls past due, a late penalty triggers, or the days past
    due cross into the next bucket. Between two such dates only the day count moves, and a
    reader derives it from ``oldest_unpaid_due_date`` (`effective_arrears`)."""
    dates: list[date] = []
    one = timedelta(days=1)
    for inst in state.installments:
        if inst.scheduled_outstanding <= 0:
            continue
        if inst.due_date >= as_of:
            dates.append(inst.due_date + one)
        if inst.penalty_charged_on is None:
            trigger = penalty_trigger_date(inst, product)
            if trigger is not None and trigger > as_of:
                dates.append(trigger)
        if inst.due_date >= as_of:
            break  # later installments fall due later still
    if dpd > 0:
        oldest_due = as_of - timedelta(days=dpd)
        for bucket in buckets:
            if bucket.min_days > dpd:
                dates.append(oldest_due + timedelta(days=bucket.min_days))
                break
    return min(dates) if dates else None


def effective_arrears(
    doc: dict[str, Any], as_of: date | None, buckets: tuple[Bucket, ...] = DEFAULT_BUCKETS
) -> tuple[date | None, int, str]:
    """A stored loan's business date, days past due and bucket as of `as_of` (the
    institution's business date), when that is later than the date its figures were
    stored as of: only the day count can have moved since (see `next_change`)."""
    view = doc.get("view") or {}
    stored = date.fromisoformat(view["as_of"]) if view.get("as_of") else None
    if doc.get("status") != "active" or stored is None:
        return stored, int(doc.get("days_past_due") or 0), doc.get("delinquency_bucket") or ""
    if as_of is None or as_of <= stored:  # the stored figures, in the buckets they used
        return stored, int(doc.get("days_past_due") or 0), doc.get("delinquency_bucket") or ""
    oldest = doc.get("oldest_unpaid_due_date")
    dpd = (as_of - date.fromisoformat(oldest)).days if oldest and oldest < as_of.isoformat() else 0
    return as_of, dpd, delinquency_bucket(dpd, buckets)


def overdue_numbers(doc: dict[str, Any]) -> set[int]:
    """Installments past due (principal, interest or fees unpaid after the due date) in a
    stored document's view."""
    view = doc.get("view") or {}
    as_of = view.get("as_of")
    if not as_of or doc.get("status") != "active":
        return set()
    out = set()
    for row in split_rows(view.get("rows") or ""):
        if row[_DUE] < as_of and any(Decimal(row[d]) > Decimal(row[p]) for d, p in _SCHEDULED):
            out.add(int(row[0]))
    return out


def penalties_charged(doc: dict[str, Any]) -> Decimal:
    view = doc.get("view") or {}
    return sum((Decimal(row[_PEN]) for row in split_rows(view.get("rows") or "")), Decimal(0))


@dataclass(frozen=True)
class Classification:
    """What a change did to a loan's arrears: newly overdue installments, penalties charged,
    a bucket change (with the history entry to record)."""

    newly_overdue: set[int]
    penalties_added: bool
    previous_bucket: str | None
    history_entry: dict[str, Any] | None


def classify(before: dict[str, Any], after: dict[str, Any]) -> Classification:
    """Compares an active loan's stored figures before and after a change."""
    if after.get("status") != "active":
        return Classification(set(), False, None, None)
    was_active = before.get("status") == "active"
    newly = overdue_numbers(after) - (overdue_numbers(before) if was_active else set())
    penalties = penalties_charged(after) > (penalties_charged(before) if was_active else 0)
    old_bucket = before.get("delinquency_bucket") or "" if was_active else ""
    new_bucket = after.get("delinquency_bucket") or ""
    if was_active and old_bucket and old_bucket != new_bucket:
        entry = {
            "date": (after.get("view") or {}).get("as_of"),
            "from": old_bucket,
            "to": new_bucket,
            "days_past_due": after.get("days_past_due", 0),
        }
        return Classification(newly, penalties, old_bucket, entry)
    return Classification(newly, penalties, None, None)
