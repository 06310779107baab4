"""payment_service against real servers (MongoDB wire, Redis, RabbitMQ), over real gRPC.

payment_service runs in-process, wired by its own `bootstrap.build` on a connected `Runtime`
(relay, loan-event consumer, recovery), served by `shared.grpc_server.build_server` on port 0
in a namespace of its own. Its peers loan_service and user_service are FAKE servicers, also
in-process and over real gRPC: simple, idempotent-by-payment-id implementations of the
contract (they are peers being stood in for, not servers being mocked). Every call carries
a real EdDSA access token; both servers verify it.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import secrets
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import aio_pika
import grpc
import pytest
from pymongo import AsyncMongoClient

from auth_service.domain.service_identity import SERVICE_TOKEN_TTL, service_principal
from kopa.auth.v1 import auth_pb2
from kopa.common.v1 import common_pb2
from kopa.loan.v1 import events_pb2 as loan_events_pb2
from kopa.loan.v1 import loan_pb2, loan_pb2_grpc
from kopa.payment.v1 import events_pb2, payment_pb2, payment_pb2_grpc
from kopa.user.v1 import user_pb2, user_pb2_grpc
from payment_service.adapters.peers import ServiceTokens
from payment_service.bootstrap import Settings, Wiring, build, registrar
from payment_service.domain.mobile_money import signature_header
from payment_service.service_layer.repayments import payment_id_for
from shared import context
from shared.errors import IllegalState, NotFound, Unauthenticated, ValidationError
from shared.events import EventConsumer, EventPublisher, outbox_fields
from shared.grpc_server import build_server
from shared.ids import new_id
from shared.money import fmt
from shared.permissions import Principal, Role
from shared.rpc_errors import RpcErrorDetails, details_of
from shared.service import Runtime
from shared.tokens import KeySet, decode_access_token, issue_access_token

pytestmark = pytest.mark.integration

Code = grpc.StatusCode
ACTIVE = loan_pb2.LOAN_STATUS_ACTIVE
CLOSED = loan_pb2.LOAN_STATUS_CLOSED
SECRET = secrets.token_hex(24)
TODAY = dt.datetime.now(dt.UTC).date().isoformat()
ZERO = Decimal(0)


# --- the fake peers -------------------------------------------------------------------------


@dataclass
class FakeLoan:
    id: str
    institution_id: str
    branch_id: str
    currency: str
    principal: Decimal  # contract principal
    principal_due: Decimal
    interest_due: Decimal
    status: int = ACTIVE
    version: int = 1
    written_off_principal: Decimal = ZERO
    credit: Decimal = ZERO  # overpaid, not yet refunded


@dataclass
class FakeLoanService(loan_pb2_grpc.LoanServiceServicer):
    """Allocates interest first, then principal, the rest as overpayment; idempotent on
    payment_id; reversal restores the balances."""

    loans: dict[str, FakeLoan] = field(default_factory=dict)
    applied: dict[str, tuple[str, loan_pb2.ApplyRepaymentResponse, tuple[Decimal, ...]]] = field(
        default_factory=dict
    )
    calls: Counter[str] = field(default_factory=Counter)
    reads: Counter[str] = field(default_factory=Counter)
    refunded: dict[str, loan_pb2.RefundCreditResponse] = field(default_factory=dict)
    reversed: set[str] = field(default_factory=set)
    delay: float = 0.0
    outage: str = ""
    """ApplyRepayment fails UNAVAILABLE: "before" applying, or "after" (the answer is lost)."""
    appliers: dict[str, str] = field(default_factory=dict)  # payment id -> who applied it

    def add(
        self, institution_id: str, branch_id: str, currency: str = "KES", **kw: Any
    ) -> FakeLoan:
        loan = FakeLoan(
            id=new_id("loan"),
            institution_id=institution_id,
            branch_id=branch_id,
            currency=currency,
            principal=kw.pop("principal", Decimal("1000")),
            principal_due=kw.pop("principal_due", Decimal("1000")),
            interest_due=kw.pop("interest_due", Decimal("100")),
            **kw,
        )
        self.loans[loan.id] = loan
        return loan

    def applications(self, loan_id: str) -> int:
        return sum(1 for lid, _, _ in self.applied.values() if lid == loan_id)

    def _loan(self, loan_id: str) -> FakeLoan:
        p = context.principal()
        loan = self.loans.get(loan_id)
        if loan is None or not p.can_access(loan.institution_id, loan.branch_id):
            raise NotFound(f"loan {loan_id} not found", reason="LOAN_NOT_FOUND")
        return loan

    def outstanding(self, loan: FakeLoan) -> loan_pb2.Outstanding:
        c = loan.currency
        return loan_pb2.Outstanding(
            principal=fmt(loan.principal_due, c),
            interest=fmt(loan.interest_due, c),
            fees=fmt(ZERO, c),
            penalties=fmt(ZERO, c),
            total=fmt(loan.principal_due + loan.interest_due, c),
        )

    def proto(self, loan: FakeLoan) -> loan_pb2.Loan:
        return loan_pb2.Loan(
            id=loan.id,
            institution_id=loan.institution_id,
            branch_id=loan.branch_id,
            borrower_id="bor_1",
            status=loan.status,  # type: ignore[arg-type]
            principal=fmt(loan.principal, loan.currency),
            currency=loan.currency,
            outstanding=self.outstanding(loan),
            version=loan.version,
            written_off_principal=fmt(loan.written_off_principal, loan.currency),
        )

    async def GetLoan(self, request: Any, context_: Any) -> loan_pb2.GetLoanResponse:
        self.reads[request.loan_id] += 1
        return loan_pb2.GetLoanResponse(loan=self.proto(self._loan(request.loan_id)))

    async def ApplyRepayment(
        self, request: loan_pb2.ApplyRepaymentRequest, context_: Any
    ) -> loan_pb2.ApplyRepaymentResponse:
        self.calls[request.payment_id] += 1
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.outage == "before":
            await context_.abort(grpc.StatusCode.UNAVAILABLE, "loan_service is down")
        if request.payment_id not in self.applied:
            self._apply(request)
        if self.outage == "after":
            await context_.abort(grpc.StatusCode.UNAVAILABLE, "the answer was lost")
        return self.applied[request.payment_id][1]

    def _apply(self, request: loan_pb2.ApplyRepaymentRequest) -> None:
        loan = self._loan(request.loan_id)
        self.appliers[request.payment_id] = context.principal().user_id
        if loan.status != ACTIVE:
            raise IllegalState(
                f"loan {loan.id} is not active",
                reason="LOAN_NOT_ACTIVE",
                metadata={"current_status": loan_pb2.LoanStatus.Name(loan.status)},  # type: ignore[arg-type]
            )
        amount = Decimal(request.amount)
        interest = min(amount, loan.interest_due)
        principal = min(amount - interest, loan.principal_due)
        over = amount - interest - principal
        loan.interest_due -= interest
        loan.principal_due -= principal
        loan.credit += over
        loan.version += 1
        if not loan.principal_due and not loan.interest_due:
            loan.status = CLOSED
        c = loan.currency
        response = loan_pb2.ApplyRepaymentResponse(
            allocation=loan_pb2.Allocation(
                principal=fmt(principal, c),
                interest=fmt(interest, c),
                fees=fmt(ZERO, c),
                penalties=fmt(ZERO, c),
                overpayment=fmt(over, c),
            ),
            outstanding=self.outstanding(loan),
            loan_status=loan.status,  # type: ignore[arg-type]
            institution_id=loan.institution_id,
            branch_id=loan.branch_id,
            currency=c,
        )
        self.applied[request.payment_id] = (loan.id, response, (principal, interest, over))

    async def RefundCredit(
        self, request: loan_pb2.RefundCreditRequest, context_: Any
    ) -> loan_pb2.RefundCreditResponse:
        self.calls[request.refund_id] += 1
        loan = self._loan(request.loan_id)
        if request.refund_id not in self.refunded:
            amount = Decimal(request.amount)
            if amount > loan.credit:
                raise ValidationError.of("amount", f"the credit balance is {loan.credit}")
            loan.credit -= amount
            loan.version += 1
            self.refunded[request.refund_id] = loan_pb2.RefundCreditResponse(
                amount=fmt(amount, loan.currency),
                credit_balance=fmt(loan.credit, loan.currency),
                loan_status=loan.status,  # type: ignore[arg-type]
                institution_id=loan.institution_id,
                branch_id=loan.branch_id,
                currency=loan.currency,
            )
        return self.refunded[request.refund_id]

    async def ReverseRepayment(
        self, request: loan_pb2.ReverseRepaymentRequest, context_: Any
    ) -> loan_pb2.ReverseRepaymentResponse:
        loan = self._loan(request.loan_id)
        if request.payment_id not in self.applied:
            raise NotFound("no such payment on this loan", reason="PAYMENT_NOT_FOUND")
        if request.payment_id not in self.reversed:
            principal, interest, _ = self.applied[request.payment_id][2]
            loan.principal_due += principal
            loan.interest_due += interest
            loan.status = ACTIVE
            loan.version += 1
            self.reversed.add(request.payment_id)
        return loan_pb2.ReverseRepaymentResponse(loan=self.proto(loan))


class FakeUserService(user_pb2_grpc.UserServiceServicer):
    def __init__(self, currencies: dict[str, str]) -> None:
        self.currencies = currencies

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


# --- the world ------------------------------------------------------------------------------


@dataclass
class World:
    ns: str
    payments: payment_pb2_grpc.PaymentServiceStub
    wiring: Wiring
    loans: FakeLoanService
    keyset: KeySet
    db: Any
    publisher: EventPublisher
    events: list[tuple[str, events_pb2.PaymentEvent]]
    inst: str
    branch: str
    other_branch: str
    tokens: dict[str, str] = field(default_factory=dict)

    def token(
        self, role: Role, institution_id: str | None = None, branch: str | None = None
    ) -> str:
        institution_id = institution_id or self.inst
        branch_id = branch if role in (Role.AGENT, Role.BRANCH_MANAGER) else None
        if role in (Role.AGENT, Role.BRANCH_MANAGER) and branch_id is None:
            branch_id = self.branch
        principal = Principal(
            user_id=new_id("usr"),
            role=role,
            institution_id=institution_id,
            branch_id=branch_id,
            session_id=new_id("ses"),
        )
        return issue_access_token(self.keyset, principal).token

    async def loan_event(self, key: str, loan: FakeLoan, **fields: Any) -> None:
        """Delivers a loan event to payment_service's consumer handler, as RabbitMQ would."""
        await self.wiring.consumer(key, self.loan_event_body(key, loan, **fields), {})

    def loan_event_body(self, key: str, loan: FakeLoan, **fields: Any) -> bytes:
        loan.version += 1
        event = loan_events_pb2.LoanEvent(
            meta=common_pb2.EventMeta(
                event_id=new_id("evt"),
                event_type=key,
                institution_id=loan.institution_id,
                branch_id=loan.branch_id,
                aggregate_id=loan.id,
                aggregate_version=loan.version,
            ),
            loan=self.loans.proto(loan),
            **fields,
        )
        return event.SerializeToString()

    async def disburse(self, loan: FakeLoan, **fields: Any) -> None:
        await self.loan_event(
            "loan.disbursed",
            loan,
            disbursed_net=fmt(loan.principal, loan.currency),
            channel="cash",
            business_date=TODAY,
            **fields,
        )


