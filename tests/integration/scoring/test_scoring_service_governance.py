"""scoring_service over real gRPC: what-if runs on a hand-made set of applicants, and the
governance report once loan outcomes came in as events."""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from kopa.common.v1 import common_pb2
from kopa.loan.v1 import events_pb2 as loan_events_pb2
from kopa.loan.v1 import loan_pb2
from kopa.scoring.v1 import scoring_pb2
from scoring_service.entrypoints.events import loan_event_handler
from shared import loan_events
from shared.permissions import Role
from tests.support.rpc import fails as refused
from tests.support.rpc import md as auth
from tests.support.scoring_env import Env, card, new_institution
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration


def loan_event(
    key: str,
    loan_id: str,
    institution: str,
    status: int,
    dpd: int,
    version: int,
) -> bytes:
    now = Timestamp()
    now.FromDatetime(datetime.now(UTC))
    return loan_events.MESSAGES[key](
        meta=common_pb2.EventMeta(
            event_id=f"evt_{secrets.token_hex(8)}",
            event_type=key,
            institution_id=institution,
            aggregate_id=loan_id,
            aggregate_version=version,
            occurred_at=now,
        ),
        loan=loan_events_pb2.LoanPosition(
            loan_id=loan_id,
            institution_id=institution,
            status=status,  # type: ignore[arg-type]
            days_past_due=dpd,
        ),
    ).SerializeToString()


# --- what-if and governance ------------------------------------------------------------------

V1_RULES = [
    {"name": "income", "when": "borrower.monthly_income >= 500", "points": 100},
    {"name": "late", "when": "history.max_days_past_due > 30", "points": -200},
]
V2_RULES = [
    {"name": "income", "when": "borrower.monthly_income >= 500", "points": 50},
    {"name": "group", "when": "group.is_member", "points": 100},
    {"name": "late", "when": "history.max_days_past_due > 30", "points": -200},
]


def applicant(income: int, dpd: int, member: bool) -> str:
    return json.dumps(
        {
            "borrower": {"monthly_income": income},
            "history": {"max_days_past_due": dpd},
            "group": {"is_member": member},
        }
    )


async def test_what_if_on_a_hand_made_set(env: Env) -> None:
    institution = new_institution()
    officer = auth(env.token(Role.RISK_OFFICER, institution))
    v1 = (
        await env.stub.CreateScorecard(
            scoring_pb2.CreateScorecardRequest(scorecard=card(V1_RULES)), metadata=officer
        )
    ).scorecard
    v2 = (
        await env.stub.CreateScorecard(
            scoring_pb2.CreateScorecardRequest(scorecard=card(V2_RULES, key=v1.scorecard_key)),
            metadata=officer,
        )
    ).scorecard
    # Nothing published, nothing scored: only the proposal, over no applications.
    empty = await env.stub.WhatIf(
        scoring_pb2.WhatIfRequest(scorecard_id=v2.id, approval_band="B"), metadata=officer
    )
    assert (empty.applications, list(empty.current), empty.current_approval_rate) == (0, [], "")
    await env.stub.PublishScorecard(
        scoring_pb2.PublishScorecardRequest(scorecard_id=v1.id), metadata=officer
    )
    for subject, text in [
        ("loan_s1", applicant(600, 0, False)),  # v1 600 B   v2 550 B
        ("loan_s2", applicant(400, 0, True)),  # v1 500 C   v2 600 B
        ("loan_s3", applicant(600, 40, True)),  # v1 400 D   v2 450 C
        ("loan_s4", applicant(300, 0, True)),  # superseded by the re-score below
        ("loan_s4", applicant(700, 0, True)),  # v1 600 B   v2 650 A
    ]:
        await env.stub.Score(
            scoring_pb2.ScoreRequest(subject_id=subject, applicant_json=text), metadata=officer
        )
    reply = await env.stub.WhatIf(
        scoring_pb2.WhatIfRequest(scorecard_id=v2.id, approval_band="B"), metadata=officer
    )
    assert reply.applications == 4
    assert [(b.band, b.count) for b in reply.current] == [
        ("AA", 0),
        ("A", 0),
        ("B", 2),
        ("C", 1),
        ("D", 1),
    ]
    assert [(b.band, b.count) for b in reply.proposed] == [
        ("AA", 0),
        ("A", 1),
        ("B", 2),
        ("C", 1),
        ("D", 0),
    ]
    assert (reply.current_approval_rate, reply.proposed_approval_rate) == ("0.5000", "0.7500")
    # Approving down to C: v1 3 of 4, v2 all 4.
    at_c = await env.stub.WhatIf(
        scoring_pb2.WhatIfRequest(scorecard_id=v2.id, approval_band="c"), metadata=officer
    )
    assert (at_c.current_approval_rate, at_c.proposed_approval_rate) == ("0.7500", "1.0000")
    error = await refused(
        env.stub.WhatIf(
            scoring_pb2.WhatIfRequest(scorecard_id=v2.id, approval_band="E"), metadata=officer
        )
    )
    assert error.field_errors and error.field_errors[0][0] == "approval_band"
    error = await refused(
        env.stub.WhatIf(scoring_pb2.WhatIfRequest(scorecard_id=v1.id), metadata=officer)
    )
    assert (error.code, error.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "WHATIF_INVALID")


