"""MongoDB persistence of group loans and of the plans that split a group's repayments."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from loan_service.service_layer.ports import GroupLoanRepository

GROUP_LOANS = "group_loans"
GROUP_LOAN_REQUESTS = "group_loan_requests"
GROUP_REPAYMENT_PLANS = "group_repayment_plans"


class MongoGroupLoanRepository(GroupLoanRepository):
    def __init__(self, db: AsyncDatabase[Any]) -> None:
        self.db = db

    async def ensure_indexes(self) -> None:
        await self.db[GROUP_LOANS].create_index(
            [("institution_id", ASCENDING), ("group_id", ASCENDING)]
        )

    async def insert(self, doc: dict[str, Any]) -> None:
        await self.db[GROUP_LOANS].insert_one(doc)

    async def get(self, group_loan_id: str) -> dict[str, Any] | None:
        return await self.db[GROUP_LOANS].find_one({"_id": group_loan_id})

    async def of_group(self, institution_id: str, group_id: str) -> list[dict[str, Any]]:
        cursor = (
            self.db[GROUP_LOANS]
            .find({"institution_id": institution_id, "group_id": group_id})
            .sort("_id", 1)
        )
        return await cursor.to_list(None)

    async def save(self, before: dict[str, Any], fields: dict[str, Any]) -> bool:
        result = await self.db[GROUP_LOANS].update_one(
            {"_id": before["_id"], "version": before["version"]},
            {"$set": fields, "$inc": {"version": 1}},
        )
        return result.matched_count == 1

    async def reserve(self, key: str, group_loan_id: str) -> str:
        try:
            await self.db[GROUP_LOAN_REQUESTS].insert_one(
                {"_id": key, "group_loan_id": group_loan_id, "time": datetime.now(UTC)}
            )
        except DuplicateKeyError:
            first = await self.db[GROUP_LOAN_REQUESTS].find_one({"_id": key})
            return str(first["group_loan_id"]) if first else group_loan_id
        return group_loan_id

    async def add_plan(self, plan: dict[str, Any]) -> dict[str, Any]:
        try:
            await self.db[GROUP_REPAYMENT_PLANS].insert_one(plan)
        except DuplicateKeyError:
            stored = await self.db[GROUP_REPAYMENT_PLANS].find_one({"_id": plan["_id"]})
            if stored is not None:
                return stored
            raise
        return plan
