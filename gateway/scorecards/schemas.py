from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictStr

from gateway.schema import Int32, ScoreBand, Strict, Timestamp

"""Risk bands, best first: a score reaches the best band whose minimum it is at or above; D is
every score below C's minimum."""

# Rule texts and cut-offs stay unchecked here: scoring_service checks the whole version at once
# (every rule's syntax and fields, every band's minimum) and names every bad one in one 422.


class Rule(Strict):
    """Adds `points` to the score when `when` holds for the applicant."""

    name: StrictStr = Field(min_length=1, max_length=120, examples=["income above 20k"])
    when: StrictStr = Field(
        min_length=1,
        max_length=2000,
        description="a condition in the rule language over the applicant's `borrower`, "
        "`loan`, `history` and `group` fields; one that does not parse or names an unknown "
        "field is a 422 naming the rule, line and column",
        examples=["borrower.monthly_income >= 20000"],
    )
    points: Int32 = Field(description="may be negative", examples=[300])


class CutoffBody(Strict):
    band: StrictStr = Field(description="AA, A, B or C (D is every score below C)")
    min_score: Int32 = Field(description="1 to 1000; strictly lower for each worse band")


class ScorecardBody(Strict):
    name: StrictStr = Field(min_length=1, max_length=120)
    base_score: Int32 = Field(500, description="0 to 1000: the score before any rule")
    rules: list[Rule] = Field(max_length=200)
    cutoffs: list[CutoffBody] | None = Field(
        None, description="default: AA 800, A 650, B 550, C 450"
    )
    scorecard_key: StrictStr | None = Field(
        None, description="to create the next version of an existing scorecard"
    )


class WhatIfBody(Strict):
    approval_band: ScoreBand = Field("C", description="the worst band that would be approved")


class Cutoff(BaseModel):
    band: ScoreBand
    min_score: int = Field(description="the lowest score in the band; 0 for D")


class Scorecard(BaseModel):
    """One version of a scorecard: the versions of one scorecard share `scorecard_key`, each
    has its own `id`, and none changes once created (to revise one, create the next version).
    Life cycle: `draft` -> `published` (the version every new score uses, one per institution
    at a time) -> `retired` (retired, or replaced by the publication of another version)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "scv_019d2c3a1b2c3d4e5f60718293a4",
                    "scorecard_key": "sc_019d2c3a0a1b2c3d4e5f60718293",
                    "institution_id": "inst_019d2a0f5b1c8e2d4f6a7b9c0d1e",
                    "name": "Retail",
                    "version": 2,
                    "state": "published",
                    "base_score": 400,
                    "rules": [
                        {
                            "name": "income above 20k",
                            "when": "borrower.monthly_income >= 20000",
                            "points": 300,
                        }
                    ],
                    "cutoffs": [
                        {"band": "AA", "min_score": 800},
                        {"band": "A", "min_score": 650},
                        {"band": "B", "min_score": 550},
                        {"band": "C", "min_score": 450},
                        {"band": "D", "min_score": 0},
                    ],
                    "create_time": "2026-03-31T09:30:00.123Z",
                    "publish_time": "2026-03-31T10:02:41.870Z",
                }
            ]
        }
    )

    id: str = Field(description="this version's id")
    scorecard_key: str = Field(description="the scorecard's id, shared by its versions")
    institution_id: str
    name: str
    version: int = Field(description="1 for the first version of the scorecard")
    state: Literal["draft", "published", "retired"]
    base_score: int
    rules: list[Rule]
    cutoffs: list[Cutoff] = Field(description="every band's minimum, best band first")
    create_time: Timestamp
    publish_time: Timestamp | None = Field(description="null while a draft")


class BandCount(BaseModel):
    band: ScoreBand
    count: int


class WhatIfReport(BaseModel):
    """How a draft would have scored the institution's past applications, beside the
    published version."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "applications": 240,
                    "current": [
                        {"band": "AA", "count": 12},
                        {"band": "A", "count": 60},
                        {"band": "B", "count": 80},
                        {"band": "C", "count": 50},
                        {"band": "D", "count": 38},
                    ],
                    "proposed": [
                        {"band": "AA", "count": 20},
                        {"band": "A", "count": 55},
                        {"band": "B", "count": 70},
                        {"band": "C", "count": 45},
                        {"band": "D", "count": 50},
                    ],
                    "current_approval_rate": "0.8417",
                    "proposed_approval_rate": "0.7917",
                }
            ]
        }
    )

    applications: int = Field(description="past applications scored again (latest per loan)")
    current: list[BandCount] = Field(
        description="bands under the published version; empty when none is published"
    )
    proposed: list[BandCount] = Field(description="bands under this draft")
    current_approval_rate: str = Field(
        description="share approved at `approval_band` or better, a decimal string "
        '("0.8417" is 84.17%); empty when no version is published or nothing was scored'
    )
    proposed_approval_rate: str = Field(
        description="the same under this draft; empty when there is nothing to score"
    )


class BandOutcome(BaseModel):
    band: ScoreBand
    scored: int = Field(description="loans scored in this band by this version")
    matured: int = Field(description="of those, loans now closed or written off")
    defaulted: int = Field(description="of those, written off or ever over 90 days past due")
    default_rate: str = Field(
        description="defaulted over matured, a decimal string; empty while none has matured"
    )


class GovernanceReport(BaseModel):
    """A version's track record: how the loans it scored turned out, band by band."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "applications_scored": 180,
                    "bands": [
                        {
                            "band": "AA",
                            "scored": 15,
                            "matured": 9,
                            "defaulted": 0,
                            "default_rate": "0.0000",
                        },
                        {
                            "band": "A",
                            "scored": 52,
                            "matured": 30,
                            "defaulted": 1,
                            "default_rate": "0.0333",
                        },
                        {
                            "band": "B",
                            "scored": 61,
                            "matured": 35,
                            "defaulted": 3,
                            "default_rate": "0.0857",
                        },
                        {
                            "band": "C",
                            "scored": 40,
                            "matured": 22,
                            "defaulted": 4,
                            "default_rate": "0.1818",
                        },
                        {
                            "band": "D",
                            "scored": 12,
                            "matured": 0,
                            "defaulted": 0,
                            "default_rate": "",
                        },
                    ],
                }
            ]
        }
    )

    applications_scored: int = Field(description="loans scored with this version (latest score)")
    bands: list[BandOutcome] = Field(description="every band, best first")