def md(token: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {token}"),)


async def rpc_error(call: Awaitable[Any], code: grpc.StatusCode) -> RpcErrorDetails:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call
    details = details_of(info.value)
    assert details.code == code, (details.code, details.reason, details.message)
    return details


async def wait_until(predicate: Any, limit: float = 15.0) -> None:
    deadline = asyncio.get_running_loop().time() + limit
    while not await predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


@pytest.fixture(scope="module")
async def world(server_urls: dict[str, str]) -> AsyncIterator[World]:
    ns = f"it{secrets.token_hex(4)}"
    inst = new_id("inst")
    keyset = KeySet.generate()

    async def authenticate(token: str) -> Principal:
        return decode_access_token(token, keyset).principal  # TokenInvalid is a 401

    loans = FakeLoanService()  # type: ignore[abstract]
    users = FakeUserService({inst: "KES", f"{inst}_tzs": "TZS"})  # type: ignore[abstract]

    def register_peers(server: grpc.aio.Server) -> list[str]:
        loan_pb2_grpc.add_LoanServiceServicer_to_server(loans, server)
        user_pb2_grpc.add_UserServiceServicer_to_server(users, server)
        return [
            loan_pb2.DESCRIPTOR.services_by_name["LoanService"].full_name,
            user_pb2.DESCRIPTOR.services_by_name["UserService"].full_name,
        ]

    peers, peer_port, _ = build_server(register_peers, port=0, authenticate=authenticate)
    await peers.start()
    values: dict[str, Any] = {
        "mongodb_url": server_urls["MONGODB_URL"],
        "redis_url": server_urls["REDIS_URL"],
        "amqp_url": server_urls["AMQP_URL"],
        "kopa_namespace": ns,
        "kopa_env": "test",
        "loan_service_addr": f"127.0.0.1:{peer_port}",
        "user_service_addr": f"127.0.0.1:{peer_port}",
        "mobile_money_secrets": {inst: [SECRET]},
        "payment_recovery_interval_seconds": 3600,  # the tests run the recovery themselves
    }
    settings = Settings(**values)
    runtime = Runtime(settings, "payment")
    runtime.authenticate = authenticate
    await runtime.connect()
    wiring = await build(runtime)
    assert runtime.relay is not None
    await runtime.relay.ensure_indexes()
    runtime.relay.start()
    for consumer in runtime.consumers:
        await consumer.start()
    server, port, _ = build_server(registrar(wiring.servicer), port=0, authenticate=authenticate)
    await server.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")

    observer_client: AsyncMongoClient[Any] = AsyncMongoClient(server_urls["MONGODB_URL"])
    events: list[tuple[str, events_pb2.PaymentEvent]] = []

    async def observe(key: str, body: bytes, headers: dict[str, Any]) -> None:
        events.append((key, events_pb2.PaymentEvent.FromString(body)))

    observer = EventConsumer(
        server_urls["AMQP_URL"],
        observer_client[f"{ns}_observer"],
        f"{ns}.observer",
        ["payment.*"],
        observe,
        namespace=ns,
    )
    await observer.start()
    publisher = EventPublisher(server_urls["AMQP_URL"], "loan-test", ns)
    await publisher.connect()
    try:
        yield World(
            ns=ns,
            payments=payment_pb2_grpc.PaymentServiceStub(channel),
            wiring=wiring,
            loans=loans,
            keyset=keyset,
            db=runtime.db,
            publisher=publisher,
            events=events,
            inst=inst,
            branch=new_id("br"),
            other_branch=new_id("br"),
        )
    finally:
        await channel.close()
        await server.stop(None)
        await observer.stop()
        await publisher.close()
        await runtime.close()
        await peers.stop(None)
        connection = await aio_pika.connect(server_urls["AMQP_URL"])
        async with connection:
            ch = await connection.channel()
            for queue in ("payment", "observer"):
                for name in (f"{ns}.{queue}", f"{ns}.{queue}.dlq"):
                    with contextlib.suppress(Exception):
                        await ch.queue_delete(name)
            for exchange in (f"{ns}.events", f"{ns}.events.dlx"):
                with contextlib.suppress(Exception):
                    await ch.exchange_delete(exchange)
        for name in (f"{ns}_payment", f"{ns}_observer"):
            await observer_client.drop_database(name)
        await observer_client.close()


@pytest.fixture(autouse=True)
def _no_faults(world: World) -> Any:
    world.loans.delay = 0.0
    world.loans.outage = ""
    world.wiring.core.fault_hook = None
    yield
    world.wiring.core.fault_hook = None


# --- helpers --------------------------------------------------------------------------------


async def post(
    w: World,
    token: str,
    loan_id: str,
    amount: str = "100.00",
    *,
    key: str | None = None,
    paid_on: str = TODAY,
    channel: str = "cash",
    reference: str = "",
) -> payment_pb2.PostRepaymentResponse:
    return await w.payments.PostRepayment(
        payment_pb2.PostRepaymentRequest(
            loan_id=loan_id,
            amount=amount,
            paid_on=paid_on,
            channel=channel,
            reference=reference,
            idempotency_key=key if key is not None else secrets.token_hex(8),
        ),
        metadata=md(token),
    )


async def books(w: World, institution_id: str | None = None) -> dict[str, Decimal]:
    """The trial balance (per account, on its normal side); asserts it nets to zero."""
    token = w.token(Role.AUDITOR, institution_id)
    tb = await w.payments.GetTrialBalance(payment_pb2.GetTrialBalanceRequest(), metadata=md(token))
    assert tb.total_debit == tb.total_credit, (tb.total_debit, tb.total_credit)
    assert sum(Decimal(ln.debit) - Decimal(ln.credit) for ln in tb.lines) == 0
    return {ln.account_code: Decimal(ln.balance) for ln in tb.lines}


async def entries_for(w: World, source_id: str) -> list[dict[str, Any]]:
    return await w.db.journal_entries.find({"source.id": source_id}).to_list(None)


async def new_active_loan(w: World, **kw: Any) -> FakeLoan:
    loan = w.loans.add(w.inst, kw.pop("branch", w.branch), **kw)
    await w.disburse(loan)
    return loan


# --- repayments -----------------------------------------------------------------------------


async def test_a_repayment_posts_once_and_a_retry_replays_it(world: World) -> None:
    w = world
    loan = await new_active_loan(w)
    agent = w.token(Role.AGENT)
    before = await books(w)
    first = await post(w, agent, loan.id, "150.00", key="key-1", reference="rcpt 7")
    p = first.payment
    assert not first.replayed
    assert p.status == payment_pb2.PAYMENT_STATUS_POSTED
    assert (p.allocation.interest, p.allocation.principal) == ("100.00", "50.00")
    assert p.allocation.fees == p.allocation.penalties == p.allocation.overpayment == "0.00"
    assert p.outstanding.principal == "950.00" and p.outstanding.total == "950.00"
    assert p.loan_status == ACTIVE and p.amount == "150.00" and p.currency == "KES"
    assert p.branch_id == w.branch and p.institution_id == w.inst

    again = await post(w, agent, loan.id, "150.00", key="key-1", reference="rcpt 7")
    assert again.replayed and again.payment == p
    # "150" is the same amount as "150.00": still the same request.
    assert (await post(w, agent, loan.id, "150", key="key-1", reference="rcpt 7")).replayed
    assert w.loans.applications(loan.id) == 1
    entries = await entries_for(w, p.id)
    assert [e["_id"] for e in entries] == [f"repayment:{p.id}"]
    after = await books(w)
    assert after["1000"] - before["1000"] == Decimal("150.00")  # cash in
    assert before["1100"] - after["1100"] == Decimal("50.00")  # portfolio down
    assert after["4000"] - before["4000"] == Decimal("100.00")  # interest income

    got = await w.payments.GetPayment(
        payment_pb2.GetPaymentRequest(payment_id=p.id), metadata=md(agent)
    )
    assert got.payment.status == payment_pb2.PAYMENT_STATUS_POSTED
    listed = await w.payments.ListRepayments(
        payment_pb2.ListRepaymentsRequest(loan_id=loan.id), metadata=md(agent)
    )
    assert [x.id for x in listed.payments] == [p.id]

    async def published() -> bool:
        return any(k == "payment.posted" and e.payment.id == p.id for k, e in w.events)

    await wait_until(published)


async def test_the_same_key_with_another_body_is_refused(world: World) -> None:
    w = world
    loan = await new_active_loan(w)
    agent = w.token(Role.AGENT)
    await post(w, agent, loan.id, "10.00", key="dup")
    for changed in (
        {"amount": "11.00"},
        {"paid_on": (dt.date.fromisoformat(TODAY) - dt.timedelta(days=1)).isoformat()},
        {"channel": "bank"},
        {"reference": "other"},
    ):
        err = await rpc_error(
            post(w, agent, loan.id, key="dup", **{"amount": "10.00", **changed}),
            Code.ALREADY_EXISTS,
        )
        assert err.reason == "IDEMPOTENCY_KEY_REUSED"
    assert w.loans.applications(loan.id) == 1
    # The key is the caller's: another agent may use the same one for their own payment.
    other = await post(w, w.token(Role.AGENT), loan.id, "11.00", key="dup")
    assert not other.replayed
    assert w.loans.applications(loan.id) == 2


async def test_twenty_concurrent_identical_requests_apply_once(world: World) -> None:
    w = world
    loan = await new_active_loan(w)
    agent = w.token(Role.AGENT)
    w.loans.delay = 0.3  # the first request is still applying while the others arrive
    replies = await asyncio.gather(
        *(post(w, agent, loan.id, "40.00", key="burst") for _ in range(20))
    )
    ids = {r.payment.id for r in replies}
    assert len(ids) == 1
    payment_id = ids.pop()
    assert sum(not r.replayed for r in replies) == 1
    assert all(r.payment.status == payment_pb2.PAYMENT_STATUS_POSTED for r in replies)
    assert w.loans.calls[payment_id] == 1
    assert w.loans.applications(loan.id) == 1
    assert len(await entries_for(w, payment_id)) == 1
    await books(w)


@pytest.mark.parametrize(
    ("amount", "currency", "message"),
    [
        ("0", "KES", "greater than zero"),
        ("0.00", "KES", "greater than zero"),
        ("-1", "KES", "greater than zero"),
        ("1e3", "KES", "decimal string"),
        ("12.345", "KES", "at most 2 decimals"),
        ("100.5", "UGX", "no decimals"),
        ("", "KES", "required"),
        (" 5", "KES", "decimal string"),
    ],
)
async def test_bad_amounts_are_refused_naming_amount_and_store_nothing(
    world: World, amount: str, currency: str, message: str
) -> None:
    w = world
    loan = w.loans.add(w.inst, w.branch, currency=currency)
    agent = w.token(Role.AGENT)
    key = secrets.token_hex(8)
    err = await rpc_error(post(w, agent, loan.id, amount, key=key), Code.INVALID_ARGUMENT)
    assert [f for f, _ in err.field_errors] == ["amount"]
    assert message in err.field_errors[0][1]
    principal = decode_access_token(agent, w.keyset).principal
    assert (
        await w.db.payments.find_one({"_id": payment_id_for(w.inst, principal.user_id, key)})
        is None
    )
    assert w.loans.applications(loan.id) == 0


async def test_other_bad_input_names_each_field(world: World) -> None:
    w = world
    loan = await new_active_loan(w)
    agent = w.token(Role.AGENT)
    err = await rpc_error(post(w, agent, loan.id, key=""), Code.INVALID_ARGUMENT)
    assert [f for f, _ in err.field_errors] == ["Idempotency-Key"]
    future = (dt.date.fromisoformat(TODAY) + dt.timedelta(days=3)).isoformat()
    err = await rpc_error(
        post(w, agent, loan.id, "-5", paid_on=future, channel="cheque"), Code.INVALID_ARGUMENT
    )
    assert sorted(f for f, _ in err.field_errors) == ["amount", "channel", "paid_on"]
    err = await rpc_error(post(w, agent, loan.id, paid_on="31/03/2026"), Code.INVALID_ARGUMENT)
    assert [f for f, _ in err.field_errors] == ["paid_on"]
    # Back-office entry: a past date is fine.
    past = (dt.date.fromisoformat(TODAY) - dt.timedelta(days=40)).isoformat()
    assert (await post(w, agent, loan.id, paid_on=past)).payment.paid_on == past
    # Permissions and scope.
    await rpc_error(post(w, w.token(Role.AUDITOR), loan.id), Code.PERMISSION_DENIED)
    await rpc_error(post(w, w.token(Role.AGENT, branch=w.other_branch), loan.id), Code.NOT_FOUND)
    await rpc_error(post(w, agent, "loan_missing"), Code.NOT_FOUND)


async def test_a_loan_known_from_its_events_is_scoped_without_asking_the_loan_service(
    world: World,
) -> None:
    w = world
    loan = await new_active_loan(w)  # its loan.disbursed event fills the read model
    outsiders = [
        w.token(Role.AGENT, branch=w.other_branch),
        w.token(Role.BRANCH_MANAGER, branch=w.other_branch),
        w.token(Role.AGENT, institution_id=new_id("inst"), branch=w.branch),
        w.token(Role.ADMIN, institution_id=new_id("inst")),
    ]
    for outsider in outsiders:
        key = secrets.token_hex(8)
        await rpc_error(post(w, outsider, loan.id, key=key), Code.NOT_FOUND)
        assert await w.db.payments.count_documents({"idempotency.key": key}) == 0
    posted = await post(w, w.token(Role.AGENT), loan.id)
    assert posted.payment.status == payment_pb2.PAYMENT_STATUS_POSTED
    assert w.loans.reads[loan.id] == 0

    unseen = w.loans.add(w.inst, w.branch)  # no event yet: the loan service is asked
    await rpc_error(post(w, w.token(Role.AGENT, branch=w.other_branch), unseen.id), Code.NOT_FOUND)
    assert (await post(w, w.token(Role.AGENT), unseen.id)).payment.loan_id == unseen.id
    assert w.loans.reads[unseen.id] == 2


async def test_a_credit_balance_is_refunded_once_and_booked_as_money_out(world: World) -> None:
    w = world
    loan = await new_active_loan(w)  # owes 1000 principal + 100 interest
    before = await books(w)
    await post(w, w.token(Role.AGENT), loan.id, "1300.00")  # 200.00 overpaid
    manager = w.token(Role.BRANCH_MANAGER)

    def refund(token: str, amount: str, key: str) -> Any:
        return w.payments.RefundCredit(
            payment_pb2.RefundCreditRequest(
                loan_id=loan.id,
                amount=amount,
                paid_on=TODAY,
                channel="cash",
                idempotency_key=key,
            ),
            metadata=md(token),
        )

    first = await refund(manager, "150.00", "refund-1")
    assert first.payment.kind == "refund" and not first.replayed
    assert first.payment.status == payment_pb2.PAYMENT_STATUS_POSTED
    assert first.payment.allocation.overpayment == "150.00"
    again = await refund(manager, "150.00", "refund-1")
    assert again.replayed and again.payment.id == first.payment.id
    assert w.loans.calls[first.payment.id] == 1 and loan.credit == Decimal("50.00")
    after = await books(w)
    assert after["2100"] - before.get("2100", ZERO) == Decimal("50.00")  # 200 in, 150 out
    assert after["1000"] - before.get("1000", ZERO) == Decimal("1150.00")  # 1300 in, 150 out
    entries = await entries_for(w, first.payment.id)
    assert [e["source"]["kind"] for e in entries] == ["overpayment_refund"]

    err = await rpc_error(refund(manager, "60.00", "refund-2"), Code.INVALID_ARGUMENT)
    assert [f for f, _ in err.field_errors] == ["amount"] and loan.credit == Decimal("50.00")
    await rpc_error(refund(w.token(Role.AGENT), "10.00", "refund-3"), Code.PERMISSION_DENIED)
    await rpc_error(
        refund(w.token(Role.BRANCH_MANAGER, branch=w.other_branch), "10.00", "refund-4"),
        Code.NOT_FOUND,
    )
    assert await books(w) == after  # refused refunds book nothing

    listed = await w.payments.ListRepayments(
        payment_pb2.ListRepaymentsRequest(loan_id=loan.id), metadata=md(manager)
    )
    assert [p.kind for p in listed.payments] == ["repayment"]  # money in only
    refused = await rpc_error(
        w.payments.ReverseRepayment(
            payment_pb2.ReverseRepaymentRequest(payment_id=first.payment.id, reason="oops"),
            metadata=md(manager),
        ),
        Code.FAILED_PRECONDITION,
    )
    assert refused.reason == "REFUND_NOT_REVERSIBLE"


async def test_a_loan_that_is_not_active_fails_and_the_same_key_replays_the_error(
    world: World,
) -> None:
    w = world
    loan = await new_active_loan(w)
    loan.status = CLOSED
    agent = w.token(Role.AGENT)
    err = await rpc_error(post(w, agent, loan.id, key="closed"), Code.FAILED_PRECONDITION)
    assert err.reason == "LOAN_NOT_ACTIVE"
    again = await rpc_error(post(w, agent, loan.id, key="closed"), Code.FAILED_PRECONDITION)
    assert (again.reason, again.message, again.metadata) == (err.reason, err.message, err.metadata)
    principal = decode_access_token(agent, w.keyset).principal
    payment_id = payment_id_for(w.inst, principal.user_id, "closed")
    assert w.loans.calls[payment_id] == 1  # the replay did not ask the loan service again
    got = await w.payments.GetPayment(
        payment_pb2.GetPaymentRequest(payment_id=payment_id), metadata=md(agent)
    )
    assert got.payment.status == payment_pb2.PAYMENT_STATUS_FAILED
    assert "not active" in got.payment.failure_reason
    assert await entries_for(w, payment_id) == []


async def test_payments_of_another_institution_or_branch_are_not_found(world: World) -> None:
    w = world
    loan = await new_active_loan(w)
    posted = (await post(w, w.token(Role.AGENT), loan.id)).payment
    request = payment_pb2.GetPaymentRequest(payment_id=posted.id)
    for outsider, may_reverse in (
        (w.token(Role.ADMIN, institution_id=new_id("inst")), True),
        (w.token(Role.AGENT, branch=w.other_branch), False),
        (w.token(Role.BRANCH_MANAGER, branch=w.other_branch), True),
    ):
        await rpc_error(w.payments.GetPayment(request, metadata=md(outsider)), Code.NOT_FOUND)
        # Their list is not empty: the loan itself is not found for them.
        await rpc_error(
            w.payments.ListRepayments(
                payment_pb2.ListRepaymentsRequest(loan_id=loan.id), metadata=md(outsider)
            ),
            Code.NOT_FOUND,
        )
        await rpc_error(
            w.payments.ReverseRepayment(
                payment_pb2.ReverseRepaymentRequest(payment_id=posted.id, reason="x"),
                metadata=md(outsider),
            ),
            Code.NOT_FOUND if may_reverse else Code.PERMISSION_DENIED,
        )
    # The auditor and the admin of the institution see it.
    for insider in (w.token(Role.AUDITOR), w.token(Role.ADMIN)):
        await w.payments.GetPayment(request, metadata=md(insider))
    await rpc_error(
        w.payments.GetPayment(request, metadata=md("not-a-token")), Code.UNAUTHENTICATED
    )


async def test_listing_a_loans_repayments_pages_in_order(world: World) -> None:
    w = world
    loan = await new_active_loan(w)
    agent = w.token(Role.AGENT)
    ids = [(await post(w, agent, loan.id, "1.00")).payment.id for _ in range(5)]
    seen: list[str] = []
    token = ""
    while True:
        page = await w.payments.ListRepayments(
            payment_pb2.ListRepaymentsRequest(loan_id=loan.id, page_size=2, page_token=token),
            metadata=md(agent),
        )
        seen += [p.id for p in page.payments]
        token = page.next_page_token
        if not token:
            break
    assert seen == ids


# --- reversal -------------------------------------------------------------------------------


async def test_a_reversal_books_the_compensating_entry_and_the_books_stay_balanced(
    world: World,
) -> None:
    w = world
    start = await books(w)
    loan = await new_active_loan(w)
    disbursed = await books(w)
    assert disbursed["1100"] - start["1100"] == Decimal("1000.00")
    posted = (await post(w, w.token(Role.AGENT), loan.id, "300.00")).payment
    paid = await books(w)
    reverse = payment_pb2.ReverseRepaymentRequest(payment_id=posted.id, reason="cheque bounced")
    await rpc_error(
        w.payments.ReverseRepayment(reverse, metadata=md(w.token(Role.AGENT))),
        Code.PERMISSION_DENIED,
    )
    manager = w.token(Role.BRANCH_MANAGER)
    err = await rpc_error(
        w.payments.ReverseRepayment(
            payment_pb2.ReverseRepaymentRequest(payment_id=posted.id, reason="  "),
            metadata=md(manager),
        ),
        Code.INVALID_ARGUMENT,
    )
    assert [f for f, _ in err.field_errors] == ["reason"]
    reversed_ = (await w.payments.ReverseRepayment(reverse, metadata=md(manager))).payment
    assert reversed_.status == payment_pb2.PAYMENT_STATUS_REVERSED
    assert reversed_.reversal_reason == "cheque bounced"
    assert posted.id in w.loans.reversed
    after = await books(w)
    assert after == disbursed  # every account back where it was before the payment
    assert paid != disbursed
    ids = sorted(e["_id"] for e in await entries_for(w, posted.id))
    assert ids == [f"repayment:{posted.id}"]
    reversal = await w.db.journal_entries.find_one({"_id": f"reversal:repayment:{posted.id}"})
    assert reversal is not None and reversal["reverses"] == f"repayment:{posted.id}"
    # Idempotent, never deleted; a replay of the original request still answers the original.
    again = (await w.payments.ReverseRepayment(reverse, metadata=md(manager))).payment
    assert again.status == payment_pb2.PAYMENT_STATUS_REVERSED
    assert await w.db.journal_entries.count_documents({"reverses": f"repayment:{posted.id}"}) == 1
    assert await books(w) == disbursed

    statement = await w.payments.GetLoanStatement(
        payment_pb2.GetLoanStatementRequest(loan_id=loan.id), metadata=md(w.token(Role.AUDITOR))
    )
    assert [ln.source_kind for ln in statement.lines] == ["disbursement", "repayment", "reversal"]
    assert [ln.running_balance for ln in statement.lines] == ["1000.00", "800.00", "1000.00"]

    async def published() -> bool:
        return any(k == "payment.reversed" and e.payment.id == posted.id for k, e in w.events)

    await wait_until(published)


# --- faults and healing ---------------------------------------------------------------------


async def test_a_crash_after_apply_is_healed_by_the_loan_event(world: World) -> None:
    w = world
    loan = await new_active_loan(w)
    agent = w.token(Role.AGENT)
    before = await books(w)

    async def crash(step: str, doc: dict[str, Any]) -> None:
        if step == "after_apply":
            w.wiring.core.fault_hook = None
            raise RuntimeError("simulated crash between ApplyRepayment and posting")

    w.wiring.core.fault_hook = crash
    await rpc_error(post(w, agent, loan.id, "120.00", key="crash"), Code.INTERNAL)
    principal = decode_access_token(agent, w.keyset).principal
    payment_id = payment_id_for(w.inst, principal.user_id, "crash")
    doc = await w.db.payments.find_one({"_id": payment_id})
    assert doc["status"] == "pending"
    assert w.loans.applications(loan.id) == 1
    assert await entries_for(w, payment_id) == []
    assert await books(w) == before

    # loan_service published what it did; the consumer books it and posts the payment.
    _, applied, _ = w.loans.applied[payment_id]
    await w.loan_event(
        "loan.repayment_applied", loan, payment_id=payment_id, allocation=applied.allocation
    )
    doc = await w.db.payments.find_one({"_id": payment_id})
    assert doc["status"] == "posted"
    assert doc["allocation"]["interest"] == "100.00" and doc["allocation"]["principal"] == "20.00"
    assert len(await entries_for(w, payment_id)) == 1
    # The same event again changes nothing; the client's retry replays the posted payment.
    await w.loan_event(
        "loan.repayment_applied", loan, payment_id=payment_id, allocation=applied.allocation
    )
    retry = await post(w, agent, loan.id, "120.00", key="crash")
    assert retry.replayed and retry.payment.status == payment_pb2.PAYMENT_STATUS_POSTED
    assert retry.payment.allocation.principal == "20.00"
    assert w.loans.applications(loan.id) == 1
    assert len(await entries_for(w, payment_id)) == 1
    after = await books(w)
    assert after["1000"] - before["1000"] == Decimal("120.00")


async def test_a_crash_before_apply_fails_after_the_lease_and_a_retry_re_drives_it(
    world: World,
) -> None:
    w = world
    loan = await new_active_loan(w)
    agent = w.token(Role.AGENT)

    async def crash(step: str, doc: dict[str, Any]) -> None:
        if step == "before_apply":
            w.wiring.core.fault_hook = None
            raise RuntimeError("simulated crash after claiming the key, before applying")

    w.wiring.core.fault_hook = crash
    await rpc_error(post(w, agent, loan.id, "25.00", key="abandoned"), Code.INTERNAL)
    principal = decode_access_token(agent, w.keyset).principal
    payment_id = payment_id_for(w.inst, principal.user_id, "abandoned")
    assert (await w.db.payments.find_one({"_id": payment_id}))["status"] == "pending"
    # Within the lease a retry waits, then answers 409 in progress (the wait is bounded).
    w.wiring.core.config.idempotency_wait_seconds = 0.2
    try:
        err = await rpc_error(
            post(w, agent, loan.id, "25.00", key="abandoned"), Code.ALREADY_EXISTS
        )
    finally:
        w.wiring.core.config.idempotency_wait_seconds = 5.0
    assert err.reason == "IDEMPOTENCY_REQUEST_IN_PROGRESS"

    moved = await w.wiring.recovery.run_once(dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1))
    assert moved.get("pending", 0) >= 1
    got = await w.payments.GetPayment(
        payment_pb2.GetPaymentRequest(payment_id=payment_id), metadata=md(agent)
    )
    assert got.payment.status == payment_pb2.PAYMENT_STATUS_FAILED
    assert "retry with the same" in got.payment.failure_reason
    assert w.loans.applications(loan.id) == 0

    retry = await post(w, agent, loan.id, "25.00", key="abandoned")
    assert not retry.replayed
    assert retry.payment.id == payment_id
    assert retry.payment.status == payment_pb2.PAYMENT_STATUS_POSTED
    assert w.loans.applications(loan.id) == 1
    assert len(await entries_for(w, payment_id)) == 1
    assert (await post(w, agent, loan.id, "25.00", key="abandoned")).replayed


