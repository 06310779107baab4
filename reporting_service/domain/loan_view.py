"""The loan read model (one document per loan) kept from the loan's lean events alone.

Events arrive in any order, and again (redelivery, replays from the dead-letter queue), so
each one is merged into the document rather than replacing it, part by part, and the newest
version of each part wins: the document keeps, per part, the `aggregate_version` of the event
that set it (in the unindexed `snapshot`). Merging is then idempotent and its result does not
depend on the order the events came in: it is a function of the set of events merged.

- The loan's position (status, balances, arrears, ids): from any event, stamped once.
- The schedule (what the arrears report reads): row by row, each row stamped; the position's
  `installment_count` (stamped with it) drops the rows a reschedule removed.
- The principal and the disbursement: from `loan.disbursed` (the principal first from
  `loan.submitted`); the trends report's original schedule only from `loan.disbursed`.
- Payments: by payment id, a reversal for good whichever of the two comes first.
- Closing: the newest of `loan.closed` / `loan.reopened`; the reschedule day: the first
  reschedule's (from then on the loan is at risk whatever its schedule says).

Amounts are integer minor units of the loan's currency, except the schedule's rows, which
are stored as the arrears report reads them (decimal strings with the currency's decimals).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from shared.money import fmt, from_minor


@dataclass(frozen=True)
class Amounts:
    principal: int = 0
    interest: int = 0
    fees: int = 0
    penalties: int = 0

    @property
    def total(self) -> int:
        return self.principal + self.interest + self.fees + self.penalties


@dataclass(frozen=True)
class InstallmentPosition:
    number: int
    due_date: date | None
    due: Amounts
    paid: Amounts


@dataclass(frozen=True)
class Position:
    """Where the loan stands after the write that raised the event."""

    loan_id: str
    institution_id: str
    branch_id: str
    borrower_id: str
    currency: str
    status: str
    """`active`, `closed`, ... (the contract's enum, lower case, without its prefix)."""
    outstanding_principal: int
    days_past_due: int = 0
    delinquency_bucket: str = ""
    oldest_unpaid_due_date: date | None = None
    rescheduled: bool = False
    installment_count: int = 0
    changed_installments: Sequence[InstallmentPosition] = ()


# --- what happened (the facts the read model keeps besides the position) -------------------


@dataclass(frozen=True)
class Submitted:
    principal: int
    #: A member loan of a group loan: its group and the group's centre ("" for an individual).
    group_id: str = ""
    center_id: str = ""


@dataclass(frozen=True)
class Disbursed:
    on: date | None
    principal: int


@dataclass(frozen=True)
class RepaymentApplied:
    payment_id: str
    paid_on: date | None
    amount: int
    principal: int
    """Allocated to principal."""
    applied: int
    """Allocated to principal, interest and fees (what pays the installments' dues)."""


@dataclass(frozen=True)
class RepaymentReversed:
    payment_id: str
    paid_on: date | None
    amount: int


@dataclass(frozen=True)
class Rescheduled:
    on: date | None


@dataclass(frozen=True)
class WrittenOff:
    on: date | None


@dataclass(frozen=True)
class Closed:
    on: date | None


@dataclass(frozen=True)
class Reopened:
    pass


Fact = (
    Submitted
    | Disbursed
    | RepaymentApplied
    | RepaymentReversed
    | Rescheduled
    | WrittenOff
    | Closed
    | Reopened
)


@dataclass(frozen=True)
class LoanChange:
    """One loan event: the loan's version after the write, its position then, and what
    happened (None: an event that only moves the position, such as `loan.reclassified`)."""

    version: int
    loan: Position
    fact: Fact | None = None


@dataclass(frozen=True)
class PaymentRecord:
    """A payment as the repayments index keeps it: reversed is its second and last version."""

    payment_id: str
    version: int
    doc: dict[str, Any]


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None


def _schedule_row(i: InstallmentPosition, currency: str, version: int) -> dict[str, Any]:
    def money(units: int) -> str:
        return fmt(from_minor(units, currency), currency)

    return {
        "number": i.number,
        "due_date": _iso(i.due_date),
        "principal": money(i.due.principal),
        "interest": money(i.due.interest),
        "total": money(i.due.total),
        "principal_paid": money(i.paid.principal),
        "interest_paid": money(i.paid.interest),
        "total_paid": money(i.paid.total),
        "version": version,
    }


def _new_document() -> dict[str, Any]:
    # Every field from the first event on, whichever it is: the document has the same shape
    # whatever order its events came in.
    return {
        "disbursement_date": None,
        "principal_minor": 0,
        "group_id": "",
        "center_id": "",
        "settled_on": None,
        "snapshot": {
            "versions": {},
            "schedule": [],
            "timeline": {
                "amortized_minor": 0,
                "installments": [],
                "repayments": [],
                "rescheduled_on": None,
                "written_off_on": None,
                "closed_on": None,
            },
        },
    }


def adopt(doc: Mapping[str, Any], indexed_version: int) -> dict[str, Any]:
    """A document an earlier release indexed whole from a loan snapshot (it records no
    versions), made mergeable: every part it has is stamped with the version it was indexed
    at (its Elasticsearch external version, the loan's then). Its payments were kept without
    their ids: they are kept under ``legacy:<n>`` (a later reversal of one of them cannot name
    it, so the trends count it until the loan's document is indexed again)."""
    view = copy.deepcopy(dict(doc))
    snapshot = view.setdefault("snapshot", {})
    timeline = snapshot.setdefault("timeline", _new_document()["snapshot"]["timeline"])
    versions = {"position": indexed_version, "principal": indexed_version}
    if timeline.get("closed_on"):
        versions["closed"] = indexed_version
    if timeline.get("rescheduled_on"):
        versions["rescheduled"] = indexed_version
    snapshot["versions"] = versions
    snapshot["schedule"] = [
        {**row, "version": indexed_version} for row in snapshot.get("schedule") or []
    ]
    snapshot["installment_count"] = len(snapshot["schedule"])
    timeline["repayments"] = [
        {**r, "payment_id": f"legacy:{n}", "reversed": False}
        for n, r in enumerate(timeline.get("repayments") or [])
    ]
    view.setdefault("principal_minor", 0)
    view.setdefault("disbursement_date", None)
    return view


def merge(
    doc: Mapping[str, Any] | None, change: LoanChange, indexed_version: int = 0
) -> dict[str, Any]:
    """The loan's document with `change` merged in (`doc`: as indexed at `indexed_version`,
    None: none yet)."""
    if doc is None:
        view = _new_document()
    elif "versions" not in (doc.get("snapshot") or {}):
        view = adopt(doc, indexed_version)
    else:
        # Copies of the levels this merge changes, not of the whole document: the caller may
        # hold `doc` (the adapter keeps the last written one) and it must stay as it was.
        view = dict(doc)
        view["snapshot"] = dict(view["snapshot"])
        view["snapshot"]["versions"] = dict(view["snapshot"]["versions"])
        view["snapshot"]["timeline"] = dict(view["snapshot"]["timeline"])
    snapshot = view["snapshot"]
    versions: dict[str, int] = snapshot["versions"]
    version, loan = change.version, change.loan
    if version >= versions.get("position", 0):
        versions["position"] = version
        view.update(
            id=loan.loan_id,
            institution_id=loan.institution_id,
            branch_id=loan.branch_id,
            borrower_id=loan.borrower_id,
            status=loan.status,
            currency=loan.currency,
            rescheduled=loan.rescheduled,
            oldest_unpaid_due_date=_iso(loan.oldest_unpaid_due_date),
            # Only active loans are in the portfolio (the portfolio sums this field).
            outstanding_principal_minor=loan.outstanding_principal
            if loan.status == "active"
            else 0,
            days_past_due=loan.days_past_due,
            delinquency_bucket=loan.delinquency_bucket,
        )
        snapshot["installment_count"] = loan.installment_count
    _merge_schedule(snapshot, change)
    _merge_fact(view, change)
    timeline = snapshot["timeline"]
    view["settled_on"] = {
        "written_off": timeline["written_off_on"],
        "closed": timeline["closed_on"],
    }.get(view["status"])
    return view


def _merge_schedule(snapshot: dict[str, Any], change: LoanChange) -> None:
    rows = {row["number"]: row for row in snapshot["schedule"]}
    for installment in change.loan.changed_installments:
        row = rows.get(installment.number)
        if row is None or row["version"] < change.version:
            rows[installment.number] = _schedule_row(
                installment, change.loan.currency, change.version
            )
    # The newest position's count, whichever event brought it: rows above it are gone (a
    # reschedule shortened the schedule), even when an older event lists them again.
    count = snapshot["installment_count"]
    snapshot["schedule"] = [rows[n] for n in sorted(rows) if n <= count]


def _merge_fact(view: dict[str, Any], change: LoanChange) -> None:
    snapshot = view["snapshot"]
    versions: dict[str, int] = snapshot["versions"]
    timeline = snapshot["timeline"]
    version, fact = change.version, change.fact
    match fact:
        case Submitted(principal=principal, group_id=group_id, center_id=center_id):
            if version >= versions.get("principal", 0):
                versions["principal"] = version
                view["principal_minor"] = principal
            # Fixed when the loan is applied for: any copy of the event says the same.
            view["group_id"], view["center_id"] = group_id, center_id
        case Disbursed(on=on, principal=principal):
            versions["principal"] = max(version, versions.get("principal", 0))
            view["principal_minor"] = principal
            view["disbursement_date"] = _iso(on)
            # The schedule the loan was disbursed with: the trends report dates the arrears by
            # it (repayments before a reschedule were allocated against it); a reschedule
            # never replaces it.
            original = change.loan.changed_installments
            timeline["amortized_minor"] = sum(i.due.principal for i in original)
            timeline["installments"] = [
                {
                    "due_date": _iso(i.due_date),
                    "due_minor": i.due.principal + i.due.interest + i.due.fees,
                }
                for i in sorted(original, key=lambda i: i.number)
            ]
        case RepaymentApplied():
            payments = _payments(timeline)
            earlier = payments.get(fact.payment_id, {})
            payments[fact.payment_id] = {
                "payment_id": fact.payment_id,
                "paid_on": _iso(fact.paid_on),
                "amount_minor": fact.amount,
                "principal_minor": fact.principal,
                "applied_minor": fact.applied,
                "reversed": earlier.get("reversed", False),
            }
            _store_payments(timeline, payments)
        case RepaymentReversed():
            payments = _payments(timeline)
            # Reversed before it is seen applied (events out of order): the application, when
            # it comes, fills in the allocation and leaves it reversed.
            earlier = payments.get(
                fact.payment_id,
                {
                    "payment_id": fact.payment_id,
                    "paid_on": _iso(fact.paid_on),
                    "amount_minor": fact.amount,
                },
            )
            payments[fact.payment_id] = {**earlier, "reversed": True}
            _store_payments(timeline, payments)
        case Rescheduled(on=on):
            if version <= versions.get("rescheduled", version):
                versions["rescheduled"] = version
                timeline["rescheduled_on"] = _iso(on)
        case WrittenOff(on=on):
            timeline["written_off_on"] = _iso(on)
        case Closed(on=on):
            if version >= versions.get("closed", 0):
                versions["closed"] = version
                timeline["closed_on"] = _iso(on)
        case Reopened():
            if version >= versions.get("closed", 0):
                versions["closed"] = version
                timeline["closed_on"] = None


def _payments(timeline: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {p["payment_id"]: p for p in timeline["repayments"]}


def _store_payments(timeline: dict[str, Any], payments: Mapping[str, dict[str, Any]]) -> None:
    timeline["repayments"] = [payments[k] for k in sorted(payments)]


def payment_record(change: LoanChange) -> PaymentRecord | None:
    """The repayments index's document of the payment `change` applies or reverses (None:
    not a payment event). Its version orders application before reversal."""
    fact = change.fact
    if not isinstance(fact, RepaymentApplied | RepaymentReversed):
        return None
    reversed_ = isinstance(fact, RepaymentReversed)
    return PaymentRecord(
        payment_id=fact.payment_id,
        version=2 if reversed_ else 1,
        doc={
            "institution_id": change.loan.institution_id,
            "branch_id": change.loan.branch_id,
            "loan_id": change.loan.loan_id,
            "paid_on": _iso(fact.paid_on),
            "amount_minor": fact.amount,
            "reversed": reversed_,
        },
    )
