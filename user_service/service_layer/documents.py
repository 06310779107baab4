"""KYC document use cases: storing a borrower's document, listing and serving them within
the caller's scope, and reading identity documents in the background.

The upload answers at once with the reading `pending`; the record itself is the work item
(`ocr.status` pending, with a lease), so a crash between upload and reading, or during a
reading, loses nothing: the worker takes every pending record whose lease has lapsed.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from shared import context
from shared.errors import NotFound
from shared.ids import new_id
from shared.logging import get_logger
from shared.permissions import Permission, require
from user_service.adapters.documents import DocumentStore
from user_service.adapters.ocr import OcrFailed, Reading
from user_service.domain import documents as rules
from user_service.service_layer.handlers import UserHandlers

log = get_logger(__name__)

#: How long a worker holds a reading before another may take it (a crashed worker's).
OCR_LEASE = timedelta(minutes=5)
#: Attempts before a reading is marked failed, and the wait between them.
OCR_ATTEMPTS = 3
OCR_RETRY_AFTER = timedelta(seconds=30)
#: A reading before any lease: taken at once.
NEVER = datetime(1970, 1, 1, tzinfo=UTC)


class Reader(Protocol):
    async def read(self, content: bytes, content_type: str) -> Reading: ...


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Listed:
    """A document with the fields its reading found that disagree with the profile now."""

    doc: dict[str, Any]
    mismatches: list[str]


class DocumentHandlers:
    def __init__(
        self,
        store: DocumentStore,
        users: UserHandlers,
        max_bytes: int,
        wake_reader: Callable[[], None],
    ) -> None:
        self.store = store
        self.users = users
        self.max_bytes = max_bytes
        self._wake_reader = wake_reader

    async def upload(
        self, borrower_id: str, kind: str, content: bytes, file_name: str
    ) -> tuple[Listed, bool]:
        p = context.principal()
        require(p, Permission.BORROWERS_UPDATE)
        rules.check_kind(kind)
        rules.check_size(len(content), self.max_bytes)
        content_type = rules.sniff_content_type(content)
        borrower = await self.users.get_borrower(borrower_id)
        institution_id = borrower["institution_id"]
        sha256 = hashlib.sha256(content).hexdigest()
        same = await self.store.find_same(institution_id, borrower_id, sha256)
        if same is not None:
            return self._listed(same, borrower), False
        file_id = await self.store.store_file(institution_id, sha256, content_type, content)
        status = rules.initial_ocr_status(kind)
        doc = {
            "_id": new_id("doc"),
            "institution_id": institution_id,
            "borrower_id": borrower_id,
            "kind": kind,
            "content_type": content_type,
            "size": len(content),
            "sha256": sha256,
            "file_id": file_id,
            "file_name": file_name.strip()[:200],
            "ocr": {"status": status, "lease_until": NEVER, "attempts": 0},
            "uploaded_by": p.user_id,
            "create_time": _now(),
        }
        stored, created = await self.store.insert(doc)
        if created and status == "pending":
            self._wake_reader()
        log.info("document_stored", document_id=stored["_id"], kind=kind, created=created)
        return self._listed(stored, borrower), created

    async def list(self, borrower_id: str, size: int, token: str) -> tuple[list[Listed], str]:
        p = context.principal()
        require(p, Permission.BORROWERS_READ)
        borrower = await self.users.get_borrower(borrower_id)
        docs, next_token = await self.store.page(
            borrower["institution_id"], borrower_id, size, token
        )
        return [self._listed(d, borrower) for d in docs], next_token

    async def content(self, document_id: str) -> tuple[dict[str, Any], bytes]:
        p = context.principal()
        require(p, Permission.BORROWERS_READ)
        missing = NotFound(f"document {document_id} not found", reason="DOCUMENT_NOT_FOUND")
        doc = await self.store.get(p.institution_id or "", document_id)
        if doc is None:
            raise missing
        try:
            await self.users.get_borrower(doc["borrower_id"])
        except NotFound:
            raise missing from None
        content = await self.store.read_file(doc["institution_id"], doc["file_id"])
        if content is None:
            raise missing
        return doc, content

    @staticmethod
    def _listed(doc: dict[str, Any], borrower: dict[str, Any]) -> Listed:
        # Compared on every read, so a profile corrected after the reading is judged as it
        # is now.
        return Listed(doc, rules.mismatches(doc["ocr"].get("fields") or {}, borrower))

    # --- the background reading -----------------------------------------------------------

    async def read_next(self, reader: Reader) -> bool:
        """Reads one pending document, if any is due; False when none is."""
        claim = secrets.token_hex(8)
        now = _now()
        job = await self.store.claim_ocr_job(now, now + OCR_LEASE, claim)
        if job is None:
            return False
        content = await self.store.read_file(job["institution_id"], job["file_id"])
        try:
            if content is None:
                raise OcrFailed("the file is missing from storage")
            reading = await reader.read(content, job["content_type"])
        except OcrFailed as exc:
            await self._failed_attempt(job, claim, str(exc))
            return True
        fields: dict[str, str] = {}
        confidence: dict[str, int] = {}
        if job["kind"] in rules.IDENTITY_KINDS:
            for field, found in rules.extract_fields(reading.lines).items():
                fields[field] = found.value
                confidence[field] = found.confidence
        result = {
            "status": "done",
            "text": reading.text,
            "confidence": reading.confidence,
            "fields": fields,
            "field_confidence": confidence,
            "complete_time": _now(),
        }
        if await self.store.finish_ocr_job(job["_id"], claim, result):
            log.info("document_read", document_id=job["_id"], fields=sorted(fields))
        return True

    async def _failed_attempt(self, job: dict[str, Any], claim: str, error: str) -> None:
        attempts = job["ocr"].get("attempts", 1)
        log.warning("document_not_read", document_id=job["_id"], attempt=attempts, error=error)
        if attempts >= OCR_ATTEMPTS:
            await self.store.finish_ocr_job(
                job["_id"], claim, {"status": "failed", "error": error, "complete_time": _now()}
            )
        else:
            await self.store.release_ocr_job(job["_id"], claim, _now() + OCR_RETRY_AFTER)
