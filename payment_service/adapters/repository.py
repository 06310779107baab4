"""MongoDB persistence of payment_service (it owns these collections; no other service reads them).

Collections (every write is one atomic single-document operation; no transactions):

- ``payments``: one document per payment, the stored form of the ``Payment`` aggregate
  (``domain.payment``; the mapping is ``serialization.py``). ``_id`` is derived from the
  idempotency scope (institution, caller, ``Idempotency-Key``) or, for mobile money, from
  (institution, provider, transaction id), so duplicates collide on the unique ``_id``.
  ``seq`` is a time-ordered id used for listing. Outgoing events ride in its ``outbox``.
- ``journal_entries``: one immutable document per balanced journal entry (a ``BookedEntry``:
  the entry, then the ``branch_id`` it was booked for and the loan service's ``applied``
  answer when known), ``_id`` the deterministic entry id (``repayment:<payment_id>``,
  ``reversal:repayment:<payment_id>``, ``disbursement:<loan_id>``...), so booking twice is a
  duplicate-key no-op. Amounts are decimal strings; ``accounts`` lists the codes touched
  (for the general ledger).
- ``charts``: the chart of accounts of each institution, ``_id`` = institution id, with a
  ``version`` for compare-and-set updates (a ``VersionedChart``).
- ``loans_seen``: a read model of loans built from loan events (id, institution, branch,
  borrower, status, currency, upper-cased ``ref`` for matching mobile-money references); an
  event older than the one stored (a lower loan ``version``) is ignored.
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from pymongo import ASCENDING, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from payment_service.adapters.codec import answer, event_message
from payment_service.adapters.serialization import (
    booked_entry_from_doc,
    booked_entry_to_doc,
    changes,
    chart_from_doc,
    chart_to_doc,
    entry_from_doc,
    entry_to_doc,
    payment_from_doc,
    payment_to_doc,
    versioned_chart_from_doc,
)
from payment_service.domain.ledger import BookedEntry, ChartOfAccounts, VersionedChart
from payment_service.domain.payment import Payment, PaymentKind, PaymentStatus
from payment_service.service_layer.ports import AbstractRepository
from shared.events import outbox_fields, outbox_update
from shared.mongo import decode_page_token, encode_page_token, page_size

__all__ = [
    "CHARTS",
    "ENTRIES",
    "LOANS_SEEN",
    "PAYMENTS",
    "AbstractRepository",
    "Repository",
    "chart_from_doc",
    "chart_to_doc",
    "entry_from_doc",
    "entry_to_doc",
]

PAYMENTS = "payments"
ENTRIES = "journal_entries"
CHARTS = "charts"
LOANS_SEEN = "loans_seen"


# --- the repository ------------------------------------------------------------------------


class Repository(AbstractRepository):
    """The MongoDB implementation of ``service_layer.ports.AbstractRepository``."""

    def __init__(self, db: AsyncDatabase[Any]) -> None:
        self.db = db
        self.payments = db[PAYMENTS]
        self.entries = db[ENTRIES]
        self.charts = db[CHARTS]
        self.loans_seen = db[LOANS_SEEN]
        # The outbox each write with events left, by payment, from the write's own answer
        # (`take_written`): the relay publishes it without reading the payment back.
        self._written: dict[str, list[dict[str, Any]]] = {}

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

    async def get(self, payment_id: str) -> Payment | None:
        doc = await self.payments.find_one({"_id": payment_id}, {"outbox": 0})
        return payment_from_doc(doc) if doc is not None else None

    async def add(self, payment: Payment) -> bool:
        doc = payment_to_doc(payment)
        doc.update(outbox_fields(event_message(e, payment) for e in payment.events))
        try:
            await self.payments.insert_one(doc)
        except DuplicateKeyError:
            return False
        payment.events.clear()
        return True

    def answer(self, payment: Payment) -> bytes:
        return answer(payment)

    async def _replace(self, current: Payment, new: Payment) -> Payment | None:
        fields = changes(payment_to_doc(current), payment_to_doc(new))
        after = copy.copy(new)
        after.version = current.version + 1
        update: dict[str, Any] = {"$set": fields} if fields else {}
        update.update(outbox_update(event_message(e, after) for e in new.events))
        update.setdefault("$inc", {})["version"] = 1
        # No projection: FerretDB's findAndModify does not support one.
        doc = await self.payments.find_one_and_update(
            {"_id": current.id, "version": current.version},
            update,
            return_document=ReturnDocument.AFTER,
        )
        if doc is None:
            return None
        outbox = doc.pop("outbox", None)
        if new.events and outbox:
            self._written[current.id] = outbox
        return payment_from_doc(doc)

    def take_written(self, payment_id: str) -> list[dict[str, Any]] | None:
        """The whole outbox of the payment as its last write with events left it (every
        event not yet taken off, in order), once; None if unknown."""
        return self._written.pop(payment_id, None)

    async def _page(
        self, query: Mapping[str, Any], requested_size: int, token: str
    ) -> tuple[list[Payment], str]:
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
        return [payment_from_doc(d) for d in docs[:size]], next_token

    async def page_for_loan(
        self, loan_id: str, scope: Mapping[str, str], size: int, token: str
    ) -> tuple[list[Payment], str]:
        query = {"loan_id": loan_id, "kind": {"$ne": PaymentKind.REFUND.value}, **scope}
        return await self._page(query, size, token)

    async def page_in_suspense(
        self, institution_id: str, size: int, token: str
    ) -> tuple[list[Payment], str]:
        query = {"institution_id": institution_id, "status": PaymentStatus.SUSPENSE.value}
        return await self._page(query, size, token)

    async def stale(
        self, statuses: Sequence[PaymentStatus], before: dt.datetime, limit: int = 200
    ) -> list[Payment]:
        docs = (
            await self.payments.find(
                {"status": {"$in": [s.value for s in statuses]}, "lease_until": {"$lt": before}},
                {"outbox": 0},
            )
            .limit(limit)
            .to_list(limit)
        )
        return [payment_from_doc(d) for d in docs]

    # --- journal entries -----------------------------------------------------------------

    async def insert_entry(self, booked: BookedEntry) -> bool:
        """Books an entry; False when an entry with that id exists (already booked)."""
        try:
            await self.entries.insert_one(booked_entry_to_doc(booked))
        except DuplicateKeyError:
            return False
        return True

    async def get_entry(self, entry_id: str) -> BookedEntry | None:
        doc = await self.entries.find_one({"_id": entry_id})
        return booked_entry_from_doc(doc) if doc is not None else None

    async def stream_entries(
        self,
        institution_id: str,
        *,
        as_of: dt.date | None = None,
        account_code: str | None = None,
        loan_id: str | None = None,
    ) -> AsyncIterator[BookedEntry]:
        query: dict[str, Any] = {"institution_id": institution_id}
        if as_of is not None:
            query["date"] = {"$lte": as_of.isoformat()}  # ISO dates sort as dates
        if account_code is not None:
            query["accounts"] = account_code
        if loan_id is not None:
            query["loan_id"] = loan_id
        async for doc in self.entries.find(query, batch_size=500):
            yield booked_entry_from_doc(doc)

    # --- charts --------------------------------------------------------------------------

    async def get_chart(self, institution_id: str) -> VersionedChart | None:
        doc = await self.charts.find_one({"_id": institution_id})
        return versioned_chart_from_doc(doc) if doc is not None else None

    async def insert_chart(self, chart: ChartOfAccounts, *, now: dt.datetime) -> bool:
        try:
            await self.charts.insert_one(chart_to_doc(chart, version=1, now=now))
        except DuplicateKeyError:
            return False
        return True

    async def replace_chart(
        self, chart: ChartOfAccounts, expected_version: int, *, now: dt.datetime
    ) -> bool:
        doc = chart_to_doc(chart, version=expected_version + 1, now=now)
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
