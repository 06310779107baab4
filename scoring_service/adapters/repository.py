"""MongoDB persistence of scoring_service (it owns these collections; no other service reads
them).

Every state change is ONE insert of a document with a unique `_id`, carrying its outgoing
event in its outbox; documents are never updated afterwards (only the outbox relay pops
their events). Inserts are the one write both MongoDB and FerretDB make atomic under
concurrency: FerretDB v1 applies an update by reading the document and writing it back
without a lock, so two conditional updates racing on one document can both "win" and a
concurrent update (the relay's `$pop` included) can be lost. A unique `_id` therefore plays
the part of compare-and-set, and the same code is correct on FerretDB and sharded MongoDB.

Collections:

- ``scorecards``: one document per scorecard *version* (``_id`` = the version id): the
  validated version (`ScorecardVersion.to_dict()` under ``version``), ``scorecard_key``
  (groups the versions of one scorecard), ``number``, ``name``, ``institution_id``,
  ``fingerprint``, ``request_key``, creation time and author, and the `scorecard.created`
  event. Immutable. Indexes: unique ``(scorecard_key, number)`` (two drafts racing for a
  number: one wins), unique ``(institution_id, request_key)`` (CreateScorecard idempotent on
  its request id), ``(institution_id, _id)`` (listing).
- ``scorecard_transitions``: one document per state change of a version, ``_id`` =
  ``<version id>:published`` or ``<version id>:retired`` (so each happens at most once), with
  the publication's sequence number, time, author and the `scorecard.published` /
  `scorecard.retired` event. A version's state is derived: retired if it has the retired
  transition, else published if it has the published one, else draft.
  Indexes: ``version_id``, ``(scorecard_key, state)``, ``(institution_id, state)``.
- ``active_scorecard``: the per-institution register naming the version used for scoring,
  kept as append-only values ``_id`` = ``<institution id>:<seq, 12 digits>``; the current
  value is the highest ``seq``. Compare-and-set from ``seq`` n is inserting n + 1 (a
  duplicate key means another writer moved it first). Index: ``(institution_id, seq)``.
  The values also record which version was in force from when.
- ``scores``: one document per scoring (history is kept): subject, version id/number/
  fingerprint, the applicant JSON exactly as received, score, band, contributions.
  Indexes: ``(institution_id, _id)``, ``(scorecard_id, _id)``, ``(subject_id, _id)``.
- ``loan_outcomes``: one document per loan snapshot seen in a loan event, ``_id`` =
  ``<loan id>@<loan version, 12 digits>``: status and days past due. A loan's outcome is
  folded from its snapshots (`service_layer.outcomes.fold`), so replays and reordering
  change nothing. Index: ``loan_id``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from shared.mongo import list_page

SCORECARDS = "scorecards"
TRANSITIONS = "scorecard_transitions"
ACTIVE = "active_scorecard"
SCORES = "scores"
OUTCOMES = "loan_outcomes"

OUTBOX_COLLECTIONS = (SCORECARDS, TRANSITIONS)
"""The collections whose documents carry events for the outbox relay."""

_NO_OUTBOX = {"outbox": 0}
_IN_CHUNK = 500


def transition_id(version_id: str, state: str) -> str:
    return f"{version_id}:{state}"


def pointer_id(institution_id: str, seq: int) -> str:
    return f"{institution_id}:{seq:012d}"


def snapshot_id(loan_id: str, loan_version: int) -> str:
    return f"{loan_id}@{loan_version:012d}"


class Repository:
    def __init__(self, db: AsyncDatabase[Any]) -> None:
        self.db = db

    async def ensure_indexes(self) -> None:
        cards = self.db[SCORECARDS]
        await cards.create_index(
            [("scorecard_key", ASCENDING), ("number", ASCENDING)],
            unique=True,
            name="uniq_version_number",
        )
        await cards.create_index(
            [("institution_id", ASCENDING), ("request_key", ASCENDING)],
            unique=True,
            name="uniq_request_key",
        )
        await cards.create_index([("institution_id", ASCENDING), ("_id", ASCENDING)])
        transitions = self.db[TRANSITIONS]
        await transitions.create_index("version_id")
        await transitions.create_index([("scorecard_key", ASCENDING), ("state", ASCENDING)])
        await transitions.create_index([("institution_id", ASCENDING), ("state", ASCENDING)])
        await self.db[ACTIVE].create_index([("institution_id", ASCENDING), ("seq", DESCENDING)])
        scores = self.db[SCORES]
        await scores.create_index([("institution_id", ASCENDING), ("_id", ASCENDING)])
        await scores.create_index([("scorecard_id", ASCENDING), ("_id", ASCENDING)])
        await scores.create_index([("subject_id", ASCENDING), ("_id", ASCENDING)])
        await self.db[OUTCOMES].create_index("loan_id")

    # --- scorecard versions -------------------------------------------------------------

    async def insert_version(self, doc: dict[str, Any]) -> None:
        """Raises `DuplicateKeyError` if the number or the request key is taken."""
        await self.db[SCORECARDS].insert_one(doc)

    async def get_version(self, version_id: str) -> dict[str, Any] | None:
        return await self.db[SCORECARDS].find_one({"_id": version_id}, _NO_OUTBOX)

    async def versions_of(self, scorecard_key: str) -> list[dict[str, Any]]:
        cursor = self.db[SCORECARDS].find({"scorecard_key": scorecard_key}, _NO_OUTBOX)
        return list(await cursor.sort("number", ASCENDING).to_list(None))

    async def by_request_key(self, institution_id: str, request_key: str) -> dict[str, Any] | None:
        return await self.db[SCORECARDS].find_one(
            {"institution_id": institution_id, "request_key": request_key}, _NO_OUTBOX
        )

    async def page_versions(
        self, institution_id: str, size: int, token: str
    ) -> tuple[list[dict[str, Any]], str]:
        docs, next_token = await list_page(
            self.db[SCORECARDS],
            {"institution_id": institution_id},
            requested_size=size,
            page_token=token,
        )
        for doc in docs:
            doc.pop("outbox", None)
        return docs, next_token

    # --- state transitions --------------------------------------------------------------

    async def insert_transition(self, doc: dict[str, Any]) -> bool:
        """False when this transition of this version was already recorded."""
        try:
            await self.db[TRANSITIONS].insert_one(doc)
        except DuplicateKeyError:
            return False
        return True

    async def transitions_of(self, version_ids: Iterable[str]) -> list[dict[str, Any]]:
        ids = list(dict.fromkeys(version_ids))
        found: list[dict[str, Any]] = []
        for start in range(0, len(ids), _IN_CHUNK):
            cursor = self.db[TRANSITIONS].find(
                {"version_id": {"$in": ids[start : start + _IN_CHUNK]}}, _NO_OUTBOX
            )
            found.extend(await cursor.to_list(None))
        return found

    async def transitions_of_key(self, scorecard_key: str) -> list[dict[str, Any]]:
        cursor = self.db[TRANSITIONS].find({"scorecard_key": scorecard_key}, _NO_OUTBOX)
        return list(await cursor.to_list(None))

    async def transitions_of_institution(
        self, institution_id: str, state: str
    ) -> list[dict[str, Any]]:
        cursor = self.db[TRANSITIONS].find(
            {"institution_id": institution_id, "state": state}, _NO_OUTBOX
        )
        return list(await cursor.to_list(None))

    # --- the per-institution active version (an append-only compare-and-set register) ---

    async def latest_pointer(self, institution_id: str) -> dict[str, Any] | None:
        cursor = (
            self.db[ACTIVE]
            .find({"institution_id": institution_id})
            .sort("seq", DESCENDING)
            .limit(1)
        )
        docs = await cursor.to_list(1)
        return docs[0] if docs else None

    async def insert_pointer(
        self, institution_id: str, seq: int, fields: Mapping[str, Any]
    ) -> bool:
        """Compare-and-set: sets value `seq` if nobody has; False when another writer did."""
        try:
            await self.db[ACTIVE].insert_one(
                {
                    **fields,
                    "_id": pointer_id(institution_id, seq),
                    "institution_id": institution_id,
                    "seq": seq,
                }
            )
        except DuplicateKeyError:
            return False
        return True

    # --- scores -------------------------------------------------------------------------

    async def insert_score(self, doc: dict[str, Any]) -> None:
        await self.db[SCORES].insert_one(doc)

    async def get_score(self, score_id: str) -> dict[str, Any] | None:
        return await self.db[SCORES].find_one({"_id": score_id})

    async def scores_of_institution(
        self, institution_id: str, projection: Mapping[str, int]
    ) -> list[dict[str, Any]]:
        """Every score record of the institution, oldest first (ids are time-ordered)."""
        cursor = self.db[SCORES].find({"institution_id": institution_id}, dict(projection))
        return list(await cursor.sort("_id", ASCENDING).to_list(None))

    async def scores_of_version(
        self, version_id: str, projection: Mapping[str, int]
    ) -> list[dict[str, Any]]:
        """Every score record made with the version, oldest first."""
        cursor = self.db[SCORES].find({"scorecard_id": version_id}, dict(projection))
        return list(await cursor.sort("_id", ASCENDING).to_list(None))

    # --- loan outcomes ------------------------------------------------------------------

    async def insert_loan_snapshot(self, doc: dict[str, Any]) -> bool:
        """False when this snapshot (loan id and version) was already recorded."""
        try:
            await self.db[OUTCOMES].insert_one(
                {**doc, "_id": snapshot_id(doc["loan_id"], doc["loan_version"])}
            )
        except DuplicateKeyError:
            return False
        return True

    async def loan_snapshots(self, loan_ids: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
        ids = list(dict.fromkeys(loan_ids))
        found: dict[str, list[dict[str, Any]]] = {}
        for start in range(0, len(ids), _IN_CHUNK):
            cursor = self.db[OUTCOMES].find({"loan_id": {"$in": ids[start : start + _IN_CHUNK]}})
            async for doc in cursor:
                found.setdefault(doc["loan_id"], []).append(doc)
        return found
