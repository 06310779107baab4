"""The MongoDB client factory (PyMongo's async API) and helpers every adapter uses.

The same code runs against FerretDB locally and MongoDB in production, so adapters keep to
what both support: single-document atomic writes, equality/range filters, simple indexes.
"""

from __future__ import annotations

import base64
import zlib
from collections.abc import Mapping
from datetime import UTC
from typing import Any

import bson
from bson.codec_options import CodecOptions
from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from shared import statement_counts
from shared.errors import ValidationError


def connect(
    url: str, database: str, *, app_name: str
) -> tuple[AsyncMongoClient[Any], AsyncDatabase[Any]]:
    client: AsyncMongoClient[Any] = AsyncMongoClient(
        url,
        appname=app_name,
        tz_aware=True,
        serverSelectionTimeoutMS=10_000,
        retryWrites=True,
        retryReads=True,
        event_listeners=statement_counts.listeners(app_name),
    )
    return client, client[database]


def encode_page_token(last_id: str) -> str:
    return base64.urlsafe_b64encode(last_id.encode()).decode().rstrip("=")


def decode_page_token(token: str) -> str:
    if not token:
        return ""
    try:
        return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        raise ValidationError.of("page_token", "is not a token this API issued") from None


def page_size(requested: int, *, default: int = 50, maximum: int = 200) -> int:
    if requested < 0:
        raise ValidationError.of("page_size", "must be positive")
    return min(requested or default, maximum)


async def list_page(
    collection: AsyncCollection[Any],
    query: dict[str, Any],
    *,
    requested_size: int,
    page_token: str,
) -> tuple[list[dict[str, Any]], str]:
    """Keyset pagination on `_id` (ids are time-ordered), so pages stay stable under inserts."""
    size = page_size(requested_size)
    after = decode_page_token(page_token)
    if after:
        query = {**query, "_id": {"$gt": after}}
    docs = await collection.find(query).sort("_id", 1).limit(size + 1).to_list(size + 1)
    next_token = encode_page_token(docs[size - 1]["_id"]) if len(docs) > size else ""
    return docs[:size], next_token


PACKED = "packed"
#: Set on a document read from storage that was written before packing (its fields are all
#: top-level); the next write packs it and removes the old top-level copies.
UNPACKED_IN_STORAGE = "_unpacked_in_storage"
_DECODE: CodecOptions[dict[str, Any]] = CodecOptions(tz_aware=True, tzinfo=UTC)


class PackedDocuments:
    """Stores a large document as its queried fields plus one compressed field.

    Why: FerretDB (the local MongoDB-wire server) decodes every field of a document, with
    its type schema, on each read and each rewrite, so a document's cost grows with its
    number of fields far more than with its bytes. A loan of 60 fields and nested tables
    cost 3 ms of FerretDB CPU per read and per update; the same loan with its cold fields
    packed into one zlib-compressed BSON value costs 0.8 ms (``bench/bench_close_of_business.py``).
    On MongoDB packing costs nothing measurable and keeps documents smaller.

    `top` names the fields that stay top-level: everything a query filters or sorts on, an
    index covers, an update guards on (``version``) or another component reads (the
    outbox relay's ``outbox`` and ``outbox_count``). The rest is only ever read whole,
    through `unpack`, and written whole, through `pack` / `update`.
    """

    def __init__(self, top: frozenset[str]) -> None:
        self.top = top | {"_id"}

    def pack(self, doc: Mapping[str, Any]) -> dict[str, Any]:
        """The stored form of a whole document."""
        stored = {k: v for k, v in doc.items() if k in self.top}
        stored[PACKED] = self._body(doc)
        return stored

    def unpack(self, stored: Mapping[str, Any]) -> dict[str, Any]:
        """The whole document from its stored form (or a document stored before packing,
        marked so that its next write removes its top-level copies)."""
        if PACKED not in stored:
            return {**stored, UNPACKED_IN_STORAGE: True}
        body = bson.decode(zlib.decompress(stored[PACKED]), codec_options=_DECODE)
        top = {k: v for k, v in stored.items() if k != PACKED}
        return {**body, **top}

    def update(self, before: Mapping[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
        """The stored form of `update` (``$set`` of whole fields, plus any operators on
        top-level fields such as ``$inc`` and ``$push``) applied to `before`, the whole
        document it was computed from (its write must be guarded by `before`'s version)."""
        fields = update.get("$set", {})
        stored = {k: v for k, v in update.items() if k != "$set"}
        after = {**before, **fields}
        stored["$set"] = {
            **{k: v for k, v in fields.items() if k in self.top},
            PACKED: self._body(after),
        }
        if before.get(UNPACKED_IN_STORAGE):
            stored["$unset"] = {
                k: "" for k in before if k not in self.top and k != UNPACKED_IN_STORAGE
            }
        return stored

    def _body(self, doc: Mapping[str, Any]) -> bytes:
        cold = {k: v for k, v in doc.items() if k not in self.top and k != UNPACKED_IN_STORAGE}
        # Level 1: most of the size gain (5.8 KB of BSON to 2.0 KB) for a third of level 6's CPU.
        return zlib.compress(bson.encode(cold), 1)
