"""The audit log in MongoDB: entries in `audit_log`, each chain's head in `audit_heads`.

One chain per institution (`chain` = the institution id, or `platform` for the platform's
own entries). An entry's `_id` is `<chain>:<seq>` and `(institution_id, seq)` is unique, so
two writers can never both append after the same entry: the second insert fails.

The head document (`{_id: chain, seq, hash, version}`, version = seq) records the newest
entry, so a deletion of the newest entries is caught by `verify_chain(expected_head=...)`.
It moves forward only with a guarded compare-and-set on its seq (see `guard.py`), after
the entry is inserted, so it never goes back. A writer that dies
between the two writes leaves an entry beyond the head; the next writer's insert collides
with it, and that writer first moves the head forward onto it (`help_forward`), then retries.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from auth_service.adapters.guard import WriteGuard
from auth_service.domain.audit import GENESIS_HASH, AuditEntry
from shared.errors import ValidationError
from shared.logging import get_logger
from shared.mongo import page_size

log = get_logger(__name__)

AUDIT_LOG = "audit_log"
AUDIT_HEADS = "audit_heads"
PLATFORM_CHAIN = "platform"


def chain_of(institution_id: str | None) -> str:
    return institution_id or PLATFORM_CHAIN


def _entry_id(chain: str, seq: int) -> str:
    return f"{chain}:{seq:012d}"


class AuditStore:
    def __init__(self, db: AsyncDatabase[Any]) -> None:
        self.entries = db[AUDIT_LOG]
        self.heads = db[AUDIT_HEADS]
        self.guard = WriteGuard(db)

    async def ensure_indexes(self) -> None:
        await self.entries.create_index(
            [("institution_id", ASCENDING), ("seq", ASCENDING)], unique=True, name="uniq_seq"
        )
        await self.entries.create_index([("chain", ASCENDING), ("seq", ASCENDING)], name="by_chain")

    # head ------------------------------------------------------------------------------

    async def head(self, institution_id: str | None) -> tuple[int, str]:
        """(seq, hash) of the newest entry; (0, GENESIS_HASH) for an empty chain."""
        chain = chain_of(institution_id)
        doc = await self.heads.find_one({"_id": chain})
        if doc is None:
            # Another writer may create it at the same moment: either way it exists after.
            with contextlib.suppress(DuplicateKeyError):
                await self.heads.update_one(
                    {"_id": chain},
                    {"$setOnInsert": {"seq": 0, "hash": GENESIS_HASH, "version": 0}},
                    upsert=True,
                )
            doc = await self.heads.find_one({"_id": chain})
            assert doc is not None
        return int(doc["seq"]), str(doc["hash"])

    async def _advance(self, chain: str, old: tuple[int, str], new: tuple[int, str]) -> bool:
        return await self.guard.update(
            self.heads, chain, old[0], {"$set": {"seq": new[0], "hash": new[1], "version": new[0]}}
        )

    # entries ---------------------------------------------------------------------------

    async def entry(self, institution_id: str | None, seq: int) -> AuditEntry | None:
        doc = await self.entries.find_one({"_id": _entry_id(chain_of(institution_id), seq)})
        return AuditEntry.from_document(doc) if doc else None

    async def try_append(self, entry: AuditEntry, head: tuple[int, str]) -> bool:
        """Insert `entry` (which follows `head`) and move the head onto it. False when an
        entry with that seq already exists: someone else appended first."""
        chain = chain_of(entry.institution_id)
        doc = {**entry.to_document(), "_id": _entry_id(chain, entry.seq), "chain": chain}
        try:
            await self.entries.insert_one(doc)
        except DuplicateKeyError:
            return False
        # If this fails, a helper already moved the head onto our entry (or past it).
        await self._advance(chain, head, (entry.seq, entry.hash))
        return True

    async def help_forward(self, institution_id: str | None, head: tuple[int, str]) -> None:
        """Move a head that lags behind an inserted entry onto that entry."""
        chain = chain_of(institution_id)
        following = await self.entry(institution_id, head[0] + 1)
        if following is None:
            return
        if following.prev_hash != head[1] or following.compute_hash() != following.hash:
            # Keep the log appendable; VerifyAuditChain reports the break.
            log.warning("audit_chain_link_broken", chain=chain, seq=following.seq)
        await self._advance(chain, head, (following.seq, following.hash))

    async def newest_first(
        self, institution_id: str | None, size: int, token: str
    ) -> tuple[list[AuditEntry], str]:
        limit = page_size(size)
        query: dict[str, Any] = {"chain": chain_of(institution_id)}
        if token:
            if not token.isdigit():
                raise ValidationError.of("page_token", "is not a token this API issued")
            query["seq"] = {"$lt": int(token)}
        docs = await self.entries.find(query).sort("seq", DESCENDING).to_list(limit + 1)
        next_token = str(docs[limit - 1]["seq"]) if len(docs) > limit else ""
        return [AuditEntry.from_document(d) for d in docs[:limit]], next_token

    async def in_order(
        self, institution_id: str | None, *, upto: int, batch: int = 1000
    ) -> AsyncIterator[list[AuditEntry]]:
        """The chain in seq order up to seq `upto`, a batch at a time."""
        after = 0
        chain = chain_of(institution_id)
        while True:
            docs = (
                await self.entries.find({"chain": chain, "seq": {"$gt": after, "$lte": upto}})
                .sort("seq", ASCENDING)
                .to_list(batch)
            )
            if not docs:
                return
            yield [AuditEntry.from_document(d) for d in docs]
            after = int(docs[-1]["seq"])