async def test_a_crash_after_the_entry_is_completed_by_the_recovery(world: World) -> None:
    w = world
    loan = await new_active_loan(w)
    agent = w.token(Role.AGENT)

    async def crash(step: str, doc: dict[str, Any]) -> None:
        if step == "after_entry":
            w.wiring.core.fault_hook = None
            raise RuntimeError("simulated crash after booking, before marking posted")

    w.wiring.core.fault_hook = crash
    await rpc_error(post(w, agent, loan.id, "30.00", key="half"), Code.INTERNAL)
    principal = decode_access_token(agent, w.keyset).principal
    payment_id = payment_id_for(w.inst, principal.user_id, "half")
    assert (await w.db.payments.find_one({"_id": payment_id}))["status"] == "pending"
    assert len(await entries_for(w, payment_id)) == 1
    await books(w)  # the entry alone balances
    await w.wiring.recovery.run_once(dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1))
    doc = await w.db.payments.find_one({"_id": payment_id})
    assert doc["status"] == "posted" and doc["outstanding"]["principal"] == "1000.00"
    assert len(await entries_for(w, payment_id)) == 1
    assert (await post(w, agent, loan.id, "30.00", key="half")).replayed
    assert w.loans.applications(loan.id) == 1


# --- loan events ------------------------------------------------------------------------------


