"""In-memory stand-ins for payment_service's adapters, for unit tests of its use cases.

- ``FakeRepository`` subclasses the real ``AbstractRepository`` (``service_layer.ports``):
  payments held as copies of the aggregate (compare-and-set on ``version``), journal
  entries (``BookedEntry``, by id) and charts (``VersionedChart``, by institution) as copies
  of the domain objects, the loans read model as documents; every event written is kept in
  ``published``.
- ``FakeLoanGateway`` subclasses ``AbstractLoanGateway``: a loan service that applies a
  payment once per payment id (all to principal, the rest as overpayment), and can be told
  to refuse (``refusal``) or to be unreachable before or after applying (``outage``).
- ``FakePayments``: the use cases wired on those fakes, a settable clock and a caller.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from payment_service.adapters import codec
from payment_service.domain.ledger import BookedEntry, ChartOfAccounts, VersionedChart
from payment_service.domain.loans import Applied, LoanView
from payment_service.domain.payment import Payment, PaymentKind, PaymentStatus
from payment_service.service_layer.core import PaymentConfig, PaymentCore
from payment_service.service_layer.ledger import Books, LedgerHandlers
from payment_service.service_layer.loan_events import LoanEvents
from payment_service.service_layer.mobile_money import MobileMoney
from payment_service.service_layer.ports import (
    AbstractLoanGateway,
    AbstractRepository,
)
from payment_service.service_layer.recovery import Recovery
from payment_service.service_layer.repayments import Repayments
from shared import context
from shared.errors import DomainError, NotFound
from shared.mongo import decode_page_token, encode_page_token, page_size
from shared.permissions import Principal, Role
from shared.service_tokens import AbstractServiceTokens

# --- the repository ------------------------------------------------------------------------


class FakeRepository(AbstractRepository):
    def __init__(self) -> None:
        self.payments: dict[str, Payment] = {}
        self.published: list[tuple[str, Payment]] = []  # (routing key, the payment as written)
        self.entries: dict[str, BookedEntry] = {}
        self.charts: dict[str, VersionedChart] = {}
        self.loans_seen: dict[str, dict[str, Any]] = {}
        self.writes = 0

    # --- payments ------------------------------------------------------------------------

    def _publish(self, payment: Payment) -> None:
        for event in payment.events:
            self.published.append((event.routing_key, copy.deepcopy(payment)))
        payment.events = []

    def routing_keys(self, payment_id: str) -> list[str]:
        return [key for key, p in self.published if p.id == payment_id]

    async def get(self, payment_id: str) -> Payment | None:
        held = self.payments.get(payment_id)
        return copy.deepcopy(held) if held is not None else None

    async def add(self, payment: Payment) -> bool:
        if payment.id in self.payments:
            return False
        stored = copy.deepcopy(payment)
        self._publish(stored)
        payment.events.clear()
        self.payments[payment.id] = stored
        self.writes += 1
        return True

    def answer(self, payment: Payment) -> bytes:
        return codec.answer(payment)

    async def _replace(self, current: Payment, new: Payment) -> Payment | None:
        held = self.payments.get(current.id)
        if held is None or held.version != current.version:
            return None
        stored = copy.deepcopy(new)
        stored.version = current.version + 1
        self._publish(stored)
        self.payments[current.id] = stored
        self.writes += 1
        return copy.deepcopy(stored)

    def _page(
        self, payments: list[Payment], requested_size: int, token: str
    ) -> tuple[list[Payment], str]:
        size = page_size(requested_size)
        after = decode_page_token(token)
        ordered = sorted((p for p in payments if p.seq > after), key=lambda p: p.seq)
        next_token = encode_page_token(ordered[size - 1].seq) if len(ordered) > size else ""
        return [copy.deepcopy(p) for p in ordered[:size]], next_token

    async def page_for_loan(
        self, loan_id: str, scope: Mapping[str, str], size: int, token: str
    ) -> tuple[list[Payment], str]:
        def inside(p: Payment) -> bool:
            fields = {"institution_id": p.institution_id, "branch_id": p.branch_id}
            return all(fields.get(k) == v for k, v in scope.items())

        found = [
            p
            for p in self.payments.values()
            if p.loan_id == loan_id and p.kind is not PaymentKind.REFUND and inside(p)
        ]
        return self._page(found, size, token)

    async def page_in_suspense(
        self, institution_id: str, size: int, token: str
    ) -> tuple[list[Payment], str]:
        found = [
            p
            for p in self.payments.values()
            if p.institution_id == institution_id and p.status is PaymentStatus.SUSPENSE
        ]
        return self._page(found, size, token)

    async def stale(
        self, statuses: Sequence[PaymentStatus], before: dt.datetime, limit: int = 200
    ) -> list[Payment]:
        found = [
            copy.deepcopy(p)
            for p in self.payments.values()
            if p.status in statuses and p.lease_until is not None and p.lease_until < before
        ]
        return found[:limit]

    # --- journal entries -----------------------------------------------------------------

    async def insert_entry(self, booked: BookedEntry) -> bool:
        if booked.entry.id in self.entries:
            return False
        self.entries[booked.entry.id] = copy.deepcopy(booked)
        return True

    async def get_entry(self, entry_id: str) -> BookedEntry | None:
        held = self.entries.get(entry_id)
        return copy.deepcopy(held) if held is not None else None

    async def stream_entries(
        self,
        institution_id: str,
        *,
        as_of: dt.date | None = None,
        account_code: str | None = None,
        loan_id: str | None = None,
    ) -> AsyncIterator[BookedEntry]:
        for booked in list(self.entries.values()):
            entry = booked.entry
            if (
                entry.institution_id == institution_id
                and (as_of is None or entry.date <= as_of)
                and (
                    account_code is None
                    or any(ln.account_code == account_code for ln in entry.lines)
                )
                and (loan_id is None or entry.loan_id == loan_id)
            ):
                yield copy.deepcopy(booked)

    # --- charts --------------------------------------------------------------------------

    async def get_chart(self, institution_id: str) -> VersionedChart | None:
        held = self.charts.get(institution_id)
        return copy.deepcopy(held) if held is not None else None

    async def insert_chart(self, chart: ChartOfAccounts, *, now: dt.datetime) -> bool:
        if chart.institution_id in self.charts:
            return False
        self.charts[chart.institution_id] = VersionedChart(copy.deepcopy(chart), 1)
        return True

    async def replace_chart(
        self, chart: ChartOfAccounts, expected_version: int, *, now: dt.datetime
    ) -> bool:
        held = self.charts.get(chart.institution_id)
        if held is None or held.version != expected_version:
            return False
        self.charts[chart.institution_id] = VersionedChart(
            copy.deepcopy(chart), expected_version + 1
        )
        return True

    # --- the loans read model ------------------------------------------------------------

    async def upsert_loan_seen(self, doc: dict[str, Any]) -> None:
        held = self.loans_seen.get(doc["_id"])
        if held is None or held.get("version", 0) < doc["version"]:
            self.loans_seen[doc["_id"]] = {**(held or {}), **copy.deepcopy(doc)}

    async def get_loan_seen(self, loan_id: str) -> dict[str, Any] | None:
        return copy.deepcopy(self.loans_seen.get(loan_id))

    async def loans_by_ref(self, institution_id: str, ref: str) -> list[dict[str, Any]]:
        return [
            copy.deepcopy(d)
            for d in self.loans_seen.values()
            if d.get("institution_id") == institution_id and d.get("ref") == ref
        ][:20]

    async def any_loan_of(self, institution_id: str) -> dict[str, Any] | None:
        for d in self.loans_seen.values():
            if d.get("institution_id") == institution_id and d.get("currency"):
                return copy.deepcopy(d)
        return None


# --- the loan service ----------------------------------------------------------------------


class Unreachable(ConnectionError):
    """The loan service did not answer: the caller cannot know whether it applied."""


@dataclass
class FakeLoan:
    id: str
    institution_id: str
    branch_id: str
    currency: str = "KES"
    principal_due: Decimal = Decimal("1000.00")
    status: str = "active"


@dataclass
class FakeLoanGateway(AbstractLoanGateway):
    loans: dict[str, FakeLoan] = field(default_factory=dict)
    applied: dict[str, Applied] = field(default_factory=dict)  # by payment id
    reversed: dict[str, str] = field(default_factory=dict)  # payment id -> reason
    calls: list[tuple[str, str]] = field(default_factory=list)  # (rpc, payment id)
    refusal: DomainError | None = None  # raised by the next calls, nothing applied
    outage: str = ""  # "before": unreachable, nothing applied; "after": applied, no answer
    tokens: list[str] = field(default_factory=list)

    def add(self, loan: FakeLoan) -> FakeLoan:
        self.loans[loan.id] = loan
        return loan

    def applications(self, payment_id: str) -> int:
        """How many times the loan service was asked to apply the payment."""
        return sum(1 for rpc, pid in self.calls if rpc == "apply" and pid == payment_id)

    def _loan(self, loan_id: str) -> FakeLoan:
        loan = self.loans.get(loan_id)
        p = context.current().principal
        if loan is None or (p is not None and not p.can_access(loan.institution_id, None)):
            raise NotFound(f"loan {loan_id} not found", reason="LOAN_NOT_FOUND")
        return loan

    async def get(self, loan_id: str) -> LoanView:
        loan = self._loan(loan_id)
        return LoanView(
            loan.id, loan.institution_id, loan.branch_id, "bor_1", loan.status, loan.currency
        )

    def _answer(self, loan: FakeLoan, allocation: dict[str, Decimal]) -> Applied:
        zero = CENT * 0
        return Applied(
            allocation=allocation,
            outstanding={
                "principal": loan.principal_due,
                "interest": zero,
                "fees": zero,
                "penalties": zero,
                "total": loan.principal_due,
            },
            loan_status=4 if loan.principal_due else 5,  # LOAN_STATUS_ACTIVE / _CLOSED
            institution_id=loan.institution_id,
            branch_id=loan.branch_id,
            currency=loan.currency,
        )

    async def apply(
        self,
        loan_id: str,
        payment_id: str,
        amount: Decimal,
        currency: str,
        paid_on: dt.date,
        *,
        token: str = "",
    ) -> Applied:
        self.calls.append(("apply", payment_id))
        self.tokens.append(token)
        if self.outage == "before":
            raise Unreachable("loan_service is unreachable")
        if self.refusal is not None:
            raise self.refusal
        loan = self._loan(loan_id)
        if payment_id not in self.applied:
            paid = amount
            principal = min(paid, loan.principal_due)
            loan.principal_due -= principal
            self.applied[payment_id] = self._answer(
                loan,
                {
                    "principal": principal.quantize(CENT),
                    "interest": CENT * 0,
                    "fees": CENT * 0,
                    "penalties": CENT * 0,
                    "overpayment": (paid - principal).quantize(CENT),
                },
            )
        if self.outage == "after":
            raise Unreachable("loan_service applied it, but its answer was lost")
        return self.applied[payment_id]

    async def refund(
        self, loan_id: str, refund_id: str, amount: Decimal, currency: str, paid_on: dt.date
    ) -> Applied:
        self.calls.append(("refund", refund_id))
        if self.refusal is not None:
            raise self.refusal
        loan = self._loan(loan_id)
        answer = self._answer(loan, {"overpayment": amount})
        self.applied.setdefault(refund_id, answer)
        return self.applied[refund_id]

    async def reverse(self, loan_id: str, payment_id: str, reason: str) -> None:
        self.calls.append(("reverse", payment_id))
        if self.refusal is not None:
            raise self.refusal
        loan = self._loan(loan_id)
        if payment_id not in self.reversed:
            applied = self.applied.get(payment_id)
            if applied is not None:
                loan.principal_due += applied.part("principal")
            self.reversed[payment_id] = reason


# --- payment_service wired on the fakes ----------------------------------------------------


class FakeServiceTokens(AbstractServiceTokens):
    """auth_service's service tokens: one fixed token, or unreachable (``down``)."""

    def __init__(self) -> None:
        self.down = False
        self.forgotten = 0

    async def token(self, institution_id: str) -> str:
        if self.down:
            raise Unreachable("auth_service is unreachable")
        return f"svc-token-{institution_id}"

    def forget(self, institution_id: str) -> None:
        self.forgotten += 1


