"""The ScoringService servicer: maps proto requests to use cases and results back."""

from __future__ import annotations

from typing import Any, TypeAlias

import grpc

from kopa.scoring.v1 import scoring_pb2, scoring_pb2_grpc
from scoring_service.domain.scorecard import BANDS_BEST_FIRST
from scoring_service.domain.whatif import Summary
from scoring_service.entrypoints import mapping as m
from scoring_service.service_layer.handlers import ScoringHandlers

Ctx: TypeAlias = grpc.aio.ServicerContext[Any, Any]


def _band_counts(summary: Summary | None) -> list[scoring_pb2.BandCount]:
    if summary is None:
        return []
    return m.band_counts({band.value: summary.band_counts[band] for band in BANDS_BEST_FIRST})


def _text(value: object) -> str:
    return "" if value is None else str(value)


class ScoringServicer(scoring_pb2_grpc.ScoringServiceServicer):
    def __init__(self, handlers: ScoringHandlers) -> None:
        self.h = handlers

    async def CreateScorecard(
        self, request: scoring_pb2.CreateScorecardRequest, context: Ctx
    ) -> scoring_pb2.CreateScorecardResponse:
        doc = await self.h.create_scorecard(
            m.scorecard_from_proto(request.scorecard), request.request_id
        )
        return scoring_pb2.CreateScorecardResponse(scorecard=m.scorecard_to_proto(doc))

    async def GetScorecard(
        self, request: scoring_pb2.GetScorecardRequest, context: Ctx
    ) -> scoring_pb2.GetScorecardResponse:
        doc = await self.h.get_scorecard(request.scorecard_id)
        return scoring_pb2.GetScorecardResponse(scorecard=m.scorecard_to_proto(doc))

    async def ListScorecards(
        self, request: scoring_pb2.ListScorecardsRequest, context: Ctx
    ) -> scoring_pb2.ListScorecardsResponse:
        docs, token = await self.h.list_scorecards(request.page_size, request.page_token)
        return scoring_pb2.ListScorecardsResponse(
            scorecards=[m.scorecard_to_proto(d) for d in docs], next_page_token=token
        )

    async def PublishScorecard(
        self, request: scoring_pb2.PublishScorecardRequest, context: Ctx
    ) -> scoring_pb2.PublishScorecardResponse:
        doc = await self.h.publish_scorecard(request.scorecard_id)
        return scoring_pb2.PublishScorecardResponse(scorecard=m.scorecard_to_proto(doc))

    async def RetireScorecard(
        self, request: scoring_pb2.RetireScorecardRequest, context: Ctx
    ) -> scoring_pb2.RetireScorecardResponse:
        doc = await self.h.retire_scorecard(request.scorecard_id)
        return scoring_pb2.RetireScorecardResponse(scorecard=m.scorecard_to_proto(doc))

    async def Score(
        self, request: scoring_pb2.ScoreRequest, context: Ctx
    ) -> scoring_pb2.ScoreResponse:
        record = await self.h.score(request.subject_id, request.applicant_json)
        return m.score_to_proto(record)

    async def WhatIf(
        self, request: scoring_pb2.WhatIfRequest, context: Ctx
    ) -> scoring_pb2.WhatIfResponse:
        report = await self.h.what_if(request.scorecard_id, request.approval_band)
        before = report.before
        return scoring_pb2.WhatIfResponse(
            applications=report.applications,
            current=_band_counts(before),
            proposed=_band_counts(report.after),
            current_approval_rate=_text(before.approval_rate if before else None),
            proposed_approval_rate=_text(report.after.approval_rate),
        )

    async def GetGovernanceReport(
        self, request: scoring_pb2.GetGovernanceReportRequest, context: Ctx
    ) -> scoring_pb2.GetGovernanceReportResponse:
        report = await self.h.governance_report(request.scorecard_id)
        return scoring_pb2.GetGovernanceReportResponse(
            applications_scored=report.applications_scored,
            bands=[
                scoring_pb2.BandOutcome(
                    band=b.band,
                    scored=b.scored,
                    matured=b.matured,
                    defaulted=b.defaulted,
                    default_rate=_text(b.default_rate),
                )
                for b in report.bands
            ],
        )