async def test_disbursement_and_write_off_events_are_booked_once(world: World) -> None:
    w = world
    before = await books(w)
    loan = w.loans.add(w.inst, w.branch, principal=Decimal("2000"), principal_due=Decimal("2000"))
    # Through the broker, as loan_service publishes it (fees deducted: 50).
    entry = outbox_fields(
        [
            loan_events_pb2.LoanEvent.FromString(
                w.loan_event_body(
                    "loan.disbursed",
                    loan,
                    disbursed_net="1950.00",
                    fees_deducted="50.00",
                    channel="mobile_money",
                    business_date=TODAY,
                )
            )
        ]
    )["outbox"][0]
    await w.publisher.publish(entry)
    await w.publisher.publish(entry)  # at least once: delivered twice

    async def booked() -> bool:
        return await w.db.journal_entries.find_one({"_id": f"disbursement:{loan.id}"}) is not None

    await wait_until(booked)
    await asyncio.sleep(0.3)
    after = await books(w)
    assert after["1100"] - before["1100"] == Decimal("2000.00")
    assert before["1020"] - after["1020"] == Decimal("1950.00")
    assert after["4100"] - before["4100"] == Decimal("50.00")
    seen = await w.db.loans_seen.find_one({"_id": loan.id})
    assert seen["status"] == "active" and seen["ref"] == loan.id.upper()

    loan.status = loan_pb2.LOAN_STATUS_WRITTEN_OFF
    loan.written_off_principal = Decimal("2000")
    for _ in range(2):
        await w.loan_event("loan.written_off", loan, business_date=TODAY)
    written = await books(w)
    assert written["1100"] == before["1100"]
    assert written["5000"] - before["5000"] == Decimal("2000.00")
    assert await w.db.journal_entries.count_documents({"loan_id": loan.id}) == 2
    assert (await w.db.loans_seen.find_one({"_id": loan.id}))["status"] == "written_off"


