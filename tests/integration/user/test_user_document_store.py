"""user_service's document store on the real MongoDB-wire server (FerretDB locally): the
bytes in GridFS, one copy per institution and content, a borrower's same bytes one record,
nothing readable across institutions, and the OCR work items leased to one worker at a
time."""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from user_service.adapters.documents import BUCKET, DocumentStore

pytestmark = pytest.mark.integration

NEVER = datetime(1970, 1, 1, tzinfo=UTC)


@pytest.fixture
async def store(server_urls: dict[str, str]) -> AsyncIterator[DocumentStore]:
    client: AsyncMongoClient[Any] = AsyncMongoClient(server_urls["MONGODB_URL"], tz_aware=True)
    name = f"it{secrets.token_hex(4)}_docs"
    try:
        documents = DocumentStore(client[name])
        await documents.ensure_indexes()
        yield documents
    finally:
        await client.drop_database(name)
        await client.close()


def record(institution: str, borrower: str, content: bytes, file_id: Any) -> dict[str, Any]:
    return {
        "_id": f"doc_{secrets.token_hex(6)}",
        "institution_id": institution,
        "borrower_id": borrower,
        "kind": "national_id",
        "content_type": "image/png",
        "size": len(content),
        "sha256": hashlib.sha256(content).hexdigest(),
        "file_id": file_id,
        "ocr": {"status": "pending", "lease_until": NEVER, "attempts": 0},
        "create_time": datetime.now(UTC),
    }


async def test_a_file_is_stored_once_per_institution_and_read_back_whole(
    store: DocumentStore,
) -> None:
    # Larger than one GridFS chunk (255 kB), so the file is really split and joined again.
    content = b"\x89PNG\r\n\x1a\n" + os.urandom(700_000)
    sha = hashlib.sha256(content).hexdigest()
    first = await store.store_file("inst_a", sha, "image/png", content)
    again = await store.store_file("inst_a", sha, "image/png", content)
    other = await store.store_file("inst_b", sha, "image/png", content)
    assert again == first
    assert other != first
    assert await store.read_file("inst_a", first) == content
    assert await store.db[f"{BUCKET}.files"].count_documents({}) == 2
    assert await store.db[f"{BUCKET}.chunks"].count_documents({"files_id": first}) == 3


async def test_nothing_is_read_across_institutions(store: DocumentStore) -> None:
    content = b"%PDF-1.7 " + os.urandom(1000)
    file_id = await store.store_file("inst_a", hashlib.sha256(content).hexdigest(), "x", content)
    doc = record("inst_a", "bor_1", content, file_id)
    await store.insert(doc)
    assert await store.read_file("inst_b", file_id) is None
    assert await store.get("inst_b", doc["_id"]) is None
    assert (await store.page("inst_b", "bor_1", 50, ""))[0] == []
    assert (await store.get("inst_a", doc["_id"]) or {}).get("borrower_id") == "bor_1"


async def test_the_same_bytes_for_a_borrower_are_one_record(store: DocumentStore) -> None:
    content = b"\xff\xd8\xff" + os.urandom(500)
    file_id = await store.store_file("inst_a", hashlib.sha256(content).hexdigest(), "x", content)
    first, created = await store.insert(record("inst_a", "bor_1", content, file_id))
    again, created_again = await store.insert(record("inst_a", "bor_1", content, file_id))
    other_borrower, created_other = await store.insert(record("inst_a", "bor_2", content, file_id))
    assert (created, created_again, created_other) == (True, False, True)
    assert again["_id"] == first["_id"]
    assert other_borrower["_id"] != first["_id"]
    assert len((await store.page("inst_a", "bor_1", 50, ""))[0]) == 1


async def test_a_reading_is_leased_to_one_worker_and_taken_again_after_a_crash(
    store: DocumentStore,
) -> None:
    content = b"\x89PNG\r\n\x1a\n" + os.urandom(100)
    doc = record("inst_a", "bor_1", content, "file")
    await store.insert(doc)
    now = datetime.now(UTC)
    taken = await store.claim_ocr_job(now, now + timedelta(minutes=5), "worker-1")
    assert taken is not None and taken["_id"] == doc["_id"]
    assert taken["ocr"]["attempts"] == 1
    assert await store.claim_ocr_job(now, now + timedelta(minutes=5), "worker-2") is None

    # worker-1 crashed; once its lease lapsed another worker takes the reading...
    later = now + timedelta(minutes=6)
    retaken = await store.claim_ocr_job(later, later + timedelta(minutes=5), "worker-2")
    assert retaken is not None and retaken["ocr"]["attempts"] == 2
    # ...and worker-1, back from the dead, can no longer store its result.
    assert not await store.finish_ocr_job(doc["_id"], "worker-1", {"status": "done"})
    assert await store.finish_ocr_job(doc["_id"], "worker-2", {"status": "done", "text": "ok"})
    stored = await store.get("inst_a", doc["_id"])
    assert stored is not None and stored["ocr"]["status"] == "done"
    assert stored["ocr"]["text"] == "ok"
    assert await store.claim_ocr_job(later, later, "worker-3") is None
