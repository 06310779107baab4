"""loan_service for the integration tests, against real servers (MongoDB wire, Redis,
RabbitMQ), over real gRPC.

loan_service runs in-process, wired by its own `bootstrap.setup` on a connected `Runtime`
(repository, outbox relay, close of business), served by `shared.grpc_server.build_server`
on port 0 in a namespace of its own. Its peers user_service and scoring_service are FAKE
servicers, in-process and over real gRPC (peers stood in for, not servers mocked). Every call
carries a real EdDSA access token that both servers verify. Events are observed the way a
consumer sees them: published by the relay to RabbitMQ, read from a queue bound to `loan.*`
and `close_of_business.*`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import grpc
from google.protobuf.message import Message
from pymongo import AsyncMongoClient

from kopa.loan.v1 import loan_pb2, loan_pb2_grpc
from kopa.loan.v2 import loans_pb2_grpc, repayments_pb2_grpc
from kopa.scoring.v2 import scoring_pb2, scoring_pb2_grpc
from kopa.user.v1 import user_pb2, user_pb2_grpc
from kopa.user.v2 import user_pb2 as user_v2
from kopa.user.v2 import user_pb2_grpc as user_v2_grpc
from loan_service.bootstrap import Settings, setup
from shared import context, loan_events
from shared.dates import to_proto_date
from shared.errors import NotFound
from shared.grpc_server import build_server
from shared.ids import new_id
from shared.loan_events import LoanEventMessage
from shared.money import to_money
from shared.permissions import Principal, Role
from shared.service import Runtime
from shared.tokens import KeySet, decode_access_token, issue_access_token
from tests.support.broker import observing, remove_broker_namespace

D = Decimal
TODAY = datetime.now(UTC).date()


# --- the fake peers ---------------------------------------------------------------------------


class FakeUserService(user_pb2_grpc.UserServiceServicer):
    """Institutions, borrowers and groups, scoped like user_service: another institution's
    (or, for agents and branch managers, another branch's) borrower is NOT_FOUND."""

    def __init__(self) -> None:
        self.currencies: dict[str, str] = {}
        self.borrowers: dict[str, user_pb2.Borrower] = {}
        self.groups: dict[str, user_pb2.Group] = {}

    async def GetInstitution(self, request: Any, context_: Any) -> user_pb2.GetInstitutionResponse:
        p = context.principal()
        currency = self.currencies.get(request.institution_id)
        if currency is None or not p.can_access(request.institution_id):
            raise NotFound("institution not found")
        return user_pb2.GetInstitutionResponse(
            institution=user_pb2.Institution(
                id=request.institution_id, name="MFI", currency=currency
            )
        )

    async def GetBorrower(self, request: Any, context_: Any) -> user_pb2.GetBorrowerResponse:
        p = context.principal()
        b = self.borrowers.get(request.borrower_id)
        if b is None or not p.can_access(b.institution_id, b.branch_id):
            raise NotFound(f"borrower {request.borrower_id} not found")
        return user_pb2.GetBorrowerResponse(borrower=b)

    async def BatchGetBorrowers(
        self, request: Any, context_: Any
    ) -> user_pb2.BatchGetBorrowersResponse:
        p = context.principal()
        found = [
            b
            for i in request.borrower_ids
            if (b := self.borrowers.get(i)) is not None
            and p.can_access(b.institution_id, b.branch_id)
        ]
        groups = {b.group_id for b in found if b.group_id}
        return user_pb2.BatchGetBorrowersResponse(
            borrowers=found, groups=[self.groups[g] for g in sorted(groups)]
        )

    async def GetGroup(self, request: Any, context_: Any) -> user_pb2.GetGroupResponse:
        g = self.groups.get(request.group_id)
        if g is None:
            raise NotFound("group not found")
        return user_pb2.GetGroupResponse(group=g)


class FakeUserServiceV2(user_v2_grpc.UserServiceServicer):
    """kopa.user.v2's view of a `FakeUserService` (what loan_service reads): its borrowers
    with their birth date, income (in the institution's currency) and gender typed."""

    def __init__(self, v1: FakeUserService) -> None:
        self.v1 = v1

    def typed(self, b: user_pb2.Borrower) -> user_v2.Borrower:
        # Every other field has the same number and type in both versions.
        rest = user_pb2.Borrower()
        rest.CopyFrom(b)
        for name in ("date_of_birth", "gender", "monthly_income"):
            rest.ClearField(name)
        out = user_v2.Borrower.FromString(rest.SerializeToString())
        if b.date_of_birth:
            out.date_of_birth.CopyFrom(to_proto_date(b.date_of_birth))
        if b.gender:
            out.gender = user_v2.Gender.Value(f"GENDER_{b.gender.upper()}")
        if b.monthly_income:
            currency = self.v1.currencies[b.institution_id]
            out.monthly_income.CopyFrom(to_money(D(b.monthly_income), currency))
        return out

    async def GetInstitution(self, request: Any, context_: Any) -> user_v2.GetInstitutionResponse:
        reply = await self.v1.GetInstitution(request, context_)
        return user_v2.GetInstitutionResponse(institution=reply.institution)

    async def GetBorrower(self, request: Any, context_: Any) -> user_v2.GetBorrowerResponse:
        reply = await self.v1.GetBorrower(request, context_)
        return user_v2.GetBorrowerResponse(borrower=self.typed(reply.borrower))

    async def BatchGetBorrowers(
        self, request: Any, context_: Any
    ) -> user_v2.BatchGetBorrowersResponse:
        reply = await self.v1.BatchGetBorrowers(request, context_)
        return user_v2.BatchGetBorrowersResponse(
            borrowers=[self.typed(b) for b in reply.borrowers], groups=reply.groups
        )


class FakeScoringService(scoring_pb2_grpc.ScoringServiceServicer):
    """A one-rule scorecard: 600 + income / 100, band by cut-offs; keeps what it was sent."""

    def __init__(self) -> None:
        self.applicants: dict[str, dict[str, Any]] = {}

    async def Score(self, request: Any, context_: Any) -> scoring_pb2.ScoreResponse:
        applicant = json.loads(request.applicant_json)
        self.applicants[request.subject_id] = applicant
        income = D(applicant["borrower"]["monthly_income"] or "0")
        points = int(income / 100)
        score = 600 + points
        band = "A" if score >= 700 else "C"
        return scoring_pb2.ScoreResponse(
            score=score,
            band=band,
            scorecard_id="sc_test",
            scorecard_version=3,
            contributions=[scoring_pb2.Contribution(rule="income", points=points, matched=True)],
            score_id=new_id("score"),
        )


# --- the world ----------------------------------------------------------------------------------


@dataclass
class World:
    ns: str
    loans: loan_pb2_grpc.LoanServiceStub
    #: kopa.loan.v2's LoanService (typed) on the same server.
    v2: loans_pb2_grpc.LoanServiceStub
    #: kopa.loan.v2 (typed money path) on the same server.
    money: repayments_pb2_grpc.RepaymentServiceStub
    users: FakeUserService
    scoring: FakeScoringService
    keyset: KeySet
    db: Any
    #: The address of the fake peers (for another service of the test to call them too).
    peers: str
    events: list[tuple[str, LoanEventMessage]]
    #: The close of business's events (``close_of_business.*``), as consumed.
    job_events: list[tuple[str, Message]]
    tokens: dict[tuple[str, ...], str] = field(default_factory=dict)

    def who(
        self,
        role: Role,
        inst: str,
        branch: str | None = None,
        user: str = "",
    ) -> list[tuple[str, str]]:
        branch_id = branch if role in (Role.AGENT, Role.BRANCH_MANAGER) else None
        user_id = user or f"usr_{role.value}_{inst[-6:]}"
        key = (role.value, inst, branch_id or "", user_id)
        if key not in self.tokens:
            principal = Principal(user_id, role, inst, branch_id, new_id("ses"))
            self.tokens[key] = issue_access_token(self.keyset, principal).token
        return [("authorization", f"Bearer {self.tokens[key]}")]

    def events_of(self, loan_id: str) -> list[tuple[str, LoanEventMessage]]:
        return [(k, e) for k, e in self.events if e.meta.aggregate_id == loan_id]

    def events_of_job(self, job_id: str) -> list[tuple[str, Any]]:
        return [(k, e) for k, e in self.job_events if e.meta.aggregate_id == job_id]

    async def wait_for(self, loan_id: str, key: str, count: int = 1) -> list[Any]:
        for _ in range(300):
            found = [e for k, e in self.events_of(loan_id) if k == key]
            if len(found) >= count:
                return found
            await asyncio.sleep(0.05)
        raise AssertionError(
            f"{key} x{count} not published for {loan_id}: {[k for k, _ in self.events_of(loan_id)]}"
        )


@contextlib.asynccontextmanager
async def loan_world(server_urls: dict[str, str]) -> AsyncIterator[World]:
    """loan_service started as in production on the real servers, in a namespace of its own,
    with fake peers and an observer of its events; everything it made is removed after."""
    ns = f"it{secrets.token_hex(4)}"
    keyset = KeySet.generate()

    async def authenticate(token: str) -> Principal:
        return decode_access_token(token, keyset).principal

    users = FakeUserService()
    scoring = FakeScoringService()

    def register_peers(server: grpc.aio.Server) -> list[str]:
        user_pb2_grpc.add_UserServiceServicer_to_server(users, server)
        user_v2_grpc.add_UserServiceServicer_to_server(FakeUserServiceV2(users), server)
        scoring_pb2_grpc.add_ScoringServiceServicer_to_server(scoring, server)
        return [
            user_pb2.DESCRIPTOR.services_by_name["UserService"].full_name,
            user_v2.DESCRIPTOR.services_by_name["UserService"].full_name,
            scoring_pb2.DESCRIPTOR.services_by_name["ScoringService"].full_name,
        ]

    peers, peer_port, _ = build_server(register_peers, port=0, authenticate=authenticate)
    await peers.start()
    settings = Settings(
        mongodb_url=server_urls["MONGODB_URL"],
        redis_url=server_urls["REDIS_URL"],
        amqp_url=server_urls["AMQP_URL"],
        kopa_namespace=ns,
        kopa_env="test",
        user_service_addr=f"127.0.0.1:{peer_port}",
        scoring_service_addr=f"127.0.0.1:{peer_port}",
    )
    runtime = Runtime(settings, "loan")
    runtime.authenticate = authenticate
    await runtime.connect()
    register = await setup(runtime)
    assert runtime.relay is not None
    await runtime.relay.ensure_indexes()
    runtime.relay.start()
    server, port, _ = build_server(register, port=0, authenticate=authenticate)
    await server.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")

    events: list[tuple[str, LoanEventMessage]] = []
    job_events: list[tuple[str, Message]] = []

    async def observe(key: str, body: bytes, headers: dict[str, Any]) -> None:
        if (job_event := loan_events.decode_job(key, body)) is not None:
            job_events.append((key, job_event))
            return
        event = loan_events.decode(key, body)
        assert event is not None, f"{key}: no message for this routing key"
        events.append((key, event))

    bindings = ["loan.*", "close_of_business.*"]
    try:
        async with observing(server_urls["AMQP_URL"], ns, "observer", bindings, observe):
            yield World(
                ns=ns,
                loans=loan_pb2_grpc.LoanServiceStub(channel),
                v2=loans_pb2_grpc.LoanServiceStub(channel),
                money=repayments_pb2_grpc.RepaymentServiceStub(channel),
                users=users,
                scoring=scoring,
                keyset=keyset,
                db=runtime.db,
                peers=f"127.0.0.1:{peer_port}",
                events=events,
                job_events=job_events,
            )
    finally:
        await channel.close()
        await server.stop(None)
        await runtime.close()
        await peers.stop(None)
        await remove_broker_namespace(server_urls["AMQP_URL"], ns, ["observer"])
        async with AsyncMongoClient[Any](server_urls["MONGODB_URL"]) as mongo:
            await mongo.drop_database(settings.mongodb_database)


@dataclass
class Institution:
    """A fresh institution with two branches, one borrower in each, and its staff."""

    world: World
    id: str
    branch: str
    other_branch: str
    borrower: str
    other_borrower: str

    @property
    def admin(self) -> list[tuple[str, str]]:
        return self.world.who(Role.ADMIN, self.id)

    @property
    def agent(self) -> list[tuple[str, str]]:
        return self.world.who(Role.AGENT, self.id, self.branch)

    @property
    def manager(self) -> list[tuple[str, str]]:
        return self.world.who(Role.BRANCH_MANAGER, self.id, self.branch)


def institution(world: World, currency: str = "KES") -> Institution:
    inst, branch, other_branch = new_id("inst"), new_id("br"), new_id("br")
    world.users.currencies[inst] = currency
    borrowers = []
    for br in (branch, other_branch):
        b = user_pb2.Borrower(
            id=new_id("bor"),
            institution_id=inst,
            branch_id=br,
            first_name="Amina",
            last_name="Otieno",
            date_of_birth="1990-05-17",
            monthly_income="15000.00",
            household_size=4,
            gender="female",
            business_type="retail",
        )
        world.users.borrowers[b.id] = b
        borrowers.append(b.id)
    return Institution(world, inst, branch, other_branch, borrowers[0], borrowers[1])


def product_message(**changes: Any) -> loan_pb2.LoanProduct:
    fields: dict[str, Any] = {
        "name": "Biashara monthly",
        "interest_method": "declining_balance",
        "amortization": "equal_installments",
        "annual_interest_rate": "24",
        "repayment_frequency": "monthly",
        "min_principal": "1000.00",
        "max_principal": "5000000.00",
        "min_term": 3,
        "max_term": 24,
        "days_in_year": "360",
    }
    fields.update(changes)
    return loan_pb2.LoanProduct(**fields)


async def create_product(inst: Institution, **changes: Any) -> loan_pb2.LoanProduct:
    reply = await inst.world.loans.CreateLoanProduct(
        loan_pb2.CreateLoanProductRequest(product=product_message(**changes)), metadata=inst.admin
    )
    return reply.product


async def submitted(
    inst: Institution, product_id: str, principal: str = "12000.00", term: int = 6, **kw: Any
) -> loan_pb2.Loan:
    reply = await inst.world.loans.CreateLoan(
        loan_pb2.CreateLoanRequest(
            borrower_id=kw.pop("borrower_id", inst.borrower),
            product_id=product_id,
            principal=principal,
            term=term,
            purpose="working_capital",
            **kw,
        ),
        metadata=inst.agent,
    )
    return reply.loan


async def active(inst: Institution, product_id: str, disbursed: date, **kw: Any) -> loan_pb2.Loan:
    loan = await submitted(inst, product_id, **kw)
    await inst.world.loans.ApproveLoan(
        loan_pb2.ApproveLoanRequest(loan_id=loan.id), metadata=inst.manager
    )
    reply = await inst.world.loans.DisburseLoan(
        loan_pb2.DisburseLoanRequest(
            loan_id=loan.id, disbursement_date=disbursed.isoformat(), channel="mobile_money"
        ),
        metadata=inst.manager,
    )
    return reply.loan


async def get(inst: Institution, loan_id: str) -> loan_pb2.Loan:
    return (
        await inst.world.loans.GetLoan(
            loan_pb2.GetLoanRequest(loan_id=loan_id), metadata=inst.admin
        )
    ).loan