# --- mobile money and suspense ------------------------------------------------------------------


def callback(transaction_id: str, reference: str, amount: str = "500.00", **kw: Any) -> bytes:
    return json.dumps(
        {
            "transaction_id": transaction_id,
            "account_reference": reference,
            "msisdn": "+254712345678",
            "amount": amount,
            "currency": "KES",
            "transacted_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            **kw,
        }
    ).encode()


async def receive(
    w: World, body: bytes, *, secret: str = SECRET, at: int | None = None, institution_id: str = ""
) -> payment_pb2.ReceiveMobileMoneyResponse:
    header = signature_header(secret.encode(), body, at or int(time.time()))
    return await w.payments.ReceiveMobileMoney(
        payment_pb2.ReceiveMobileMoneyRequest(
            institution_id=institution_id or w.inst, raw_body=body, signature=header
        )
    )  # no token: the HMAC authenticates it


async def test_mobile_money_callbacks_are_verified_booked_to_suspense_once(world: World) -> None:
    w = world
    loan = await new_active_loan(w)
    before = await books(w)
    txn = f"QK{secrets.token_hex(4).upper()}"
    body = callback(txn, f" {loan.id.lower()} ")
    first = await receive(w, body)
    p = first.payment
    assert not first.replayed and p.status == payment_pb2.PAYMENT_STATUS_SUSPENSE
    assert p.provider_transaction_id == txn and p.payer_phone == "+254712345678"
    assert p.amount == "500.00" and p.channel == "mobile_money" and not p.loan_id
    doc = await w.db.payments.find_one({"_id": p.id})
    assert doc["suggested_loan_id"] == loan.id
    after = await books(w)
    assert after["1020"] - before["1020"] == Decimal("500.00")
    assert after["2900"] - before["2900"] == Decimal("500.00")

    # The provider delivers it again (even signed later): the same payment, booked once.
    again = await receive(w, body, at=int(time.time()) + 5)
    assert again.replayed and again.payment.id == p.id
    assert len(await entries_for(w, p.id)) == 1
    assert await books(w) == after
    # Same transaction id, other amount: refused.
    err = await rpc_error(receive(w, callback(txn, loan.id, "501.00")), Code.ALREADY_EXISTS)
    assert err.reason == "IDEMPOTENCY_KEY_REUSED"
    # Bad or missing signature, stale timestamp: 401; an institution without a callback
    # endpoint: 404; nothing stored.
    other_txn = f"QK{secrets.token_hex(4).upper()}"
    for call, code, reason in (
        (
            receive(w, callback(other_txn, loan.id), secret="wrong-secret-0000000"),
            Code.UNAUTHENTICATED,
            "SIGNATURE_INVALID",
        ),
        (
            receive(w, callback(other_txn, loan.id), at=int(time.time()) - 3600),
            Code.UNAUTHENTICATED,
            "REPLAYED",
        ),
        (
            receive(w, callback(other_txn, loan.id), institution_id=new_id("inst")),
            Code.NOT_FOUND,
            "MOBILE_MONEY_NOT_CONFIGURED",
        ),
    ):
        assert (await rpc_error(call, code)).reason == reason
    tampered = await rpc_error(
        w.payments.ReceiveMobileMoney(
            payment_pb2.ReceiveMobileMoneyRequest(
                institution_id=w.inst,
                raw_body=callback(other_txn, loan.id, "9999.00"),
                signature=signature_header(
                    SECRET.encode(), callback(other_txn, loan.id), int(time.time())
                ),
            )
        ),
        Code.UNAUTHENTICATED,
    )
    assert tampered.reason == "SIGNATURE_INVALID"
    assert await w.db.payments.count_documents({"provider_transaction_id": other_txn}) == 0
    # An authentic but invalid body is a 422 naming the fields.
    bad = await rpc_error(receive(w, callback(other_txn, loan.id, "12.345")), Code.INVALID_ARGUMENT)
    assert [f for f, _ in bad.field_errors] == ["amount"]

    async def published() -> bool:
        return any(k == "payment.received" and e.payment.id == p.id for k, e in w.events)

    await wait_until(published)


