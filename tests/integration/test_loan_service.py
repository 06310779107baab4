"""loan_service against real servers (MongoDB wire, Redis, RabbitMQ), over real gRPC.

loan_service runs in-process, wired by its own `bootstrap.setup` on a connected `Runtime`
(repository, outbox relay, close of business), served by `shared.grpc_server.build_server`
on port 0 in a namespace of its own. Its peers user_service and scoring_service are FAKE
servicers, in-process and over real gRPC (peers stood in for, not servers mocked). Every call
carries a real EdDSA access token that both servers verify. Events are observed the way a
consumer sees them: published by the relay to RabbitMQ, read from a queue bound to `loan.*`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import aio_pika
import grpc
import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from kopa.loan.v1 import events_pb2, loan_pb2, loan_pb2_grpc
from kopa.scoring.v1 import scoring_pb2, scoring_pb2_grpc
from kopa.user.v1 import user_pb2, user_pb2_grpc
from loan_service.adapters.repository import Repository
from loan_service.bootstrap import Settings, setup
from shared import context
from shared.errors import NotFound
from shared.events import EventConsumer
from shared.grpc_server import build_server
from shared.ids import new_id
from shared.permissions import Principal, Role
from shared.rpc_errors import RpcErrorDetails, details_of
from shared.service import Runtime
from shared.tokens import KeySet, decode_access_token, issue_access_token

pytestmark = pytest.mark.integration

Code = grpc.StatusCode
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
    users: FakeUserService
    scoring: FakeScoringService
    keyset: KeySet
    db: Any
    events: list[tuple[str, events_pb2.LoanEvent]]
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

    def events_of(self, loan_id: str) -> list[tuple[str, events_pb2.LoanEvent]]:
        return [(k, e) for k, e in self.events if e.meta.aggregate_id == loan_id]

    async def wait_for(self, loan_id: str, key: str, count: int = 1) -> list[events_pb2.LoanEvent]:
        for _ in range(300):
            found = [e for k, e in self.events_of(loan_id) if k == key]
            if len(found) >= count:
                return found
            await asyncio.sleep(0.05)
        raise AssertionError(
            f"{key} x{count} not published for {loan_id}: {[k for k, _ in self.events_of(loan_id)]}"
        )


@pytest.fixture(scope="module")
async def world(server_urls: dict[str, str]) -> AsyncIterator[World]:
    async with loan_world(server_urls) as started:
        yield started


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
        scoring_pb2_grpc.add_ScoringServiceServicer_to_server(scoring, server)
        return [
            user_pb2.DESCRIPTOR.services_by_name["UserService"].full_name,
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

    observer_client: AsyncMongoClient[Any] = AsyncMongoClient(server_urls["MONGODB_URL"])
    events: list[tuple[str, events_pb2.LoanEvent]] = []

    async def observe(key: str, body: bytes, headers: dict[str, Any]) -> None:
        events.append((key, events_pb2.LoanEvent.FromString(body)))

    observer = EventConsumer(
        server_urls["AMQP_URL"],
        observer_client[f"{ns}_observer"],
        f"{ns}.observer",
        ["loan.*"],
        observe,
        namespace=ns,
    )
    await observer.start()
    try:
        yield World(
            ns=ns,
            loans=loan_pb2_grpc.LoanServiceStub(channel),
            users=users,
            scoring=scoring,
            keyset=keyset,
            db=runtime.db,
            events=events,
        )
    finally:
        await channel.close()
        await server.stop(None)
        await observer.stop()
        await runtime.close()
        await peers.stop(None)
        connection = await aio_pika.connect(server_urls["AMQP_URL"])
        async with connection:
            ch = await connection.channel()
            for name in (f"{ns}.observer", f"{ns}.observer.dlq"):
                with contextlib.suppress(Exception):
                    await ch.queue_delete(name)
            for exchange in (f"{ns}.events", f"{ns}.events.dlx"):
                with contextlib.suppress(Exception):
                    await ch.exchange_delete(exchange)
        for name in (settings.mongodb_database, f"{ns}_observer"):
            await observer_client.drop_database(name)
        await observer_client.close()


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


async def fails(call: Any) -> RpcErrorDetails:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call
    return details_of(info.value)


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


# --- products and quotes ----------------------------------------------------------------------


async def test_a_product_with_bad_fields_is_refused_naming_every_one(world: World) -> None:
    inst = institution(world)
    bad = product_message(
        annual_interest_rate="twelve",
        min_principal="-5",
        min_term=0,
        interest_method="compound",
        late_penalty_flat="1.234",
    )
    err = await fails(
        world.loans.CreateLoanProduct(
            loan_pb2.CreateLoanProductRequest(product=bad), metadata=inst.admin
        )
    )
    assert err.code == Code.INVALID_ARGUMENT
    fields = {f for f, _ in err.field_errors}
    assert {
        "annual_interest_rate",
        "min_principal",
        "min_term",
        "interest_method",
        "late_penalty_flat",
    } <= fields
    # An agent may read products but not create them.
    err = await fails(
        world.loans.CreateLoanProduct(
            loan_pb2.CreateLoanProductRequest(product=product_message()), metadata=inst.agent
        )
    )
    assert err.code == Code.PERMISSION_DENIED


async def test_a_product_takes_the_institution_currency_and_is_listed(world: World) -> None:
    inst = institution(world, currency="UGX")
    product = await create_product(inst, min_principal="10000", max_principal="900000")
    assert product.currency == "UGX" and product.min_principal == "10000"
    got = await world.loans.GetLoanProduct(
        loan_pb2.GetLoanProductRequest(product_id=product.id), metadata=inst.agent
    )
    assert got.product.name == "Biashara monthly"
    listed = await world.loans.ListLoanProducts(
        loan_pb2.ListLoanProductsRequest(), metadata=inst.agent
    )
    assert [p.id for p in listed.products] == [product.id]
    stranger = institution(world)
    err = await fails(
        world.loans.GetLoanProduct(
            loan_pb2.GetLoanProductRequest(product_id=product.id), metadata=stranger.admin
        )
    )
    assert err.code == Code.NOT_FOUND


async def test_a_quote_matches_independently_computed_figures(world: World) -> None:
    inst = institution(world)
    product = await create_product(inst)
    reply = await world.loans.QuoteLoan(
        loan_pb2.QuoteLoanRequest(
            product_id=product.id, principal="12000.00", term=6, disbursement_date="2026-01-15"
        ),
        metadata=inst.agent,
    )
    rows = reply.installments
    # Independent: 2% a month on 12,000 over 6 months, pmt = P r / (1 - (1 + r)^-n).
    r = D("0.02")
    pmt = (D(12000) * r / (1 - (1 + r) ** -6)).quantize(D("0.01"), ROUND_HALF_EVEN)
    assert pmt == D("2142.31")
    assert [row.total for row in rows[:5]] == ["2142.31"] * 5
    assert rows[0].interest == "240.00" and rows[0].principal == "1902.31"
    assert rows[0].due_date == "2026-02-15" and rows[5].due_date == "2026-07-15"
    assert rows[5].balance == "0.00"
    assert sum(D(row.principal) for row in rows) == D("12000.00")
    total_interest = sum(D(row.interest) for row in rows)
    assert reply.pricing.total_interest == str(total_interest)
    assert reply.pricing.total_repayment == str(D(12000) + total_interest)
    assert reply.pricing.apr == "24.00"
    assert reply.pricing.eir == "26.82"  # (1.02^12 - 1) in percent
    # A first repayment before the disbursement is refused, naming the field.
    err = await fails(
        world.loans.QuoteLoan(
            loan_pb2.QuoteLoanRequest(
                product_id=product.id,
                principal="12000.00",
                term=6,
                disbursement_date="2026-01-15",
                first_repayment_date="2026-01-10",
            ),
            metadata=inst.agent,
        )
    )
    assert err.code == Code.INVALID_ARGUMENT
    assert [f for f, _ in err.field_errors] == ["first_repayment_date"]


# --- the life cycle ---------------------------------------------------------------------------


async def test_create_approve_disburse_repay_reverse_close(world: World) -> None:
    inst = institution(world)
    product = await create_product(inst)
    loan = await submitted(inst, product.id)
    assert loan.status == loan_pb2.LOAN_STATUS_SUBMITTED
    assert loan.branch_id == inst.branch and loan.currency == "KES"
    assert loan.principal == "12000.00" and len(loan.schedule) == 6

    # Maker-checker: the agent may not approve at all; a manager may not approve their own.
    err = await fails(
        world.loans.ApproveLoan(loan_pb2.ApproveLoanRequest(loan_id=loan.id), metadata=inst.agent)
    )
    assert err.code == Code.PERMISSION_DENIED
    own = (
        await world.loans.CreateLoan(
            loan_pb2.CreateLoanRequest(
                borrower_id=inst.borrower, product_id=product.id, principal="5000.00", term=6
            ),
            metadata=inst.manager,
        )
    ).loan
    err = await fails(
        world.loans.ApproveLoan(loan_pb2.ApproveLoanRequest(loan_id=own.id), metadata=inst.manager)
    )
    assert (err.code, err.reason) == (Code.PERMISSION_DENIED, "MAKER_CHECKER_VIOLATION")

    approved = (
        await world.loans.ApproveLoan(
            loan_pb2.ApproveLoanRequest(loan_id=loan.id, note="good history"),
            metadata=inst.manager,
        )
    ).loan
    assert approved.status == loan_pb2.LOAN_STATUS_APPROVED
    assert approved.approved_by == "usr_branch_manager_" + inst.id[-6:]

    err = await fails(
        world.loans.DisburseLoan(
            loan_pb2.DisburseLoanRequest(
                loan_id=loan.id, disbursement_date="2025-01-15", first_repayment_date="2025-01-10"
            ),
            metadata=inst.manager,
        )
    )
    assert err.code == Code.INVALID_ARGUMENT
    assert [f for f, _ in err.field_errors] == ["first_repayment_date"]

    disbursed = (
        await world.loans.DisburseLoan(
            loan_pb2.DisburseLoanRequest(
                loan_id=loan.id, disbursement_date="2025-01-15", channel="mobile_money"
            ),
            metadata=inst.manager,
        )
    ).loan
    assert disbursed.status == loan_pb2.LOAN_STATUS_ACTIVE
    assert disbursed.disbursement_date == "2025-01-15"
    assert disbursed.schedule[0].due_date == "2025-02-15"
    assert disbursed.outstanding.principal == "12000.00"
    before = disbursed.outstanding
    (event,) = await world.wait_for(loan.id, "loan.disbursed")
    assert (event.disbursed_net, event.fees_deducted, event.channel) == (
        "12000.00",
        "0.00",
        "mobile_money",
    )
    assert event.business_date == "2025-01-15"
    assert event.loan.status == loan_pb2.LOAN_STATUS_ACTIVE

    pay = loan_pb2.ApplyRepaymentRequest(
        loan_id=loan.id, payment_id="pay_1", amount="2142.31", paid_on="2025-02-15"
    )
    first = await world.loans.ApplyRepayment(pay, metadata=inst.agent)
    assert (first.allocation.interest, first.allocation.principal) == ("240.00", "1902.31")
    assert (first.allocation.fees, first.allocation.penalties) == ("0.00", "0.00")
    assert first.outstanding.principal == "10097.69"
    assert first.loan_status == loan_pb2.LOAN_STATUS_ACTIVE
    assert (first.institution_id, first.branch_id, first.currency) == (inst.id, inst.branch, "KES")
    version = (await get(inst, loan.id)).version

    again = await world.loans.ApplyRepayment(pay, metadata=inst.agent)  # a retry
    assert again.allocation == first.allocation
    paid = await get(inst, loan.id)
    assert paid.version == version and len(paid.repayments) == 1
    assert paid.schedule[0].paid and paid.schedule[0].total_paid == "2142.31"
    (applied,) = await world.wait_for(loan.id, "loan.repayment_applied")
    assert applied.payment_id == "pay_1" and applied.allocation.interest == "240.00"

    reversed_ = (
        await world.loans.ReverseRepayment(
            loan_pb2.ReverseRepaymentRequest(loan_id=loan.id, payment_id="pay_1", reason="bounced"),
            metadata=inst.manager,
        )
    ).loan
    assert reversed_.outstanding == before
    assert reversed_.repayments[0].reversed
    assert not reversed_.schedule[0].paid
    again_reversed = (
        await world.loans.ReverseRepayment(
            loan_pb2.ReverseRepaymentRequest(loan_id=loan.id, payment_id="pay_1", reason="bounced"),
            metadata=inst.manager,
        )
    ).loan
    assert again_reversed.version == reversed_.version
    (rev,) = await world.wait_for(loan.id, "loan.repayment_reversed")
    assert rev.payment_id == "pay_1" and rev.allocation.principal == "1902.31"

    quote = (
        await world.loans.GetPayoffQuote(
            loan_pb2.GetPayoffQuoteRequest(loan_id=loan.id, date="2025-02-15"),
            metadata=inst.agent,
        )
    ).payoff
    assert quote.principal == "12000.00" and quote.interest == "240.00"
    full = await world.loans.ApplyRepayment(
        loan_pb2.ApplyRepaymentRequest(
            loan_id=loan.id, payment_id="pay_2", amount=quote.total, paid_on="2025-02-15"
        ),
        metadata=inst.agent,
    )
    assert full.loan_status == loan_pb2.LOAN_STATUS_CLOSED
    assert full.outstanding.total == "0.00"
    closed = await get(inst, loan.id)
    assert closed.status == loan_pb2.LOAN_STATUS_CLOSED
    assert [h.status for h in closed.history] == [
        loan_pb2.LOAN_STATUS_SUBMITTED,
        loan_pb2.LOAN_STATUS_APPROVED,
        loan_pb2.LOAN_STATUS_ACTIVE,
        loan_pb2.LOAN_STATUS_CLOSED,
    ]
    await world.wait_for(loan.id, "loan.closed")

    err = await fails(
        world.loans.ApplyRepayment(
            loan_pb2.ApplyRepaymentRequest(
                loan_id=loan.id, payment_id="pay_3", amount="10.00", paid_on="2025-03-01"
            ),
            metadata=inst.agent,
        )
    )
    assert err.code == Code.FAILED_PRECONDITION
    assert err.metadata["current_status"] == "closed" and "closed" in err.message
    # Versions only ever grow, one per change, and events carry them.
    versions = [e.meta.aggregate_version for _, e in world.events_of(loan.id)]
    assert versions == sorted(versions) and versions[-1] == closed.version


async def test_write_off_records_what_was_owed(world: World) -> None:
    inst = institution(world)
    product = await create_product(inst)
    loan = await active(inst, product.id, date(2025, 1, 15))
    written = (
        await world.loans.WriteOffLoan(
            loan_pb2.WriteOffLoanRequest(loan_id=loan.id, reason="absconded", date="2025-06-30"),
            metadata=inst.manager,
        )
    ).loan
    assert written.status == loan_pb2.LOAN_STATUS_WRITTEN_OFF
    assert written.written_off_principal == "12000.00"
    (event,) = await world.wait_for(loan.id, "loan.written_off")
    assert event.business_date == "2025-06-30"
    assert event.loan.written_off_principal == "12000.00"


async def test_disbursing_a_rejected_loan_states_its_status(world: World) -> None:
    inst = institution(world)
    product = await create_product(inst)
    loan = await submitted(inst, product.id)
    rejected = (
        await world.loans.RejectLoan(
            loan_pb2.RejectLoanRequest(loan_id=loan.id, reason="no cash flow"),
            metadata=inst.manager,
        )
    ).loan
    assert rejected.status == loan_pb2.LOAN_STATUS_REJECTED
    err = await fails(
        world.loans.DisburseLoan(
            loan_pb2.DisburseLoanRequest(loan_id=loan.id, disbursement_date="2025-01-15"),
            metadata=inst.manager,
        )
    )
    assert err.code == Code.FAILED_PRECONDITION
    assert err.reason == "LOAN_NOT_APPROVED"
    assert err.metadata["current_status"] == "rejected"
    assert "rejected" in err.message
    await world.wait_for(loan.id, "loan.rejected")


async def test_approval_limits_and_eligibility_override(world: World) -> None:
    inst = institution(world)
    product = await create_product(inst, min_score_band="B")
    big = await submitted(inst, product.id, principal="2000000.00")
    # No limit until the institution sets one; then a branch manager's stops at it.
    limits = loan_pb2.UpdateLoanSettingsRequest(
        institution_id=inst.id,
        set_approval_limits=True,
        approval_limits=[loan_pb2.ApprovalLimit(role="branch_manager", amount="1000000")],
    )
    err = await fails(world.loans.UpdateLoanSettings(limits, metadata=inst.manager))
    assert err.code == Code.PERMISSION_DENIED
    other = institution(world)
    err = await fails(world.loans.UpdateLoanSettings(limits, metadata=other.admin))
    assert err.code == Code.NOT_FOUND
    bad = loan_pb2.UpdateLoanSettingsRequest(
        institution_id=inst.id,
        set_approval_limits=True,
        approval_limits=[
            loan_pb2.ApprovalLimit(role="agent", amount="10"),
            loan_pb2.ApprovalLimit(role="admin", amount="-5"),
        ],
    )
    err = await fails(world.loans.UpdateLoanSettings(bad, metadata=inst.admin))
    assert err.code == Code.INVALID_ARGUMENT
    assert sorted(f for f, _ in err.field_errors) == [
        "approval_limits.admin",
        "approval_limits.agent",
    ]
    settings = (await world.loans.UpdateLoanSettings(limits, metadata=inst.admin)).settings
    assert [(lim.role, lim.amount) for lim in settings.approval_limits] == [
        ("admin", ""),
        ("branch_manager", "1000000.00"),
    ]
    err = await fails(
        world.loans.ApproveLoan(loan_pb2.ApproveLoanRequest(loan_id=big.id), metadata=inst.manager)
    )
    assert (err.code, err.reason) == (Code.PERMISSION_DENIED, "APPROVAL_LIMIT_EXCEEDED")

    loan = await submitted(inst, product.id)  # not scored: the minimum band fails
    err = await fails(
        world.loans.ApproveLoan(loan_pb2.ApproveLoanRequest(loan_id=loan.id), metadata=inst.manager)
    )
    assert (err.code, err.reason) == (Code.FAILED_PRECONDITION, "NOT_ELIGIBLE")
    assert [f for f, _ in err.field_errors] == ["minimum_score_band"]
    # An admin may not override (only a branch manager, in writing).
    err = await fails(
        world.loans.ApproveLoan(
            loan_pb2.ApproveLoanRequest(loan_id=loan.id, override_reason="I say so"),
            metadata=inst.admin,
        )
    )
    assert (err.code, err.reason) == (Code.PERMISSION_DENIED, "OVERRIDE_NOT_PERMITTED")
    approved = (
        await world.loans.ApproveLoan(
            loan_pb2.ApproveLoanRequest(
                loan_id=loan.id, override_reason="ten years of on-time repayments"
            ),
            metadata=inst.manager,
        )
    ).loan
    assert approved.status == loan_pb2.LOAN_STATUS_APPROVED
    assert approved.override_reason == "ten years of on-time repayments"
    assert "ten years" in approved.history[-1].note
    (overridden,) = await world.wait_for(loan.id, "loan.eligibility_overridden")
    assert overridden.loan.override_reason == "ten years of on-time repayments"
    (event,) = await world.wait_for(loan.id, "loan.approved")
    assert event.loan.override_reason == "ten years of on-time repayments"

    # A loan scored at or above the minimum band needs no override.
    scored = await submitted(inst, product.id)
    world.users.borrowers[inst.borrower].monthly_income = "15000.00"
    score = (
        await world.loans.ScoreLoan(
            loan_pb2.ScoreLoanRequest(loan_id=scored.id), metadata=inst.manager
        )
    ).score
    assert (score.score, score.band, score.scorecard_version) == (750, "A", 3)
    ok = (
        await world.loans.ApproveLoan(
            loan_pb2.ApproveLoanRequest(loan_id=scored.id), metadata=inst.manager
        )
    ).loan
    assert ok.status == loan_pb2.LOAN_STATUS_APPROVED and ok.score.band == "A"


async def test_scoring_sends_the_applicant_and_stores_the_result(world: World) -> None:
    inst = institution(world)
    product = await create_product(inst)
    await active(inst, product.id, date(2025, 1, 15))  # history: one open loan
    loan = await submitted(inst, product.id)
    await world.loans.ScoreLoan(loan_pb2.ScoreLoanRequest(loan_id=loan.id), metadata=inst.manager)
    applicant = world.scoring.applicants[loan.id]
    assert applicant["borrower"]["monthly_income"] == "15000.00"
    assert applicant["borrower"]["household_size"] == 4
    assert 30 <= applicant["borrower"]["age"] <= 40
    assert applicant["loan"] == {
        "principal": "12000.00",
        "term": 6,
        "installment_amount": "2142.31",
        "purpose": "working_capital",
    }
    assert applicant["history"]["open_loans"] == 1
    assert applicant["group"] == {"size": None, "is_member": False}
    stored = await get(inst, loan.id)
    assert stored.score.score == 750 and stored.score.contributions[0].rule == "income"
    (event,) = await world.wait_for(loan.id, "loan.scored")
    assert event.loan.score.band == "A"


async def test_scope_other_institution_and_other_branch_are_not_found(world: World) -> None:
    inst = institution(world)
    product = await create_product(inst)
    loan = await submitted(inst, product.id)
    stranger = institution(world)
    err = await fails(
        world.loans.GetLoan(loan_pb2.GetLoanRequest(loan_id=loan.id), metadata=stranger.admin)
    )
    assert err.code == Code.NOT_FOUND
    err = await fails(
        world.loans.ApproveLoan(
            loan_pb2.ApproveLoanRequest(loan_id=loan.id), metadata=stranger.admin
        )
    )
    assert err.code == Code.NOT_FOUND
    # A borrower of another institution, and one of another branch for an agent: 404.
    err = await fails(
        world.loans.CreateLoan(
            loan_pb2.CreateLoanRequest(
                borrower_id=stranger.borrower, product_id=product.id, principal="5000.00", term=6
            ),
            metadata=inst.agent,
        )
    )
    assert err.code == Code.NOT_FOUND and stranger.borrower in err.message
    err = await fails(
        world.loans.CreateLoan(
            loan_pb2.CreateLoanRequest(
                borrower_id=inst.other_borrower, product_id=product.id, principal="5000.00", term=6
            ),
            metadata=inst.agent,
        )
    )
    assert err.code == Code.NOT_FOUND and inst.other_borrower in err.message
    err = await fails(
        world.loans.CreateLoan(
            loan_pb2.CreateLoanRequest(
                borrower_id=inst.borrower, product_id="lprod_nope", principal="5000.00", term=6
            ),
            metadata=inst.agent,
        )
    )
    assert err.code == Code.NOT_FOUND and "lprod_nope" in err.message
    # Lists are scoped too; request ids make creation idempotent.
    mine = await world.loans.ListLoans(
        loan_pb2.ListLoansRequest(borrower_id=inst.borrower), metadata=inst.agent
    )
    assert [x.id for x in mine.loans] == [loan.id]
    theirs = await world.loans.ListLoans(loan_pb2.ListLoansRequest(), metadata=stranger.admin)
    assert list(theirs.loans) == []
    once = await submitted(inst, product.id, request_id="req-1")
    twice = await submitted(inst, product.id, request_id="req-1")
    assert once.id == twice.id
    err = await fails(submitted(inst, product.id, principal="9000.00", request_id="req-1"))
    assert (err.code, err.reason) == (Code.ALREADY_EXISTS, "REQUEST_ID_REUSED")


# --- close of business ------------------------------------------------------------------------


async def test_close_of_business_ages_a_loan_once_per_date(world: World) -> None:
    inst = institution(world)
    product = await create_product(inst, late_penalty_flat="50.00")
    disbursed = TODAY - timedelta(days=100)
    loan = await active(inst, product.id, disbursed)
    current = await active(inst, product.id, TODAY - timedelta(days=10))
    # No close of business yet: reads count days past due up to today.
    assert loan.days_past_due == (TODAY - date.fromisoformat(loan.schedule[0].due_date)).days
    assert loan.delinquency_bucket == "61-90"
    assert current.days_past_due == 0 and current.delinquency_bucket == "current"

    earlier = TODAY - timedelta(days=20)
    job = (
        await world.loans.RunCloseOfBusiness(
            loan_pb2.RunCloseOfBusinessRequest(as_of=earlier.isoformat(), wait=True),
            metadata=inst.admin,
        )
    ).job
    assert job.state == "completed" and job.partitions_done == job.partitions_total
    assert job.loans_changed == 1
    aged = await get(inst, loan.id)
    first_due = date.fromisoformat(aged.schedule[0].due_date)
    assert aged.days_past_due == (earlier - first_due).days
    assert aged.delinquency_bucket == "31-60"
    assert aged.oldest_unpaid_due_date == first_due.isoformat()

    job = (
        await world.loans.RunCloseOfBusiness(
            loan_pb2.RunCloseOfBusinessRequest(as_of=TODAY.isoformat(), wait=True),
            metadata=inst.admin,
        )
    ).job
    assert job.state == "completed" and job.as_of == TODAY.isoformat()
    aged = await get(inst, loan.id)
    dpd = (TODAY - first_due).days
    assert aged.days_past_due == dpd and 61 <= dpd <= 90
    assert aged.delinquency_bucket == "61-90"
    overdue = [i for i in aged.schedule if date.fromisoformat(i.due_date) < TODAY]
    assert len(overdue) == 3
    assert [i.penalties for i in overdue] == ["50.00"] * 3  # one charge per installment
    assert aged.outstanding.penalties == "150.00"
    assert overdue[0].days_past_due == dpd
    untouched = await get(inst, current.id)
    assert untouched.version == current.version and untouched.days_past_due == 0

    first, reclassified = await world.wait_for(loan.id, "loan.reclassified", 2)
    assert (first.previous_bucket, first.loan.delinquency_bucket) == ("current", "31-60")
    assert reclassified.previous_bucket == "31-60"
    assert reclassified.loan.delinquency_bucket == "61-90"
    assert reclassified.business_date == TODAY.isoformat()
    overdue_events = await world.wait_for(loan.id, "loan.installment_overdue", 2)
    assert overdue_events[-1].loan.outstanding.penalties == "150.00"
    history = (await Repository(world.db).get_loan(loan.id) or {})["classification_history"]
    assert [(h["from"], h["to"]) for h in history] == [("current", "31-60"), ("31-60", "61-90")]
    assert [
        (h.date, h.from_bucket, h.to_bucket, h.days_past_due) for h in aged.classification_history
    ] == [
        (earlier.isoformat(), "current", "31-60", (earlier - first_due).days),
        (TODAY.isoformat(), "31-60", "61-90", dpd),
    ]

    # Again for the same date: nothing changes, nothing is written or published.
    published = len(world.events_of(loan.id))
    again = (
        await world.loans.RunCloseOfBusiness(
            loan_pb2.RunCloseOfBusinessRequest(as_of=TODAY.isoformat(), wait=True),
            metadata=inst.admin,
        )
    ).job
    assert again.id == job.id and again.state == "completed"
    assert (await get(inst, loan.id)).version == aged.version
    await asyncio.sleep(0.3)
    assert len(world.events_of(loan.id)) == published
    status = (
        await world.loans.GetCloseOfBusinessJob(
            loan_pb2.GetCloseOfBusinessJobRequest(as_of=TODAY.isoformat()), metadata=inst.admin
        )
    ).job
    assert status.loans_changed == 1 and status.partitions_done == status.partitions_total

    # The next day only the day count moves: nothing is written, reads count on.
    tomorrow = TODAY + timedelta(days=1)
    await world.loans.RunCloseOfBusiness(
        loan_pb2.RunCloseOfBusinessRequest(as_of=tomorrow.isoformat(), wait=True),
        metadata=inst.admin,
    )
    later = await get(inst, loan.id)
    assert later.version == aged.version
    assert later.days_past_due == dpd + 1 and later.schedule[0].days_past_due == dpd + 1
    assert later.delinquency_bucket == "61-90"

    # A repayment after the close of business is stated as of the business date.
    payoff = (
        await world.loans.GetPayoffQuote(
            loan_pb2.GetPayoffQuoteRequest(loan_id=loan.id, date=TODAY.isoformat()),
            metadata=inst.agent,
        )
    ).payoff
    assert payoff.penalties == "150.00"
    paid = await world.loans.ApplyRepayment(
        loan_pb2.ApplyRepaymentRequest(
            loan_id=loan.id, payment_id="pay_all", amount=payoff.total, paid_on=TODAY.isoformat()
        ),
        metadata=inst.agent,
    )
    assert paid.loan_status == loan_pb2.LOAN_STATUS_CLOSED
    assert paid.allocation.penalties == "150.00"

    # Jobs run only for admins (JOBS_RUN), and for the caller's institution.
    err = await fails(
        world.loans.RunCloseOfBusiness(
            loan_pb2.RunCloseOfBusinessRequest(as_of=TODAY.isoformat(), wait=True),
            metadata=inst.manager,
        )
    )
    assert err.code == Code.PERMISSION_DENIED


async def test_concurrent_repayments_on_one_loan_are_all_kept_once(world: World) -> None:
    inst = institution(world)
    product = await create_product(inst)
    loan = await active(inst, product.id, date(2025, 1, 15))

    def pay(payment_id: str) -> Any:
        return world.loans.ApplyRepayment(
            loan_pb2.ApplyRepaymentRequest(
                loan_id=loan.id, payment_id=payment_id, amount="100.00", paid_on="2025-02-15"
            ),
            metadata=inst.agent,
        )

    # Five different payments and three retries of one, all at once: each different payment
    # is applied exactly once (a lost race is retried on the fresh loan, never overwritten).
    replies = await asyncio.gather(
        *(pay(f"p{n}") for n in range(5)), *(pay("p0") for _ in range(3))
    )
    assert all(r.loan_status == loan_pb2.LOAN_STATUS_ACTIVE for r in replies)
    stored = await get(inst, loan.id)
    assert sorted(r.payment_id for r in stored.repayments) == [f"p{n}" for n in range(5)]
    assert stored.schedule[0].total_paid == "500.00"
    assert stored.version == loan.version + 5
    applied = await world.wait_for(loan.id, "loan.repayment_applied", 5)
    assert len({e.payment_id for e in applied}) == 5


async def test_the_close_of_business_hint_is_never_later_than_the_loan(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Writes that move a loan's next close-of-business date later skip lowering its hint;
    one that moves it earlier (a reversal) must still lower it, or the batch skips the loan."""
    inst = institution(world)
    product = await create_product(inst, late_penalty_flat="10.00")
    loan = await active(inst, product.id, TODAY - timedelta(days=70))

    async def hint_and_loan() -> tuple[dict[str, Any], dict[str, Any]]:
        hint = await world.db.loan_cob_hints.find_one({"_id": loan.id})
        doc = await Repository(world.db).get_loan(loan.id)
        assert hint is not None and doc is not None
        return hint, doc

    def pay(payment_id: str, amount: str) -> Any:
        return world.loans.ApplyRepayment(
            loan_pb2.ApplyRepaymentRequest(
                loan_id=loan.id, payment_id=payment_id, amount=amount, paid_on=TODAY.isoformat()
            ),
            metadata=inst.agent,
        )

    hint, doc = await hint_and_loan()
    overdue_from = doc["cob_next_date"]
    await pay("h1", "400.00")
    await pay("h2", "400.00")
    hint, doc = await hint_and_loan()
    assert doc["cob_next_date"] > overdue_from  # paid ahead: the next visit moved later
    assert hint["cob_next_date"] == doc["cob_next_date"] and hint["status"] == "active"

    # The service dies after writing each reversal, before it sets the hint exactly.
    async def crash(*_: Any, **__: Any) -> None:
        raise RuntimeError("killed after the loan write")

    monkeypatch.setattr(Repository, "set_hint", crash)
    for payment_id in ("h2", "h1"):
        with contextlib.suppress(grpc.aio.AioRpcError):  # a write that keeps the hint: no crash
            await world.loans.ReverseRepayment(
                loan_pb2.ReverseRepaymentRequest(
                    loan_id=loan.id, payment_id=payment_id, reason="bounced"
                ),
                metadata=inst.manager,
            )
    hint, doc = await hint_and_loan()
    assert doc["version"] == loan.version + 4  # both reversals were written
    assert doc["cob_next_date"] <= overdue_from  # owed again: due for a visit again
    assert hint["cob_next_date"] <= doc["cob_next_date"]


