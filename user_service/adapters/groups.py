"""MongoDB persistence for centres, groups and the borrowers' open loans (the read model, kept
from loan events, that tells whether a member may leave a group)."""

from __future__ import annotations

import json
from contextlib import suppress
from datetime import UTC, date, datetime
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from shared.errors import Aborted
from shared.mongo import list_page
from user_service.adapters.repository import GROUPS
from user_service.domain.groups import Group, GroupStatus, Member

CENTERS = "centers"
BORROWER_LOANS = "borrower_loans"
#: Loan statuses that keep a borrower in their group (the group guarantees the loan).
OPEN_LOAN_STATUSES = ("submitted", "approved", "active")


def _day(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def group_from_doc(doc: dict[str, Any]) -> Group:
    created = doc.get("create_time") or datetime.now(UTC)
    stored = doc.get("members")
    if stored is None:  # written before members had a life cycle: all founding members
        members = [Member(b, created.date(), "founding member") for b in doc["member_ids"]]
    else:
        members = [
            Member(
                m["borrower_id"],
                date.fromisoformat(m["joined_on"]),
                m.get("join_reason", ""),
                _day(m.get("left_on")),
                m.get("leave_reason", ""),
            )
            for m in stored
        ]
    return Group(
        id=doc["_id"],
        institution_id=doc["institution_id"],
        branch_id=doc["branch_id"],
        name=doc["name"],
        status=GroupStatus(doc.get("status", "active")),
        members=members,
        meeting_day=doc.get("meeting_day", ""),
        center_id=doc.get("center_id", ""),
        leader_id=doc.get("leader_id", ""),
        secretary_id=doc.get("secretary_id", ""),
        treasurer_id=doc.get("treasurer_id", ""),
        version=doc.get("version", 1),
        create_time=created,
    )


def _state(group: Group) -> dict[str, Any]:
    return {
        "name": group.name,
        "status": group.status.value,
        "center_id": group.center_id,
        "meeting_day": group.meeting_day,
        "leader_id": group.leader_id,
        "secretary_id": group.secretary_id,
        "treasurer_id": group.treasurer_id,
        "member_ids": group.member_ids,
        "members": [
            {
                "borrower_id": m.borrower_id,
                "joined_on": m.joined_on.isoformat(),
                "join_reason": m.join_reason,
                "left_on": m.left_on.isoformat() if m.left_on else None,
                "leave_reason": m.leave_reason,
            }
            for m in group.members
        ],
        "version": group.version,
    }


def _history(group: Group, first_version: int, user_id: str, now: datetime) -> list[dict[str, Any]]:
    return [
        {
            "version": first_version + i,
            "time": now,
            "changed_by": user_id,
            "action": action,
            "changes": json.dumps(changes, default=str),
        }
        for i, (action, changes) in enumerate(group.changes, start=1)
    ]


class GroupRepository:
    def __init__(self, db: AsyncDatabase[Any]) -> None:
        self.db = db

    async def ensure_indexes(self) -> None:
        await self.db[CENTERS].create_index(
            [("institution_id", ASCENDING), ("branch_id", ASCENDING)]
        )
        await self.db[GROUPS].create_index(
            [("institution_id", ASCENDING), ("center_id", ASCENDING)]
        )
        await self.db[BORROWER_LOANS].create_index(
            [("institution_id", ASCENDING), ("borrower_id", ASCENDING)]
        )

    # --- centres ------------------------------------------------------------------------

    async def insert_center(self, doc: dict[str, Any]) -> None:
        await self.db[CENTERS].insert_one(doc)

    async def get_center(self, center_id: str) -> dict[str, Any] | None:
        return await self.db[CENTERS].find_one({"_id": center_id})

    async def names(self, collection: str, query: dict[str, Any]) -> dict[str, str]:
        """id -> name of the centres or groups matching `query` (what a search ranks)."""
        cursor = self.db[collection].find(query, {"name": 1})
        return {d["_id"]: d["name"] async for d in cursor}

    async def by_ids(self, collection: str, ids: list[str]) -> list[dict[str, Any]]:
        """The documents of `ids`, in that order."""
        found = {
            d["_id"]: d
            async for d in self.db[collection].find({"_id": {"$in": ids}}, {"history": 0})
        }
        return [found[i] for i in ids if i in found]

    async def page(
        self, collection: str, query: dict[str, Any], size: int, token: str
    ) -> tuple[list[dict[str, Any]], str]:
        return await list_page(self.db[collection], query, requested_size=size, page_token=token)

    # --- groups -------------------------------------------------------------------------

    async def get(self, group_id: str) -> Group | None:
        doc = await self.db[GROUPS].find_one({"_id": group_id}, {"history": 0})
        return None if doc is None else group_from_doc(doc)

    async def add(self, group: Group, user_id: str, now: datetime) -> None:
        await self.db[GROUPS].insert_one(
            {
                "_id": group.id,
                "institution_id": group.institution_id,
                "branch_id": group.branch_id,
                **_state(group),
                "create_time": now,
                "update_time": now,
                "history": _history(group, 0, user_id, now),
            }
        )
        group.changes.clear()

    async def save(self, group: Group, read_version: int, user_id: str, now: datetime) -> None:
        """Writes the group's changes if nobody changed it since it was read at
        `read_version` (optimistic concurrency): one update with its history entries."""
        if not group.changes:
            return
        result = await self.db[GROUPS].update_one(
            # A group written before groups had versions has none: it reads as version 1.
            {
                "_id": group.id,
                "version": {"$in": [read_version, None] if read_version == 1 else [read_version]},
            },
            {
                "$set": {**_state(group), "update_time": now},
                "$push": {"history": {"$each": _history(group, read_version, user_id, now)}},
            },
        )
        if result.matched_count == 0:
            raise Aborted(f"group {group.id} was changed by someone else; reload and retry")
        group.changes.clear()

    async def page_groups(
        self, query: dict[str, Any], size: int, token: str
    ) -> tuple[list[Group], str]:
        docs, next_token = await self.page(GROUPS, {**query}, size, token)
        return [group_from_doc(d) for d in docs], next_token

    async def groups_by_ids(self, ids: list[str]) -> list[Group]:
        return [group_from_doc(d) for d in await self.by_ids(GROUPS, ids)]

    async def history(self, group_id: str) -> list[dict[str, Any]]:
        doc = await self.db[GROUPS].find_one({"_id": group_id}, {"history": 1})
        return list((doc or {}).get("history", []))

    # --- the members' open loans ----------------------------------------------------------

    async def record_loan(
        self, *, loan_id: str, institution_id: str, borrower_id: str, status: str, version: int
    ) -> None:
        """Keeps the loan's latest status; an older event (a replay, or one overtaken) changes
        nothing, so events may arrive more than once and out of order."""
        with suppress(DuplicateKeyError):  # a newer event was recorded already
            await self.db[BORROWER_LOANS].update_one(
                {"_id": loan_id, "version": {"$lt": version}},
                {
                    "$set": {
                        "institution_id": institution_id,
                        "borrower_id": borrower_id,
                        "status": status,
                        "version": version,
                    }
                },
                upsert=True,
            )

    async def open_loans(
        self, institution_id: str, borrower_ids: list[str]
    ) -> dict[str, list[str]]:
        """borrower id -> their loans not yet repaid (every id present, maybe with none)."""
        found: dict[str, list[str]] = {b: [] for b in borrower_ids}
        cursor = self.db[BORROWER_LOANS].find(
            {
                "institution_id": institution_id,
                "borrower_id": {"$in": borrower_ids},
                "status": {"$in": list(OPEN_LOAN_STATUSES)},
            },
            {"borrower_id": 1},
        )
        async for doc in cursor:
            found[doc["borrower_id"]].append(doc["_id"])
        return found
