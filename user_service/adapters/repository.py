"""MongoDB persistence for institutions, branches, borrowers and groups (user_service owns
these collections; no other service reads them)."""

from __future__ import annotations

from typing import Any

from pymongo import ASCENDING, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from shared.errors import Aborted, Conflict
from shared.mongo import list_page

BORROWERS = "borrowers"
INSTITUTIONS = "institutions"
BRANCHES = "branches"
GROUPS = "groups"


class Repository:
    def __init__(self, db: AsyncDatabase[Any]) -> None:
        self.db = db

    async def ensure_indexes(self) -> None:
        b = self.db[BORROWERS]
        await b.create_index(
            [("institution_id", ASCENDING), ("national_id", ASCENDING)],
            unique=True,
            name="uniq_national_id",
        )
        await b.create_index(
            [("institution_id", ASCENDING), ("phone", ASCENDING)], unique=True, name="uniq_phone"
        )
        await b.create_index([("institution_id", ASCENDING), ("branch_id", ASCENDING)])
        await self.db[BRANCHES].create_index("institution_id")
        await self.db[GROUPS].create_index("institution_id")

    async def insert(self, collection: str, doc: dict[str, Any]) -> None:
        await self.db[collection].insert_one(doc)

    async def get(self, collection: str, doc_id: str) -> dict[str, Any] | None:
        return await self.db[collection].find_one({"_id": doc_id}, {"outbox": 0})

    async def get_many(self, collection: str, doc_ids: list[str]) -> list[dict[str, Any]]:
        """Documents by id, in no particular order (unknown ids left out): one `$in` query
        on the primary key."""
        if not doc_ids:
            return []
        cursor = self.db[collection].find({"_id": {"$in": doc_ids}}, {"outbox": 0})
        return await cursor.to_list(None)

    async def page(
        self, collection: str, query: dict[str, Any], size: int, token: str
    ) -> tuple[list[dict[str, Any]], str]:
        return await list_page(self.db[collection], query, requested_size=size, page_token=token)

    async def insert_borrower(self, doc: dict[str, Any]) -> None:
        try:
            await self.db[BORROWERS].insert_one(doc)
        except DuplicateKeyError:
            await self._raise_duplicate(doc["institution_id"], doc["national_id"], doc["phone"])
            raise

    async def _raise_duplicate(
        self, institution_id: str, national_id: str, phone: str, exclude: str = ""
    ) -> None:
        for field, value in (("national_id", national_id), ("phone", phone)):
            existing = await self.db[BORROWERS].find_one(
                {"institution_id": institution_id, field: value}, {"_id": 1}
            )
            if existing and existing["_id"] != exclude:
                raise Conflict(
                    f"a borrower with this {field.replace('_', ' ')} already exists: "
                    f"{existing['_id']}",
                    reason=f"DUPLICATE_{field.upper()}",
                    metadata={"existing_borrower_id": existing["_id"], "field": field},
                    field_errors=[(field, f"already registered to borrower {existing['_id']}")],
                )

    async def update_borrower(
        self, doc_id: str, version: int, update: dict[str, Any], *, check: dict[str, Any]
    ) -> dict[str, Any]:
        """Applies `update` if the borrower is still at `version` (optimistic concurrency)."""
        try:
            # No projection: FerretDB answers findAndModify with a projection NotImplemented.
            updated = await self.db[BORROWERS].find_one_and_update(
                {"_id": doc_id, "version": version},
                update,
                return_document=ReturnDocument.AFTER,
            )
        except DuplicateKeyError:
            await self._raise_duplicate(
                check["institution_id"],
                check.get("national_id", ""),
                check.get("phone", ""),
                exclude=doc_id,
            )
            raise
        if updated is None:
            raise Aborted("the borrower was changed by someone else; reload and retry")
        return updated