async def test_reschedule_keeps_the_old_schedule(world: World) -> None:
    inst = institution(world)
    product = await create_product(inst)
    loan = await active(inst, product.id, date(2025, 1, 15))
    await world.loans.ApplyRepayment(
        loan_pb2.ApplyRepaymentRequest(
            loan_id=loan.id, payment_id="r1", amount="2142.31", paid_on="2025-02-15"
        ),
        metadata=inst.agent,
    )
    rescheduled = (
        await world.loans.RescheduleLoan(
            loan_pb2.RescheduleLoanRequest(
                loan_id=loan.id, new_term=10, reason="harvest failed", date="2025-03-01"
            ),
            metadata=inst.manager,
        )
    ).loan
    assert rescheduled.rescheduled and len(rescheduled.schedule) == 10
    assert rescheduled.schedule[0].due_date == "2025-04-01"
    (old,) = rescheduled.schedule_history
    assert old.reason == "harvest failed" and len(old.schedule) == 6
    assert old.schedule[0].due_date == "2025-02-15"
    assert rescheduled.outstanding.principal == "10097.69"
    await world.wait_for(loan.id, "loan.rescheduled")
    err = await fails(
        world.loans.ApplyRepayment(
            loan_pb2.ApplyRepaymentRequest(
                loan_id=loan.id, payment_id="r0", amount="10.00", paid_on="2025-02-20"
            ),
            metadata=inst.agent,
        )
    )
    assert (err.code, err.reason) == (Code.FAILED_PRECONDITION, "REPAYMENT_BEFORE_RESCHEDULE")


