"""MongoDB persistence of KYC documents: the records (`documents`) and the bytes (GridFS,
bucket `document_files`, i.e. the ordinary collections `document_files.files` and
`document_files.chunks`, so files follow the database's backups and sharding; FerretDB
serves them like any collection).

Tenancy: every file's GridFS metadata carries its institution, and every read of a file or
a record filters by the caller's institution, so an id from another institution finds
nothing. One file per institution and content (SHA-256): two borrowers' copies of the
same letter share its bytes; two institutions never do.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from gridfs import AsyncGridFSBucket
from pymongo import ASCENDING, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from shared.mongo import list_page

DOCUMENTS = "documents"
BUCKET = "document_files"


class DocumentStore:
    def __init__(self, db: AsyncDatabase[Any]) -> None:
        self.db = db
        self.records = db[DOCUMENTS]
        self.files = AsyncGridFSBucket(db, bucket_name=BUCKET)
        #: The bucket's file documents, queried directly: the ownership check is one
        #: find_one on them before any chunk is read.
        self.file_index = db[f"{BUCKET}.files"]

    async def ensure_indexes(self) -> None:
        await self.records.create_index(
            [("institution_id", ASCENDING), ("borrower_id", ASCENDING), ("sha256", ASCENDING)],
            unique=True,
            name="uniq_borrower_sha256",
        )
        await self.records.create_index(
            [("ocr.status", ASCENDING), ("ocr.lease_until", ASCENDING)], name="ocr_jobs"
        )
        await self.file_index.create_index(
            [("metadata.institution_id", ASCENDING), ("metadata.sha256", ASCENDING)],
            name="by_institution_sha256",
        )

    # --- bytes --------------------------------------------------------------------------

    async def store_file(
        self, institution_id: str, sha256: str, content_type: str, content: bytes
    ) -> Any:
        """The id of the institution's file of these bytes, stored now if it is not yet.
        Two uploads of new bytes at the same moment may store them twice (both copies are
        whole and either serves); a deterministic id would instead let the loser's clean-up
        delete the winner's chunks."""
        existing = await self._find_file(institution_id, sha256)
        if existing is not None:
            return existing
        return await self.files.upload_from_stream(
            sha256,
            content,
            metadata={
                "institution_id": institution_id,
                "sha256": sha256,
                "content_type": content_type,
            },
        )

    async def _find_file(self, institution_id: str, sha256: str) -> Any:
        found = await self.file_index.find_one(
            {"metadata.institution_id": institution_id, "metadata.sha256": sha256}, {"_id": 1}
        )
        return found["_id"] if found else None

    async def read_file(self, institution_id: str, file_id: Any) -> bytes | None:
        """The file's bytes, or None when it is not this institution's."""
        owned = await self.file_index.find_one(
            {"_id": file_id, "metadata.institution_id": institution_id}, {"_id": 1}
        )
        if owned is None:
            return None
        stream = await self.files.open_download_stream(file_id)
        return await stream.read()

    # --- records ------------------------------------------------------------------------

    async def insert(self, doc: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """Inserts the record; if the borrower has these bytes on file already, that record
        instead (and False)."""
        try:
            await self.records.insert_one(doc)
        except DuplicateKeyError:
            existing = await self.find_same(
                doc["institution_id"], doc["borrower_id"], doc["sha256"]
            )
            if existing is None:
                raise
            return existing, False
        return doc, True

    async def find_same(
        self, institution_id: str, borrower_id: str, sha256: str
    ) -> dict[str, Any] | None:
        return await self.records.find_one(
            {"institution_id": institution_id, "borrower_id": borrower_id, "sha256": sha256}
        )

    async def get(self, institution_id: str, document_id: str) -> dict[str, Any] | None:
        return await self.records.find_one({"_id": document_id, "institution_id": institution_id})

    async def page(
        self, institution_id: str, borrower_id: str, size: int, token: str
    ) -> tuple[list[dict[str, Any]], str]:
        return await list_page(
            self.records,
            {"institution_id": institution_id, "borrower_id": borrower_id},
            requested_size=size,
            page_token=token,
        )

    # --- OCR jobs -----------------------------------------------------------------------

    async def claim_ocr_job(
        self, now: datetime, lease_until: datetime, claim: str
    ) -> dict[str, Any] | None:
        """Takes one pending reading whose lease has lapsed (never taken, or taken by a
        worker that crashed) for this worker until `lease_until`; one atomic update, so two
        workers never take the same one."""
        # No projection: FerretDB answers findAndModify with a projection NotImplemented.
        return await self.records.find_one_and_update(
            {"ocr.status": "pending", "ocr.lease_until": {"$lte": now}},
            {
                "$set": {"ocr.lease_until": lease_until, "ocr.claim": claim},
                "$inc": {"ocr.attempts": 1},
            },
            return_document=ReturnDocument.AFTER,
        )

    async def finish_ocr_job(self, document_id: str, claim: str, result: dict[str, Any]) -> bool:
        """Stores the reading if this worker still holds the job (its lease did not lapse
        into another worker's hands)."""
        outcome = await self.records.update_one(
            {"_id": document_id, "ocr.status": "pending", "ocr.claim": claim},
            {"$set": {f"ocr.{k}": v for k, v in result.items()}},
        )
        return outcome.modified_count == 1

    async def release_ocr_job(self, document_id: str, claim: str, retry_at: datetime) -> None:
        """Gives a job back after a failed attempt, to be taken again from `retry_at`."""
        await self.records.update_one(
            {"_id": document_id, "ocr.status": "pending", "ocr.claim": claim},
            {"$set": {"ocr.lease_until": retry_at}},
        )
