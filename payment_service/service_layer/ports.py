"""What the use cases need from outside the service, as interfaces: storage
(``AbstractRepository``), the loan service (``AbstractLoanGateway``) and the institution's
currency; payment_service's own service tokens are every service's
(``shared.service_tokens.AbstractServiceTokens``).

The ports speak domain objects; their implementations (the repository on MongoDB, the
peers over gRPC) keep the stored and wire forms to themselves, and the unit tests' fakes
subclass the same classes (``tests/support/payment_fakes.py``). Nothing here imports a
driver, a proto stub or an implementation.
"""

from __future__ import annotations

import abc
import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from payment_service.domain.ledger import BookedEntry, ChartOfAccounts, VersionedChart
from payment_service.domain.loans import Applied, LoanView
from payment_service.domain.payment import Payment, PaymentStatus

SERVICE_NAME = "payment_service"
"""Who payment_service is when it acts on its own (its service tokens' `svc:` user)."""

InstitutionCurrency = Callable[[str], Awaitable[str]]
"""The currency of an institution (from user_service), to open books with no loan yet."""


class AbstractRepository(abc.ABC):
    """payment_service's storage: payments as ``Payment`` aggregates (each write one atomic
    document write carrying the payment's new events in its outbox); journal entries as
    ``BookedEntry`` (immutable, booked once by id), charts as ``ChartOfAccounts`` with a
    version (``VersionedChart``); the loans read model as its stored documents."""

    # --- payments ------------------------------------------------------------------------

    @abc.abstractmethod
    async def get(self, payment_id: str) -> Payment | None: ...

    @abc.abstractmethod
    async def add(self, payment: Payment) -> bool:
        """Stores a new payment; False when one with its id exists (a duplicate request)."""

    async def replace(self, current: Payment, new: Payment) -> Payment | None:
        """Compare-and-set: stores ``new`` (with its events in the outbox) in place of
        ``current`` if the stored payment is still at ``current.version``. Returns the payment
        as stored (version + 1), or None when someone else changed it first. A payment just
        posted gets its answer recorded (``response``), replayed for the same key."""
        if new.status is PaymentStatus.POSTED and new.response is None:
            new.response = self.answer(new)
        return await self._replace(current, new)

    @abc.abstractmethod
    async def _replace(self, current: Payment, new: Payment) -> Payment | None: ...

    @abc.abstractmethod
    def answer(self, payment: Payment) -> bytes:
        """The answer to record for a payment just posted (the serialized contract message
        the servicer returns)."""

    @abc.abstractmethod
    async def page_for_loan(
        self, loan_id: str, scope: Mapping[str, str], size: int, token: str
    ) -> tuple[list[Payment], str]:
        """The loan's repayments (not refunds) inside ``scope`` (equality filters on
        institution and branch), oldest first; keyset pagination on ``seq``."""

    @abc.abstractmethod
    async def page_in_suspense(
        self, institution_id: str, size: int, token: str
    ) -> tuple[list[Payment], str]: ...

    @abc.abstractmethod
    async def stale(
        self, statuses: Sequence[PaymentStatus], before: dt.datetime, limit: int = 200
    ) -> list[Payment]:
        """Payments in ``statuses`` whose lease ran out before ``before``."""

    # --- journal entries -----------------------------------------------------------------

    @abc.abstractmethod
    async def insert_entry(self, booked: BookedEntry) -> bool:
        """Books an entry; False when an entry with that id exists (already booked)."""

    @abc.abstractmethod
    async def get_entry(self, entry_id: str) -> BookedEntry | None: ...

    @abc.abstractmethod
    def stream_entries(
        self,
        institution_id: str,
        *,
        as_of: dt.date | None = None,
        account_code: str | None = None,
        loan_id: str | None = None,
    ) -> AsyncIterator[BookedEntry]:
        """The institution's entries, in no particular order: those dated up to ``as_of``
        (inclusive), with a line on ``account_code``, of ``loan_id`` (each filter when
        given)."""

    # --- charts --------------------------------------------------------------------------

    @abc.abstractmethod
    async def get_chart(self, institution_id: str) -> VersionedChart | None: ...

    @abc.abstractmethod
    async def insert_chart(self, chart: ChartOfAccounts, *, now: dt.datetime) -> bool:
        """Stores a new chart at version 1; False when the institution has one."""

    @abc.abstractmethod
    async def replace_chart(
        self, chart: ChartOfAccounts, expected_version: int, *, now: dt.datetime
    ) -> bool:
        """Compare-and-set: stores ``chart`` at ``expected_version + 1`` if the stored chart
        is still at ``expected_version``; False otherwise."""

    # --- the loans read model ------------------------------------------------------------

    @abc.abstractmethod
    async def upsert_loan_seen(self, doc: dict[str, Any]) -> None:
        """Stores a loan snapshot unless a newer one (higher ``version``) is already held."""

    @abc.abstractmethod
    async def get_loan_seen(self, loan_id: str) -> dict[str, Any] | None: ...

    @abc.abstractmethod
    async def loans_by_ref(self, institution_id: str, ref: str) -> list[dict[str, Any]]: ...

    @abc.abstractmethod
    async def any_loan_of(self, institution_id: str) -> dict[str, Any] | None: ...


class AbstractLoanGateway(abc.ABC):
    """LoanService, as payment_service uses it. Refusals raise ``shared.errors`` classes;
    anything else (unavailable, deadline) means the outcome is unknown."""

    @abc.abstractmethod
    async def get(self, loan_id: str) -> LoanView: ...

    @abc.abstractmethod
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
        """Idempotent on ``payment_id`` at the loan service: a repeat returns the first answer.
        ``token``: a service token to act with, instead of the caller's."""

    @abc.abstractmethod
    async def refund(
        self, loan_id: str, refund_id: str, amount: Decimal, currency: str, paid_on: dt.date
    ) -> Applied:
        """Takes ``amount`` off the loan's credit balance; idempotent on ``refund_id``."""

    @abc.abstractmethod
    async def reverse(self, loan_id: str, payment_id: str, reason: str) -> None:
        """Idempotent: reversing a reversed payment changes nothing."""
