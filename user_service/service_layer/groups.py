"""Centre and group use cases: each checks the caller's permission and scope, loads the group,
lets the aggregate (user_service.domain.groups) decide, and stores it with its history.

The group document is the record of who belongs; a borrower's `group_id` follows it (each
member's borrower is changed after the group is written, with its own borrower event). A
crash between the two leaves `group_id` stale until the next change of that membership."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from shared import context
from shared.errors import NotFound, ValidationError
from shared.ids import new_id
from shared.mongo import page_size
from shared.permissions import Permission, Principal, require
from user_service.adapters.groups import CENTERS, GroupRepository
from user_service.adapters.repository import GROUPS
from user_service.domain import groups as rules
from user_service.domain.groups import Group
from user_service.service_layer.handlers import UserHandlers


def _now() -> datetime:
    return datetime.now(UTC)


class GroupHandlers:
    def __init__(self, repo: GroupRepository, users: UserHandlers) -> None:
        self.repo = repo
        self.users = users

    # --- centres ------------------------------------------------------------------------

    async def create_center(self, data: dict[str, Any]) -> dict[str, Any]:
        p = context.principal()
        require(p, Permission.BORROWERS_UPDATE)
        fields = rules.validate_center(data)
        branch_id = data.get("branch_id") or (p.branch_id or "")
        await self.users.check_branch(p, branch_id, "branch_id")
        doc = {
            "_id": new_id("ctr"),
            "institution_id": p.institution_id,
            "branch_id": branch_id,
            **fields,
            "create_time": _now(),
        }
        await self.repo.insert_center(doc)
        return doc

    async def get_center(self, center_id: str) -> dict[str, Any]:
        p = context.principal()
        require(p, Permission.BORROWERS_READ)
        return await self._center(p, center_id)

    async def _center(self, p: Principal, center_id: str, field: str = "") -> dict[str, Any]:
        doc = await self.repo.get_center(center_id)
        if doc is None or not p.can_access(doc["institution_id"], doc["branch_id"]):
            if field:
                raise ValidationError.of(field, f"centre {center_id} does not exist")
            raise NotFound(f"centre {center_id} not found", reason="CENTER_NOT_FOUND")
        return doc

    async def list_centers(
        self, branch_id: str, size: int, token: str, search: str = ""
    ) -> tuple[list[dict[str, Any]], str]:
        """A page of the centres in scope, or with `search` the best matches by name."""
        p = context.principal()
        require(p, Permission.BORROWERS_READ)
        query: dict[str, Any] = dict(p.scope_filter())
        if branch_id and not p.is_branch_scoped:
            query["branch_id"] = branch_id
        if search.strip():
            ids = await self._search(CENTERS, query, search, size)
            return await self.repo.by_ids(CENTERS, ids), ""
        return await self.repo.page(CENTERS, query, size, token)

    async def _search(
        self, collection: str, query: dict[str, Any], search: str, size: int
    ) -> list[str]:
        if len(search) > 120:
            raise ValidationError.of("q", "at most 120 characters")
        names = await self.repo.names(collection, query)
        return rules.best_by_name(search, names, page_size(size))

    # --- groups -------------------------------------------------------------------------

    async def _group(self, p: Principal, group_id: str) -> Group:
        group = await self.repo.get(group_id)
        if group is None or not p.can_access(group.institution_id, group.branch_id):
            raise NotFound(f"group {group_id} not found", reason="GROUP_NOT_FOUND")
        return group

    async def _member_candidate(
        self, p: Principal, group: Group, borrower_id: str, field: str
    ) -> dict[str, Any]:
        """The borrower, checked to be free to join `group` (same branch, in no group)."""
        try:
            borrower = await self.users.borrower_in_scope(p, borrower_id)
        except NotFound:
            raise ValidationError.of(field, f"borrower {borrower_id} does not exist") from None
        if borrower["branch_id"] != group.branch_id:
            raise ValidationError.of(
                field, f"borrower {borrower_id} is registered at another branch"
            )
        if borrower.get("group_id") and borrower["group_id"] != group.id:
            raise ValidationError.of(
                field, f"borrower {borrower_id} already belongs to group {borrower['group_id']}"
            )
        return borrower

    async def _set_group_of(self, p: Principal, borrower_ids: list[str], group_id: str) -> None:
        for borrower_id in borrower_ids:
            borrower = await self.users.borrower_in_scope(p, borrower_id)
            if borrower.get("group_id", "") != group_id:
                await self.users.change_borrower(
                    p, borrower, "borrower.updated", {"group_id": group_id}
                )

    async def create_group(self, data: dict[str, Any]) -> Group:
        p = context.principal()
        require(p, Permission.BORROWERS_UPDATE)
        branch_id = data.get("branch_id") or ""
        center_id = data.get("center_id") or ""
        if center_id:
            center = await self._center(p, center_id, "center_id")
            if branch_id and branch_id != center["branch_id"]:
                raise ValidationError.of("center_id", "the centre belongs to another branch")
            branch_id = center["branch_id"]
            data = {**data, "meeting_day": data.get("meeting_day") or center["meeting_day"]}
        branch_id = branch_id or (p.branch_id or "")
        await self.users.check_branch(p, branch_id, "branch_id")
        group = rules.form(
            group_id=new_id("grp"),
            institution_id=p.institution_id or "",
            branch_id=branch_id,
            data=data,
            today=date.today(),
            create_time=_now(),
        )
        for member in group.member_ids:
            await self._member_candidate(p, group, member, "member_ids")
        await self.repo.add(group, p.user_id, _now())
        await self._set_group_of(p, group.member_ids, group.id)
        return group

    async def get_group(self, group_id: str) -> Group:
        p = context.principal()
        require(p, Permission.BORROWERS_READ)
        return await self._group(p, group_id)

    async def list_groups(
        self, branch_id: str, center_id: str, status: str, size: int, token: str, search: str = ""
    ) -> tuple[list[Group], str]:
        """A page of the groups in scope, or with `search` the best matches by name."""
        p = context.principal()
        require(p, Permission.BORROWERS_READ)
        query: dict[str, Any] = dict(p.scope_filter())
        if branch_id and not p.is_branch_scoped:
            query["branch_id"] = branch_id
        if center_id:
            query["center_id"] = center_id
        if status:
            query["status"] = status
        if search.strip():
            ids = await self._search(GROUPS, query, search, size)
            return await self.repo.groups_by_ids(ids), ""
        return await self.repo.page_groups(query, size, token)

    async def _change(self, group_id: str, expected_version: int) -> tuple[Principal, Group, int]:
        p = context.principal()
        require(p, Permission.BORROWERS_UPDATE)
        group = await self._group(p, group_id)
        if expected_version and expected_version != group.version:
            raise ValidationError.of("expected_version", f"the group is at version {group.version}")
        return p, group, group.version

    async def add_member(
        self, group_id: str, borrower_id: str, joined_on: date | None, reason: str, version: int
    ) -> Group:
        p, group, read = await self._change(group_id, version)
        await self._member_candidate(p, group, borrower_id, "borrower_id")
        today = date.today()
        group.add_member(borrower_id, joined_on or today, reason, today)
        await self.repo.save(group, read, p.user_id, _now())
        await self._set_group_of(p, [borrower_id], group.id)
        return group

    async def remove_member(
        self, group_id: str, borrower_id: str, left_on: date | None, reason: str, version: int
    ) -> Group:
        p, group, read = await self._change(group_id, version)
        open_loans = await self.repo.open_loans(group.institution_id, [borrower_id])
        today = date.today()
        group.remove_member(borrower_id, left_on or today, reason, today, open_loans[borrower_id])
        await self.repo.save(group, read, p.user_id, _now())
        await self._set_group_of(p, [borrower_id], "")
        return group

    async def set_officers(
        self, group_id: str, leader_id: str, secretary_id: str, treasurer_id: str, version: int
    ) -> Group:
        p, group, read = await self._change(group_id, version)
        group.set_officers(leader_id, secretary_id, treasurer_id)
        await self.repo.save(group, read, p.user_id, _now())
        return group

    async def activate(self, group_id: str, version: int) -> Group:
        p, group, read = await self._change(group_id, version)
        group.activate()
        await self.repo.save(group, read, p.user_id, _now())
        return group

    async def close(self, group_id: str, reason: str, version: int) -> Group:
        p, group, read = await self._change(group_id, version)
        members = group.member_ids
        open_loans = await self.repo.open_loans(group.institution_id, members)
        group.close(reason, date.today(), open_loans)
        await self.repo.save(group, read, p.user_id, _now())
        await self._set_group_of(p, members, "")
        return group

    async def versions(self, group_id: str) -> list[dict[str, Any]]:
        p = context.principal()
        require(p, Permission.BORROWERS_READ)
        await self._group(p, group_id)
        return await self.repo.history(group_id)

    async def record_loan(
        self, *, loan_id: str, institution_id: str, borrower_id: str, status: str, version: int
    ) -> None:
        await self.repo.record_loan(
            loan_id=loan_id,
            institution_id=institution_id,
            borrower_id=borrower_id,
            status=status,
            version=version,
        )
