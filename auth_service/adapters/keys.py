"""Signing keys in MongoDB (`signing_keys`) and the in-memory key ring built from them.

Each key is a document `{_id: kid, slot, pem, encrypted, created_at, activate_at,
retired_at}`. `slot` is unique and numbers the keys 1, 2, 3...: creating the first key, or
the next one at a rotation, is an insert into the next slot, so two replicas starting at
the same moment cannot both add one (the loser reloads and uses the winner's key).

A new key (other than the very first) is published in the JWKS at once but only signs from
`activate_at` on, one publication delay later, by which time every replica has reloaded
and serves it, so no verifier meets a `kid` that its JWKS source does not know yet. An
older key keeps verifying until every token it signed has expired (the access-token
lifetime plus leeway after its successor took over); then it is retired: dropped from the
JWKS and its private PEM erased.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from auth_service.adapters.secrets import SecretBox, SecretUnavailable
from shared.logging import get_logger
from shared.tokens import ACCESS_TOKEN_TTL, CLOCK_LEEWAY, KeySet, SigningKey

log = get_logger(__name__)

SIGNING_KEYS = "signing_keys"


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class StoredKey:
    slot: int
    kid: str
    created_at: datetime
    activate_at: datetime
    key: SigningKey
    """`key.created_at` is `activate_at`: when the key starts (or started) signing."""


class KeyStore:
    def __init__(self, db: AsyncDatabase[Any], box: SecretBox) -> None:
        self.collection = db[SIGNING_KEYS]
        self.box = box

    async def ensure_indexes(self) -> None:
        await self.collection.create_index("slot", unique=True, name="uniq_slot")

    async def snapshot(self) -> tuple[list[StoredKey], int]:
        """The keys not retired, by slot (oldest first), and the highest slot taken
        (retired keys included), read in one query so the next slot to claim is decided
        from one consistent view."""
        docs = await self.collection.find({}).sort("slot", ASCENDING).to_list(None)
        keys = [self._parse(doc) for doc in docs if doc.get("retired_at") is None]
        return keys, int(docs[-1]["slot"]) if docs else 0

    async def load(self) -> list[StoredKey]:
        return (await self.snapshot())[0]

    def _parse(self, doc: dict[str, Any]) -> StoredKey:
        password = self.box.pem_password if doc.get("encrypted") else None
        if doc.get("encrypted") and password is None:
            raise SecretUnavailable(
                f"signing key {doc['_id']} is encrypted: set KOPA_KEY_ENCRYPTION_SECRET"
            )
        try:
            key = SigningKey.from_pem(doc["pem"], doc["activate_at"], password=password)
        except (ValueError, TypeError) as exc:
            raise SecretUnavailable(f"signing key {doc['_id']} cannot be read: {exc}") from None
        return StoredKey(doc["slot"], doc["_id"], doc["created_at"], doc["activate_at"], key)

    async def create(self, slot: int, now: datetime, activate_at: datetime) -> str | None:
        """Insert a fresh key into `slot`; None if another process filled that slot first."""
        key = SigningKey.generate(now)
        password = self.box.pem_password
        doc = {
            "_id": key.kid,
            "slot": slot,
            "pem": key.private_pem(password=password).decode("ascii"),
            "encrypted": password is not None,
            "created_at": now,
            "activate_at": activate_at,
            "retired_at": None,
        }
        try:
            await self.collection.insert_one(doc)
        except DuplicateKeyError:
            return None
        log.info("signing_key_created", kid=key.kid, slot=slot, activate_at=activate_at)
        return key.kid

    async def retire(self, kids: list[str], now: datetime) -> None:
        if kids:
            await self.collection.update_many(
                {"_id": {"$in": kids}, "retired_at": None},
                {"$set": {"retired_at": now, "pem": ""}},
            )
            log.info("signing_keys_retired", kids=kids)


class KeyRing:
    """The key set auth_service signs and verifies with, kept in step with MongoDB.

    `ensure_current` (at start) creates the first key, or rotates when the newest is older
    than `rotate_after`; `reload` rebuilds the key set from the store (periodically, and when
    a verifier meets an unknown `kid`).
    """

    def __init__(
        self,
        store: KeyStore,
        *,
        rotate_after: timedelta,
        publish_delay: timedelta,
        reload_interval: float,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.store = store
        self.rotate_after = rotate_after
        self.publish_delay = publish_delay
        self.reload_interval = reload_interval
        self._clock = clock
        self._keyset: KeySet | None = None
        self._loaded_at = 0.0
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None

    @property
    def keyset(self) -> KeySet:
        if self._keyset is None:
            raise RuntimeError("the key ring is not loaded yet")
        return self._keyset

    def jwks(self) -> dict[str, Any]:
        return self.keyset.jwks()

    async def jwks_source(self) -> dict[str, Any]:
        """For the local `TokenAuthenticator`: the JWKS, reloaded from MongoDB when asked
        again after a second (an unknown `kid` may be a key another replica just made)."""
        if time.monotonic() - self._loaded_at > 1.0:
            await self.reload()
        return self.jwks()

    async def ensure_current(self) -> None:
        """Create the first key, or the next one when the newest is due for rotation."""
        for _ in range(5):
            now = self._clock()
            keys, taken = await self.store.snapshot()
            if keys and keys[-1].created_at > now - self.rotate_after:
                break
            # Replicas deciding from the same view claim the same slot: one of them wins.
            slot = taken + 1
            # The first key signs at once; later ones once every replica publishes them.
            activate_at = now if not keys else now + self.publish_delay
            if await self.store.create(slot, now, activate_at) is not None:
                break
        await self.reload()

    async def reload(self) -> KeySet:
        async with self._lock:
            now = self._clock()
            keys = await self.store.load()
            if not keys:
                raise RuntimeError("no signing key in the store; run ensure_current first")
            active = [k for k in keys if k.activate_at <= now] or [keys[0]]
            active_kids = {k.kid for k in active}
            pending: dict[str, Ed25519PublicKey] = {
                k.kid: k.key.public_key for k in keys if k.kid not in active_kids
            }
            keyset = KeySet([k.key for k in active], pending)
            retired = keyset.prune(now, keep_for=ACCESS_TOKEN_TTL + CLOCK_LEEWAY)
            if retired:
                await self.store.retire(retired, now)
            if (
                self._keyset is None
                or self._keyset.jwks() != keyset.jwks()
                or (self._keyset.signing_key.kid != keyset.signing_key.kid)
            ):
                log.info("signing_keys_loaded", signing=keyset.signing_key.kid, kids=keyset.kids)
                self._keyset = keyset
            self._loaded_at = time.monotonic()
            return self._keyset

    # background refresh ----------------------------------------------------------------

    async def _refresh_forever(self) -> None:
        while True:
            await asyncio.sleep(self.reload_interval)
            try:
                await self.reload()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("signing_keys_reload_failed")

    def start(self) -> None:
        self._task = asyncio.create_task(self._refresh_forever(), name="signing-key-refresh")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
