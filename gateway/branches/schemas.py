"""An institution's branches: the offices its agents and branch managers work from."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, StrictStr

from gateway.schema import Strict


class BranchBody(Strict):
    name: StrictStr = Field(min_length=1, max_length=120, examples=["Kisumu"])


class Branch(BaseModel):
    """An office of the institution. Agents and branch managers work in one and see only its
    borrowers and loans."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "br_0199f3a1c4b3a2f1e0d9c8b7a6f5e4d3",
                    "institution_id": "inst_0199f3a0e2d1b7c6a5f4e3d2c1b0a998",
                    "name": "Kisumu",
                }
            ]
        }
    )

    id: str
    institution_id: str
    name: str
