"""The ScoringService servicers of kopa.scoring.v1 (deprecated) and kopa.scoring.v2: both map
requests to the same use cases (`ScoringUseCases`) and write the results by their version's
`mapping.Wire`."""

from __future__ import annotations

from typing import Any, TypeAlias

import grpc

from kopa.scoring.v1 import scoring_pb2_grpc
from kopa.scoring.v2 import scoring_pb2_grpc as scoring_v2_grpc
from scoring_service.domain.scorecard import BANDS_BEST_FIRST
from scoring_service.domain.whatif import Summary
from scoring_service.entrypoints import mapping as m
from scoring_service.service_layer.handlers import ScoringHandlers

Ctx: TypeAlias = grpc.aio.ServicerContext[Any, Any]


def _text(value: object) -> str:
    return "" if value is None else str(value)


class ScoringUseCases:
    wire: m.Wire = m.V1

    def __init__(self, handlers: ScoringHandlers) -> None:
        self.h = handlers

    def _band_counts(self, summary: Summary | None) -> list[Any]:
        if summary is None:
            return []
        counts = {band.value: summary.band_counts[band] for band in BANDS_BEST_FIRST}
        return m.band_counts(counts, self.wire)

    async def CreateScorecard(self, request: Any, context: Ctx) -> Any:
        doc = await self.h.create_scorecard(
            m.scorecard_from_proto(request.scorecard), request.request_id
        )
        return self.wire.pb.CreateScorecardResponse(scorecard=m.scorecard_to_proto(doc, self.wire))

    async def GetScorecard(self, request: Any, context: Ctx) -> Any:
        doc = await self.h.get_scorecard(request.scorecard_id)
        return self.wire.pb.GetScorecardResponse(scorecard=m.scorecard_to_proto(doc, self.wire))

    async def ListScorecards(self, request: Any, context: Ctx) -> Any:
        docs, token = await self.h.list_scorecards(request.page_size, request.page_token)
        return self.wire.pb.ListScorecardsResponse(
            scorecards=[m.scorecard_to_proto(d, self.wire) for d in docs], next_page_token=token
        )

    async def PublishScorecard(self, request: Any, context: Ctx) -> Any:
        doc = await self.h.publish_scorecard(request.scorecard_id)
        return self.wire.pb.PublishScorecardResponse(scorecard=m.scorecard_to_proto(doc, self.wire))

    async def RetireScorecard(self, request: Any, context: Ctx) -> Any:
        doc = await self.h.retire_scorecard(request.scorecard_id)
        return self.wire.pb.RetireScorecardResponse(scorecard=m.scorecard_to_proto(doc, self.wire))

    async def Score(self, request: Any, context: Ctx) -> Any:
        record = await self.h.score(request.subject_id, request.applicant_json)
        return m.score_to_proto(record, self.wire)

    async def WhatIf(self, request: Any, context: Ctx) -> Any:
        report = await self.h.what_if(request.scorecard_id, request.approval_band)
        before = report.before
        return self.wire.pb.WhatIfResponse(
            applications=report.applications,
            current=self._band_counts(before),
            proposed=self._band_counts(report.after),
            current_approval_rate=_text(before.approval_rate if before else None),
            proposed_approval_rate=_text(report.after.approval_rate),
        )

    async def GetGovernanceReport(self, request: Any, context: Ctx) -> Any:
        report = await self.h.governance_report(request.scorecard_id)
        return self.wire.pb.GetGovernanceReportResponse(
            applications_scored=report.applications_scored,
            bands=[
                self.wire.pb.BandOutcome(
                    band=b.band,
                    scored=b.scored,
                    matured=b.matured,
                    defaulted=b.defaulted,
                    default_rate=_text(b.default_rate),
                )
                for b in report.bands
            ],
        )


class ScoringServicer(ScoringUseCases, scoring_pb2_grpc.ScoringServiceServicer):
    """kopa.scoring.v1: a scorecard's state as its word."""

    wire = m.V1


class ScoringServicerV2(ScoringUseCases, scoring_v2_grpc.ScoringServiceServicer):
    """kopa.scoring.v2: a scorecard's state as the ScorecardState enum."""

    wire = m.V2
