"""Centres and joint-liability groups: what a valid centre is, and the group aggregate, which
owns its members' life cycle (joining, leaving, officers) and its own (forming, active,
closed). Pure rules: the service layer reads what they need (the borrowers, their open
loans) and stores what they return."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from rapidfuzz import fuzz, process, utils

from shared.errors import IllegalState, ValidationError
from user_service.domain.borrowers import MEETING_DAYS

#: How many members a working group has (the Grameen model's five to thirty sits inside).
MIN_MEMBERS = 2
MAX_MEMBERS = 50
MEETING_TIME = re.compile(r"^(?:[01]\d|2[0-3]):[0-5]\d$")
OFFICERS = ("leader_id", "secretary_id", "treasurer_id")


class GroupStatus(StrEnum):
    FORMING = "forming"
    ACTIVE = "active"
    CLOSED = "closed"


def validate_center(data: dict[str, Any]) -> dict[str, str]:
    """The centre's own fields, cleaned; every bad one named in a single error."""
    errors = []
    name = (data.get("name") or "").strip()
    if not name or len(name) > 120:
        errors.append(("name", "is required (at most 120 characters)"))
    day = (data.get("meeting_day") or "").strip().lower()
    if day not in MEETING_DAYS:
        errors.append(("meeting_day", "must be a day of the week, e.g. tuesday"))
    time = (data.get("meeting_time") or "").strip()
    if time and not MEETING_TIME.match(time):
        errors.append(("meeting_time", "must be a local time HH:MM, e.g. 09:30"))
    if errors:
        raise ValidationError("the centre is invalid", field_errors=errors)
    return {
        "name": name,
        "meeting_day": day,
        "meeting_time": time,
        "agent_id": (data.get("agent_id") or "").strip(),
    }


@dataclass(frozen=True, slots=True)
class Member:
    borrower_id: str
    joined_on: date
    join_reason: str = ""
    left_on: date | None = None
    leave_reason: str = ""

    @property
    def current(self) -> bool:
        return self.left_on is None


@dataclass(slots=True)
class Group:
    id: str
    institution_id: str
    branch_id: str
    name: str
    status: GroupStatus
    members: list[Member]
    meeting_day: str = ""
    center_id: str = ""
    leader_id: str = ""
    secretary_id: str = ""
    treasurer_id: str = ""
    version: int = 1
    create_time: datetime | None = None
    #: What the last change did and changed (field -> [old, new]): its history entry.
    changes: list[tuple[str, dict[str, list[Any]]]] = field(default_factory=list)

    @property
    def member_ids(self) -> list[str]:
        return [m.borrower_id for m in self.members if m.current]

    def _officers(self) -> dict[str, str]:
        return {f: getattr(self, f) for f in OFFICERS}

    def _open(self) -> None:
        if self.status is GroupStatus.CLOSED:
            raise IllegalState(f"group {self.id} is closed", reason="GROUP_CLOSED")

    def _record(self, action: str, changes: dict[str, list[Any]]) -> None:
        self.version += 1
        self.changes.append((action, changes))

    def add_member(self, borrower_id: str, on: date, reason: str, today: date) -> None:
        self._open()
        if borrower_id in self.member_ids:
            raise ValidationError.of("borrower_id", f"borrower {borrower_id} is already a member")
        if len(self.member_ids) >= MAX_MEMBERS:
            raise ValidationError.of("borrower_id", f"a group has at most {MAX_MEMBERS} members")
        if on > today:
            raise ValidationError.of("joined_on", "cannot be in the future")
        before = self.member_ids
        self.members.append(Member(borrower_id, on, reason.strip()))
        self._record("member_added", {"member_ids": [before, self.member_ids]})

    def remove_member(
        self, borrower_id: str, on: date, reason: str, today: date, open_loans: list[str]
    ) -> None:
        """`open_loans`: the member's loans not yet repaid, which keep them in the group
        (the group guarantees them)."""
        self._open()
        index = next(
            (i for i, m in enumerate(self.members) if m.current and m.borrower_id == borrower_id),
            None,
        )
        if index is None:
            raise ValidationError.of("borrower_id", f"borrower {borrower_id} is not a member")
        if not reason.strip():
            raise ValidationError.of("reason", "say why the member leaves")
        member = self.members[index]
        if on > today or on < member.joined_on:
            raise ValidationError.of(
                "left_on", f"must be between the joining date {member.joined_on} and today"
            )
        if open_loans:
            raise IllegalState(
                f"borrower {borrower_id} has loans not yet repaid ({', '.join(open_loans)}); "
                "they leave once the loans are repaid or transferred",
                reason="MEMBER_HAS_OPEN_LOANS",
                metadata={"loan_ids": ",".join(open_loans)},
            )
        if self.status is GroupStatus.ACTIVE and len(self.member_ids) <= MIN_MEMBERS:
            raise IllegalState(
                f"an active group keeps at least {MIN_MEMBERS} members; close the group instead",
                reason="GROUP_TOO_SMALL",
            )
        before, officers = self.member_ids, self._officers()
        self.members[index] = replace(member, left_on=on, leave_reason=reason.strip())
        for officer in OFFICERS:  # an officer who leaves leaves the office too
            if getattr(self, officer) == borrower_id:
                setattr(self, officer, "")
        changes: dict[str, list[Any]] = {"member_ids": [before, self.member_ids]}
        changes.update({f: [officers[f], ""] for f in OFFICERS if officers[f] == borrower_id})
        self._record("member_removed", changes)

    def set_officers(self, leader_id: str, secretary_id: str, treasurer_id: str) -> None:
        self._open()
        wanted = {
            "leader_id": leader_id,
            "secretary_id": secretary_id,
            "treasurer_id": treasurer_id,
        }
        check_officers(wanted, self.member_ids)
        before = self._officers()
        changed = {f: [before[f], v] for f, v in wanted.items() if before[f] != v}
        if not changed:
            return
        for f, v in wanted.items():
            setattr(self, f, v)
        self._record("officers_set", changed)

    def activate(self) -> None:
        if self.status is not GroupStatus.FORMING:
            raise IllegalState(
                f"group {self.id} is {self.status.value}; only a forming group is activated",
                reason="GROUP_NOT_FORMING",
            )
        check_size(self.member_ids)
        self.status = GroupStatus.ACTIVE
        self._record("activated", {"status": ["forming", "active"]})

    def close(self, reason: str, today: date, open_loans: dict[str, list[str]]) -> None:
        """`open_loans`: each current member's loans not yet repaid."""
        self._open()
        if not reason.strip():
            raise ValidationError.of("reason", "say why the group closes")
        blocking = sorted(b for b, loans in open_loans.items() if loans)
        if blocking:
            raise IllegalState(
                f"members {', '.join(blocking)} have loans not yet repaid; "
                "close the group once they are repaid or transferred",
                reason="MEMBER_HAS_OPEN_LOANS",
            )
        before = self.member_ids
        self.members = [
            replace(m, left_on=today, leave_reason="group closed") if m.current else m
            for m in self.members
        ]
        old_status = self.status.value
        self.status = GroupStatus.CLOSED
        self._record(
            "closed",
            {"status": [old_status, "closed"], "member_ids": [before, []], "reason": ["", reason]},
        )


