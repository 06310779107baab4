"""The stored forms of payment_service's domain objects: the ``payments`` document of a
``Payment`` (and back), journal entries (``BookedEntry``: the entry, its branch and the loan
service's answer) and charts of accounts (``VersionedChart``).

Every document ever written loads: fields this model does not know are kept in
``Payment.extra`` and written back as they were, and optional fields a document lacks stay
absent (``payment_to_doc`` leaves out the optional fields that are None). Amounts are
decimal strings written with the precision they were given (``f"{amount:f}"``), dates ISO
strings, the stored answer the serialized contract message.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from payment_service.domain.ledger import (
    Account,
    AccountRole,
    AccountType,
    BookedEntry,
    ChartOfAccounts,
    IncomeRecognition,
    JournalEntry,
    JournalLine,
    Source,
    VersionedChart,
)
from payment_service.domain.loans import ALLOCATION_PARTS, Applied
from payment_service.domain.payment import (
    Assignment,
    Failure,
    IdempotencyScope,
    Payment,
    PaymentKind,
    PaymentStatus,
    ReversalRequest,
)
from payment_service.domain.postings import Allocation

# Fields every payment document has (None when unset), in the order they are first written.
_ALWAYS = (
    "_id",
    "seq",
    "kind",
    "institution_id",
    "branch_id",
    "loan_id",
    "amount",
    "currency",
    "paid_on",
    "channel",
    "reference",
    "recorded_by",
    "idempotency",
    "status",
    "version",
    "attempt",
    "lease_until",
    "create_time",
    "update_time",
    "request_id",
    "allocation",
    "outstanding",
    "loan_status",
    "failure",
    "response",
)
# Fields written only once they have a value.
_OPTIONAL = (
    "request",
    "suggested_loan_id",
    "match",
    "transacted_at",
    "provider",
    "provider_transaction_id",
    "payer_phone",
    "entry_id",
    "posted_time",
    "taken_over_by",
    "reversal",
    "reversal_reason",
    "reversal_entry_id",
    "reversed_time",
    "receipt_entry_id",
    "assign",
)
# Written by the outbox relay, never by the repository.
_OUTBOX = ("outbox", "outbox_count")
_KNOWN = frozenset(_ALWAYS + _OPTIONAL + _OUTBOX)


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _time(value: Any) -> dt.datetime:
    aware = _aware(value)
    assert aware is not None
    return aware


# --- failures ------------------------------------------------------------------------------


def failure_to_doc(failure: Failure) -> dict[str, Any]:
    return {
        "kind": failure.kind,
        "reason": failure.reason,
        "message": failure.message,
        # Sub-documents, not pairs: FerretDB refuses nested arrays (the write failed, and the
        # refusal reached the client as an internal error).
        "field_errors": [{"field": f, "message": m} for f, m in failure.field_errors],
        "metadata": dict(failure.metadata),
        "retryable": failure.retryable,
    }


def failure_from_doc(doc: Mapping[str, Any]) -> Failure:
    return Failure(
        kind=doc.get("kind", ""),
        reason=doc.get("reason") or "",
        message=doc.get("message", "the payment failed"),
        field_errors=tuple(
            (fe["field"], fe["message"]) if isinstance(fe, dict) else (fe[0], fe[1])
            for fe in doc.get("field_errors", [])
        ),
        metadata=dict(doc.get("metadata") or {}),
        retryable=bool(doc.get("retryable")),
    )


# --- payments ------------------------------------------------------------------------------


def _allocation_to_doc(allocation: Allocation) -> dict[str, str]:
    return {k: f"{getattr(allocation, k):f}" for k in ALLOCATION_PARTS}


def _amounts_to_doc(amounts: Mapping[str, Decimal]) -> dict[str, str]:
    """Amounts by part as stored: exact decimal strings."""
    return {k: f"{v:f}" for k, v in amounts.items()}


def _amounts(stored: Mapping[str, str]) -> dict[str, Decimal]:
    return {k: Decimal(v) if v else Decimal(0) for k, v in stored.items()}


def _idempotency_to_doc(scope: IdempotencyScope) -> dict[str, str]:
    doc = {"key": scope.key}
    if scope.caller is not None:
        doc["caller"] = scope.caller
    if scope.provider is not None:
        doc["provider"] = scope.provider
    doc["fingerprint"] = scope.fingerprint
    return doc


def payment_to_doc(p: Payment) -> dict[str, Any]:
    """The document of a payment (without its outbox)."""
    doc: dict[str, Any] = {
        "_id": p.id,
        "seq": p.seq,
        "kind": p.kind.value,
        "institution_id": p.institution_id,
        "branch_id": p.branch_id,
        "loan_id": p.loan_id,
        "amount": f"{p.amount:f}",
        "currency": p.currency,
        "paid_on": p.paid_on.isoformat(),
        "channel": p.channel,
        "reference": p.reference,
        "recorded_by": p.recorded_by,
        "idempotency": _idempotency_to_doc(p.idempotency),
        "status": p.status.value,
        "version": p.version,
        "attempt": p.attempt,
        "lease_until": p.lease_until,
        "create_time": p.create_time,
        "update_time": p.update_time,
        "request_id": p.request_id,
        "allocation": _allocation_to_doc(p.allocation) if p.allocation is not None else None,
        "outstanding": _amounts_to_doc(p.outstanding) if p.outstanding is not None else None,
        "loan_status": p.loan_status,
        "failure": failure_to_doc(p.failure) if p.failure is not None else None,
        "response": p.response,
    }
    optional: dict[str, Any] = {
        "request": dict(p.request) if p.request is not None else None,
        "suggested_loan_id": p.suggested_loan_id,
        "match": dict(p.match) if p.match is not None else None,
        "transacted_at": p.transacted_at,
        "provider": p.provider,
        "provider_transaction_id": p.provider_transaction_id,
        "payer_phone": p.payer_phone,
        "entry_id": p.entry_id,
        "posted_time": p.posted_time,
        "taken_over_by": p.taken_over_by,
        "reversal": (
            {
                "reason": p.reversal.reason,
                "by": p.reversal.by,
                "requested_time": p.reversal.requested_time,
            }
            if p.reversal is not None
            else None
        ),
        "reversal_reason": p.reversal_reason,
        "reversal_entry_id": p.reversal_entry_id,
        "reversed_time": p.reversed_time,
        "receipt_entry_id": p.receipt_entry_id,
        "assign": (
            {
                "loan_id": p.assign.loan_id,
                "by": p.assign.by,
                "time": p.assign.time,
                "auto": p.assign.auto,
            }
            if p.assign is not None
            else None
        ),
    }
    doc.update((k, v) for k, v in optional.items() if v is not None)
    doc.update((k, v) for k, v in p.extra.items() if k not in doc)
    return doc


def payment_from_doc(doc: Mapping[str, Any]) -> Payment:
    """The aggregate of a stored document (any document ever written)."""
    idem = doc.get("idempotency") or {}
    allocation = doc.get("allocation")
    failure = doc.get("failure")
    reversal = doc.get("reversal")
    assign = doc.get("assign")
    response = doc.get("response")
    return Payment(
        id=doc["_id"],
        seq=doc.get("seq", ""),
        kind=PaymentKind(doc.get("kind") or PaymentKind.REPAYMENT),
        status=PaymentStatus(doc["status"]),
        institution_id=doc.get("institution_id", ""),
        branch_id=doc.get("branch_id", ""),
        loan_id=doc.get("loan_id", ""),
        amount=Decimal(doc.get("amount") or "0"),
        currency=doc.get("currency", ""),
        paid_on=dt.date.fromisoformat(doc["paid_on"]),
        channel=doc.get("channel", ""),
        reference=doc.get("reference", ""),
        recorded_by=doc.get("recorded_by", ""),
        idempotency=IdempotencyScope(
            key=idem.get("key", ""),
            fingerprint=idem.get("fingerprint", ""),
            caller=idem.get("caller"),
            provider=idem.get("provider"),
        ),
        version=int(doc.get("version", 1)),
        attempt=int(doc.get("attempt", 1)),
        lease_until=_aware(doc.get("lease_until")),
        create_time=_time(doc["create_time"]),
        update_time=_time(doc.get("update_time") or doc["create_time"]),
        request_id=doc.get("request_id", ""),
        allocation=(
            Allocation(**{k: Decimal(v) for k, v in allocation.items()}) if allocation else None
        ),
        outstanding=_amounts(doc["outstanding"]) if doc.get("outstanding") is not None else None,
        loan_status=int(doc.get("loan_status") or 0),
        failure=failure_from_doc(failure) if failure else None,
        response=bytes(response) if response else None,
        entry_id=doc.get("entry_id"),
        posted_time=_aware(doc.get("posted_time")),
        taken_over_by=doc.get("taken_over_by"),
        reversal=(
            ReversalRequest(
                reason=reversal.get("reason", ""),
                by=reversal.get("by", ""),
                requested_time=_time(reversal["requested_time"]),
            )
            if reversal
            else None
        ),
        reversal_reason=doc.get("reversal_reason"),
        reversal_entry_id=doc.get("reversal_entry_id"),
        reversed_time=_aware(doc.get("reversed_time")),
        request=dict(doc["request"]) if doc.get("request") is not None else None,
        receipt_entry_id=doc.get("receipt_entry_id"),
        assign=(
            Assignment(
                loan_id=assign.get("loan_id", ""),
                by=assign.get("by", ""),
                time=_time(assign["time"]),
                auto=bool(assign.get("auto")),
            )
            if assign
            else None
        ),
        suggested_loan_id=doc.get("suggested_loan_id"),
        match=dict(doc["match"]) if doc.get("match") is not None else None,
        transacted_at=_aware(doc.get("transacted_at")),
        provider=doc.get("provider"),
        provider_transaction_id=doc.get("provider_transaction_id"),
        payer_phone=doc.get("payer_phone"),
        extra={k: v for k, v in doc.items() if k not in _KNOWN},
    )


def changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, Any]:
    """The ``$set`` that turns document ``before`` into ``after``: the fields whose value
    changed, and None for an optional field that lost its value. Never ``version``."""
    fields = {k: v for k, v in after.items() if k != "version" and before.get(k, _MISSING) != v}
    fields.update((k, None) for k in before if k not in after and before[k] is not None)
    return fields


_MISSING = object()


# --- journal entries and charts ------------------------------------------------------------


def entry_to_doc(entry: JournalEntry, **extra: Any) -> dict[str, Any]:
    """The stored form of a journal entry (amounts as decimal strings)."""
    return {
        "_id": entry.id,
        "institution_id": entry.institution_id,
        "currency": entry.currency,
        "date": entry.date.isoformat(),
        "posted_at": entry.posted_at,
        "lines": [
            {"account_code": ln.account_code, "debit": str(ln.debit), "credit": str(ln.credit)}
            for ln in entry.lines
        ],
        "accounts": sorted({ln.account_code for ln in entry.lines}),
        "source": {"kind": entry.source.kind, "id": entry.source.id},
        "request_id": entry.request_id,
        "loan_id": entry.loan_id,
        "memo": entry.memo,
        "reverses": entry.reverses,
        **extra,
    }


def entry_from_doc(doc: Mapping[str, Any]) -> JournalEntry:
    """Rebuilds (and so re-validates: balanced, exact) a stored entry."""
    posted_at = doc["posted_at"]
    if posted_at.tzinfo is None:
        posted_at = posted_at.replace(tzinfo=dt.UTC)
    return JournalEntry(
        id=doc["_id"],
        institution_id=doc["institution_id"],
        currency=doc["currency"],
        date=dt.date.fromisoformat(doc["date"]),
        posted_at=posted_at,
        lines=tuple(
            JournalLine(ln["account_code"], Decimal(ln["debit"]), Decimal(ln["credit"]))
            for ln in doc["lines"]
        ),
        source=Source(doc["source"]["kind"], doc["source"]["id"]),
        request_id=doc["request_id"],
        loan_id=doc.get("loan_id"),
        memo=doc.get("memo", ""),
        reverses=doc.get("reverses"),
    )


def applied_to_doc(applied: Applied) -> dict[str, Any]:
    """What the loan service did with a payment, as stored beside the payment's entry."""
    return {
        "allocation": _amounts_to_doc(applied.allocation),
        "outstanding": _amounts_to_doc(applied.outstanding),
        "loan_status": applied.loan_status,
        "institution_id": applied.institution_id,
        "branch_id": applied.branch_id,
        "currency": applied.currency,
    }


