"""The MongoDB client factory (PyMongo's async API) and helpers every adapter uses.

The same code runs against FerretDB locally and MongoDB in production, so adapters keep to
what both support: single-document atomic writes, equality/range filters, simple indexes.
"""

from __future__ import annotations

import base64
from typing import Any

from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

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
