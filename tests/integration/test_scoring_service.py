"""scoring_service over gRPC against real MongoDB-wire, RabbitMQ and Redis servers.

The servicer runs in-process on port 0 behind the shared server builder, wired by the
service's own `bootstrap.setup`; callers authenticate with real EdDSA access tokens verified
against a local JWKS (and Redis for revocation), exactly as in production.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aio_pika
import grpc
import pytest
import redis.asyncio as aioredis
from google.protobuf.timestamp_pb2 import Timestamp

from kopa.common.v1 import common_pb2
from kopa.loan.v1 import events_pb2 as loan_events_pb2
from kopa.loan.v1 import loan_pb2
from kopa.scoring.v1 import events_pb2, scoring_pb2, scoring_pb2_grpc
from scoring_service.adapters.repository import Repository
from scoring_service.bootstrap import Settings, setup
from scoring_service.entrypoints.events import loan_event_handler
from scoring_service.service_layer.handlers import ScoringHandlers
from shared.auth import TokenAuthenticator
from shared.events import EventConsumer, EventPublisher
from shared.grpc_server import build_server
from shared.mongo import connect
from shared.permissions import Principal, Role
from shared.rpc_errors import RpcErrorDetails, details_of
from shared.service import Runtime
from shared.tokens import KeySet, issue_access_token

pytestmark = pytest.mark.integration

CUTOFFS = [
    {"band": "AA", "min_score": 800},
    {"band": "A", "min_score": 650},
    {"band": "B", "min_score": 550},
    {"band": "C", "min_score": 450},
]
RULES: list[dict[str, Any]] = [
    {"name": "income", "when": "borrower.monthly_income >= 500", "points": 80},
    {"name": "late", "when": "history.max_days_past_due > 30", "points": -150},
    {
        "name": "affordable",
        "when": "loan.installment_amount / borrower.monthly_income <= 0.3",
        "points": 40,
    },
    {"name": "group", "when": "group.is_member and group.size >= 5", "points": 30},
    {"name": "written off", "when": "history.loans_written_off > 0", "points": -400},
]
APPLICANT = {
    "borrower": {"monthly_income": 600.00},
    "loan": {"installment_amount": "180"},
    "history": {"max_days_past_due": 0, "loans_written_off": 0},
    "group": {"is_member": True, "size": 6},
}


@dataclass
class Env:
    stub: scoring_pb2_grpc.ScoringServiceStub
    keyset: KeySet
    db: Any
    repo: Repository
    handlers: ScoringHandlers
    publisher: EventPublisher
    events: list[events_pb2.ScorecardEvent] = field(default_factory=list)

    def token(self, role: Role, institution: str | None, branch: str | None = None) -> str:
        principal = Principal(
            user_id=f"usr_{secrets.token_hex(4)}",
            role=role,
            institution_id=institution,
            branch_id=branch,
            session_id=f"ses_{secrets.token_hex(4)}",
        )
        return issue_access_token(self.keyset, principal).token


def auth(token: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {token}"),)


async def refused(call: Any) -> RpcErrorDetails:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    return details_of(caught.value)


async def wait_until(predicate: Callable[[], Any], limit: float = 15.0) -> None:
    deadline = asyncio.get_running_loop().time() + limit
    while not await predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


def new_institution() -> str:
    return f"inst_{secrets.token_hex(6)}"


def card(
    rules: list[dict[str, Any]],
    *,
    name: str = "Retail",
    key: str = "",
    base: int = 500,
    cutoffs: list[dict[str, Any]] | None = None,
) -> scoring_pb2.Scorecard:
    return scoring_pb2.Scorecard(
        name=name,
        scorecard_key=key,
        base_score=base,
        rules=[scoring_pb2.Rule(**r) for r in rules],
        cutoffs=[scoring_pb2.Cutoff(**c) for c in (CUTOFFS if cutoffs is None else cutoffs)],
    )


@pytest.fixture(scope="module")
async def env(server_urls: dict[str, str]) -> AsyncIterator[Env]:
    namespace = f"it{secrets.token_hex(4)}"
    settings = Settings.model_validate(
        {
            "kopa_namespace": namespace,
            "mongodb_url": server_urls["MONGODB_URL"],
            "amqp_url": server_urls["AMQP_URL"],
            "redis_url": server_urls["REDIS_URL"],
        }
    )
    mongo, db = connect(settings.mongodb_url, settings.mongodb_database, app_name="it-scoring")
    watch_db = mongo[f"{namespace}_watch"]
    redis = aioredis.from_url(settings.redis_url, decode_responses=True)
    keyset = KeySet.generate()

    async def local_jwks() -> dict[str, Any]:
        return keyset.jwks()

    authenticate = TokenAuthenticator(local_jwks, redis)
    publisher = EventPublisher(settings.amqp_url, "scoring", namespace)
    await publisher.connect()
    runtime = Runtime(
        settings,
        "scoring",
        mongo=mongo,
        db=db,
        redis=redis,
        publisher=publisher,
        authenticate=authenticate,
    )
    register = await setup(runtime)
    assert runtime.relay is not None
    await runtime.relay.ensure_indexes()
    runtime.relay.start()
    for consumer in runtime.consumers:
        await consumer.start()

    events: list[events_pb2.ScorecardEvent] = []

    async def watch(key: str, body: bytes, headers: dict[str, Any]) -> None:
        events.append(events_pb2.ScorecardEvent.FromString(body))

    watcher = EventConsumer(
        settings.amqp_url,
        watch_db,
        f"{namespace}.watch",
        ["scorecard.*"],
        watch,
        namespace=namespace,
    )
    await watcher.start()
    server, port, _ = build_server(register, port=0, authenticate=authenticate)
    await server.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    repo = Repository(db)
    try:
        yield Env(
            stub=scoring_pb2_grpc.ScoringServiceStub(channel),
            keyset=keyset,
            db=db,
            repo=repo,
            handlers=ScoringHandlers(repo, lambda collection, doc_id: None),
            publisher=publisher,
            events=events,
        )
    finally:
        await channel.close()
        await server.stop(0)
        await watcher.stop()
        await mongo.drop_database(settings.mongodb_database)
        await mongo.drop_database(watch_db.name)
        with contextlib.suppress(Exception):
            connection = await aio_pika.connect(settings.amqp_url)
            async with connection:
                channel_ = await connection.channel()
                for queue in ("scoring", "watch"):
                    for name in (f"{namespace}.{queue}", f"{namespace}.{queue}.dlq"):
                        await channel_.queue_delete(name)
                await channel_.exchange_delete(f"{namespace}.events")
                await channel_.exchange_delete(f"{namespace}.events.dlx")
        await runtime.close()  # consumers, relay, publisher, redis, mongo


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
    return loan_events_pb2.LoanEvent(
        meta=common_pb2.EventMeta(
            event_id=f"evt_{secrets.token_hex(8)}",
            event_type=key,
            institution_id=institution,
            aggregate_id=loan_id,
            aggregate_version=version,
            occurred_at=now,
        ),
        loan=loan_pb2.Loan(
            id=loan_id,
            institution_id=institution,
            status=status,  # type: ignore[arg-type]
            days_past_due=dpd,
            version=version,
        ),
    ).SerializeToString()


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
    # An older snapshot arriving late changes neither status nor the worst DPD.
    stale = loan_event("loan.repayment_applied", ids["g1"], institution, S.LOAN_STATUS_ACTIVE, 1, 1)
    await handle("loan.repayment_applied", stale, {})
    assert await env.db["loan_outcomes"].count_documents({"loan_id": ids["g1"]}) == 3
    outcome = (await env.handlers.outcomes(institution, [ids["g1"]]))[ids["g1"]]
    assert (outcome["status"], outcome["max_days_past_due"], outcome["loan_version"]) == (
        "closed",
        3,
        3,
    )

    # The same path through the broker: the service's own consumer records g5's write-off.
    entry = {
        "id": f"evt_{secrets.token_hex(8)}",
        "routing_key": "loan.written_off",
        "type": "kopa.loan.v1.LoanEvent",
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