async def test_governance_report_after_loan_outcomes(env: Env) -> None:
    institution = new_institution()
    officer = auth(env.token(Role.RISK_OFFICER, institution))
    v1 = (
        await env.stub.CreateScorecard(
            scoring_pb2.CreateScorecardRequest(scorecard=card(V1_RULES)), metadata=officer
        )
    ).scorecard
    await env.stub.PublishScorecard(
        scoring_pb2.PublishScorecardRequest(scorecard_id=v1.id), metadata=officer
    )
    loans = {  # subject: (applicant, expected band under v1)
        "g1": (applicant(600, 0, False), "B"),  # closed, never late: good
        "g2": (applicant(600, 0, False), "B"),  # written off: default
        "g3": (applicant(400, 0, False), "C"),  # closed after 95 days late: default
        "g4": (applicant(400, 0, False), "C"),  # active, 120 days late: not matured
        "g5": (applicant(600, 40, False), "D"),  # no events yet
    }
    ids = {name: f"loan_{name}_{secrets.token_hex(4)}" for name in loans}
    for name, (text, band) in loans.items():
        reply = await env.stub.Score(
            scoring_pb2.ScoreRequest(subject_id=ids[name], applicant_json=text), metadata=officer
        )
        assert reply.band == band
    # g1 scored twice with the same version: still one application.
    await env.stub.Score(
        scoring_pb2.ScoreRequest(subject_id=ids["g1"], applicant_json=loans["g1"][0]),
        metadata=officer,
    )

    handle = loan_event_handler(env.handlers)
    S = loan_pb2.LoanStatus
    feed = [
        ("loan.repayment_applied", "g1", S.LOAN_STATUS_ACTIVE, 3, 2),
        ("loan.closed", "g1", S.LOAN_STATUS_CLOSED, 0, 3),
        ("loan.written_off", "g2", S.LOAN_STATUS_WRITTEN_OFF, 200, 5),
        ("loan.reclassified", "g3", S.LOAN_STATUS_ACTIVE, 95, 4),
        ("loan.closed", "g3", S.LOAN_STATUS_CLOSED, 0, 6),
        ("loan.reclassified", "g4", S.LOAN_STATUS_ACTIVE, 120, 4),
    ]
    for key, name, status, dpd, version in feed:
        body = loan_event(key, ids[name], institution, status, dpd, version)
        await handle(key, body, {})
        await handle(key, body, {})  # a redelivery changes nothing
    # An older event arriving late changes neither status nor the worst DPD.
    stale = loan_event("loan.repayment_applied", ids["g1"], institution, S.LOAN_STATUS_ACTIVE, 1, 1)
    await handle("loan.repayment_applied", stale, {})
    assert await env.db["loan_outcomes"].count_documents({"loan_id": ids["g1"]}) == 3
    outcome = (await env.handlers.outcomes(institution, [ids["g1"]]))[ids["g1"]]
    assert (outcome["status"], outcome["max_days_past_due"], outcome["loan_version"]) == (
        "closed",
        3,
        3,
    )

    # Repayments that change neither status nor days past due add no snapshot; one that does,
    # does, and the outcome follows it.
    steady = f"loan_steady_{secrets.token_hex(4)}"
    for version, dpd in ((2, 0), (3, 0), (4, 0), (5, 7), (6, 7)):
        body = loan_event(
            "loan.repayment_applied", steady, institution, S.LOAN_STATUS_ACTIVE, dpd, version
        )
        await handle("loan.repayment_applied", body, {})
    assert await env.db["loan_outcomes"].count_documents({"loan_id": steady}) == 2
    held = (await env.handlers.outcomes(institution, [steady]))[steady]
    assert (held["days_past_due"], held["max_days_past_due"]) == (7, 7)

    # The same path through the broker: the service's own consumer records g5's write-off.
    entry = {
        "id": f"evt_{secrets.token_hex(8)}",
        "routing_key": "loan.written_off",
        "type": "kopa.loan.v1.LoanWrittenOff",
        "body": loan_event(
            "loan.written_off", ids["g5"], institution, S.LOAN_STATUS_WRITTEN_OFF, 181, 9
        ),
        "headers": {},
    }
    await env.publisher.publish(entry)

    async def g5_recorded() -> bool:
        return bool(await env.handlers.outcomes(institution, [ids["g5"]]))

    await wait_until(g5_recorded)

    auditor = auth(env.token(Role.AUDITOR, institution))
    report = await env.stub.GetGovernanceReport(
        scoring_pb2.GetGovernanceReportRequest(scorecard_id=v1.id), metadata=auditor
    )
    assert report.applications_scored == 5
    assert [(b.band, b.scored, b.matured, b.defaulted, b.default_rate) for b in report.bands] == [
        ("AA", 0, 0, 0, ""),
        ("A", 0, 0, 0, ""),
        ("B", 2, 2, 1, "0.5000"),
        ("C", 2, 1, 1, "1.0000"),
        ("D", 1, 1, 1, "1.0000"),
    ]

    # What-if replays the same outcomes: good, bad, bad, unknown (still running), bad.
    applications = await env.handlers.past_applications(institution)
    assert sorted(str(a.outcome) for a in applications) == ["None", "bad", "bad", "bad", "good"]