async def test_suspense_is_listed_and_assigned_to_a_loan(world: World) -> None:
    w = world
    loan = await new_active_loan(w)
    before = await books(w)
    unmatched = (
        await receive(w, callback(f"QK{secrets.token_hex(4)}", "NO-SUCH-LOAN", "60.00"))
    ).payment
    assert unmatched.status == payment_pb2.PAYMENT_STATUS_SUSPENSE
    agent = w.token(Role.AGENT)
    listed = await w.payments.ListSuspense(
        payment_pb2.ListSuspenseRequest(page_size=200), metadata=md(agent)
    )
    assert unmatched.id in {p.id for p in listed.payments}
    outsider = w.token(Role.ADMIN, institution_id=new_id("inst"))
    outside = await w.payments.ListSuspense(
        payment_pb2.ListSuspenseRequest(), metadata=md(outsider)
    )
    assert list(outside.payments) == []

    assign = payment_pb2.AssignSuspenseRequest(payment_id=unmatched.id, loan_id=loan.id)
    await rpc_error(
        w.payments.AssignSuspense(
            payment_pb2.AssignSuspenseRequest(payment_id=unmatched.id), metadata=md(agent)
        ),
        Code.INVALID_ARGUMENT,
    )
    await rpc_error(w.payments.AssignSuspense(assign, metadata=md(outsider)), Code.NOT_FOUND)
    await rpc_error(
        w.payments.AssignSuspense(assign, metadata=md(w.token(Role.AUDITOR))),
        Code.PERMISSION_DENIED,
    )
    assigned = (await w.payments.AssignSuspense(assign, metadata=md(agent))).payment
    assert assigned.status == payment_pb2.PAYMENT_STATUS_POSTED
    assert assigned.loan_id == loan.id and assigned.branch_id == w.branch
    assert assigned.allocation.interest == "60.00"
    assert w.loans.applications(loan.id) == 1
    after = await books(w)
    assert after["2900"] == before["2900"]  # in and out of suspense
    assert after["1020"] - before["1020"] == Decimal("60.00")
    assert after["4000"] - before["4000"] == Decimal("60.00")
    assert sorted(e["_id"] for e in await entries_for(w, unmatched.id)) == [
        f"suspense_assignment:{unmatched.id}",
        f"unidentified_receipt:{unmatched.id}",
    ]
    again = (await w.payments.AssignSuspense(assign, metadata=md(agent))).payment
    assert again.status == payment_pb2.PAYMENT_STATUS_POSTED
    assert w.loans.applications(loan.id) == 1
    listed = await w.payments.ListSuspense(
        payment_pb2.ListSuspenseRequest(page_size=200), metadata=md(agent)
    )
    assert unmatched.id not in {p.id for p in listed.payments}
    # The matched suggestion is used when no loan is named.
    matched = (await receive(w, callback(f"QK{secrets.token_hex(4)}", loan.id, "5.00"))).payment
    by_suggestion = await w.payments.AssignSuspense(
        payment_pb2.AssignSuspenseRequest(payment_id=matched.id), metadata=md(agent)
    )
    assert by_suggestion.payment.loan_id == loan.id
    repayments = await w.payments.ListRepayments(
        payment_pb2.ListRepaymentsRequest(loan_id=loan.id), metadata=md(agent)
    )
    assert {p.id for p in repayments.payments} == {unmatched.id, matched.id}

    async def published() -> bool:
        keys = {(k, e.payment.id) for k, e in w.events}
        return {("payment.unmatched", unmatched.id), ("payment.assigned", unmatched.id)} <= keys

    await wait_until(published)


