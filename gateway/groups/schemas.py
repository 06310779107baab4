from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictStr

from gateway.schema import IsoDate, Strict, Timestamp

# Members, officers and meeting day are checked together by user_service, which names every
# bad one in a single 422; so they stay plain strings here.


class GroupBody(Strict):
    name: StrictStr = Field(max_length=120)
    member_ids: list[StrictStr] = Field(
        default_factory=list,
        description="2 to 50 borrowers of the branch, none already in a group (a forming "
        "group may start with fewer)",
    )
    leader_id: StrictStr = Field("", description="one of `member_ids`; empty for none")
    secretary_id: StrictStr = Field("", description="one of `member_ids`; empty for none")
    treasurer_id: StrictStr = Field("", description="one of `member_ids`; empty for none")
    meeting_day: StrictStr = Field(
        "", description="a day of the week, e.g. `tuesday`; default: the centre's"
    )
    branch_id: StrictStr | None = Field(
        None, description="default: the centre's branch, else the caller's"
    )
    center_id: StrictStr | None = Field(None, description="the centre whose meeting it attends")
    status: Literal["forming", "active"] = Field(
        "active",
        description="`forming` while members are being gathered (then "
        "`POST /v1/groups/{id}/activate`); `active` checks the members now",
    )


class GroupMember(BaseModel):
    borrower_id: str
    joined_on: IsoDate
    join_reason: str
    left_on: IsoDate | None = Field(description="null while the borrower is a member")
    leave_reason: str


class Group(BaseModel):
    """A joint-liability group of borrowers of one branch."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "grp_019d2b7e2f4a6c8e0a2c4e6a8c0e",
                    "institution_id": "inst_019d2a0f5b1c8e2d4f6a7b9c0d1e",
                    "branch_id": "br_019d2a10c3d5e7f9a1b3c5d7e9f1",
                    "center_id": "ctr_019d2b7a0c2e4a6c8e0a2c4e6a8c",
                    "name": "Tumaini women's group",
                    "status": "active",
                    "member_ids": [
                        "bor_019d2b6c1a4e3f9a8b7c6d5e4f30",
                        "bor_019d2b6d0b5f7a9c1e3a5c7e9a1c",
                    ],
                    "members": [
                        {
                            "borrower_id": "bor_019d2b6c1a4e3f9a8b7c6d5e4f30",
                            "joined_on": "2026-03-31",
                            "join_reason": "founding member",
                            "left_on": None,
                            "leave_reason": "",
                        },
                        {
                            "borrower_id": "bor_019d2b6d0b5f7a9c1e3a5c7e9a1c",
                            "joined_on": "2026-03-31",
                            "join_reason": "founding member",
                            "left_on": None,
                            "leave_reason": "",
                        },
                    ],
                    "leader_id": "bor_019d2b6c1a4e3f9a8b7c6d5e4f30",
                    "secretary_id": "",
                    "treasurer_id": "bor_019d2b6d0b5f7a9c1e3a5c7e9a1c",
                    "meeting_day": "tuesday",
                    "version": 1,
                    "create_time": "2026-03-31T09:30:00.123Z",
                }
            ]
        }
    )

    id: str
    institution_id: str
    branch_id: str
    center_id: str = Field(description="empty when the group attends no centre")
    name: str
    status: Literal["forming", "active", "closed"]
    member_ids: list[str] = Field(description="the current members' borrower ids")
    members: list[GroupMember] = Field(description="every membership, current and past")
    leader_id: str = Field(description="a member's borrower id; empty when none was named")
    secretary_id: str = Field(description="a member's borrower id; empty when none was named")
    treasurer_id: str = Field(description="a member's borrower id; empty when none was named")
    meeting_day: str = Field(description="a day of the week in lower case; empty when unset")
    version: int = Field(description="bumped by every change; see `/versions`")
    create_time: Timestamp


class MemberBody(Strict):
    borrower_id: StrictStr = Field(description="a borrower of the group's branch in no group")
    joined_on: IsoDate | None = Field(None, description="default: today")
    reason: StrictStr = Field("", max_length=300)
    expected_version: int = Field(0, ge=0, description="0 skips the concurrency check")


class LeaveBody(Strict):
    left_on: IsoDate | None = Field(None, description="default: today")
    reason: StrictStr = Field(max_length=300, description="why the member leaves (required)")
    expected_version: int = Field(0, ge=0)


class OfficersBody(Strict):
    leader_id: StrictStr = Field("", description="a current member; empty for none")
    secretary_id: StrictStr = Field("", description="a current member; empty for none")
    treasurer_id: StrictStr = Field("", description="a current member; empty for none")
    expected_version: int = Field(0, ge=0)


class VersionBody(Strict):
    expected_version: int = Field(0, ge=0)


class CloseBody(Strict):
    reason: StrictStr = Field(max_length=300, description="why the group closes (required)")
    expected_version: int = Field(0, ge=0)


class GroupVersion(BaseModel):
    version: int
    time: Timestamp
    changed_by: str = Field(description="the staff user's id")
    action: Literal[
        "created", "member_added", "member_removed", "officers_set", "activated", "closed"
    ]
    changes: dict[str, list[object]] = Field(description="field -> [old, new]")