async def test_an_overpaid_loan_refunds_its_credit_balance_once(world: World) -> None:
    inst = institution(world)
    product = await create_product(inst)
    loan = await active(inst, product.id, date(2025, 1, 15))
    quote = (
        await world.loans.GetPayoffQuote(
            loan_pb2.GetPayoffQuoteRequest(loan_id=loan.id, date="2025-02-15"),
            metadata=inst.agent,
        )
    ).payoff
    overpaid = await world.loans.ApplyRepayment(
        loan_pb2.ApplyRepaymentRequest(
            loan_id=loan.id,
            payment_id="pay_over",
            amount=str(D(quote.total) + D("500.00")),
            paid_on="2025-02-15",
        ),
        metadata=inst.agent,
    )
    assert overpaid.loan_status == loan_pb2.LOAN_STATUS_CLOSED
    assert overpaid.allocation.overpayment == "500.00"
    assert (await get(inst, loan.id)).credit_balance == "500.00"

    refund = loan_pb2.RefundCreditRequest(
        loan_id=loan.id, refund_id="rf_1", amount="200.00", refunded_on="2025-02-20"
    )
    # Money leaves the institution: neither an agent nor a service principal may refund.
    for who in (inst.agent, world.who(Role.SERVICE, inst.id)):
        err = await fails(world.loans.RefundCredit(refund, metadata=who))
        assert err.code == Code.PERMISSION_DENIED

    first = await world.loans.RefundCredit(refund, metadata=inst.manager)
    assert (first.amount, first.credit_balance) == ("200.00", "300.00")
    assert first.loan_status == loan_pb2.LOAN_STATUS_CLOSED
    assert (first.institution_id, first.branch_id, first.currency) == (inst.id, inst.branch, "KES")
    refunded = await get(inst, loan.id)
    assert refunded.credit_balance == "300.00"

    again = await world.loans.RefundCredit(refund, metadata=inst.manager)  # a retry
    assert again == first
    assert (await get(inst, loan.id)).version == refunded.version

    (event,) = await world.wait_for(loan.id, "loan.credit_refunded")
    assert event.payment_id == "rf_1" and event.allocation.overpayment == "200.00"
    assert event.allocation.principal == "0.00" and event.business_date == "2025-02-20"
    assert event.loan.credit_balance == "300.00"

    err = await fails(
        world.loans.RefundCredit(
            loan_pb2.RefundCreditRequest(
                loan_id=loan.id, refund_id="rf_2", amount="300.01", refunded_on="2025-02-20"
            ),
            metadata=inst.manager,
        )
    )
    assert err.code == Code.INVALID_ARGUMENT and err.reason == "CREDIT_EXCEEDED"
    assert [f for f, _ in err.field_errors] == ["amount"] and "300.00" in err.message

    # Undoing the overpaying repayment would take back credit already refunded.
    err = await fails(
        world.loans.ReverseRepayment(
            loan_pb2.ReverseRepaymentRequest(
                loan_id=loan.id, payment_id="pay_over", reason="bounced"
            ),
            metadata=inst.manager,
        )
    )
    assert err.code == Code.FAILED_PRECONDITION and err.reason == "CREDIT_ALREADY_REFUNDED"
    assert (await get(inst, loan.id)).version == refunded.version