# --- the ledger -------------------------------------------------------------------------------


async def test_the_chart_accounts_and_general_ledger(world: World) -> None:
    w = world
    loan = await new_active_loan(w)
    agent = w.token(Role.AGENT)
    for amount in ("10.00", "20.00"):
        await post(w, agent, loan.id, amount)
    auditor = w.token(Role.AUDITOR)
    accounts = await w.payments.ListAccounts(
        payment_pb2.ListAccountsRequest(), metadata=md(auditor)
    )
    assert {a.code for a in accounts.accounts} >= {"1000", "1100", "2900", "4000", "5000"}

    admin = w.token(Role.ADMIN)
    create = payment_pb2.CreateAccountRequest(
        account=payment_pb2.Account(code="1030", name="Agent float", type="asset")
    )
    await rpc_error(w.payments.CreateAccount(create, metadata=md(agent)), Code.PERMISSION_DENIED)
    made = await w.payments.CreateAccount(create, metadata=md(admin))
    assert made.account.code == "1030"
    err = await rpc_error(w.payments.CreateAccount(create, metadata=md(admin)), Code.ALREADY_EXISTS)
    assert err.reason == "ACCOUNT_CODE_TAKEN"
    bad = await rpc_error(
        w.payments.CreateAccount(
            payment_pb2.CreateAccountRequest(
                account=payment_pb2.Account(code="x", name="", type="other")
            ),
            metadata=md(admin),
        ),
        Code.INVALID_ARGUMENT,
    )
    assert sorted(f for f, _ in bad.field_errors) == ["code", "name", "type"]
    accounts = await w.payments.ListAccounts(
        payment_pb2.ListAccountsRequest(), metadata=md(auditor)
    )
    assert "1030" in {a.code for a in accounts.accounts}

    tb = await books(w)
    lines: list[payment_pb2.LedgerLine] = []
    token = ""
    while True:
        page = await w.payments.GetGeneralLedger(
            payment_pb2.GetGeneralLedgerRequest(account_code="1000", page_size=3, page_token=token),
            metadata=md(auditor),
        )
        lines += page.lines
        token = page.next_page_token
        if not token:
            break
    running = ZERO
    for line in lines:
        running += Decimal(line.debit) - Decimal(line.credit)
        assert Decimal(line.running_balance) == running
    assert running == tb["1000"]
    await rpc_error(
        w.payments.GetGeneralLedger(
            payment_pb2.GetGeneralLedgerRequest(account_code="9999"), metadata=md(auditor)
        ),
        Code.NOT_FOUND,
    )
    # A branch manager reads the books (ledger:read); an agent does not.
    await books(w)
    await rpc_error(
        w.payments.GetTrialBalance(payment_pb2.GetTrialBalanceRequest(), metadata=md(agent)),
        Code.PERMISSION_DENIED,
    )
    as_of = await w.payments.GetTrialBalance(
        payment_pb2.GetTrialBalanceRequest(as_of="2000-01-01"), metadata=md(auditor)
    )
    assert as_of.total_debit == as_of.total_credit == "0.00"
    # Statements are scoped like loans.
    await rpc_error(
        w.payments.GetLoanStatement(
            payment_pb2.GetLoanStatementRequest(loan_id=loan.id),
            metadata=md(w.token(Role.BRANCH_MANAGER, branch=w.other_branch)),
        ),
        Code.NOT_FOUND,
    )


