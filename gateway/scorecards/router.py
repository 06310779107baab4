"""Scorecards: versions written in the rule language, publishing, what-if and governance."""

from __future__ import annotations

from fastapi import APIRouter

from gateway.convert import from_proto, to_proto
from gateway.deps import Stubs, allowed
from gateway.schema import Page, PageSize, PageToken
from gateway.scorecards.schemas import (
    GovernanceReport,
    Scorecard,
    ScorecardBody,
    WhatIfBody,
    WhatIfReport,
)
from kopa.scoring.v2 import scoring_pb2
from shared.permissions import Permission as P

router = APIRouter(tags=["scorecards"])


@router.post(
    "/v1/scorecards",
    status_code=201,
    summary="Create a scorecard version",
    dependencies=[allowed(P.SCORECARDS_MANAGE)],
)
async def create_scorecard(body: ScorecardBody, stubs: Stubs) -> Scorecard:
    """Creates a `draft`: the first version of a new scorecard, or with `scorecard_key` the
    next version of an existing one. A score is `base_score` plus the points of every rule
    that holds, kept within 0..1000, and its band the best whose minimum it reaches. Every
    rule that does not parse or names an unknown field, and every bad cut-off, is named in
    one 422 (`rules[i].when`, with the line and column). Publish the draft to use it."""
    reply = await stubs.scoring.CreateScorecard(
        scoring_pb2.CreateScorecardRequest(scorecard=to_proto(scoring_pb2.Scorecard, body))
    )
    return from_proto(Scorecard, reply.scorecard)


@router.get(
    "/v1/scorecards",
    summary="List scorecard versions",
    dependencies=[allowed(P.SCORECARDS_READ)],
)
async def list_scorecards(
    stubs: Stubs, page_size: PageSize = 50, page_token: PageToken = ""
) -> Page[Scorecard]:
    """Every version of every scorecard of the caller's institution, in any state."""
    reply = await stubs.scoring.ListScorecards(
        scoring_pb2.ListScorecardsRequest(page_size=page_size, page_token=page_token)
    )
    return Page[Scorecard](
        items=[from_proto(Scorecard, s) for s in reply.scorecards],
        next_page_token=reply.next_page_token,
    )


@router.get(
    "/v1/scorecards/{scorecard_id}",
    summary="Get a scorecard version",
    dependencies=[allowed(P.SCORECARDS_READ)],
)
async def get_scorecard(scorecard_id: str, stubs: Stubs) -> Scorecard:
    """One version, by its id. Another institution's is a 404."""
    reply = await stubs.scoring.GetScorecard(
        scoring_pb2.GetScorecardRequest(scorecard_id=scorecard_id)
    )
    return from_proto(Scorecard, reply.scorecard)


@router.post(
    "/v1/scorecards/{scorecard_id}/publish",
    summary="Publish a scorecard version",
    dependencies=[allowed(P.SCORECARDS_MANAGE)],
)
async def publish_scorecard(scorecard_id: str, stubs: Stubs) -> Scorecard:
    """`draft -> published`: from now on every loan scored in the institution is scored with
    this version, and the version published until now is `retired`. Only a draft with at
    least one rule can be published; otherwise 409."""
    reply = await stubs.scoring.PublishScorecard(
        scoring_pb2.PublishScorecardRequest(scorecard_id=scorecard_id)
    )
    return from_proto(Scorecard, reply.scorecard)


@router.post(
    "/v1/scorecards/{scorecard_id}/retire",
    summary="Retire a scorecard version",
    dependencies=[allowed(P.SCORECARDS_MANAGE)],
)
async def retire_scorecard(scorecard_id: str, stubs: Stubs) -> Scorecard:
    """`published -> retired`: the institution then has no published version and loans
    cannot be scored until another is published. Any other state is a 409."""
    reply = await stubs.scoring.RetireScorecard(
        scoring_pb2.RetireScorecardRequest(scorecard_id=scorecard_id)
    )
    return from_proto(Scorecard, reply.scorecard)


@router.post(
    "/v1/scorecards/{scorecard_id}/what-if",
    summary="Compare a version with the published one",
    dependencies=[allowed(P.SCORECARDS_MANAGE)],
)
async def what_if(scorecard_id: str, body: WhatIfBody, stubs: Stubs) -> WhatIfReport:
    """Scores the institution's past applications (the latest inputs of each scored loan)
    with this version and with the published one, and compares the band counts and the
    approval rates at `approval_band`. Nothing is stored. Run it on a draft or a retired
    version; the published version itself is a 422."""
    reply = await stubs.scoring.WhatIf(
        to_proto(scoring_pb2.WhatIfRequest, body, scorecard_id=scorecard_id)
    )
    return from_proto(WhatIfReport, reply)


@router.get(
    "/v1/scorecards/{scorecard_id}/governance",
    summary="A version's track record",
    dependencies=[allowed(P.SCORECARDS_READ)],
)
async def governance_report(scorecard_id: str, stubs: Stubs) -> GovernanceReport:
    """How the loans this version scored turned out, per band: how many were scored, how many
    have matured (`closed` or `written_off`) and how many of those defaulted (written off or
    more than 90 days past due at some point), to check that worse bands default more."""
    reply = await stubs.scoring.GetGovernanceReport(
        scoring_pb2.GetGovernanceReportRequest(scorecard_id=scorecard_id)
    )
    return from_proto(GovernanceReport, reply)
