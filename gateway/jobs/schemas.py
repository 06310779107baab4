"""The daily close of business."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from gateway.schema import IsoDate, Strict, Timestamp


class CloseOfBusinessJob(BaseModel):
    """The close of business of one date for the institution: every active loan's arrears,
    penalties and delinquency bucket brought up to `as_of`, in partitions that several
    workers share."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "cob_inst_0193f0a2b1c4e6a1d2f3b4c5d6_2026-03-31",
                    "as_of": "2026-03-31",
                    "state": "completed",
                    "partitions_total": 16,
                    "partitions_done": 16,
                    "loans_processed": 48210,
                    "loans_changed": 3125,
                    "start_time": "2026-03-31T21:00:00.412Z",
                    "end_time": "2026-03-31T21:02:37.980Z",
                }
            ]
        }
    )

    id: str
    as_of: IsoDate
    state: Literal["running", "completed"]
    partitions_total: int
    partitions_done: int
    loans_processed: int
    loans_changed: int = Field(description="loans whose arrears, penalties or bucket changed")
    start_time: Timestamp
    end_time: Timestamp | None = Field(None, description="absent while the job runs")


class CloseOfBusinessBody(Strict):
    as_of: IsoDate = Field(description="the business date to close; at most tomorrow")
    wait: StrictBool = Field(
        True, description="answer once the job has completed (false: at once, while it runs)"
    )
