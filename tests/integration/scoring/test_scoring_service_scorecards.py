"""scoring_service over real gRPC: scorecards refused with every bad rule and field named,
default cut-offs, idempotent creation, and who may see and change whose scorecards.

The service (in-process on the real servers) is tests.support.scoring_env's, started once per
module by this folder's conftest.
"""

from __future__ import annotations

import grpc
import pytest

from kopa.scoring.v1 import scoring_pb2
from shared.permissions import Role
from tests.support.rpc import fails as refused
from tests.support.rpc import md as auth
from tests.support.scoring_env import RULES, Env, card, new_institution

pytestmark = pytest.mark.integration


# --- validation -------------------------------------------------------------------------------


async def test_a_bad_rule_is_invalid_argument_naming_the_rule_and_position(env: Env) -> None:
    officer = auth(env.token(Role.RISK_OFFICER, new_institution()))
    rules = [
        {"name": "adult", "when": "borrower.age >= 18", "points": 10},
        {"name": "broken", "when": "borrower.age >= 18 and (", "points": 5},
        {"name": "typo", "when": "borrower.age > 18 and borrower.incme >= 500", "points": 5},
    ]
    request = scoring_pb2.CreateScorecardRequest(scorecard=card(rules))
    error = await refused(env.stub.CreateScorecard(request, metadata=officer))
    assert error.code is grpc.StatusCode.INVALID_ARGUMENT
    assert error.reason == "RULE_INVALID"
    fields = dict(error.field_errors)
    assert set(fields) == {"rules[1].when", "rules[2].when"}
    assert fields["rules[1].when"].startswith(
        "rule 'broken', line 1, column 25: the expression ends too early"
    )
    assert fields["rules[2].when"] == (
        "rule 'typo', line 1, column 23: unknown field 'borrower.incme'; "
        "did you mean 'borrower.monthly_income'?"
    )


async def test_unknown_field_and_bad_cutoffs_name_their_fields(env: Env) -> None:
    officer = auth(env.token(Role.RISK_OFFICER, new_institution()))
    rules = [{"name": "savings", "when": "borrower.savings == 'none'", "points": -20}]
    bad_cutoffs = [
        {"band": "AA", "min_score": 800},
        {"band": "A", "min_score": 900},
        {"band": "B", "min_score": 550},
        {"band": "C", "min_score": 450},
        {"band": "E", "min_score": 1},
    ]
    request = scoring_pb2.CreateScorecardRequest(scorecard=card(rules, cutoffs=bad_cutoffs))
    error = await refused(env.stub.CreateScorecard(request, metadata=officer))
    assert error.code is grpc.StatusCode.INVALID_ARGUMENT
    assert error.reason == "RULE_INVALID"
    fields = dict(error.field_errors)
    assert fields["rules[0].when"].startswith(
        "rule 'savings', line 1, column 1: unknown field 'borrower.savings'"
    )
    assert "must be below AA's minimum (800)" in fields["cutoffs[1].min_score"]
    assert fields["cutoffs[4].band"] == "unknown band; bands are AA, A, B, C, D"
    # Only cut-offs wrong: the reason says so.
    request = scoring_pb2.CreateScorecardRequest(
        scorecard=card(RULES, cutoffs=[{"band": "AA", "min_score": 800}])
    )
    error = await refused(env.stub.CreateScorecard(request, metadata=officer))
    assert error.reason == "CUTOFFS_INVALID"
    assert ("cutoffs", "required: the minimum score of band A") in error.field_errors


