"""MongoDB persistence of payment_service (it owns these collections; no other service reads them).

Collections (every write is one atomic single-document operation; no transactions):

- ``payments``: one document per payment, the state machine of
  ``payment_service.service_layer.repayments``. ``_id`` is derived from the idempotency scope
  (institution, caller, ``Idempotency-Key``) or, for mobile money, from (institution, provider,
  transaction id), so duplicates collide on the unique ``_id``. ``seq`` is a time-ordered id
  used for listing. Outgoing events ride in its ``outbox``.
- ``journal_entries``: one immutable document per balanced journal entry, ``_id`` the
  deterministic entry id (``repayment:<payment_id>``, ``reversal:repayment:<payment_id>``,
  ``disbursement:<loan_id>``...), so booking twice is a duplicate-key no-op. Amounts are
  decimal strings; ``accounts`` lists the codes touched (for the general ledger).
- ``charts``: the chart of accounts of each institution, ``_id`` = institution id, with a
  ``version`` for compare-and-set updates.
- ``loans_seen``: a read model of loans built from loan events (id, institution, branch,
  borrower, status, currency, upper-cased ``ref`` for matching mobile-money references); a
  snapshot older than the stored one is ignored.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import AsyncIterator, Mapping
from decimal import Decimal
from typing import Any

from pymongo import ASCENDING, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from payment_service.domain.ledger import (
    Account,
    AccountRole,
    AccountType,
    ChartOfAccounts,
    IncomeRecognition,
    JournalEntry,
    JournalLine,
    Source,
)
from shared.mongo import decode_page_token, encode_page_token, page_size

PAYMENTS = "payments"
ENTRIES = "journal_entries"
CHARTS = "charts"
LOANS_SEEN = "loans_seen"


# --- conversions -------------------------------------------------------------------------


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


# --- the repository ------------------------------------------------------------------------


class Repository:
    def __init__(self, db: AsyncDatabase[Any]) -> None:
        self.db = db
        self.payments = db[PAYMENTS]
        self.entries = db[ENTRIES]
        self.charts = db[CHARTS]
        self.loans_seen = db[LOANS_SEEN]

    async def ensure_indexes(self) -> None:
        p = self.payments
        await p.create_index("seq", name="seq")
        await p.create_index(
            [("institution_id", ASCENDING), ("loan_id", ASCENDING), ("seq", ASCENDING)],
            name="by_loan",
        )
        await p.create_index(
            [("institution_id", ASCENDING), ("status", ASCENDING), ("seq", ASCENDING)],
            name="by_status",
        )
        await p.create_index([("status", ASCENDING), ("lease_until", ASCENDING)], name="stale")
        e = self.entries
        await e.create_index([("institution_id", ASCENDING), ("date", ASCENDING)], name="by_date")
        await e.create_index(
            [("institution_id", ASCENDING), ("loan_id", ASCENDING)], name="by_loan"
        )
        await e.create_index(
            [("institution_id", ASCENDING), ("accounts", ASCENDING)], name="by_account"
        )
        await self.loans_seen.create_index(
            [("institution_id", ASCENDING), ("ref", ASCENDING)], name="by_ref"
        )

    # --- payments ------------------------------------------------------------------------

    async def get_payment(self, payment_id: str) -> dict[str, Any] | None:
        return await self.payments.find_one({"_id": payment_id}, {"outbox": 0})

    async def insert_payment(self, doc: dict[str, Any]) -> bool:
        """Inserts a new payment; False when its ``_id`` exists (a duplicate request)."""
        try:
            await self.payments.insert_one(doc)
        except DuplicateKeyError:
            return False
        return True

    async def update_payment(
        self, payment_id: str, expect: Mapping[str, Any], update: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        """Compare-and-set: applies ``update`` if the payment still matches ``expect``; returns
        the document after the change, or None when someone else changed it first."""
        # No projection: FerretDB's findAndModify does not support one.
        doc = await self.payments.find_one_and_update(
            {"_id": payment_id, **expect}, dict(update), return_document=ReturnDocument.AFTER
        )
        if doc is not None:
            doc.pop("outbox", None)
        return doc

    async def page_payments(
        self, query: Mapping[str, Any], requested_size: int, token: str
    ) -> tuple[list[dict[str, Any]], str]:
        """Keyset pagination on ``seq`` (time-ordered), oldest first."""
        size = page_size(requested_size)
        after = decode_page_token(token)
        q = dict(query)
        if after:
            q["seq"] = {"$gt": after}
        docs = (
            await self.payments.find(q, {"outbox": 0})
            .sort("seq", ASCENDING)
            .limit(size + 1)
            .to_list(size + 1)
        )
        next_token = encode_page_token(docs[size - 1]["seq"]) if len(docs) > size else ""
        return docs[:size], next_token

    async def stale_payments(
        self, statuses: list[str], before: dt.datetime, limit: int = 200
    ) -> list[dict[str, Any]]:
        """Payments in ``statuses`` whose lease ran out before ``before``."""
        return (
            await self.payments.find(
                {"status": {"$in": statuses}, "lease_until": {"$lt": before}}, {"outbox": 0}
            )
            .limit(limit)
            .to_list(limit)
        )

    # --- journal entries -----------------------------------------------------------------

    async def insert_entry(self, doc: dict[str, Any]) -> bool:
        """Books an entry; False when an entry with that id exists (already booked)."""
        try:
            await self.entries.insert_one(doc)
        except DuplicateKeyError:
            return False
        return True

    async def get_entry(self, entry_id: str) -> dict[str, Any] | None:
        return await self.entries.find_one({"_id": entry_id})

    async def stream_entries(self, query: Mapping[str, Any]) -> AsyncIterator[dict[str, Any]]:
        async for doc in self.entries.find(dict(query), batch_size=500):
            yield doc

    # --- charts --------------------------------------------------------------------------

    async def get_chart(self, institution_id: str) -> dict[str, Any] | None:
        return await self.charts.find_one({"_id": institution_id})

    async def insert_chart(self, doc: dict[str, Any]) -> bool:
        try:
            await self.charts.insert_one(doc)
        except DuplicateKeyError:
            return False
        return True

    async def replace_chart(self, doc: dict[str, Any], expected_version: int) -> bool:
        result = await self.charts.replace_one(
            {"_id": doc["_id"], "version": expected_version}, doc
        )
        return result.modified_count == 1

    # --- the loans read model ------------------------------------------------------------

    async def upsert_loan_seen(self, doc: dict[str, Any]) -> None:
        """Stores a loan snapshot unless a newer one (higher ``version``) is already held."""
        with contextlib.suppress(DuplicateKeyError):  # the stored snapshot is as new or newer
            await self.loans_seen.update_one(
                {"_id": doc["_id"], "version": {"$lt": doc["version"]}},
                {"$set": {k: v for k, v in doc.items() if k != "_id"}},
                upsert=True,
            )

    async def get_loan_seen(self, loan_id: str) -> dict[str, Any] | None:
        return await self.loans_seen.find_one({"_id": loan_id})

    async def loans_by_ref(self, institution_id: str, ref: str) -> list[dict[str, Any]]:
        return (
            await self.loans_seen.find({"institution_id": institution_id, "ref": ref})
            .limit(20)
            .to_list(20)
        )

    async def any_loan_of(self, institution_id: str) -> dict[str, Any] | None:
        return await self.loans_seen.find_one(
            {"institution_id": institution_id, "currency": {"$gt": ""}}
        )
