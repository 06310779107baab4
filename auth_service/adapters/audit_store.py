"""The audit log in MongoDB: entries in `audit_log`, each chain's head in `audit_heads`.

One chain per institution (`chain` = the institution id, or `platform` for the platform's
own entries). An entry's `_id` is `<chain>:<seq>` and `(institution_id, seq)` is unique, so
two writers can never both append after the same entry: the second insert fails.

The head document (`{_id: chain, seq, hash, version}`, version = seq) records the newest
entry, so a deletion of the newest entries is caught by `verify_chain(expected_head=...)`.

An append is one chain segment: a writer reads the head, inserts the consecutive entries
that follow it with one ordered `insert_many`, and moves the head onto the last one with
one compare-and-set `update_one({_id: chain, version: seq}, ...)` (single-document updates
are atomic, as on MongoDB; the local FerretDB gets that from its patch 0004). The head
moves only onto entries already inserted, so it never goes back and never points past the
log. Three statements per append, however many entries it carries; two when the head
this process moved last is still the head (`head(cached=True)`).

When writers race:

- an ordered insert stops at the first entry whose seq is already taken. Everything before
  it was inserted and is in the chain (it follows the head the writer read); nothing after
  it was. The writer moves the head onto the part it inserted (`append_segment` returns how
  many) and appends the rest again after the new head;
- a writer that dies between the insert and the head update, or in the middle of an
  insert, leaves entries beyond the head (a whole segment or the first part of one). The
  next writer's insert collides with the first of them, and that writer moves the head
  forward over every consecutive entry beyond it (`help_forward`), then retries. Entries
  beyond the head are consecutive (each was inserted right after the one before it), so
  the head lands on the newest and the chain stays one unbroken sequence.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
from collections.abc import AsyncIterator, Sequence
from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

from auth_service.domain.audit import GENESIS_HASH, AuditEntry
from shared.errors import ValidationError
from shared.logging import get_logger
from shared.mongo import page_size

log = get_logger(__name__)

AUDIT_LOG = "audit_log"
AUDIT_HEADS = "audit_heads"
PLATFORM_CHAIN = "platform"
DUPLICATE_KEY = 11000
#: How many entries beyond the head one `help_forward` reads (and so moves the head over).
HELP_FORWARD_BATCH = 500
#: Moves of the head onto a writer's own entries before it leaves the rest to the next
#: writer (each failed move means another writer moved the head forward meanwhile).
MAX_HEAD_MOVES = 20


def chain_of(institution_id: str | None) -> str:
    return institution_id or PLATFORM_CHAIN


def _entry_id(chain: str, seq: int) -> str:
    return f"{chain}:{seq:012d}"


def entry_document(entry: AuditEntry) -> dict[str, Any]:
    """How an entry is stored: its fields, plus `_id` and `chain` (not hashed)."""
    chain = chain_of(entry.institution_id)
    return {**entry.to_document(), "_id": _entry_id(chain, entry.seq), "chain": chain}


_MARK = re.compile(r"[0-9a-f]{16}")


def _filters_mark(target_kind: str, target_id: str, actor_id: str) -> str:
    """What a page token carries of the filters it was issued for: "" without filters (the
    tokens issued before filters existed, a bare seq, stay valid), else a short digest."""
    if not (target_kind or target_id or actor_id):
        return ""
    text = json.dumps([target_kind, target_id, actor_id], separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _page_token(seq: int, filters: str) -> str:
    """`<seq>` or `<seq>.<filters mark>`: the next page holds the entries before `seq`."""
    return f"{seq}.{filters}" if filters else str(seq)


def _seq_of_token(token: str, filters: str) -> int:
    seq, _, mark = token.partition(".")
    malformed_mark = bool(mark) and _MARK.fullmatch(mark) is None
    if not seq.isascii() or not seq.isdigit() or len(seq) > 18 or malformed_mark:
        raise ValidationError.of("page_token", "is not a token this API issued")
    if mark != filters:
        raise ValidationError.of(
            "page_token",
            "was issued for other filters (target_kind, target_id, actor_id): ask with the "
            "same filters, or start again without page_token",
        )
    return int(seq)


class AuditStore:
    def __init__(self, db: AsyncDatabase[Any]) -> None:
        self.entries = db[AUDIT_LOG]
        self.heads = db[AUDIT_HEADS]
        self._known_heads: dict[str, tuple[int, str]] = {}

    async def ensure_indexes(self) -> None:
        await self.entries.create_index(
            [("institution_id", ASCENDING), ("seq", ASCENDING)], unique=True, name="uniq_seq"
        )
        await self.entries.create_index([("chain", ASCENDING), ("seq", ASCENDING)], name="by_chain")
        # The filtered lists (`newest_first`): one chain's entries about one record, or by one
        # user, newest first.
        await self.entries.create_index(
            [
                ("chain", ASCENDING),
                ("target.kind", ASCENDING),
                ("target.id", ASCENDING),
                ("seq", DESCENDING),
            ],
            name="by_target",
        )
        await self.entries.create_index(
            [("chain", ASCENDING), ("actor.user_id", ASCENDING), ("seq", DESCENDING)],
            name="by_actor",
        )

    # head ------------------------------------------------------------------------------

    async def head(self, institution_id: str | None, *, cached: bool = False) -> tuple[int, str]:
        """(seq, hash) of the newest entry; (0, GENESIS_HASH) for an empty chain.

        `cached`: the head this process last read or moved, if any, without a read. Only an
        append may use it: if another writer (another replica) moved the head since, the
        append's insert collides on the next seq and the append reads the head again, so a
        stale head costs a retry, never a fork. One statement less per append."""
        chain = chain_of(institution_id)
        known = self._known_heads.get(chain)
        if cached and known is not None:
            return known
        return await self._head(chain)

    async def _head(self, chain: str) -> tuple[int, str]:
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
        head = int(doc["seq"]), str(doc["hash"])
        self._known_heads[chain] = head
        return head

    async def _move_head(self, chain: str, old: tuple[int, str], new: tuple[int, str]) -> bool:
        """Compare-and-set: the head moves from `old` to `new` if it is still at `old`."""
        result = await self.heads.update_one(
            {"_id": chain, "version": old[0]},
            {"$set": {"seq": new[0], "hash": new[1], "version": new[0]}},
        )
        if result.matched_count == 1:
            self._known_heads[chain] = new
            return True
        return False

    # entries ---------------------------------------------------------------------------

    async def entry(self, institution_id: str | None, seq: int) -> AuditEntry | None:
        doc = await self.entries.find_one({"_id": _entry_id(chain_of(institution_id), seq)})
        return AuditEntry.from_document(doc) if doc else None

    async def append_segment(self, entries: Sequence[AuditEntry], head: tuple[int, str]) -> int:
        """Insert `entries` (consecutive, of one chain, the first one following `head`) in
        order and move the head onto the last one inserted. Returns how many were inserted:
        all of them, or only those before the first seq another writer had taken (0: it had
        taken the first); the others must be appended again after the new head."""
        chain = chain_of(entries[0].institution_id)
        docs = [entry_document(e) for e in entries]
        try:
            await self.entries.insert_many(docs, ordered=True)
            inserted = len(docs)
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors") or []
            if not errors or any(err.get("code") != DUPLICATE_KEY for err in errors):
                raise
            # Ordered: every entry before the first error was inserted, none after it.
            inserted = min(int(err["index"]) for err in errors)
        if inserted:
            last = entries[inserted - 1]
            await self._move_head_onto_own(chain, head, (last.seq, last.hash))
        return inserted

    async def _move_head_onto_own(
        self, chain: str, head: tuple[int, str], last: tuple[int, str]
    ) -> None:
        """Move the head from `head` onto `last`, the newest of the entries this writer has
        just inserted after it. A helper may have moved it meanwhile onto some of them (then
        it still moves on to `last`: every entry in between is this writer's) or past them
        (then there is nothing to do)."""
        expected = head
        for _ in range(MAX_HEAD_MOVES):
            if await self._move_head(chain, expected, last):
                return
            expected = await self._head(chain)
            if expected[0] >= last[0]:
                return
        # Still behind: the next writer's insert collides with these entries and helps the
        # head forward over them (see the module docstring), so nothing is lost.
        log.warning("audit_head_lagging", chain=chain, head_seq=expected[0], entry_seq=last[0])

    async def help_forward(
        self, institution_id: str | None, head: tuple[int, str]
    ) -> tuple[int, str] | None:
        """Move a head that lags behind inserted entries onto the newest of the consecutive
        entries beyond it. Returns the new head, or None when there was nothing to move over
        or another writer moved the head first (read it again)."""
        chain = chain_of(institution_id)
        docs = (
            await self.entries.find({"chain": chain, "seq": {"$gt": head[0]}})
            .sort("seq", ASCENDING)
            .to_list(HELP_FORWARD_BATCH)
        )
        seq, last_hash = head
        for doc in docs:
            following = AuditEntry.from_document(doc)
            if following.seq != seq + 1:
                break
            if following.prev_hash != last_hash or following.compute_hash() != following.hash:
                # Keep the log appendable; VerifyAuditChain reports the break.
                log.warning("audit_chain_link_broken", chain=chain, seq=following.seq)
            seq, last_hash = following.seq, following.hash
        if seq == head[0]:
            return None
        moved = await self._move_head(chain, head, (seq, last_hash))
        return (seq, last_hash) if moved else None

    async def newest_first(
        self,
        institution_id: str | None,
        size: int,
        token: str,
        *,
        target_kind: str = "",
        target_id: str = "",
        actor_id: str = "",
    ) -> tuple[list[AuditEntry], str]:
        """A page of the chain's entries, newest first; only those about `target_kind` (and
        `target_id`) and by `actor_id` when given (empty: any). Served by `by_target`,
        `by_actor` or `by_chain`."""
        limit = page_size(size)
        query: dict[str, Any] = {"chain": chain_of(institution_id)}
        if target_kind:
            query["target.kind"] = target_kind
        if target_id:
            query["target.id"] = target_id
        if actor_id:
            query["actor.user_id"] = actor_id
        filters = _filters_mark(target_kind, target_id, actor_id)
        if token:
            query["seq"] = {"$lt": _seq_of_token(token, filters)}
        docs = await self.entries.find(query).sort("seq", DESCENDING).to_list(limit + 1)
        next_token = _page_token(docs[limit - 1]["seq"], filters) if len(docs) > limit else ""
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