@dataclass
class FakeClock:
    now: dt.datetime = dt.datetime(2026, 3, 31, 9, 0, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, delta: dt.timedelta) -> None:
        self.now += delta


CENT = Decimal("0.01")
INST = "inst_1"
BRANCH = "br_1"
LEASE = dt.timedelta(seconds=15)
MOBILE_MONEY_SECRET = b"a-mobile-money-secret-for-tests"


@dataclass
class FakePayments:
    """payment_service's use cases wired on the fakes, with one active loan (``loan``)."""

    repo: FakeRepository = field(default_factory=FakeRepository)
    loans: FakeLoanGateway = field(default_factory=FakeLoanGateway)
    clock: FakeClock = field(default_factory=FakeClock)
    tokens: FakeServiceTokens = field(default_factory=FakeServiceTokens)
    notified: list[str] = field(default_factory=list)
    loan: FakeLoan = field(default_factory=lambda: FakeLoan("loan_1", INST, BRANCH))

    def __post_init__(self) -> None:
        config = PaymentConfig(
            pending_timeout=LEASE,
            idempotency_wait_seconds=0,
            poll_interval_seconds=0,
            mobile_money_secrets={INST: [MOBILE_MONEY_SECRET]},
        )
        self.core = PaymentCore(
            self.repo, Books(self.repo), self.loans, self.notified.append, config, self.clock
        )
        self.repayments = Repayments(self.core)
        self.mobile_money = MobileMoney(self.core, self.tokens)
        self.recovery = Recovery(self.core, self.mobile_money)
        self.events = LoanEvents(self.core)
        self.ledger = LedgerHandlers(self.core.books, self.repo)
        self.loans.add(self.loan)

    def act_as(self, role: Role = Role.AGENT, user_id: str = "usr_agent") -> Principal:
        branch = BRANCH if role in (Role.AGENT, Role.BRANCH_MANAGER) else None
        p = Principal(user_id, role, INST, branch, "ses_1")
        context.set_current(context.RequestContext(request_id="req_1", principal=p))
        return p

    def no_caller(self) -> None:
        """A call without a user (a provider's callback, the recovery)."""
        context.set_current(context.RequestContext(request_id="req_cb"))

    async def stored(self, payment_id: str) -> Payment:
        payment = await self.repo.get(payment_id)
        assert payment is not None
        return payment

    async def loan_seen(self, loan: FakeLoan) -> None:
        """What the loan events taught payment_service about ``loan``."""
        await self.repo.upsert_loan_seen(
            {
                "_id": loan.id,
                "ref": loan.id.upper(),
                "institution_id": loan.institution_id,
                "branch_id": loan.branch_id,
                "borrower_id": "bor_1",
                "status": loan.status,
                "currency": loan.currency,
                "version": 1,
            }
        )
