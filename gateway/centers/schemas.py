from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, StrictStr

from gateway.schema import Strict, Timestamp


class CenterBody(Strict):
    name: StrictStr = Field(max_length=120)
    branch_id: StrictStr | None = Field(None, description="default: the caller's branch")
    meeting_day: StrictStr = Field(description="a day of the week, e.g. `tuesday`")
    meeting_time: StrictStr = Field("", description="local time `HH:MM`; empty when not fixed")
    agent_id: StrictStr = Field("", description="the staff user who runs the meeting")


class Center(BaseModel):
    """A meeting place where the groups of one branch meet, on one day of the week."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "ctr_019d2b7a0c2e4a6c8e0a2c4e6a8c",
                    "institution_id": "inst_019d2a0f5b1c8e2d4f6a7b9c0d1e",
                    "branch_id": "br_019d2a10c3d5e7f9a1b3c5d7e9f1",
                    "name": "Kibera market centre",
                    "meeting_day": "tuesday",
                    "meeting_time": "09:30",
                    "agent_id": "usr_019d2a11d4e6f8a0b2c4d6e8f0a2",
                    "create_time": "2026-03-31T09:30:00.123Z",
                }
            ]
        }
    )

    id: str
    institution_id: str
    branch_id: str
    name: str
    meeting_day: str = Field(description="a day of the week in lower case")
    meeting_time: str = Field(description="local time `HH:MM`; empty when not fixed")
    agent_id: str = Field(description="empty when no staff user was named")
    create_time: Timestamp
