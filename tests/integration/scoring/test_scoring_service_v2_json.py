"""The API's JSON is the same whichever version of kopa.scoring.*.ScoringService the gateway
reads: the gateway's response models fed v1's words and v2's enums give the same JSON for
scorecard versions in every state, their list, a what-if and a governance report."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gateway.convert import from_proto
from gateway.scorecards.schemas import GovernanceReport, Scorecard, WhatIfReport
from kopa.scoring.v1 import scoring_pb2 as v1
from kopa.scoring.v2 import scoring_pb2 as v2
from shared.permissions import Role
from tests.support.rpc import md as auth
from tests.support.scoring_env import RULES, Env, new_institution

pytestmark = pytest.mark.integration


def shown(model: Any) -> Any:
    return model.model_dump(mode="json")


def card(name: str, key: str = "") -> v2.Scorecard:
    return v2.Scorecard(
        name=name, scorecard_key=key, base_score=450, rules=[v2.Rule(**r) for r in RULES]
    )


async def test_scorecards_what_if_and_governance_show_the_same_json(env: Env) -> None:
    who = auth(env.token(Role.RISK_OFFICER, new_institution()))
    first = (
        await env.v2.CreateScorecard(
            v2.CreateScorecardRequest(scorecard=card("Retail")), metadata=who
        )
    ).scorecard
    assert first.state == v2.SCORECARD_STATE_DRAFT
    published = (
        await env.v2.PublishScorecard(
            v2.PublishScorecardRequest(scorecard_id=first.id), metadata=who
        )
    ).scorecard
    assert published.state == v2.SCORECARD_STATE_PUBLISHED
    draft = (
        await env.v2.CreateScorecard(
            v2.CreateScorecardRequest(scorecard=card("Retail", first.scorecard_key)), metadata=who
        )
    ).scorecard
    for subject, income in (("loan_a", 600), ("loan_b", 100)):
        score = await env.v2.Score(
            v2.ScoreRequest(
                subject_id=subject,
                applicant_json=json.dumps({"borrower": {"monthly_income": income}}),
            ),
            metadata=who,
        )
        assert score.scorecard_id == first.id

    for scorecard_id in (first.id, draft.id):
        old = await env.stub.GetScorecard(
            v1.GetScorecardRequest(scorecard_id=scorecard_id), metadata=who
        )
        new = await env.v2.GetScorecard(
            v2.GetScorecardRequest(scorecard_id=scorecard_id), metadata=who
        )
        assert shown(from_proto(Scorecard, new.scorecard)) == shown(
            from_proto(Scorecard, old.scorecard)
        )
    old_l = await env.stub.ListScorecards(v1.ListScorecardsRequest(), metadata=who)
    new_l = await env.v2.ListScorecards(v2.ListScorecardsRequest(), metadata=who)
    states = [shown(from_proto(Scorecard, s))["state"] for s in new_l.scorecards]
    assert states == [shown(from_proto(Scorecard, s))["state"] for s in old_l.scorecards]
    assert sorted(states) == ["draft", "published"]

    old_w = await env.stub.WhatIf(
        v1.WhatIfRequest(scorecard_id=draft.id, approval_band="B"), metadata=who
    )
    new_w = await env.v2.WhatIf(
        v2.WhatIfRequest(scorecard_id=draft.id, approval_band="B"), metadata=who
    )
    what_if = shown(from_proto(WhatIfReport, new_w))
    assert what_if == shown(from_proto(WhatIfReport, old_w))
    assert what_if["applications"] == 2

    old_g = await env.stub.GetGovernanceReport(
        v1.GetGovernanceReportRequest(scorecard_id=first.id), metadata=who
    )
    new_g = await env.v2.GetGovernanceReport(
        v2.GetGovernanceReportRequest(scorecard_id=first.id), metadata=who
    )
    governance = shown(from_proto(GovernanceReport, new_g))
    assert governance == shown(from_proto(GovernanceReport, old_g))
    assert governance["applications_scored"] == 2

    retired = (
        await env.v2.RetireScorecard(v2.RetireScorecardRequest(scorecard_id=first.id), metadata=who)
    ).scorecard
    old_r = await env.stub.GetScorecard(v1.GetScorecardRequest(scorecard_id=first.id), metadata=who)
    assert shown(from_proto(Scorecard, retired)) == shown(from_proto(Scorecard, old_r.scorecard))
    assert (retired.state, old_r.scorecard.state) == (v2.SCORECARD_STATE_RETIRED, "retired")
