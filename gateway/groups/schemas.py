from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, StrictStr

from gateway.schema import Strict, Timestamp

# Members, leader and meeting day are checked together by user_service, which names every bad
# one in a single 422; so they stay plain strings here.


class GroupBody(Strict):
    name: StrictStr = Field(max_length=120)
    member_ids: list[StrictStr] = Field(
        description="2 to 50 borrowers of the branch, none already in a group"
    )
    leader_id: StrictStr = Field("", description="one of `member_ids`; empty for none")
    meeting_day: StrictStr = Field("", description="a day of the week, e.g. `tuesday`")
    branch_id: StrictStr | None = Field(None, description="default: the caller's branch")


class Group(BaseModel):
    """A joint-liability group of borrowers of one branch."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "grp_019d2b7e2f4a6c8e0a2c4e6a8c0e",
                    "institution_id": "inst_019d2a0f5b1c8e2d4f6a7b9c0d1e",
                    "branch_id": "br_019d2a10c3d5e7f9a1b3c5d7e9f1",
                    "name": "Tumaini women's group",
                    "member_ids": [
                        "bor_019d2b6c1a4e3f9a8b7c6d5e4f30",
                        "bor_019d2b6d0b5f7a9c1e3a5c7e9a1c",
                        "bor_019d2b6e8c7a9e1b3d5f7a9c1e3f",
                    ],
                    "leader_id": "bor_019d2b6c1a4e3f9a8b7c6d5e4f30",
                    "meeting_day": "tuesday",
                    "create_time": "2026-03-31T09:30:00.123Z",
                }
            ]
        }
    )

    id: str
    institution_id: str
    branch_id: str
    name: str
    member_ids: list[str] = Field(description="the members' borrower ids")
    leader_id: str = Field(description="a member's borrower id; empty when none was named")
    meeting_day: str = Field(description="a day of the week in lower case; empty when unset")
    create_time: Timestamp
