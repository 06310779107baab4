"""Compare-and-set writes that hold on every MongoDB-wire server we run on.

On MongoDB, `update_one({"_id": id, "version": v}, ...)` is atomic: of two writers
expecting version v, one matches and the other does not. FerretDB v1 (the local server)
evaluates the filter on a read and then replaces the whole document in a separate step, so
two writers expecting the same version can both "match" and one silently overwrites the
other (measured: two or three of three concurrent refreshes succeeded). A unique insert,
on the other hand, is atomic everywhere.

So each versioned write first claims its transition by inserting `<collection>:<id>:<v>`
into `write_claims` (unique `_id`): only one writer can leave version v, and it releases
the claim once its update is acknowledged (after which the version filter alone refuses
anyone still expecting v). A claim left behind by a crashed writer is taken over after
`stale_after`.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from shared.logging import get_logger

log = get_logger(__name__)

WRITE_CLAIMS = "write_claims"
STALE_CLAIM = timedelta(seconds=15)


def _utcnow() -> datetime:
    return datetime.now(UTC)


class WriteGuard:
    def __init__(
        self,
        db: AsyncDatabase[Any],
        *,
        stale_after: timedelta = STALE_CLAIM,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self._claims = db[WRITE_CLAIMS]
        self._stale_after = stale_after
        self._clock = clock

    async def _acquire(self, key: str) -> bool:
        for _ in range(2):
            try:
                await self._claims.insert_one({"_id": key, "at": self._clock()})
                return True
            except DuplicateKeyError:
                held = await self._claims.find_one({"_id": key})
                if held is None:
                    continue  # released meanwhile: try once more
                if held["at"] > self._clock() - self._stale_after:
                    return False  # a live writer holds it
                log.warning("write_claim_taken_over", key=key, claimed_at=held["at"])
                await self._claims.delete_one({"_id": key, "at": held["at"]})
        return False

    @contextlib.asynccontextmanager
    async def claim(
        self, collection: AsyncCollection[Any], doc_id: str, version: int
    ) -> AsyncIterator[bool]:
        """Hold the transition out of `version` (yields False if someone else holds it).
        Inside, a guarded writer is the only one that may change the document if it is
        still at `version`."""
        key = f"{collection.name}:{doc_id}:{version}"
        acquired = await self._acquire(key)
        try:
            yield acquired
        finally:
            if acquired:
                await self._claims.delete_one({"_id": key})

    async def update(
        self,
        collection: AsyncCollection[Any],
        doc_id: str,
        expected_version: int,
        update: dict[str, Any],
    ) -> bool:
        """Apply `update` if the document is still at `expected_version`; False if another
        writer changed it (or is changing it) first."""
        async with self.claim(collection, doc_id, expected_version) as acquired:
            if not acquired:
                return False
            result = await collection.update_one(
                {"_id": doc_id, "version": expected_version}, update
            )
            return result.matched_count == 1