async def test_default_cutoffs_and_idempotent_create(env: Env) -> None:
    officer = auth(env.token(Role.RISK_OFFICER, new_institution()))
    request = scoring_pb2.CreateScorecardRequest(
        scorecard=card(RULES, cutoffs=[]), request_id="req-1"
    )
    first = (await env.stub.CreateScorecard(request, metadata=officer)).scorecard
    assert [(c.band, c.min_score) for c in first.cutoffs] == [
        ("AA", 800),
        ("A", 650),
        ("B", 550),
        ("C", 450),
        ("D", 0),
    ]
    assert (first.version, first.state, first.base_score) == (1, "draft", 500)
    again = (await env.stub.CreateScorecard(request, metadata=officer)).scorecard
    assert again.id == first.id
    other = scoring_pb2.CreateScorecardRequest(scorecard=card(RULES[:1]), request_id="req-1")
    error = await refused(env.stub.CreateScorecard(other, metadata=officer))
    assert error.code is grpc.StatusCode.ALREADY_EXISTS
    assert error.reason == "REQUEST_ID_REUSED"


# --- permissions and scope -------------------------------------------------------------------


async def test_other_institutions_see_nothing_and_roles_are_enforced(env: Env) -> None:
    institution = new_institution()
    officer = auth(env.token(Role.RISK_OFFICER, institution))
    created = (
        await env.stub.CreateScorecard(
            scoring_pb2.CreateScorecardRequest(scorecard=card(RULES)), metadata=officer
        )
    ).scorecard
    stranger = auth(env.token(Role.ADMIN, new_institution()))
    for call in (
        env.stub.GetScorecard(
            scoring_pb2.GetScorecardRequest(scorecard_id=created.id), metadata=stranger
        ),
        env.stub.PublishScorecard(
            scoring_pb2.PublishScorecardRequest(scorecard_id=created.id), metadata=stranger
        ),
        env.stub.WhatIf(scoring_pb2.WhatIfRequest(scorecard_id=created.id), metadata=stranger),
        env.stub.GetGovernanceReport(
            scoring_pb2.GetGovernanceReportRequest(scorecard_id=created.id), metadata=stranger
        ),
        env.stub.CreateScorecard(
            scoring_pb2.CreateScorecardRequest(scorecard=card(RULES, key=created.scorecard_key)),
            metadata=stranger,
        ),
    ):
        error = await refused(call)
        assert (error.code, error.reason) == (grpc.StatusCode.NOT_FOUND, "SCORECARD_NOT_FOUND")
    listed = await env.stub.ListScorecards(scoring_pb2.ListScorecardsRequest(), metadata=stranger)
    assert list(listed.scorecards) == []

    agent = auth(env.token(Role.AGENT, institution, "br_1"))
    error = await refused(
        env.stub.CreateScorecard(
            scoring_pb2.CreateScorecardRequest(scorecard=card(RULES)), metadata=agent
        )
    )
    assert error.code is grpc.StatusCode.PERMISSION_DENIED
    assert error.metadata == {"permission": "scorecards:manage"}
    error = await refused(
        env.stub.Score(
            scoring_pb2.ScoreRequest(subject_id="loan_1", applicant_json="{}"), metadata=agent
        )
    )
    assert error.code is grpc.StatusCode.PERMISSION_DENIED
    auditor = auth(env.token(Role.AUDITOR, institution))
    seen = await env.stub.GetScorecard(
        scoring_pb2.GetScorecardRequest(scorecard_id=created.id), metadata=auditor
    )
    assert seen.scorecard.id == created.id
    error = await refused(
        env.stub.PublishScorecard(
            scoring_pb2.PublishScorecardRequest(scorecard_id=created.id), metadata=auditor
        )
    )
    assert error.code is grpc.StatusCode.PERMISSION_DENIED
    error = await refused(
        env.stub.GetScorecard(scoring_pb2.GetScorecardRequest(scorecard_id=created.id))
    )
    assert error.code is grpc.StatusCode.UNAUTHENTICATED
    error = await refused(
        env.stub.GetScorecard(
            scoring_pb2.GetScorecardRequest(scorecard_id=created.id),
            metadata=auth("not-a-token"),
        )
    )
    assert error.code is grpc.StatusCode.UNAUTHENTICATED