@pytest.fixture
async def db(server_urls: dict[str, str]) -> AsyncIterator[AsyncDatabase[Any]]:
    """A fresh database for a repository alone, dropped after the test."""
    client: AsyncMongoClient[Any] = AsyncMongoClient(server_urls["MONGODB_URL"], tz_aware=True)
    database = client[f"it{secrets.token_hex(4)}_loan"]
    try:
        yield database
    finally:
        await client.drop_database(database.name)
        await client.close()


async def test_a_loan_stored_before_packing_reads_the_same_and_its_next_write_packs_it(
    db: AsyncDatabase[Any],
) -> None:
    repo = Repository(db)
    legacy = {
        "_id": "loan_legacy",
        "institution_id": "inst_1",
        "branch_id": "br_1",
        "borrower_id": "bor_1",
        "status": "active",
        "partition": 3,
        "version": 5,
        "term": 12,
        "view": {"as_of": "2026-01-01", "rows": "1|2026-01-01"},
        "create_time": datetime(2026, 1, 1, 9, 30, tzinfo=UTC),
    }
    await db.loans.insert_one({**legacy, "outbox": [], "outbox_count": 0})
    read = await repo.get_loan("loan_legacy")
    assert read is not None
    assert {k: v for k, v in read.items() if not k.startswith("_unpacked")} == {
        **legacy,
        "outbox_count": 0,
    }

    assert await repo.update_loan(read, {"$set": {"term": 24}, "$inc": {"version": 1}})
    assert not await repo.update_loan(read, {"$set": {"term": 36}, "$inc": {"version": 1}})
    raw = await db.loans.find_one({"_id": "loan_legacy"})
    assert raw is not None
    assert set(raw) == {
        "_id", "institution_id", "branch_id", "borrower_id", "status", "partition",
        "version", "outbox", "outbox_count", "packed",
    }  # fmt: skip
    after = {**legacy, "term": 24, "version": 6, "outbox_count": 0}
    assert await repo.get_loan("loan_legacy") == after
    assert await repo.get_loans(["nope", "loan_legacy"]) == [after]
    assert await repo.borrower_loans("inst_1", "bor_1") == [after]
    page, _ = await repo.page_loans({"institution_id": "inst_1", "branch_id": "br_1"}, 10, "")
    assert page == [after]


