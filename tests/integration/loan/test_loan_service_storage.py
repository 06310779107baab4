"""loan_service's repository on the real MongoDB-wire server, alone: loans stored before
packing, and close-of-business hints set in bulk."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from loan_service.adapters.repository import Repository

pytestmark = pytest.mark.integration


@pytest.fixture
async def db(server_urls: dict[str, str]) -> AsyncIterator[AsyncDatabase[Any]]:
    """A fresh database for a repository alone, dropped after the test."""
    client: AsyncMongoClient[Any] = AsyncMongoClient(server_urls["MONGODB_URL"], tz_aware=True)
    database = client[f"it{secrets.token_hex(4)}_loan"]
    try:
        yield database
    finally:
        await client.drop_database(database.name)
        await client.close()


async def test_a_loan_stored_before_packing_reads_the_same_and_its_next_write_packs_it(
    db: AsyncDatabase[Any],
) -> None:
    repo = Repository(db)
    legacy = {
        "_id": "loan_legacy",
        "institution_id": "inst_1",
        "branch_id": "br_1",
        "borrower_id": "bor_1",
        "status": "active",
        "partition": 3,
        "version": 5,
        "term": 12,
        "view": {"as_of": "2026-01-01", "rows": "1|2026-01-01"},
        "create_time": datetime(2026, 1, 1, 9, 30, tzinfo=UTC),
    }
    await db.loans.insert_one({**legacy, "outbox": [], "outbox_count": 0})
    read = await repo.get_loan("loan_legacy")
    assert read is not None
    assert {k: v for k, v in read.items() if not k.startswith("_unpacked")} == {
        **legacy,
        "outbox_count": 0,
    }

    assert await repo.update_loan(read, {"$set": {"term": 24}, "$inc": {"version": 1}})
    assert not await repo.update_loan(read, {"$set": {"term": 36}, "$inc": {"version": 1}})
    raw = await db.loans.find_one({"_id": "loan_legacy"})
    assert raw is not None
    assert set(raw) == {
        "_id", "institution_id", "branch_id", "borrower_id", "status", "partition",
        "version", "outbox", "outbox_count", "packed",
    }  # fmt: skip
    after = {**legacy, "term": 24, "version": 6, "outbox_count": 0}
    assert await repo.get_loan("loan_legacy") == after
    assert await repo.get_loans(["nope", "loan_legacy"]) == [after]
    assert await repo.borrower_loans("inst_1", "bor_1") == [after]
    page, _ = await repo.page_loans({"institution_id": "inst_1", "branch_id": "br_1"}, 10, "")
    assert page == [after]


async def test_hints_set_in_bulk_never_overwrite_a_newer_one(db: AsyncDatabase[Any]) -> None:
    repo = Repository(db)

    def loan(n: int, version: int, due: str) -> dict[str, Any]:
        return {
            "_id": f"loan_{n}",
            "institution_id": "inst_1",
            "partition": 1,
            "status": "active",
            "cob_next_date": due,
            "version": version,
        }

    await db.loan_cob_hints.insert_many(
        [
            loan(1, 3, "2026-01-01"),  # older: replaced
            loan(2, 9, "2026-01-05"),  # newer (written again meanwhile): kept
            loan(3, 0, "2026-01-02"),  # lowered by a writer (version 0): replaced
        ]
    )
    await repo.set_hints(
        [
            loan(1, 4, "2026-02-01"),
            loan(2, 4, "2026-02-01"),
            loan(3, 7, "2026-02-01"),
            loan(4, 2, "2026-02-01"),
        ]
    )
    hints = {h["_id"]: h async for h in db.loan_cob_hints.find({})}
    assert {k: (h["version"], h["cob_next_date"]) for k, h in hints.items()} == {
        "loan_1": (4, "2026-02-01"),
        "loan_2": (9, "2026-01-05"),
        "loan_3": (7, "2026-02-01"),
        "loan_4": (2, "2026-02-01"),
    }