async def test_a_new_institution_opens_its_books_in_its_own_currency(world: World) -> None:
    w = world
    fresh = f"{w.inst}_tzs"
    auditor = w.token(Role.AUDITOR, institution_id=fresh)
    tb = await w.payments.GetTrialBalance(
        payment_pb2.GetTrialBalanceRequest(), metadata=md(auditor)
    )
    assert tb.currency == "TZS" and tb.total_debit == "0.00" and len(tb.lines) == 12
    # Mobile money for an institution without secrets has no callback endpoint: not found,
    # before anything else.
    await rpc_error(receive(w, callback("QK1", "X"), institution_id=fresh), Code.NOT_FOUND)


# --- matched receipts posted by payment_service itself ------------------------------------------


@dataclass
class FakeAuth:
    """auth_service's IssueServiceToken: real service tokens, signed with the world's keys."""

    keyset: KeySet
    issued: int = 0
    down: bool = False

    async def IssueServiceToken(
        self, request: auth_pb2.IssueServiceTokenRequest
    ) -> auth_pb2.IssueServiceTokenResponse:
        if self.down:
            raise Unauthenticated("auth_service refuses", reason="SERVICE_CREDENTIAL_INVALID")
        self.issued += 1
        principal = service_principal(request.service, request.institution_id, new_id("svc"))
        issued = issue_access_token(self.keyset, principal, ttl=SERVICE_TOKEN_TTL)
        return auth_pb2.IssueServiceTokenResponse(
            access_token=issued.token, expires_in=issued.expires_in
        )


@pytest.fixture
def auth(world: World) -> Any:
    """payment_service with a service identity (as the fleet runs it) for one test."""
    fake = FakeAuth(world.keyset)
    mobile_money = world.wiring.servicer.mobile_money
    mobile_money.service_tokens = ServiceTokens(fake, "the-service-secret")
    yield fake
    mobile_money.service_tokens = None


def status_of(doc: dict[str, Any]) -> str:
    return str(doc["status"])


async def test_a_matched_receipt_is_posted_by_payment_service_itself(
    world: World, auth: FakeAuth
) -> None:
    w = world
    loan = await new_active_loan(w)
    before = await books(w)
    body = callback(f"QK{secrets.token_hex(4)}", f" {loan.id.lower()} ", "500.00")
    first = await receive(w, body)
    p = first.payment
    assert p.status == payment_pb2.PAYMENT_STATUS_POSTED and p.loan_id == loan.id
    assert (p.allocation.interest, p.allocation.principal) == ("100.00", "400.00")
    assert p.outstanding.principal == "600.00" and loan.principal_due == Decimal("600")
    assert w.loans.appliers[p.id] == "svc:payment_service"
    after = await books(w)  # asserts that the trial balance nets to zero
    assert after["1020"] - before["1020"] == Decimal("500.00")
    assert after["2900"] == before["2900"]  # in and out of suspense
    assert after["4000"] - before["4000"] == Decimal("100.00")
    assert before["1100"] - after["1100"] == Decimal("400.00")
    assert sorted(e["_id"] for e in await entries_for(w, p.id)) == [
        f"suspense_assignment:{p.id}",
        f"unidentified_receipt:{p.id}",
    ]
    # Redelivered: the same payment, applied once.
    again = await receive(w, body, at=int(time.time()) + 5)
    assert again.replayed and again.payment.status == payment_pb2.PAYMENT_STATUS_POSTED
    assert w.loans.applications(loan.id) == 1

    # Unmatched: in suspense, and the recovery has nothing to do with it.
    stray = (await receive(w, callback(f"QK{secrets.token_hex(4)}", "NO-SUCH-LOAN"))).payment
    assert stray.status == payment_pb2.PAYMENT_STATUS_SUSPENSE
    assert (await w.db.payments.find_one({"_id": stray.id}))["lease_until"] is None
    assert auth.issued == 1  # one token served both receipts

    async def published() -> bool:
        keys = {(k, e.payment.id) for k, e in w.events}
        return {("payment.received", p.id), ("payment.posted", p.id)} <= keys

    await wait_until(published)
    assert ("payment.assigned", p.id) not in {(k, e.payment.id) for k, e in w.events}


@pytest.mark.parametrize("outage", ["before", "after"])
async def test_a_matched_receipt_waits_while_loan_service_is_down_and_posts_once(
    world: World, auth: FakeAuth, outage: str
) -> None:
    w = world
    loan = await new_active_loan(w)
    before = await books(w)
    w.loans.outage = outage
    p = (await receive(w, callback(f"QK{secrets.token_hex(4)}", loan.id, "300.00"))).payment
    assert p.status != payment_pb2.PAYMENT_STATUS_POSTED
    held = await books(w)
    assert held["2900"] - before["2900"] == Decimal("300.00")  # the money is in suspense
    recovery = w.wiring.recovery
    # Still down: the recovery puts it back in suspense and tries again; nothing is lost.
    later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1)
    await recovery.run_once(later)
    await recovery.run_once(later + dt.timedelta(minutes=1))
    doc = await w.db.payments.find_one({"_id": p.id})
    assert status_of(doc) in ("suspense", "assigning") and doc["lease_until"] is not None
    w.loans.outage = ""
    for step in range(2, 5):
        await recovery.run_once(later + dt.timedelta(minutes=step))
    doc = await w.db.payments.find_one({"_id": p.id})
    assert status_of(doc) == "posted" and doc["loan_id"] == loan.id
    assert w.loans.applications(loan.id) == 1  # applied once, however often it was tried
    after = await books(w)
    assert after["2900"] == before["2900"]
    assert after["1020"] - before["1020"] == Decimal("300.00")
    assert len(await entries_for(w, p.id)) == 2


async def test_a_matched_receipt_waits_while_auth_service_refuses(
    world: World, auth: FakeAuth
) -> None:
    w = world
    loan = await new_active_loan(w)
    auth.down = True
    p = (await receive(w, callback(f"QK{secrets.token_hex(4)}", loan.id, "20.00"))).payment
    assert p.status == payment_pb2.PAYMENT_STATUS_SUSPENSE and not w.loans.calls[p.id]
    auth.down = False
    await w.wiring.recovery.run_once(dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1))
    doc = await w.db.payments.find_one({"_id": p.id})
    assert status_of(doc) == "posted" and w.loans.applications(loan.id) == 1