async def test_an_application_outside_the_product_limits_is_refused_and_nothing_is_created(
    world: World,
) -> None:
    inst = institution(world)
    product = await create_product(inst)
    err = await fails(submitted(inst, product.id, principal="100000000.00", term=600))
    assert (err.code, err.reason) == (Code.INVALID_ARGUMENT, "INVALID_ARGUMENT")
    assert sorted(f for f, _ in err.field_errors) == ["principal", "term"]
    listed = await world.loans.ListLoans(
        loan_pb2.ListLoansRequest(borrower_id=inst.borrower), metadata=inst.admin
    )
    assert list(listed.loans) == []


async def test_an_institutions_own_delinquency_buckets_classify_its_loans(world: World) -> None:
    inst = institution(world)
    product = await create_product(inst)
    loan = await active(inst, product.id, TODAY - timedelta(days=100))
    yesterday = TODAY - timedelta(days=1)
    await world.loans.RunCloseOfBusiness(
        loan_pb2.RunCloseOfBusinessRequest(as_of=yesterday.isoformat(), wait=True),
        metadata=inst.admin,
    )
    assert (await get(inst, loan.id)).delinquency_bucket == "61-90"  # the default buckets
    hint = await world.db.loan_cob_hints.find_one({"_id": loan.id})
    assert hint is not None and hint["cob_next_date"] > TODAY.isoformat()

    buckets = [
        loan_pb2.DelinquencyBucket(name="current", min_days=0, max_days=0),
        loan_pb2.DelinquencyBucket(name="watch", min_days=1, max_days=45),
        loan_pb2.DelinquencyBucket(name="substandard", min_days=46, open_ended=True),
    ]
    gap = [buckets[0], loan_pb2.DelinquencyBucket(name="late", min_days=5, open_ended=True)]
    err = await fails(
        world.loans.UpdateLoanSettings(
            loan_pb2.UpdateLoanSettingsRequest(
                institution_id=inst.id, set_delinquency_buckets=True, delinquency_buckets=gap
            ),
            metadata=inst.admin,
        )
    )
    assert err.code == Code.INVALID_ARGUMENT
    assert [f for f, _ in err.field_errors] == ["delinquency_buckets[1].min_days"]
    await world.loans.UpdateLoanSettings(
        loan_pb2.UpdateLoanSettingsRequest(
            institution_id=inst.id, set_delinquency_buckets=True, delinquency_buckets=buckets
        ),
        metadata=inst.admin,
    )
    read = (
        await world.loans.GetLoanSettings(
            loan_pb2.GetLoanSettingsRequest(institution_id=inst.id), metadata=inst.manager
        )
    ).settings
    assert [(b.name, b.min_days, b.open_ended) for b in read.delinquency_buckets] == [
        ("current", 0, False),
        ("watch", 1, False),
        ("substandard", 46, True),
    ]
    # New buckets: the next close of business visits every active loan and reclassifies it.
    hint = await world.db.loan_cob_hints.find_one({"_id": loan.id})
    assert hint is not None and hint["cob_next_date"] <= TODAY.isoformat()
    await world.loans.RunCloseOfBusiness(
        loan_pb2.RunCloseOfBusinessRequest(as_of=TODAY.isoformat(), wait=True),
        metadata=inst.admin,
    )
    aged = await get(inst, loan.id)
    first_due = date.fromisoformat(aged.schedule[0].due_date)
    assert aged.days_past_due == (TODAY - first_due).days > 45
    assert aged.delinquency_bucket == "substandard"
    reclassified = await world.wait_for(loan.id, "loan.reclassified", 2)
    assert [(e.previous_bucket, e.loan.delinquency_bucket) for e in reclassified] == [
        ("current", "61-90"),
        ("61-90", "substandard"),
    ]


