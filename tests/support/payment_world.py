"""payment_service for the integration tests, against real servers (MongoDB wire, Redis,
RabbitMQ), over real gRPC.

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
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import grpc
from pymongo import AsyncMongoClient

from auth_service.domain.service_identity import SERVICE_TOKEN_TTL, service_principal
from kopa.auth.v1 import auth_pb2
from kopa.common.v1 import common_pb2
from kopa.loan.v1 import events_pb2 as loan_events_pb2
from kopa.loan.v1 import loan_pb2
from kopa.loan.v2 import loans_pb2, loans_pb2_grpc, repayments_pb2, repayments_pb2_grpc
from kopa.payment.v1 import payment_pb2, payment_pb2_grpc
from kopa.payment.v2 import repayments_pb2_grpc as payment_repayments_pb2_grpc
from kopa.user.v1 import user_pb2
from kopa.user.v2 import user_pb2 as user_v2
from kopa.user.v2 import user_pb2_grpc as user_v2_grpc
from payment_service.bootstrap import Settings, Wiring, build, registrar
from payment_service.domain.loans import ALLOCATION_PARTS
from payment_service.domain.mobile_money import signature_header
from shared import context, loan_events, payment_events
from shared.dates import to_proto_date
from shared.errors import IllegalState, NotFound, Unauthenticated, ValidationError
from shared.events import EventPublisher
from shared.grpc_server import build_server
from shared.ids import new_id
from shared.money import fmt, from_minor, to_minor, to_money
from shared.permissions import Principal, Role
from shared.service import Runtime
from shared.tokens import KeySet, decode_access_token, issue_access_token
from tests.support.broker import observing, remove_broker_namespace
from tests.support.rpc import md

ACTIVE = loan_pb2.LOAN_STATUS_ACTIVE
CLOSED = loan_pb2.LOAN_STATUS_CLOSED
SECRET = secrets.token_hex(24)
TODAY = dt.datetime.now(dt.UTC).date().isoformat()
ZERO = Decimal(0)


#: The date field each loan event carries its business date in (`World.loan_event_body`).
_DATE_FIELDS = {
    "loan.disbursed": "disbursement_date",
    "loan.written_off": "written_off_on",
    "loan.repayment_applied": "paid_on",
    "loan.closed": "closed_on",
}

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
class FakeLoanService(loans_pb2_grpc.LoanServiceServicer):
    """kopa.loan.v2.LoanService (GetLoan) and, through `FakeRepaymentService`, the money path of
    kopa.loan.v2, as payment_service calls them: allocates interest first, then principal, the
    rest as overpayment; idempotent on payment_id; reversal restores the balances."""

    loans: dict[str, FakeLoan] = field(default_factory=dict)
    applied: dict[str, tuple[str, repayments_pb2.ApplyRepaymentResponse, tuple[Decimal, ...]]] = (
        field(default_factory=dict)
    )
    calls: Counter[str] = field(default_factory=Counter)
    reads: Counter[str] = field(default_factory=Counter)
    refunded: dict[str, repayments_pb2.RefundCreditResponse] = field(default_factory=dict)
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

    def outstanding(self, loan: FakeLoan) -> loans_pb2.Outstanding:
        c = loan.currency
        return loans_pb2.Outstanding(
            principal=to_money(loan.principal_due, c),
            interest=to_money(loan.interest_due, c),
            fees=to_money(ZERO, c),
            penalties=to_money(ZERO, c),
            total=to_money(loan.principal_due + loan.interest_due, c),
        )

    def proto(self, loan: FakeLoan) -> loans_pb2.Loan:
        return loans_pb2.Loan(
            id=loan.id,
            institution_id=loan.institution_id,
            branch_id=loan.branch_id,
            borrower_id="bor_1",
            status=loan.status,  # type: ignore[arg-type]
            principal=to_money(loan.principal, loan.currency),
            currency=loan.currency,
            outstanding=self.outstanding(loan),
            version=loan.version,
            written_off_principal=to_money(loan.written_off_principal, loan.currency),
        )

    def position(self, loan: FakeLoan) -> loan_events_pb2.LoanPosition:
        c = loan.currency
        return loan_events_pb2.LoanPosition(
            loan_id=loan.id,
            institution_id=loan.institution_id,
            branch_id=loan.branch_id,
            borrower_id="bor_1",
            currency=c,
            status=loan.status,  # type: ignore[arg-type]
            outstanding=loan_events_pb2.LoanAmounts(
                principal=to_minor(loan.principal_due, c), interest=to_minor(loan.interest_due, c)
            ),
            credit_balance=to_minor(loan.credit, c),
        )

    async def GetLoan(self, request: Any, context_: Any) -> loans_pb2.GetLoanResponse:
        self.reads[request.loan_id] += 1
        return loans_pb2.GetLoanResponse(loan=self.proto(self._loan(request.loan_id)))

    async def apply_repayment(
        self, request: repayments_pb2.ApplyRepaymentRequest, context_: Any
    ) -> repayments_pb2.ApplyRepaymentResponse:
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

    def _apply(self, request: repayments_pb2.ApplyRepaymentRequest) -> None:
        loan = self._loan(request.loan_id)
        self.appliers[request.payment_id] = context.principal().user_id
        if loan.status != ACTIVE:
            raise IllegalState(
                f"loan {loan.id} is not active",
                reason="LOAN_NOT_ACTIVE",
                metadata={"current_status": loan_pb2.LoanStatus.Name(loan.status)},  # type: ignore[arg-type]
            )
        c = loan.currency
        assert request.currency == c, "payment_service names the loan's currency"
        amount = from_minor(request.amount, c)
        interest = min(amount, loan.interest_due)
        principal = min(amount - interest, loan.principal_due)
        over = amount - interest - principal
        loan.interest_due -= interest
        loan.principal_due -= principal
        loan.credit += over
        loan.version += 1
        if not loan.principal_due and not loan.interest_due:
            loan.status = CLOSED
        response = repayments_pb2.ApplyRepaymentResponse(
            allocation=loan_events_pb2.LoanAllocation(
                principal=to_minor(principal, c),
                interest=to_minor(interest, c),
                overpayment=to_minor(over, c),
            ),
            position=self.position(loan),
        )
        self.applied[request.payment_id] = (loan.id, response, (principal, interest, over))

    async def refund_credit(
        self, request: repayments_pb2.RefundCreditRequest, context_: Any
    ) -> repayments_pb2.RefundCreditResponse:
        self.calls[request.refund_id] += 1
        loan = self._loan(request.loan_id)
        if request.refund_id not in self.refunded:
            amount = from_minor(request.amount, loan.currency)
            if amount > loan.credit:
                raise ValidationError.of("amount", f"the credit balance is {loan.credit}")
            loan.credit -= amount
            loan.version += 1
            self.refunded[request.refund_id] = repayments_pb2.RefundCreditResponse(
                amount=request.amount, position=self.position(loan)
            )
        return self.refunded[request.refund_id]

    async def reverse_repayment(
        self, request: repayments_pb2.ReverseRepaymentRequest, context_: Any
    ) -> repayments_pb2.ReverseRepaymentResponse:
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
        return repayments_pb2.ReverseRepaymentResponse(position=self.position(loan))


class FakeRepaymentService(repayments_pb2_grpc.RepaymentServiceServicer):
    """kopa.loan.v2.RepaymentService over a `FakeLoanService`'s loans."""

    def __init__(self, loans: FakeLoanService) -> None:
        self.loans = loans

    async def ApplyRepayment(
        self, request: repayments_pb2.ApplyRepaymentRequest, context_: Any
    ) -> repayments_pb2.ApplyRepaymentResponse:
        return await self.loans.apply_repayment(request, context_)

    async def RefundCredit(
        self, request: repayments_pb2.RefundCreditRequest, context_: Any
    ) -> repayments_pb2.RefundCreditResponse:
        return await self.loans.refund_credit(request, context_)

    async def ReverseRepayment(
        self, request: repayments_pb2.ReverseRepaymentRequest, context_: Any
    ) -> repayments_pb2.ReverseRepaymentResponse:
        return await self.loans.reverse_repayment(request, context_)


