"""Scorecards: drafts written in the rule language, publishing, what-if and governance."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import Field, StrictInt, StrictStr

from gateway.convert import page, to_json
from gateway.deps import Stubs, allowed
from gateway.schema import Strict
from kopa.scoring.v1 import scoring_pb2
from shared.permissions import Permission as P

router = APIRouter(tags=["scorecards"])


class RuleBody(Strict):
    name: StrictStr = Field(min_length=1, max_length=120)
    when: StrictStr = Field(min_length=1, max_length=2000)
    points: StrictInt


class CutoffBody(Strict):
    band: StrictStr
    min_score: StrictInt


class ScorecardBody(Strict):
    name: StrictStr = Field(min_length=1, max_length=120)
    base_score: StrictInt = 500
    rules: list[RuleBody] = Field(max_length=200)
    cutoffs: list[CutoffBody] | None = None
    scorecard_key: StrictStr | None = Field(
        None, description="to create the next version of an existing scorecard"
    )


class WhatIfBody(Strict):
    approval_band: StrictStr = "C"


def scorecard_json(s: scoring_pb2.Scorecard) -> dict[str, Any]:
    return to_json(s)


@router.post("/v1/scorecards", status_code=201, dependencies=[allowed(P.SCORECARDS_MANAGE)])
async def create(body: ScorecardBody, stubs: Stubs) -> dict[str, Any]:
    card = scoring_pb2.Scorecard(
        name=body.name,
        base_score=body.base_score,
        scorecard_key=body.scorecard_key or "",
        rules=[scoring_pb2.Rule(**r.model_dump()) for r in body.rules],
        cutoffs=[scoring_pb2.Cutoff(**c.model_dump()) for c in body.cutoffs or []],
    )
    reply = await stubs.scoring.CreateScorecard(scoring_pb2.CreateScorecardRequest(scorecard=card))
    return scorecard_json(reply.scorecard)


@router.get("/v1/scorecards", dependencies=[allowed(P.SCORECARDS_READ)])
async def list_scorecards(
    stubs: Stubs, page_size: int = 50, page_token: str = ""
) -> dict[str, Any]:
    reply = await stubs.scoring.ListScorecards(
        scoring_pb2.ListScorecardsRequest(page_size=page_size, page_token=page_token)
    )
    return page([scorecard_json(s) for s in reply.scorecards], reply.next_page_token)


@router.get("/v1/scorecards/{scorecard_id}", dependencies=[allowed(P.SCORECARDS_READ)])
async def get(scorecard_id: str, stubs: Stubs) -> dict[str, Any]:
    reply = await stubs.scoring.GetScorecard(
        scoring_pb2.GetScorecardRequest(scorecard_id=scorecard_id)
    )
    return scorecard_json(reply.scorecard)


@router.post("/v1/scorecards/{scorecard_id}/publish", dependencies=[allowed(P.SCORECARDS_MANAGE)])
async def publish(scorecard_id: str, stubs: Stubs) -> dict[str, Any]:
    reply = await stubs.scoring.PublishScorecard(
        scoring_pb2.PublishScorecardRequest(scorecard_id=scorecard_id)
    )
    return scorecard_json(reply.scorecard)


@router.post("/v1/scorecards/{scorecard_id}/retire", dependencies=[allowed(P.SCORECARDS_MANAGE)])
async def retire(scorecard_id: str, stubs: Stubs) -> dict[str, Any]:
    reply = await stubs.scoring.RetireScorecard(
        scoring_pb2.RetireScorecardRequest(scorecard_id=scorecard_id)
    )
    return scorecard_json(reply.scorecard)


@router.post("/v1/scorecards/{scorecard_id}/what-if", dependencies=[allowed(P.SCORECARDS_MANAGE)])
async def what_if(scorecard_id: str, body: WhatIfBody, stubs: Stubs) -> dict[str, Any]:
    reply = await stubs.scoring.WhatIf(
        scoring_pb2.WhatIfRequest(scorecard_id=scorecard_id, approval_band=body.approval_band)
    )
    return to_json(reply)


@router.get("/v1/scorecards/{scorecard_id}/governance", dependencies=[allowed(P.SCORECARDS_READ)])
async def governance(scorecard_id: str, stubs: Stubs) -> dict[str, Any]:
    reply = await stubs.scoring.GetGovernanceReport(
        scoring_pb2.GetGovernanceReportRequest(scorecard_id=scorecard_id)
    )
    return to_json(reply)
