"""What every service assumes of the MongoDB-wire server: a single-document write is atomic.

MongoDB guarantees it. The local FerretDB gets it from the launcher's patch 0004
(deploy/local/ferretdb: each update's read-modify-write holds its collection; 200 concurrent
``$inc`` gave 101 without it). These tests run against whichever server the suite is given.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pymongo import AsyncMongoClient

pytestmark = pytest.mark.integration


@pytest.fixture
async def coll(server_urls: dict[str, str]) -> AsyncIterator[Any]:
    client: AsyncMongoClient[Any] = AsyncMongoClient(server_urls["MONGODB_URL"])
    name = f"it{secrets.token_hex(4)}_store"
    try:
        yield client[name]["docs"]
    finally:
        await client.drop_database(name)
        await client.close()


async def test_concurrent_increments_of_one_document_are_all_kept(coll: Any) -> None:
    await coll.insert_one({"_id": "counter", "n": 0, "k": "x"})
    by_id = [coll.update_one({"_id": "counter"}, {"$inc": {"n": 1}}) for _ in range(100)]
    # A filter that does not name the _id takes the other (whole-collection) path.
    by_field = [coll.update_one({"k": "x"}, {"$inc": {"n": 1}}) for _ in range(100)]
    await asyncio.gather(*by_id, *by_field)
    assert (await coll.find_one({"_id": "counter"}))["n"] == 200


async def test_compare_and_set_has_exactly_one_winner(coll: Any) -> None:
    for trial in range(10):
        doc_id = f"cas-{trial}"
        await coll.insert_one({"_id": doc_id, "version": 0, "writer": None})
        results = await asyncio.gather(
            *(
                coll.update_one(
                    {"_id": doc_id, "version": 0}, {"$set": {"writer": n}, "$inc": {"version": 1}}
                )
                for n in range(20)
            )
        )
        winners = [n for n, r in enumerate(results) if r.modified_count == 1]
        stored = await coll.find_one({"_id": doc_id})
        assert len(winners) == 1 and stored["version"] == 1
        assert stored["writer"] == winners[0]


async def test_writes_to_different_documents_all_land(coll: Any) -> None:
    ids = [f"d{n}" for n in range(64)]
    await coll.insert_many([{"_id": i, "items": []} for i in ids])
    await asyncio.gather(
        *(coll.update_one({"_id": i}, {"$push": {"items": step}}) for step in range(5) for i in ids)
    )
    async for doc in coll.find({}):
        assert sorted(doc["items"]) == [0, 1, 2, 3, 4], doc["_id"]


async def test_find_one_and_update_hands_each_item_to_one_taker(coll: Any) -> None:
    await coll.insert_many([{"_id": f"job{n}", "state": "pending"} for n in range(10)])

    async def take(worker: int) -> str | None:
        doc = await coll.find_one_and_update(
            {"state": "pending"}, {"$set": {"state": "taken", "by": worker}}
        )
        return doc["_id"] if doc else None

    taken = [t for t in await asyncio.gather(*(take(w) for w in range(30))) if t]
    assert sorted(taken) == sorted(f"job{n}" for n in range(10))


async def test_a_read_by_many_ids_returns_exactly_those_documents(coll: Any) -> None:
    # The local FerretDB answers `_id: {$in: [...]}` of strings from the _id index (patch
    # 0005); other values, and other conditions beside it, must still be honoured exactly.
    await coll.insert_many(
        [{"_id": f"d{n:04d}", "n": n, "odd": n % 2 == 1} for n in range(300)]
        + [{"_id": 7, "n": -1, "odd": True}]
    )
    wanted = [f"d{n:04d}" for n in range(0, 300, 3)] + ["missing"]
    found = await coll.find({"_id": {"$in": wanted}}).to_list(None)
    assert sorted(d["_id"] for d in found) == wanted[:-1]

    odd = await coll.find({"_id": {"$in": wanted}, "odd": True}).to_list(None)
    assert sorted(d["n"] for d in odd) == [n for n in range(0, 300, 3) if n % 2 == 1]

    mixed = await coll.find({"_id": {"$in": ["d0001", 7, "nope"]}}).to_list(None)
    assert sorted(d["n"] for d in mixed) == [-1, 1]

    bounded = await coll.find({"_id": {"$in": wanted, "$gt": "d0150"}}).to_list(None)
    assert sorted(d["_id"] for d in bounded) == [w for w in wanted[:-1] if w > "d0150"]
    assert await coll.find({"_id": {"$in": []}}).to_list(None) == []


async def test_string_ranges_match_exactly_whatever_the_field_holds(coll: Any) -> None:
    # The local FerretDB narrows string ranges in PostgreSQL (patch 0006); MongoDB's rules
    # must still hold: only strings compare with a string (bytewise), an array matches when
    # one of its elements does, a missing field or another type never matches.
    values: list[Any] = [
        "2026-01-01", "2026-06-30", "2026-12-31", "9999-12-31", "", "Z", "a", "é",
        None, 5, 2.5, True, ["2025-01-01", "2027-01-01"], ["x"], {"d": "2026-01-01"},
    ]  # fmt: skip
    await coll.insert_many([{"_id": f"v{n:02d}", "d": v} for n, v in enumerate(values)])
    await coll.insert_one({"_id": "v99"})  # no field at all

    def expected(test: Any) -> list[str]:
        out = []
        for n, v in enumerate(values):
            items = v if isinstance(v, list) else [v]
            if any(isinstance(x, str) and test(x.encode()) for x in items):
                out.append(f"v{n:02d}")
        return out

    bound = "2026-06-30"
    for op, test in {
        "$lt": lambda x: x < bound.encode(),
        "$lte": lambda x: x <= bound.encode(),
        "$gt": lambda x: x > bound.encode(),
        "$gte": lambda x: x >= bound.encode(),
    }.items():
        found = await coll.find({"d": {op: bound}}).to_list(None)
        assert sorted(d["_id"] for d in found) == expected(test), op

    between = await coll.find({"d": {"$gt": "2026", "$lte": "Z"}}).to_list(None)
    assert sorted(d["_id"] for d in between) == expected(lambda x: b"2026" < x <= b"Z")
    after = await coll.find({"_id": {"$gt": "v12"}}).sort("_id", 1).to_list(None)
    assert [d["_id"] for d in after] == ["v13", "v14", "v99"]
