"""Compare-and-set writes of loan documents that hold on every MongoDB-wire server we run on.

On MongoDB, ``update_one({"_id": id, "version": v}, ...)`` is atomic: of two writers that
expect version v, one matches and the other does not. FerretDB v1 evaluates the filter on a
read and then replaces the whole document in a separate step, so two writers expecting the
same version can both "match" and one silently overwrites the other (measured here: 600
concurrent ``$inc`` on one document left 506). A unique insert is atomic everywhere.

So each versioned write first claims its transition by inserting ``loans:<id>:<v>`` into
``loan_write_claims`` (unique ``_id``): only one writer can leave version v; it releases the
claim once its update is acknowledged (after which the version filter alone refuses anyone
still expecting v). A claim left by a crashed writer is taken over after ``stale_after``.
The same scheme as auth_service's guard (it belongs in ``shared/`` once both settle).

For this to hold, every writer of a loan document goes through the guard: the use cases,
the close of business and the event forwarder. The outbox relay never writes loans (their
events leave through carrier documents, see `repository.Repository.forward_events`).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

from shared.logging import get_logger

log = get_logger(__name__)

WRITE_CLAIMS = "loan_write_claims"
STALE_CLAIM = timedelta(seconds=30)


def _utcnow() -> datetime:
    return datetime.now(UTC)


def claim_key(doc_id: str, version: int, kind: str = "loans") -> str:
    return f"{kind}:{doc_id}:{version}"


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
                if not await self._take_over_if_stale(key):
                    return False
        return False

    async def _take_over_if_stale(self, key: str) -> bool:
        """True when the claim is gone (released, or stale and removed): try again."""
        held = await self._claims.find_one({"_id": key})
        if held is None:
            return True
        at = held["at"] if held["at"].tzinfo else held["at"].replace(tzinfo=UTC)
        if at > self._clock() - self._stale_after:
            return False  # a live writer holds it
        log.warning("write_claim_taken_over", key=key, claimed_at=at)
        await self._claims.delete_one({"_id": key, "at": held["at"]})
        return True

    @contextlib.asynccontextmanager
    async def claim(self, doc_id: str, version: int, kind: str = "loans") -> AsyncIterator[bool]:
        """Hold the transition out of `version` (yields False if someone else holds it)."""
        key = claim_key(doc_id, version, kind)
        acquired = await self._acquire(key)
        try:
            yield acquired
        finally:
            if acquired:
                await self._claims.delete_one({"_id": key})

    async def claim_many(self, pairs: Iterable[tuple[str, int]]) -> set[str]:
        """Claims several transitions in one round trip; returns the doc ids claimed."""
        keys = {claim_key(doc_id, version): doc_id for doc_id, version in pairs}
        if not keys:
            return set()
        order = list(keys)
        failed: set[str] = set()
        try:
            stamp = self._clock()
            await self._claims.insert_many(
                [{"_id": key, "at": stamp} for key in order], ordered=False
            )
        except BulkWriteError as exc:
            for err in exc.details.get("writeErrors", []):
                if err.get("code") != 11000:
                    raise
                failed.add(order[err["index"]])
        for key in list(failed):
            if await self._take_over_if_stale(key):
                with contextlib.suppress(DuplicateKeyError):
                    await self._claims.insert_one({"_id": key, "at": self._clock()})
                    failed.discard(key)
        return {doc_id for key, doc_id in keys.items() if key not in failed}

    async def release_many(self, pairs: Iterable[tuple[str, int]]) -> None:
        keys = [claim_key(doc_id, version) for doc_id, version in pairs]
        if keys:
            await self._claims.delete_many({"_id": {"$in": keys}})