def applied_from_doc(doc: Mapping[str, Any]) -> Applied:
    return Applied(
        allocation=_amounts(doc.get("allocation") or {}),
        outstanding=_amounts(doc.get("outstanding") or {}),
        loan_status=int(doc.get("loan_status") or 0),
        institution_id=doc.get("institution_id", ""),
        branch_id=doc.get("branch_id", ""),
        currency=doc.get("currency", ""),
    )


def booked_entry_to_doc(booked: BookedEntry) -> dict[str, Any]:
    """The entry's document, then ``branch_id`` and ``applied`` when they are known (absent
    otherwise)."""
    extra: dict[str, Any] = {}
    if booked.branch_id is not None:
        extra["branch_id"] = booked.branch_id
    if booked.applied is not None:
        extra["applied"] = applied_to_doc(booked.applied)
    return entry_to_doc(booked.entry, **extra)


def booked_entry_from_doc(doc: Mapping[str, Any]) -> BookedEntry:
    """A stored entry (re-validated), its branch (None if not recorded) and its ``applied``
    (None if absent or empty)."""
    applied = doc.get("applied")
    return BookedEntry(
        entry=entry_from_doc(doc),
        branch_id=doc.get("branch_id"),
        applied=applied_from_doc(applied) if applied else None,
    )


def chart_to_doc(chart: ChartOfAccounts, *, version: int, now: dt.datetime) -> dict[str, Any]:
    return {
        "_id": chart.institution_id,
        "currency": chart.currency,
        "income_recognition": chart.income_recognition.value,
        "accounts": [
            {
                "code": a.code,
                "name": a.name,
                "type": a.type.value,
                "role": a.role.value if a.role else None,
            }
            for a in sorted(chart.accounts.values(), key=lambda a: a.code)
        ],
        "version": version,
        "update_time": now,
    }


def chart_from_doc(doc: Mapping[str, Any]) -> ChartOfAccounts:
    accounts = {
        a["code"]: Account(
            a["code"],
            a["name"],
            AccountType(a["type"]),
            AccountRole(a["role"]) if a.get("role") else None,
        )
        for a in doc["accounts"]
    }
    return ChartOfAccounts(
        institution_id=doc["_id"],
        currency=doc["currency"],
        accounts=accounts,
        income_recognition=IncomeRecognition(doc.get("income_recognition", "cash")),
    )


def versioned_chart_from_doc(doc: Mapping[str, Any]) -> VersionedChart:
    return VersionedChart(chart_from_doc(doc), int(doc.get("version", 0)))