async def test_hints_set_in_bulk_never_overwrite_a_newer_one(db: AsyncDatabase[Any]) -> None:
    repo = Repository(db)

    def loan(n: int, version: int, due: str) -> dict[str, Any]:
        return {
            "_id": f"loan_{n}",
            "institution_id": "inst_1",
            "partition": 1,
            "status": "active",
            "cob_next_date": due,
            "version": version,
        }

    await db.loan_cob_hints.insert_many(
        [
            loan(1, 3, "2026-01-01"),  # older: replaced
            loan(2, 9, "2026-01-05"),  # newer (written again meanwhile): kept
            loan(3, 0, "2026-01-02"),  # lowered by a writer (version 0): replaced
        ]
    )
    await repo.set_hints(
        [
            loan(1, 4, "2026-02-01"),
            loan(2, 4, "2026-02-01"),
            loan(3, 7, "2026-02-01"),
            loan(4, 2, "2026-02-01"),
        ]
    )
    hints = {h["_id"]: h async for h in db.loan_cob_hints.find({})}
    assert {k: (h["version"], h["cob_next_date"]) for k, h in hints.items()} == {
        "loan_1": (4, "2026-02-01"),
        "loan_2": (9, "2026-01-05"),
        "loan_3": (7, "2026-02-01"),
        "loan_4": (2, "2026-02-01"),
    }
