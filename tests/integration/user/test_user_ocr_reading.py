"""user_service's background reading on the real server with the real Tesseract: a pending
identity document is read into fields with confidence, a proof of address into text only;
a failed reading is retried later and, after its last attempt, marked failed."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from tests.support.id_card import identity_card, kenyan_card
from user_service.adapters.documents import DocumentStore
from user_service.adapters.ocr import OcrFailed, Reading, TesseractReader
from user_service.adapters.repository import Repository
from user_service.service_layer.documents import NEVER, OCR_ATTEMPTS, DocumentHandlers
from user_service.service_layer.handlers import UserHandlers

pytestmark = pytest.mark.integration


@pytest.fixture
async def handlers(server_urls: dict[str, str]) -> AsyncIterator[DocumentHandlers]:
    client: AsyncMongoClient[Any] = AsyncMongoClient(server_urls["MONGODB_URL"], tz_aware=True)
    name = f"it{secrets.token_hex(4)}_ocr"
    try:
        store = DocumentStore(client[name])
        await store.ensure_indexes()
        users = UserHandlers(Repository(client[name]), notify=lambda *_: None)
        yield DocumentHandlers(store, users, max_bytes=10_000_000, wake_reader=lambda: None)
    finally:
        await client.drop_database(name)
        await client.close()


async def pending(handlers: DocumentHandlers, kind: str, content: bytes) -> str:
    """A document as an upload leaves it: stored, its reading pending."""
    sha = hashlib.sha256(content).hexdigest()
    file_id = await handlers.store.store_file("inst_a", sha, "image/png", content)
    doc_id = f"doc_{secrets.token_hex(6)}"
    await handlers.store.insert(
        {
            "_id": doc_id,
            "institution_id": "inst_a",
            "borrower_id": "bor_1",
            "kind": kind,
            "content_type": "image/png",
            "size": len(content),
            "sha256": sha,
            "file_id": file_id,
            "ocr": {"status": "pending", "lease_until": NEVER, "attempts": 0},
            "create_time": datetime.now(UTC),
        }
    )
    return doc_id


async def ocr_of(handlers: DocumentHandlers, doc_id: str) -> dict[str, Any]:
    doc = await handlers.store.get("inst_a", doc_id)
    assert doc is not None
    return dict(doc["ocr"])


async def test_an_identity_card_is_read_into_fields_and_a_bill_into_text(
    handlers: DocumentHandlers,
) -> None:
    card = await pending(
        handlers,
        "national_id",
        identity_card(kenyan_card("12345678", "BARAKA", "MWANGI", "01.02.1990")),
    )
    bill = await pending(
        handlers, "proof_of_address", identity_card(["KENYA POWER", "SURNAME: MWANGI"])
    )
    reader = TesseractReader()
    assert await handlers.read_next(reader)
    assert await handlers.read_next(reader)
    assert not await handlers.read_next(reader)

    read = await ocr_of(handlers, card)
    assert read["status"] == "done"
    assert read["fields"] == {
        "national_id": "12345678",
        "first_name": "BARAKA",
        "last_name": "MWANGI",
        "date_of_birth": "1990-02-01",
    }
    assert set(read["field_confidence"]) == set(read["fields"])
    assert "NATIONAL IDENTITY CARD" in read["text"]
    # A bill's text is kept for the reviewer; no identity field is taken from it.
    bill_read = await ocr_of(handlers, bill)
    assert bill_read["status"] == "done"
    assert "KENYA POWER" in bill_read["text"]
    assert bill_read["fields"] == {}


class BrokenReader:
    calls = 0

    async def read(self, content: bytes, content_type: str) -> Reading:
        self.calls += 1
        raise OcrFailed("tesseract failed (1): cannot read the image")


async def test_a_failed_reading_is_retried_later_then_marked_failed(
    handlers: DocumentHandlers,
) -> None:
    doc_id = await pending(handlers, "passport", identity_card(["PASSPORT"]))
    broken = BrokenReader()
    assert await handlers.read_next(broken)
    after_first = await ocr_of(handlers, doc_id)
    assert (after_first["status"], after_first["attempts"]) == ("pending", 1)
    # Not again at once: it waits for its retry time.
    assert not await handlers.read_next(broken)
    assert broken.calls == 1

    # The last attempt (as if the earlier ones had come and gone) marks it failed.
    await handlers.store.records.update_one(
        {"_id": doc_id},
        {"$set": {"ocr.attempts": OCR_ATTEMPTS - 1, "ocr.lease_until": NEVER}},
    )
    assert await handlers.read_next(broken)
    failed = await ocr_of(handlers, doc_id)
    assert failed["status"] == "failed"
    assert failed["error"] == "tesseract failed (1): cannot read the image"
    assert not await handlers.read_next(broken)
