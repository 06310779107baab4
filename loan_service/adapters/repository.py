"""MongoDB persistence of loan_service (it owns these collections; no other service reads them).

``loan_products``   one document per product, per institution.
``loans``           one document per loan: the aggregate's state (see `serialization`), the
                    figures derived from it as of the loan's business date (``view``,
                    ``days_past_due``, ``delinquency_bucket``, ``oldest_unpaid_due_date``,
                    ``outstanding_principal``...), ``version`` for optimistic concurrency, the
                    close-of-business bookkeeping (``partition``, ``cob_date``,
                    ``cob_next_date``) and the ``pending_events`` not yet forwarded.
``loan_events``     carriers of published events: ``{_id: event id, loan_id, outbox: [event]}``
                    (the only documents the outbox relay writes; see `forward_events`).
``loan_write_claims``  short-lived claims of version transitions (see `guard`).
``loan_requests``   ``{_id: "<institution>:<request_id>", loan_id}``: CreateLoan idempotency.
``loan_settings``   one document per institution (``_id`` = institution id): approval limits
                    and the last completed close-of-business date (``business_date``).
``cob_jobs``        one per (institution, as_of): state, partitions, times.
``cob_partitions``  one per (job, partition): lease, checkpoint, counters.

Every write of a loan is ``update_one({_id, version}, {$set..., $inc: {version: 1}, $push:
{pending_events: ...}})`` under a claim of the version transition (`guard.WriteGuard`): a
single-document write carrying its events (no transactions, so the same code runs on
FerretDB and sharded MongoDB). A lost race shows as no match (or a claim held by another).

Events leave a loan document in two steps, neither of which can lose a loan write: the
forwarder copies ``pending_events`` into carrier documents of ``loan_events`` (insert,
idempotent on the event id), then removes them from the loan with a guarded write; the
outbox relay publishes the carriers. (The relay pops what it published with an update of
the document it publishes from; on FerretDB that update rewrites the whole document, so
it must never be a loan, or a concurrent loan write could be rolled back.)
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

from loan_service.adapters.guard import WriteGuard
from shared.mongo import list_page

PRODUCTS = "loan_products"
LOANS = "loans"
REQUESTS = "loan_requests"
EVENTS = "loan_events"
SETTINGS = "loan_settings"
COB_JOBS = "cob_jobs"
COB_PARTITIONS = "cob_partitions"

#: Fields a list or a read never needs (events on their way out).
_HIDDEN = {"pending_events": 0}


class Repository:
    def __init__(self, db: AsyncDatabase[Any]) -> None:
        self.db = db
        self.loans = db[LOANS]
        self.products = db[PRODUCTS]
        self.events = db[EVENTS]
        self.guard = WriteGuard(db)

    async def ensure_indexes(self) -> None:
        await self.products.create_index([("institution_id", ASCENDING), ("_id", ASCENDING)])
        await self.loans.create_index(
            [
                ("institution_id", ASCENDING),
                ("partition", ASCENDING),
                ("status", ASCENDING),
                ("_id", ASCENDING),
            ],
            name="cob_scan",
        )
        await self.loans.create_index(
            [("institution_id", ASCENDING), ("borrower_id", ASCENDING)], name="by_borrower"
        )
        await self.loans.create_index(
            [("institution_id", ASCENDING), ("branch_id", ASCENDING), ("status", ASCENDING)],
            name="by_branch_status",
        )
        await self.loans.create_index("pending_count")
        await self.db[COB_PARTITIONS].create_index([("job_id", ASCENDING)])

    # --- products ------------------------------------------------------------------------

    async def insert_product(self, doc: dict[str, Any]) -> None:
        await self.products.insert_one(doc)

    async def get_product(self, product_id: str) -> dict[str, Any] | None:
        return await self.products.find_one({"_id": product_id})

    async def page_products(
        self, institution_id: str, size: int, token: str
    ) -> tuple[list[dict[str, Any]], str]:
        return await list_page(
            self.products, {"institution_id": institution_id}, requested_size=size, page_token=token
        )

    # --- loans ---------------------------------------------------------------------------

    async def insert_loan(self, doc: dict[str, Any]) -> None:
        await self.loans.insert_one(doc)

    async def get_loan(self, loan_id: str) -> dict[str, Any] | None:
        return await self.loans.find_one({"_id": loan_id}, _HIDDEN)

    async def page_loans(
        self, query: dict[str, Any], size: int, token: str
    ) -> tuple[list[dict[str, Any]], str]:
        docs, next_token = await list_page(self.loans, query, requested_size=size, page_token=token)
        for doc in docs:
            doc.pop("pending_events", None)
        return docs, next_token

    async def update_loan(self, loan_id: str, version: int, update: dict[str, Any]) -> bool:
        """Applies `update` if the loan is still at `version`; False when someone else won."""
        async with self.guard.claim(loan_id, version) as held:
            if not held:
                return False
            result = await self.loans.update_one({"_id": loan_id, "version": version}, update)
            return result.matched_count == 1

    async def bulk_update_loans(self, ops: Sequence[tuple[str, int, dict[str, Any]]]) -> set[str]:
        """Version-guarded updates of many loans in a few round trips (claims, one
        bulk_write, release); returns the ids whose update was applied."""
        if not ops:
            return set()
        pairs = [(loan_id, version) for loan_id, version, _ in ops]
        claimed = await self.guard.claim_many(pairs)
        mine = [op for op in ops if op[0] in claimed]
        try:
            if not mine:
                return set()
            try:
                result = await self.loans.bulk_write(
                    [UpdateOne({"_id": i, "version": v}, u) for i, v, u in mine], ordered=False
                )
                matched = result.matched_count
            except BulkWriteError as exc:
                matched = int(exc.details.get("nMatched", 0))
            if matched == len(mine):
                return {op[0] for op in mine}
            applied = set()
            for loan_id, version, _ in mine:
                doc = await self.loans.find_one({"_id": loan_id}, {"version": 1})
                if doc is not None and doc["version"] == version + 1:
                    applied.add(loan_id)
            return applied
        finally:
            await self.guard.release_many((i, v) for i, v, _ in mine)

    async def borrower_loans(
        self, institution_id: str, borrower_id: str, projection: dict[str, int]
    ) -> list[dict[str, Any]]:
        cursor = self.loans.find(
            {"institution_id": institution_id, "borrower_id": borrower_id}, projection
        )
        return await cursor.to_list(None)

    # --- events ------------------------------------------------------------------------

    async def forward_events(self, loan_id: str) -> list[str]:
        """Copies a loan's pending events into carrier documents for the relay (idempotent on
        the event id), then removes them from the loan with a guarded write. Returns the
        carrier ids; a removal that loses a race is left to the next forward."""
        doc = await self.loans.find_one({"_id": loan_id}, {"pending_events": 1, "version": 1})
        entries = (doc or {}).get("pending_events") or []
        if doc is None or not entries:
            return []
        carriers = [
            {"_id": e["id"], "loan_id": loan_id, "outbox": [e], "outbox_count": 1} for e in entries
        ]
        try:
            await self.events.insert_many(carriers, ordered=False)
        except BulkWriteError as exc:  # some were forwarded before: fine
            if any(err.get("code") != 11000 for err in exc.details.get("writeErrors", [])):
                raise
        ids = [e["id"] for e in entries]
        async with self.guard.claim(loan_id, doc["version"]) as held:
            if held:
                fresh = await self.loans.find_one(
                    {"_id": loan_id}, {"pending_events": 1, "version": 1}
                )
                if fresh is not None and fresh["version"] == doc["version"]:
                    remaining = [e for e in fresh.get("pending_events") or [] if e["id"] not in ids]
                    await self.loans.update_one(
                        {"_id": loan_id, "version": doc["version"]},
                        {"$set": {"pending_events": remaining, "pending_count": len(remaining)}},
                    )
        return ids

    async def loans_with_pending_events(self, limit: int = 100) -> list[str]:
        docs = await self.loans.find({"pending_count": {"$gt": 0}}, {"_id": 1}).to_list(limit)
        return [d["_id"] for d in docs]

    # --- idempotent creation -------------------------------------------------------------

    async def reserve_request(self, key: str, loan_id: str) -> str:
        """Records that request `key` creates `loan_id`; returns the loan id the request
        was first given (ours, or an earlier attempt's)."""
        try:
            await self.db[REQUESTS].insert_one({"_id": key, "loan_id": loan_id})
            return loan_id
        except DuplicateKeyError:
            doc = await self.db[REQUESTS].find_one({"_id": key})
            return str(doc["loan_id"]) if doc else loan_id

    # --- settings ------------------------------------------------------------------------

    async def settings(self, institution_id: str) -> dict[str, Any]:
        return await self.db[SETTINGS].find_one({"_id": institution_id}) or {}

    async def advance_business_date(self, institution_id: str, as_of: str) -> None:
        # `$max` keeps the latest date when an older date is (re)run after a newer one.
        await self.db[SETTINGS].update_one(
            {"_id": institution_id}, {"$max": {"business_date": as_of}}, upsert=True
        )

    # --- close of business ---------------------------------------------------------------

    async def get_job(self, job_id: str) -> dict[str, Any] | None:
        return await self.db[COB_JOBS].find_one({"_id": job_id})

    async def create_job(self, job: dict[str, Any], partitions: list[dict[str, Any]]) -> bool:
        """Creates the job and its partition documents; False if the job already existed.
        Partitions first, so a crash between the two leaves nothing a re-run can't finish."""
        if partitions:
            # An earlier attempt (or a racing replica) may have created some of them.
            with contextlib.suppress(BulkWriteError, DuplicateKeyError):
                await self.db[COB_PARTITIONS].insert_many(partitions, ordered=False)
        try:
            await self.db[COB_JOBS].insert_one(job)
            return True
        except DuplicateKeyError:
            return False

    async def partitions(self, job_id: str) -> list[dict[str, Any]]:
        cursor = self.db[COB_PARTITIONS].find({"job_id": job_id})
        return await cursor.to_list(None)

    async def _partition_write(
        self, part: dict[str, Any], update: dict[str, Any]
    ) -> dict[str, Any] | None:
        """A guarded write of a partition document (leases must not be granted twice even
        where filtered updates are not atomic); returns the document after it, or None."""
        async with self.guard.claim(part["_id"], part["version"], kind=COB_PARTITIONS) as held:
            if not held:
                return None
            update.setdefault("$inc", {})["version"] = 1
            result = await self.db[COB_PARTITIONS].update_one(
                {"_id": part["_id"], "version": part["version"]}, update
            )
            if result.matched_count != 1:
                return None
        return await self.db[COB_PARTITIONS].find_one({"_id": part["_id"]})

    async def claim_partition(
        self, job_id: str, owner: str, now: datetime, lease_until: datetime
    ) -> dict[str, Any] | None:
        """Takes the lease of a pending partition whose lease is free or expired."""
        cursor = self.db[COB_PARTITIONS].find(
            {"job_id": job_id, "state": "pending", "lease_until": {"$lt": now}}
        )
        for part in sorted(await cursor.to_list(None), key=lambda p: p["partition"]):
            claimed = await self._partition_write(
                part, {"$set": {"lease_owner": owner, "lease_until": lease_until}}
            )
            if claimed is not None:
                return claimed
        return None

    async def _owned(self, partition_id: str, owner: str) -> dict[str, Any] | None:
        part = await self.db[COB_PARTITIONS].find_one({"_id": partition_id})
        return part if part is not None and part.get("lease_owner") == owner else None

    async def checkpoint(
        self,
        partition_id: str,
        owner: str,
        last_id: str,
        lease_until: datetime,
        processed: int,
        changed: int,
    ) -> bool:
        """Records progress and renews the lease; False if the lease was lost."""
        part = await self._owned(partition_id, owner)
        if part is None:
            return False
        done = await self._partition_write(
            part,
            {
                "$set": {"checkpoint": last_id, "lease_until": lease_until},
                "$inc": {"processed": processed, "changed": changed},
            },
        )
        return done is not None

    async def finish_partition(self, partition_id: str, owner: str, now: datetime) -> bool:
        part = await self._owned(partition_id, owner)
        if part is None:
            return False
        done = await self._partition_write(
            part, {"$set": {"state": "done", "lease_owner": "", "end_time": now}}
        )
        return done is not None

    async def complete_job(self, job_id: str, now: datetime) -> None:
        await self.db[COB_JOBS].update_one(
            {"_id": job_id, "state": "running"}, {"$set": {"state": "completed", "end_time": now}}
        )

    def cob_candidates(
        self, institution_id: str, partition: int, as_of: str, after: str, batch_size: int
    ) -> AsyncIterator[dict[str, Any]]:
        """The active loans of one partition that the close of business for `as_of` may
        change (their next possible change is due), in `_id` order after the checkpoint."""
        query: dict[str, Any] = {
            "institution_id": institution_id,
            "partition": partition,
            "status": "active",
            "cob_next_date": {"$lte": as_of},
        }
        if after:
            query["_id"] = {"$gt": after}
        return (
            self.loans.find(query, {"pending_events": 0})
            .sort("_id", ASCENDING)
            .batch_size(batch_size)
        )