class FakeUserService(user_v2_grpc.UserServiceServicer):
    """kopa.user.v2's institutions, which is all payment_service reads of user_service."""

    def __init__(self, currencies: dict[str, str]) -> None:
        self.currencies = currencies

    async def GetInstitution(self, request: Any, context_: Any) -> user_v2.GetInstitutionResponse:
        p = context.principal()
        currency = self.currencies.get(request.institution_id)
        if currency is None or not p.can_access(request.institution_id):
            raise NotFound("institution not found")
        return user_v2.GetInstitutionResponse(
            institution=user_pb2.Institution(
                id=request.institution_id, name="MFI", currency=currency
            )
        )


# --- the world ------------------------------------------------------------------------------


@dataclass
class World:
    ns: str
    payments: payment_pb2_grpc.PaymentServiceStub
    #: kopa.payment.v2 (typed) on the same server.
    repayments: payment_repayments_pb2_grpc.RepaymentServiceStub
    wiring: Wiring
    loans: FakeLoanService
    keyset: KeySet
    db: Any
    publisher: EventPublisher
    #: The payment events published, as (routing key, message of `shared.payment_events`).
    events: list[tuple[str, Any]]
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
        """The loan service's event `key` for `loan` (its version bumped), its fields given
        as a test writes them: amounts as decimal strings, `allocation` as the contract's
        `LoanAllocation` (or v1 `Allocation`), `business_date` as ISO text, `channel` as the
        API's word."""
        loan.version += 1
        c = loan.currency
        message_type = loan_events.MESSAGES[key]
        values: dict[str, Any] = {}
        for name, value in fields.items():
            if name == "business_date":
                date_field = _DATE_FIELDS.get(key, "business_date")
                values[date_field] = to_proto_date(value)
            elif name == "allocation" and isinstance(value, loan_events_pb2.LoanAllocation):
                values[name] = value
            elif name == "allocation":
                values[name] = loan_events_pb2.LoanAllocation(
                    **{k: to_minor(getattr(value, k), c) for k in ALLOCATION_PARTS}
                )
            elif name == "channel":
                values[name] = f"DISBURSEMENT_CHANNEL_{value.upper()}"
            elif name in ("disbursed_net", "fees_deducted"):
                values[name] = to_minor(value, c)
            else:
                values[name] = value
        if key == "loan.disbursed":
            values.setdefault("principal", to_minor(loan.principal, c))
        if key == "loan.written_off":
            values.setdefault(
                "written_off",
                loan_events_pb2.LoanAmounts(principal=to_minor(loan.written_off_principal, c)),
            )
        event = message_type(
            meta=common_pb2.EventMeta(
                event_id=new_id("evt"),
                event_type=key,
                institution_id=loan.institution_id,
                branch_id=loan.branch_id,
                aggregate_id=loan.id,
                aggregate_version=loan.version,
            ),
            loan=self.loans.position(loan),
            **values,
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


@contextlib.asynccontextmanager
async def payment_world(server_urls: dict[str, str]) -> AsyncIterator[World]:
    """payment_service with its fake peers and an observer of its events, in a namespace of its
    own; everything it made is removed after."""
    ns = f"it{secrets.token_hex(4)}"
    inst = new_id("inst")
    keyset = KeySet.generate()

    async def authenticate(token: str) -> Principal:
        return decode_access_token(token, keyset).principal  # TokenInvalid is a 401

    loans = FakeLoanService()  # type: ignore[abstract]
    users = FakeUserService({inst: "KES", f"{inst}_tzs": "TZS"})  # type: ignore[abstract]

    def register_peers(server: grpc.aio.Server) -> list[str]:
        loans_pb2_grpc.add_LoanServiceServicer_to_server(loans, server)
        repayments_pb2_grpc.add_RepaymentServiceServicer_to_server(
            FakeRepaymentService(loans), server
        )
        user_v2_grpc.add_UserServiceServicer_to_server(users, server)
        return [
            loans_pb2.DESCRIPTOR.services_by_name["LoanService"].full_name,
            repayments_pb2.DESCRIPTOR.services_by_name["RepaymentService"].full_name,
            user_v2.DESCRIPTOR.services_by_name["UserService"].full_name,
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
    server, port, _ = build_server(registrar(wiring), port=0, authenticate=authenticate)
    await server.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")

    events: list[tuple[str, Any]] = []

    async def observe(key: str, body: bytes, headers: dict[str, Any]) -> None:
        events.append((key, payment_events.decode(key, body)))

    publisher = EventPublisher(server_urls["AMQP_URL"], "loan-test", ns)
    await publisher.connect()
    try:
        async with observing(server_urls["AMQP_URL"], ns, "observer", ["payment.*"], observe):
            yield World(
                ns=ns,
                payments=payment_pb2_grpc.PaymentServiceStub(channel),
                repayments=payment_repayments_pb2_grpc.RepaymentServiceStub(channel),
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
        await publisher.close()
        await runtime.close()
        await peers.stop(None)
        await remove_broker_namespace(server_urls["AMQP_URL"], ns, ["payment", "observer"])
        async with AsyncMongoClient[Any](server_urls["MONGODB_URL"]) as mongo:
            await mongo.drop_database(f"{ns}_payment")


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


# --- mobile money callbacks ---------------------------------------------------------------


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


# --- auth_service, for payment_service's own service tokens -------------------------------


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
