"""scoring_service over real gRPC: publishing, scoring with the published version,
republishing, retiring, and the races between publications and drafts."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import grpc
import pytest

from kopa.scoring.v1 import scoring_pb2
from shared.permissions import Role
from shared.rpc_errors import details_of
from tests.support.rpc import fails as refused
from tests.support.rpc import md as auth
from tests.support.scoring_env import APPLICANT, RULES, Env, card, new_institution
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration


# --- life cycle and scoring ---------------------------------------------------------------------


async def test_publish_empty_and_score_without_published_are_failed_precondition(
    env: Env,
) -> None:
    institution = new_institution()
    officer = auth(env.token(Role.RISK_OFFICER, institution))
    empty = (
        await env.stub.CreateScorecard(
            scoring_pb2.CreateScorecardRequest(scorecard=card([])), metadata=officer
        )
    ).scorecard
    error = await refused(
        env.stub.PublishScorecard(
            scoring_pb2.PublishScorecardRequest(scorecard_id=empty.id), metadata=officer
        )
    )
    assert (error.code, error.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "SCORECARD_EMPTY")
    error = await refused(
        env.stub.Score(
            scoring_pb2.ScoreRequest(subject_id="loan_x", applicant_json="{}"), metadata=officer
        )
    )
    assert (error.code, error.reason) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        "NO_PUBLISHED_VERSION",
    )
    error = await refused(
        env.stub.RetireScorecard(
            scoring_pb2.RetireScorecardRequest(scorecard_id=empty.id), metadata=officer
        )
    )
    assert (error.reason, error.metadata) == ("ILLEGAL_TRANSITION", {"state": "draft"})
    error = await refused(
        env.stub.Score(
            scoring_pb2.ScoreRequest(subject_id="loan_x", applicant_json="[1]"), metadata=officer
        )
    )
    assert error.code is grpc.StatusCode.INVALID_ARGUMENT
    assert error.field_errors == [("applicant_json", "must be a JSON object")]


async def test_publish_score_republish_and_reproduce(env: Env) -> None:
    institution = new_institution()
    officer = auth(env.token(Role.RISK_OFFICER, institution))
    v1 = (
        await env.stub.CreateScorecard(
            scoring_pb2.CreateScorecardRequest(scorecard=card(RULES)), metadata=officer
        )
    ).scorecard
    published = (
        await env.stub.PublishScorecard(
            scoring_pb2.PublishScorecardRequest(scorecard_id=v1.id), metadata=officer
        )
    ).scorecard
    assert (published.state, published.version) == ("published", 1)
    assert published.HasField("publish_time")
    error = await refused(
        env.stub.PublishScorecard(
            scoring_pb2.PublishScorecardRequest(scorecard_id=v1.id), metadata=officer
        )
    )
    assert (error.reason, error.metadata) == ("ILLEGAL_TRANSITION", {"state": "published"})

    # A branch manager scores a loan application (loans:score).
    manager = auth(env.token(Role.BRANCH_MANAGER, institution, "br_1"))
    reply = await env.stub.Score(
        scoring_pb2.ScoreRequest(subject_id="loan_1", applicant_json=json.dumps(APPLICANT)),
        metadata=manager,
    )
    # 500 + 80 (income 600 >= 500) + 40 (180 / 600 = 0.3 <= 0.3) + 30 (group of 6) = 650: A
    assert (reply.score, reply.band) == (650, "A")
    assert (reply.scorecard_id, reply.scorecard_version) == (v1.id, 1)
    assert [(c.rule, c.points, c.matched, c.note) for c in reply.contributions] == [
        ("income", 80, True, "matched"),
        ("late", 0, False, "not matched"),
        ("affordable", 40, True, "matched"),
        ("group", 30, True, "matched"),
        ("written off", 0, False, "not matched"),
    ]
    first_record = await env.repo.get_score(reply.score_id)
    stored_v1 = await env.repo.get_version(v1.id)
    assert first_record is not None and stored_v1 is not None
    assert first_record["fingerprint"] == stored_v1["fingerprint"]
    assert first_record["applicant_json"] == json.dumps(APPLICANT)

    # Missing data skips a rule and says why.
    sparse = await env.stub.Score(
        scoring_pb2.ScoreRequest(subject_id="loan_2", applicant_json='{"history": {}}'),
        metadata=manager,
    )
    assert (sparse.score, sparse.band) == (500, "C")
    assert sparse.contributions[0].note == "skipped: borrower.monthly_income missing"

    # The next version of the same scorecard; publishing it retires version 1.
    stricter = [dict(r) for r in RULES]
    stricter[0]["points"] = 20
    v2 = (
        await env.stub.CreateScorecard(
            scoring_pb2.CreateScorecardRequest(
                scorecard=card(stricter, key=v1.scorecard_key, name="Retail 2026")
            ),
            metadata=officer,
        )
    ).scorecard
    assert (v2.scorecard_key, v2.version, v2.state) == (v1.scorecard_key, 2, "draft")
    await env.stub.PublishScorecard(
        scoring_pb2.PublishScorecardRequest(scorecard_id=v2.id), metadata=officer
    )
    old = (
        await env.stub.GetScorecard(
            scoring_pb2.GetScorecardRequest(scorecard_id=v1.id), metadata=officer
        )
    ).scorecard
    assert old.state == "retired"
    again = await env.stub.Score(
        scoring_pb2.ScoreRequest(subject_id="loan_1", applicant_json=json.dumps(APPLICANT)),
        metadata=manager,
    )
    assert (again.score, again.band, again.scorecard_id) == (590, "B", v2.id)
    assert again.score_id != reply.score_id  # history kept

    # The first decision is reproducible from what was stored, though v1 is retired.
    result = await env.handlers.reproduce_score(first_record)
    assert (result.score, result.band.value, result.version) == (650, "A", 1)
    assert [c._asdict() for c in result.contributions] == first_record["contributions"]

    # Listing pages through the institution's versions.
    page = await env.stub.ListScorecards(
        scoring_pb2.ListScorecardsRequest(page_size=1), metadata=officer
    )
    assert [s.id for s in page.scorecards] == [v1.id] and page.next_page_token
    rest = await env.stub.ListScorecards(
        scoring_pb2.ListScorecardsRequest(page_size=10, page_token=page.next_page_token),
        metadata=officer,
    )
    assert [(s.id, s.state) for s in rest.scorecards] == [(v2.id, "published")]
    assert not rest.next_page_token

    # Events went out through the outbox: created x2, published x2, retired x1.
    async def all_events() -> bool:
        mine = [e for e in env.events if e.meta.institution_id == institution]
        return len(mine) >= 5

    await wait_until(all_events)
    mine = [
        (e.meta.event_type, e.scorecard.id, e.meta.aggregate_version, e.scorecard.state)
        for e in env.events
        if e.meta.institution_id == institution
    ]
    assert sorted(mine) == sorted(
        [
            ("scorecard.created", v1.id, 1, "draft"),
            ("scorecard.published", v1.id, 2, "published"),
            ("scorecard.created", v2.id, 1, "draft"),
            ("scorecard.published", v2.id, 2, "published"),
            ("scorecard.retired", v1.id, 3, "retired"),
        ]
    )


async def test_the_most_recently_published_version_scores_and_retiring_falls_back(
    env: Env,
) -> None:
    institution = new_institution()
    officer = auth(env.token(Role.RISK_OFFICER, institution))

    async def publish(rules: list[dict[str, Any]], key: str = "") -> scoring_pb2.Scorecard:
        created = await env.stub.CreateScorecard(
            scoring_pb2.CreateScorecardRequest(scorecard=card(rules, key=key)), metadata=officer
        )
        reply = await env.stub.PublishScorecard(
            scoring_pb2.PublishScorecardRequest(scorecard_id=created.scorecard.id),
            metadata=officer,
        )
        return reply.scorecard

    async def score() -> scoring_pb2.ScoreResponse:
        return await env.stub.Score(
            scoring_pb2.ScoreRequest(subject_id="loan_9", applicant_json="{}"), metadata=officer
        )

    retail = await publish([{"name": "base", "when": "true", "points": 100}])
    group = await publish([{"name": "base", "when": "true", "points": 200}])
    assert retail.scorecard_key != group.scorecard_key
    assert (await score()).scorecard_id == group.id  # the latest publication wins
    await env.stub.RetireScorecard(
        scoring_pb2.RetireScorecardRequest(scorecard_id=group.id), metadata=officer
    )
    fallback = await score()
    assert (fallback.scorecard_id, fallback.score) == (retail.id, 600)
    await env.stub.RetireScorecard(
        scoring_pb2.RetireScorecardRequest(scorecard_id=retail.id), metadata=officer
    )
    error = await refused(score())
    assert error.reason == "NO_PUBLISHED_VERSION"


async def test_racing_publications_leave_one_published_version(env: Env) -> None:
    institution = new_institution()
    officer = auth(env.token(Role.RISK_OFFICER, institution))
    first = (
        await env.stub.CreateScorecard(
            scoring_pb2.CreateScorecardRequest(scorecard=card(RULES)), metadata=officer
        )
    ).scorecard
    await env.stub.PublishScorecard(
        scoring_pb2.PublishScorecardRequest(scorecard_id=first.id), metadata=officer
    )
    drafts = [
        (
            await env.stub.CreateScorecard(
                scoring_pb2.CreateScorecardRequest(
                    scorecard=card(RULES, key=first.scorecard_key, base=400 + n)
                ),
                metadata=officer,
            )
        ).scorecard
        for n in range(4)
    ]
    assert sorted(d.version for d in drafts) == [2, 3, 4, 5]
    # Four versions published at once, the first of them twice (a double click: the second
    # click either joins the first or, if it comes late enough, finds it published).
    outcomes = await asyncio.gather(
        *(
            env.stub.PublishScorecard(
                scoring_pb2.PublishScorecardRequest(scorecard_id=d.id), metadata=officer
            )
            for d in [drafts[0], *drafts]
        ),
        return_exceptions=True,
    )
    failures = [details_of(o) for o in outcomes if isinstance(o, grpc.aio.AioRpcError)]
    assert all(
        isinstance(o, grpc.aio.AioRpcError | scoring_pb2.PublishScorecardResponse) for o in outcomes
    )
    assert len(failures) <= 1 and all(f.reason == "ILLEGAL_TRANSITION" for f in failures)
    views = await env.handlers._views(await env.repo.versions_of(first.scorecard_key))
    states = {v["_id"]: v["state"] for v in views}
    published = [vid for vid, state in states.items() if state == "published"]
    assert len(published) == 1, states
    assert sorted(states.values()) == ["published"] + ["retired"] * 4
    seqs = [v["publish_seq"] for v in views]
    assert len(set(seqs)) == 5  # every publication has its own place in the order
    newest = max(views, key=lambda v: v["publish_seq"])
    assert newest["_id"] == published[0]
    active = await env.repo.latest_pointer(institution)
    assert active is not None and active["version_id"] == published[0]
    reply = await env.stub.Score(
        scoring_pb2.ScoreRequest(subject_id="loan_r", applicant_json="{}"), metadata=officer
    )
    assert reply.scorecard_id == published[0]

    # Each version was published (and retired) exactly once: one event each.
    async def all_events() -> bool:
        mine = [e for e in env.events if e.meta.institution_id == institution]
        return len(mine) >= 5 + 5 + 4

    await wait_until(all_events)
    await asyncio.sleep(0.3)
    mine = [
        (e.meta.event_type, e.scorecard.id)
        for e in env.events
        if e.meta.institution_id == institution
    ]
    assert len(mine) == len(set(mine)) == 14


async def test_racing_drafts_get_consecutive_numbers(env: Env) -> None:
    officer = auth(env.token(Role.RISK_OFFICER, new_institution()))
    first = (
        await env.stub.CreateScorecard(
            scoring_pb2.CreateScorecardRequest(scorecard=card(RULES)), metadata=officer
        )
    ).scorecard
    replies = await asyncio.gather(
        *(
            env.stub.CreateScorecard(
                scoring_pb2.CreateScorecardRequest(
                    scorecard=card(RULES, key=first.scorecard_key, base=300 + n)
                ),
                metadata=officer,
            )
            for n in range(6)
        )
    )
    assert sorted(r.scorecard.version for r in replies) == [2, 3, 4, 5, 6, 7]


async def test_a_publication_cut_short_is_finished_by_the_next_reader(env: Env) -> None:
    institution = new_institution()
    officer = auth(env.token(Role.RISK_OFFICER, institution))
    draft = (
        await env.stub.CreateScorecard(
            scoring_pb2.CreateScorecardRequest(scorecard=card(RULES)), metadata=officer
        )
    ).scorecard
    # The process died right after the compare-and-set that commits the publication.
    assert await env.repo.insert_pointer(institution, 1, {"version_id": draft.id, "number": 1})
    reply = await env.stub.Score(
        scoring_pb2.ScoreRequest(subject_id="loan_c", applicant_json=json.dumps(APPLICANT)),
        metadata=officer,
    )
    assert (reply.scorecard_id, reply.score) == (draft.id, 650)
    doc = await env.repo.get_version(draft.id)
    assert doc is not None
    version = await env.handlers._view(doc)
    assert (version["state"], version["publish_seq"]) == ("published", 1)
