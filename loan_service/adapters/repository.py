"""MongoDB persistence of loan_service (it owns these collections; no other service reads them).

``loan_products``   one document per product, per institution.
``loans``           one document per loan: the aggregate's state (see `serialization`), the
                    figures derived from it as of the loan's business date (``view``,
                    ``days_past_due``, ``delinquency_bucket``, ``oldest_unpaid_due_date``,
                    ``outstanding_principal``...), ``version`` for optimistic concurrency, the
                    close-of-business bookkeeping (``partition``, ``cob_date``,
                    ``cob_next_date``) and the ``outbox`` of events not yet published.
                    Stored packed (`shared.mongo.PackedDocuments`): the fields in
                    `LOAN_TOP_FIELDS` stay top-level, the rest is one compressed value, so
                    this repository reads and writes loans whole.
``loan_cob_hints``  one small document per loan the close of business may have to visit:
                    ``{_id: loan id, institution_id, partition, status, cob_next_date,
                    version}``, so a batch finds its loans without reading every loan
                    (see `lower_hint` / `set_hint` for how it never runs late).
``loan_requests``   ``{_id: "<institution>:<request_id>", loan_id}``: CreateLoan idempotency.
``loan_settings``   one document per institution (``_id`` = institution id): approval limits
                    and the last completed close-of-business date (``business_date``).
``cob_jobs``        one per (institution, as_of): state, partitions, times, and the
                    ``outbox`` its completion writes ``close_of_business.completed`` to.
``cob_partitions``  one per (job, partition): lease, checkpoint, counters.
``loan_migrations`` one per one-off data migration done (``_id`` = its name).

`Repository` implements the service layer's ports (`service_layer.ports.CobRepository`).
Every write of a loan (`save_loan`, `write_loan`: a `LoanWrite`) is ``update_one({_id,
version}, {$set..., $inc: {version: 1}, $push: {outbox: ...}})``: a single-document atomic
write carrying its events, encoded here into the contract's proto messages
(`event_codec`), so no transaction is needed and the same code runs on FerretDB and sharded
MongoDB; a lost race shows as no match. This relies on single-document updates being
atomic, as on MongoDB; the local FerretDB gets that from the launcher's patch 0004
(FerretDB v1 alone rewrites documents without locking what it read: 600 concurrent
``$inc`` on one document left 506 before the patch, 600 after).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

from google.protobuf.message import Message
from pymongo import ASCENDING, ReturnDocument, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

from loan_service.adapters.event_codec import job_events, loan_events
from loan_service.service_layer.ports import (
    SHEET_FIELDS,
    CobRepository,
    LoanWrite,
    OutgoingEvent,
)
from shared.events import outbox_fields, outbox_update
from shared.mongo import PackedDocuments, list_page

PRODUCTS = "loan_products"
LOANS = "loans"
REQUESTS = "loan_requests"
HINTS = "loan_cob_hints"
#: A hint's date when the close of business has nothing to do for the loan (a date, not
#: null, so that `$min` can lower it and `$lte` never matches it).
NEVER = "9999-12-31"
DUPLICATE_KEY = 11000
#: A hint's date when the next close of business, whatever its date, must visit the loan.
EARLIEST = "0001-01-01"
SETTINGS = "loan_settings"
COB_JOBS = "cob_jobs"
COB_PARTITIONS = "cob_partitions"
MIGRATIONS = "loan_migrations"

#: Fields a list or a read never needs (the outbox is the relay's).
_HIDDEN = {"outbox": 0}

#: What stays top-level in a stored loan: the fields queries filter on and indexes cover,
#: the version that guards writes, and the outbox the relay reads. A field added here must
#: be copied out of the packed body of the loans stored before (`backfill_top_field`).
LOAN_TOP_FIELDS = frozenset(
    {
        "institution_id",
        "branch_id",
        "borrower_id",
        "status",
        "partition",
        "version",
        "outbox",
        "outbox_count",
        # The collection sheet's filter: loans with an installment unpaid and due by a date.
        "oldest_unpaid_due_date",
        # What the collection sheet reads of a loan (`SHEET_FIELDS`), so that it reads them
        # alone instead of unpacking whole loans.
        "unpaid_installments",
        "unpaid_complete_before",
        "unpaid_version",
        "created_by",
        "currency",
        # The registered borrowers who guarantee the loan: their borrowing capacity counts it.
        "guarantor_ids",
    }
)
PACKED_LOANS = PackedDocuments(LOAN_TOP_FIELDS)


def stored_loan(doc: dict[str, Any]) -> dict[str, Any]:
    """The stored form of a new loan, its ``unpaid_installments`` stamped with its version."""
    if "unpaid_installments" in doc:
        doc = {**doc, "unpaid_version": doc["version"]}
    return PACKED_LOANS.pack(doc)


def stored_update(before: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """The stored form of a loan write (`PackedDocuments.update`); one that sets
    ``unpaid_installments`` stamps them with the version it gives the loan."""
    stored = PACKED_LOANS.update(before, update)
    if "unpaid_installments" in update.get("$set", {}):
        bump = update.get("$inc", {}).get("version", 0)
        stored["$set"]["unpaid_version"] = before["version"] + bump
    return stored


def hint_of(loan: dict[str, Any]) -> dict[str, Any]:
    """What a loan's close-of-business hint says (without the version guarding it)."""
    return {
        "institution_id": loan["institution_id"],
        "partition": loan["partition"],
        "status": loan["status"],
        "cob_next_date": loan.get("cob_next_date") or NEVER,
    }