def check_size(member_ids: list[str]) -> None:
    if not MIN_MEMBERS <= len(set(member_ids)) <= MAX_MEMBERS:
        raise ValidationError.of(
            "member_ids", f"a group has {MIN_MEMBERS} to {MAX_MEMBERS} distinct members"
        )


def check_officers(officers: dict[str, str], member_ids: list[str]) -> None:
    errors = [
        (f, "must be a current member of the group")
        for f, v in officers.items()
        if v and v not in member_ids
    ]
    if errors:
        raise ValidationError("the officers must be members", field_errors=errors)


def form(
    *,
    group_id: str,
    institution_id: str,
    branch_id: str,
    data: dict[str, Any],
    today: date,
    create_time: datetime,
) -> Group:
    """A new group from a request; every bad field named in a single error."""
    members = list(dict.fromkeys(data.get("member_ids") or []))
    errors: list[tuple[str, str]] = []
    try:
        status = GroupStatus(data.get("status") or GroupStatus.ACTIVE)
    except ValueError:
        status = GroupStatus.ACTIVE
        errors.append(("status", "must be forming or active"))
    name = (data.get("name") or "").strip()
    if not name or len(name) > 120:
        errors.append(("name", "is required (at most 120 characters)"))
    if status is GroupStatus.CLOSED:
        errors.append(("status", "a group starts forming or active"))
    elif status is GroupStatus.ACTIVE or len(members) > MAX_MEMBERS:
        try:
            check_size(members)  # a forming group may still be short of members
        except ValidationError as exc:
            errors.extend(exc.field_errors)
    officers: dict[str, str] = {f: data.get(f) or "" for f in OFFICERS}
    try:
        check_officers(officers, members)
    except ValidationError as exc:
        errors.extend(exc.field_errors)
    day = (data.get("meeting_day") or "").lower()
    if day and day not in MEETING_DAYS:
        errors.append(("meeting_day", "must be a day of the week"))
    if errors:
        raise ValidationError("the group is invalid", field_errors=errors)
    group = Group(
        id=group_id,
        institution_id=institution_id,
        branch_id=branch_id,
        name=name,
        status=status,
        members=[Member(b, today, "founding member") for b in members],
        meeting_day=day,
        center_id=data.get("center_id") or "",
        create_time=create_time,
        version=0,
        leader_id=officers["leader_id"],
        secretary_id=officers["secretary_id"],
        treasurer_id=officers["treasurer_id"],
    )
    group._record("created", {"member_ids": [[], members], "status": ["", status.value]})
    return group


#: How alike (0-100, rapidfuzz's weighted ratio) a name must be to a search to be found: one
#: or two letters wrong in a word still find it, an unrelated name does not.
NAME_MATCH = 75


def best_by_name(query: str, names: dict[str, str], limit: int) -> list[str]:
    """The ids of the names most like `query` (typo-tolerant, case and accents aside), best
    first, at most `limit`."""
    found = process.extract(
        query,
        names,
        scorer=fuzz.WRatio,
        processor=utils.default_process,
        score_cutoff=NAME_MATCH,
        limit=limit,
    )
    return [key for _, _, key in found]