def loan_update(fields: dict[str, Any], events: Sequence[Message]) -> dict[str, Any]:
    """The update of one loan write: its fields, the version bump, and its events appended
    to the document's outbox (published by the relay)."""
    update: dict[str, Any] = outbox_update(events) or {}
    update["$set"] = fields
    update.setdefault("$inc", {})["version"] = 1
    return update


def encoded_update(before: dict[str, Any], write: LoanWrite) -> dict[str, Any]:
    """The update of `write` to the loan read as `before`, its events encoded with the loan
    as it is after the write (`event_codec`)."""
    events: list[Message] = []
    if write.events:
        after = {**before, **write.fields, "version": before["version"] + 1}
        events = loan_events(before, after, write.events)
    return loan_update(write.fields, events)


def _hint_may_be_late(before: dict[str, Any], after: dict[str, Any]) -> bool:
    """Whether the write must first lower the loan's close-of-business hint. A hint is never
    later than the loan's stored next date, so only a loan that becomes active or a date that
    moves earlier can leave it late (most repayments move it later: one write saved)."""
    new = after.get("cob_next_date")
    old = before.get("cob_next_date")
    return bool(new) and (before["status"] != "active" or not old or new < old)


class Repository(CobRepository):
    """The MongoDB implementation of the loan repositories (see the module's docstring)."""

    def __init__(self, db: AsyncDatabase[Any]) -> None:
        self.db = db
        self.loans = db[LOANS]
        self.products = db[PRODUCTS]
        # The whole outbox a write left, by loan, when the write knows it (the outbox was
        # empty before: `outbox_count` 0 as read): the relay publishes it without reading the
        # loan back (`take_written`).
        self._written: dict[str, list[dict[str, Any]]] = {}

    async def ensure_indexes(self) -> None:
        await self.products.create_index([("institution_id", ASCENDING), ("_id", ASCENDING)])
        # The close of business walks one partition's hints in _id order and visits only
        # the loans whose next change is due (on MongoDB the date bound is checked on the
        # index keys).
        await self.db[HINTS].create_index(
            [
                ("institution_id", ASCENDING),
                ("partition", ASCENDING),
                ("status", ASCENDING),
                ("_id", ASCENDING),
                ("cob_next_date", ASCENDING),
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
        await self.loans.create_index(
            [
                ("institution_id", ASCENDING),
                ("branch_id", ASCENDING),
                ("status", ASCENDING),
                ("oldest_unpaid_due_date", ASCENDING),
            ],
            name="due_by_branch",
        )
        await self.loans.create_index(
            [("institution_id", ASCENDING), ("guarantor_ids", ASCENDING)], name="by_guarantor"
        )
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

    async def insert_loan(self, doc: dict[str, Any], events: Sequence[OutgoingEvent] = ()) -> None:
        """Stores a new loan, its first `events` encoded into its outbox in the same insert."""
        outbox = outbox_fields(loan_events(None, doc, events)) if events else {}
        await self.loans.insert_one(stored_loan({**doc, **outbox}))
        if outbox:
            self._written[doc["_id"]] = outbox["outbox"]

    async def get_loan(self, loan_id: str) -> dict[str, Any] | None:
        stored = await self.loans.find_one({"_id": loan_id}, _HIDDEN)
        return PACKED_LOANS.unpack(stored) if stored is not None else None

    async def page_loans(
        self, query: dict[str, Any], size: int, token: str
    ) -> tuple[list[dict[str, Any]], str]:
        """A page of loans; `query` may only name top-level fields (`LOAN_TOP_FIELDS`)."""
        docs, next_token = await list_page(self.loans, query, requested_size=size, page_token=token)
        loans = [PACKED_LOANS.unpack(d) for d in docs]
        for loan in loans:
            loan.pop("outbox", None)
        return loans, next_token

    async def update_loan(self, before: dict[str, Any], update: dict[str, Any]) -> bool:
        """Applies `update`, computed from `before` (the whole loan as read), if the loan is
        still at `before`'s version; False when someone else won."""
        result = await self.loans.update_one(
            {"_id": before["_id"], "version": before["version"]},
            stored_update(before, update),
        )
        return result.matched_count == 1

    async def save_loan(self, before: dict[str, Any], write: LoanWrite) -> bool:
        """One use case's write: `write_loan`, with the loan's close-of-business hint kept in
        step (lowered before the write when it could be late, set exactly after it)."""
        after = {**before, **write.fields, "version": before["version"] + 1}
        visited = after["status"] == "active" or before["status"] == "active"
        if visited and _hint_may_be_late(before, after):
            await self.lower_hint(before, write.fields.get("cob_next_date"))
        if not await self.write_loan(before, write):
            return False
        if visited and hint_of(before) != hint_of(after):
            await self.set_hint(after)
        return True

    async def write_loan(self, before: dict[str, Any], write: LoanWrite) -> bool:
        """Applies `write` with its events in the outbox: ONE version-guarded update."""
        update = encoded_update(before, write)
        if not await self.update_loan(before, update):
            return False
        self._remember_written(before, update)
        return True

    def _remember_written(self, before: dict[str, Any], update: dict[str, Any]) -> None:
        pushed = update.get("$push", {}).get("outbox", {}).get("$each")
        if pushed and before.get("outbox_count") == 0:
            self._written[before["_id"]] = pushed

    def take_written(self, loan_id: str) -> list[dict[str, Any]] | None:
        """The whole outbox of the loan as its last write with events left it, once; None
        when unknown (the relay then reads it)."""
        return self._written.pop(loan_id, None)

    async def bulk_write_loans(self, ops: Sequence[tuple[dict[str, Any], LoanWrite]]) -> set[str]:
        updates = [(before, encoded_update(before, write)) for before, write in ops]
        applied = await self.bulk_update_loans(updates)
        for before, update in updates:
            if before["_id"] in applied:
                self._remember_written(before, update)
        return applied

    async def bulk_update_loans(
        self, ops: Sequence[tuple[dict[str, Any], dict[str, Any]]]
    ) -> set[str]:
        """`update_loan` for many (before, update) pairs in one round trip; returns the ids
        whose update was applied (the others changed meanwhile)."""
        if not ops:
            return set()
        try:
            result = await self.loans.bulk_write(
                [
                    UpdateOne(
                        {"_id": before["_id"], "version": before["version"]},
                        stored_update(before, update),
                    )
                    for before, update in ops
                ],
                ordered=False,
            )
            matched = result.matched_count
        except BulkWriteError as exc:
            matched = int(exc.details.get("nMatched", 0))
        if matched == len(ops):
            return {before["_id"] for before, _ in ops}
        applied = set()
        for before, _ in ops:
            doc = await self.loans.find_one({"_id": before["_id"]}, {"version": 1})
            if doc is not None and doc["version"] == before["version"] + 1:
                applied.add(before["_id"])
        return applied

    async def due_loans(
        self, scope: dict[str, str], on: str, batch: int = 1000
    ) -> AsyncIterator[list[dict[str, Any]]]:
        """The active loans in `scope` (equality filters on top-level fields: institution,
        branch) with an installment due on or before `on` (ISO date) not paid, `batch` at a
        time as the server sends them (a caller can start on a batch while the next one is
        read): one query on the ``due_by_branch`` index (their oldest unpaid installment is
        due by then), reading only their `SHEET_FIELDS`, never the packed loan (a loan
        stored before those were top-level lacks some of them)."""
        query = {**scope, "status": "active", "oldest_unpaid_due_date": {"$gt": "", "$lte": on}}
        cursor = self.loans.find(query, dict.fromkeys(SHEET_FIELDS, 1)).batch_size(batch)
        while found := await cursor.to_list(batch):
            yield found

    async def backfill_top_field(self, name: str) -> int:
        """Copies `name` (just added to `LOAN_TOP_FIELDS`) out of the packed body of the loans
        stored before, where no query sees it, once per database; returns how many loans it
        changed. A loan written meanwhile is left: its write set the field."""
        migration = f"top_field:{name}"
        if await self.db[MIGRATIONS].find_one({"_id": migration}) is not None:
            return 0
        changed = 0
        async for stored in self.loans.find({name: {"$exists": False}}, _HIDDEN):
            loan = PACKED_LOANS.unpack(stored)
            if name not in loan:
                continue
            result = await self.loans.update_one(
                {"_id": loan["_id"], "version": loan["version"]}, {"$set": {name: loan[name]}}
            )
            changed += result.modified_count
        with contextlib.suppress(DuplicateKeyError):  # another replica finished it too
            await self.db[MIGRATIONS].insert_one({"_id": migration, "loans": changed})
        return changed

    async def borrower_loans(self, institution_id: str, borrower_id: str) -> list[dict[str, Any]]:
        """A borrower's loans, whole (a borrower has a handful)."""
        cursor = self.loans.find(
            {"institution_id": institution_id, "borrower_id": borrower_id}, _HIDDEN
        )
        return [PACKED_LOANS.unpack(d) async for d in cursor]

    async def guaranteed_by(self, institution_id: str, borrower_id: str) -> list[dict[str, Any]]:
        cursor = self.loans.find(
            {"institution_id": institution_id, "guarantor_ids": borrower_id}, _HIDDEN
        )
        return [PACKED_LOANS.unpack(d) async for d in cursor]

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

    async def update_settings(self, institution_id: str, fields: dict[str, Any]) -> None:
        await self.db[SETTINGS].update_one({"_id": institution_id}, {"$set": fields}, upsert=True)

    async def revisit_all(self, institution_id: str) -> None:
        """Makes the next close of business visit every active loan of the institution (its
        delinquency buckets changed, so every loan's next change date may have)."""
        # In chunks: FerretDB serialises a collection's writes, and one update of every
        # hint would hold the hints (so every loan write) for minutes on a large book.
        chunk: list[str] = []
        cursor = self.db[HINTS].find(
            {"institution_id": institution_id, "status": "active"}, {"_id": 1}
        )
        async for hint in cursor:
            chunk.append(hint["_id"])
            if len(chunk) == 500:
                await self._revisit(chunk)
                chunk = []
        if chunk:
            await self._revisit(chunk)

    async def _revisit(self, loan_ids: list[str]) -> None:
        await self.db[HINTS].update_many(
            {"_id": {"$in": loan_ids}}, {"$set": {"cob_next_date": EARLIEST}}
        )

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

    async def claim_partition(
        self, job_id: str, owner: str, now: datetime, lease_until: datetime
    ) -> dict[str, Any] | None:
        """Takes the lease of a pending partition whose lease is free or expired."""
        return await self.db[COB_PARTITIONS].find_one_and_update(
            {"job_id": job_id, "state": "pending", "lease_until": {"$lt": now}},
            {"$set": {"lease_owner": owner, "lease_until": lease_until}},
            sort=[("partition", ASCENDING)],
            return_document=ReturnDocument.AFTER,
        )

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
        result = await self.db[COB_PARTITIONS].update_one(
            {"_id": partition_id, "lease_owner": owner},
            {
                "$set": {"checkpoint": last_id, "lease_until": lease_until},
                "$inc": {"processed": processed, "changed": changed},
            },
        )
        return result.matched_count == 1

    async def finish_partition(self, partition_id: str, owner: str, now: datetime) -> bool:
        result = await self.db[COB_PARTITIONS].update_one(
            {"_id": partition_id, "lease_owner": owner},
            {"$set": {"state": "done", "lease_owner": "", "end_time": now}},
        )
        return result.matched_count == 1

    async def complete_job(
        self, job: dict[str, Any], now: datetime, events: Sequence[OutgoingEvent]
    ) -> bool:
        update: dict[str, Any] = outbox_update(job_events(job, events)) or {}
        update["$set"] = {"state": "completed", "end_time": now}
        result = await self.db[COB_JOBS].update_one({"_id": job["_id"], "state": "running"}, update)
        return result.matched_count == 1

    # --- close-of-business hints ---------------------------------------------------------
    #
    # A hint must never say "later" when the loan needs a visit sooner: it may only say
    # "sooner" (a visit that finds nothing to do costs a read). So a loan write first LOWERS
    # its hint to the new date (`$min`, harmless if the write then fails), and only after
    # the write succeeds SETS it exactly, guarded by the loan version so an older writer's
    # late update never overwrites a newer one.

    async def lower_hint(self, loan: dict[str, Any], cob_next_date: str | None) -> None:
        if not cob_next_date:
            return
        await self.db[HINTS].update_one(
            {"_id": loan["_id"]},
            {
                "$min": {"cob_next_date": cob_next_date},
                "$set": {"status": "active"},
                "$setOnInsert": {
                    "institution_id": loan["institution_id"],
                    "partition": loan["partition"],
                    "version": 0,
                },
            },
            upsert=True,
        )

    def _hint(self, loan: dict[str, Any]) -> dict[str, Any]:
        return {**hint_of(loan), "version": loan["version"]}

    async def set_hint(self, loan: dict[str, Any], *, repair: bool = False) -> None:
        """The hint of `loan` (a document as written, with its new version). `repair` also
        overwrites a hint of the same version (a visit found the hint wrong)."""
        hint = self._hint(loan)
        op = "$lte" if repair else "$lt"
        result = await self.db[HINTS].update_one(
            {"_id": loan["_id"], "version": {op: loan["version"]}}, {"$set": hint}
        )
        if result.matched_count == 0:
            with contextlib.suppress(DuplicateKeyError):  # a newer write already set it
                await self.db[HINTS].insert_one({"_id": loan["_id"], **hint})

    async def set_hints(self, loans: Sequence[dict[str, Any]]) -> None:
        """`set_hint` for many loans (documents as written) in a few statements instead of
        one update each: per version, the hints older than it are deleted, then all are
        inserted. An insert that finds a hint leaves it: it is newer (its loan was written
        again meanwhile), or a writer put it there between the delete and the insert (its
        own set, or a `lower_hint`, which is never later than the truth)."""
        if not loans:
            return
        by_version: dict[int, list[str]] = {}
        for doc in loans:
            by_version.setdefault(doc["version"], []).append(doc["_id"])
        for version, ids in by_version.items():
            await self.db[HINTS].delete_many({"_id": {"$in": ids}, "version": {"$lt": version}})
        try:
            await self.db[HINTS].insert_many(
                [{"_id": doc["_id"], **self._hint(doc)} for doc in loans], ordered=False
            )
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if any(e.get("code") != DUPLICATE_KEY for e in errors):
                raise

    def cob_candidates(
        self, institution_id: str, partition: int, as_of: str, after: str, batch_size: int
    ) -> AsyncIterator[dict[str, Any]]:
        """The ids of one partition's active loans that the close of business for `as_of`
        must visit (their next change is due), in `_id` order after the checkpoint."""
        query: dict[str, Any] = {
            "institution_id": institution_id,
            "partition": partition,
            "status": "active",
            "cob_next_date": {"$lte": as_of},
        }
        if after:
            query["_id"] = {"$gt": after}
        return self.db[HINTS].find(query, {"_id": 1}).sort("_id", ASCENDING).batch_size(batch_size)

    async def get_loans(self, loan_ids: Sequence[str]) -> list[dict[str, Any]]:
        """Whole loan documents by id, in the order of `loan_ids` (missing ones left out):
        one ``$in`` query on the primary key, answered from the index by MongoDB and by the
        local FerretDB (its launcher's patch 0005)."""
        cursor = self.loans.find({"_id": {"$in": list(loan_ids)}}, _HIDDEN)
        found = {d["_id"]: PACKED_LOANS.unpack(d) async for d in cursor.batch_size(len(loan_ids))}
        return [found[i] for i in loan_ids if i in found]
