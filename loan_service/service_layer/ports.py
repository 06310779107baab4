"""What the use cases need from the outside world, as abstract interfaces (the ports).

The use cases are written against these: `adapters/repository.py` implements the
repositories on MongoDB, `adapters/peers.py` the peers over gRPC, and the unit tests
(`tests/support/loan_fakes.py`) implement them in memory, subclassing the same classes.

A loan is stored as a document: the aggregate's state (`adapters.serialization`), the
figures derived from it (`views`) and bookkeeping (version, business dates). A write hands
the repository a `LoanWrite`: the fields it sets and the events it emits, described in
domain terms (`OutgoingEvent`). Turning those into the outbox's proto messages is the
repository's business (`adapters.event_codec`), in the same atomic document write.
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from loan_service.domain.lifecycle import Event

#: The fields of a loan `LoanRepository.due_loans` reads: all a collection sheet needs of a
#: loan, and the ``version`` its ``unpaid_installments`` were written with
#: (``unpaid_version``, stamped by every write that sets them), so a reader knows they are
#: the loan's current ones even if some writer did not set them.
SHEET_FIELDS = (
    "_id",
    "borrower_id",
    "created_by",
    "currency",
    "oldest_unpaid_due_date",
    "unpaid_installments",
    "unpaid_complete_before",
    "unpaid_version",
    "version",
)


@dataclass(frozen=True)
class OutgoingEvent:
    """An event a loan write emits (its routing key's message once encoded): its routing key, the
    domain event it reports (None for the service's own, e.g. ``loan.reclassified``) and its
    other fields as plain data (dates and amounts as strings; ``allocation`` as the stored
    ``{principal, interest, fees, penalties, overpayment}`` strings). A close-of-business
    job's completion emits one too (``close_of_business.completed``, no domain event)."""

    key: str
    event: Event | None = None
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class LoanWrite:
    """One atomic, version-guarded write of a loan: the fields it sets (the version is
    bumped by one) and the events appended to the loan's outbox."""

    fields: dict[str, Any]
    events: Sequence[OutgoingEvent] = ()


class LoanRepository(abc.ABC):
    """Loan products, loans, creation requests and institution settings."""

    # --- products ------------------------------------------------------------------------

    @abc.abstractmethod
    async def insert_product(self, doc: dict[str, Any]) -> None: ...

    @abc.abstractmethod
    async def get_product(self, product_id: str) -> dict[str, Any] | None: ...

    @abc.abstractmethod
    async def page_products(
        self, institution_id: str, size: int, token: str
    ) -> tuple[list[dict[str, Any]], str]: ...

    # --- loans ---------------------------------------------------------------------------

    @abc.abstractmethod
    async def insert_loan(self, doc: dict[str, Any], events: Sequence[OutgoingEvent] = ()) -> None:
        """Stores a new loan with its first events in its outbox (one write)."""

    @abc.abstractmethod
    async def get_loan(self, loan_id: str) -> dict[str, Any] | None: ...

    @abc.abstractmethod
    async def get_loans(self, loan_ids: Sequence[str]) -> list[dict[str, Any]]:
        """Whole loans by id, in the order of `loan_ids` (missing ones left out)."""

    @abc.abstractmethod
    async def page_loans(
        self, query: dict[str, Any], size: int, token: str
    ) -> tuple[list[dict[str, Any]], str]:
        """A page of loans matching equality filters on top-level fields."""

    @abc.abstractmethod
    async def borrower_loans(
        self, institution_id: str, borrower_id: str
    ) -> list[dict[str, Any]]: ...

    @abc.abstractmethod
    async def guaranteed_by(self, institution_id: str, borrower_id: str) -> list[dict[str, Any]]:
        """The loans `borrower_id` guarantees, whole."""

    @abc.abstractmethod
    def due_loans(
        self, scope: dict[str, str], on: str, batch: int = 1000
    ) -> AsyncIterator[list[dict[str, Any]]]:
        """The active loans in `scope` with an installment due on or before `on` unpaid,
        `batch` at a time, with their `SHEET_FIELDS` only."""

    @abc.abstractmethod
    async def save_loan(self, before: dict[str, Any], write: LoanWrite) -> bool:
        """Applies `write` to the loan read as `before` if it is still at that version (and
        keeps the close-of-business bookkeeping in step); False when a concurrent write won."""

    @abc.abstractmethod
    async def reserve_request(self, key: str, loan_id: str) -> str:
        """Records that request `key` creates `loan_id`; returns the loan id the request was
        first given (ours, or an earlier attempt's)."""

    # --- settings ------------------------------------------------------------------------

    @abc.abstractmethod
    async def settings(self, institution_id: str) -> dict[str, Any]: ...

    @abc.abstractmethod
    async def update_settings(self, institution_id: str, fields: dict[str, Any]) -> None: ...

    @abc.abstractmethod
    async def revisit_all(self, institution_id: str) -> None:
        """Makes the next close of business visit every active loan of the institution."""


class CobRepository(LoanRepository):
    """What the close of business needs besides: jobs, partitions and the hints that find
    the loans due a visit (see `cob`)."""

    @abc.abstractmethod
    async def write_loan(self, before: dict[str, Any], write: LoanWrite) -> bool:
        """`save_loan` without the hint bookkeeping (the batch keeps the hints itself)."""

    @abc.abstractmethod
    async def bulk_write_loans(self, ops: Sequence[tuple[dict[str, Any], LoanWrite]]) -> set[str]:
        """`write_loan` for many loans at once; returns the ids whose write was applied."""

    @abc.abstractmethod
    async def set_hint(self, loan: dict[str, Any], *, repair: bool = False) -> None: ...

    @abc.abstractmethod
    async def set_hints(self, loans: Sequence[dict[str, Any]]) -> None: ...

    @abc.abstractmethod
    def cob_candidates(
        self, institution_id: str, partition: int, as_of: str, after: str, batch_size: int
    ) -> AsyncIterator[dict[str, Any]]: ...

    @abc.abstractmethod
    async def advance_business_date(self, institution_id: str, as_of: str) -> None: ...

    @abc.abstractmethod
    async def get_job(self, job_id: str) -> dict[str, Any] | None: ...

    @abc.abstractmethod
    async def create_job(self, job: dict[str, Any], partitions: list[dict[str, Any]]) -> bool: ...

    @abc.abstractmethod
    async def partitions(self, job_id: str) -> list[dict[str, Any]]: ...

    @abc.abstractmethod
    async def claim_partition(
        self, job_id: str, owner: str, now: datetime, lease_until: datetime
    ) -> dict[str, Any] | None: ...

    @abc.abstractmethod
    async def checkpoint(
        self,
        partition_id: str,
        owner: str,
        last_id: str,
        lease_until: datetime,
        processed: int,
        changed: int,
    ) -> bool: ...

    @abc.abstractmethod
    async def finish_partition(self, partition_id: str, owner: str, now: datetime) -> bool: ...

    @abc.abstractmethod
    async def complete_job(
        self, job: dict[str, Any], now: datetime, events: Sequence[OutgoingEvent]
    ) -> bool:
        """Marks the running job `job` completed with `events` in its outbox, in ONE write
        guarded on its state; False when it was no longer running (another worker completed
        it first, and its events are that worker's: they are published once)."""


class GroupLoanRepository(abc.ABC):
    """Group loans (the application that ties a group's member loans together) and the
    plans that split a group's repayments across them."""

    @abc.abstractmethod
    async def insert(self, doc: dict[str, Any]) -> None: ...

    @abc.abstractmethod
    async def get(self, group_loan_id: str) -> dict[str, Any] | None: ...

    @abc.abstractmethod
    async def of_group(self, institution_id: str, group_id: str) -> list[dict[str, Any]]:
        """Every group loan of the group, oldest first."""

    @abc.abstractmethod
    async def save(self, before: dict[str, Any], fields: dict[str, Any]) -> bool:
        """Sets `fields` (and bumps the version) if the group loan is still at `before`'s
        version; False when a concurrent write won."""

    @abc.abstractmethod
    async def reserve(self, key: str, group_loan_id: str) -> str:
        """Records that request `key` creates `group_loan_id`; returns the id the request
        was first given (ours, or an earlier attempt's)."""

    @abc.abstractmethod
    async def add_plan(self, plan: dict[str, Any]) -> dict[str, Any]:
        """Stores a repayment plan under its id unless one is stored already; returns the
        stored one (ours, or the first attempt's)."""


# --- peers -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Borrower:
    id: str
    institution_id: str
    branch_id: str
    date_of_birth: str
    monthly_income: str
    household_size: int
    gender: str
    business_type: str
    group_id: str
    #: unverified, pending_review, verified or rejected.
    kyc_status: str = "unverified"


@dataclass(frozen=True)
class BorrowerContact:
    """Who to see about a loan: a borrower's name, phone, loan officer and group."""

    id: str
    name: str
    phone: str
    agent_id: str
    group_id: str
    group_name: str
    #: The centre the group attends; empty when none.
    center_id: str = ""


@dataclass(frozen=True)
class ScoreResult:
    score: int
    band: str
    scorecard_id: str
    scorecard_version: int
    contributions: list[tuple[str, int, str]]


@dataclass(frozen=True)
class GroupInfo:
    """A joint-liability group as a group loan needs it."""

    id: str
    institution_id: str
    branch_id: str
    center_id: str
    name: str
    #: forming, active or closed.
    status: str
    member_ids: tuple[str, ...]


class UserDirectory(abc.ABC):
    """user_service, as the caller sees it (their scope applies)."""

    @abc.abstractmethod
    async def borrower(self, borrower_id: str) -> Borrower: ...

    @abc.abstractmethod
    async def institution_currency(self, institution_id: str) -> str: ...

    @abc.abstractmethod
    async def group_size(self, group_id: str) -> int | None: ...

    @abc.abstractmethod
    async def group(self, group_id: str) -> GroupInfo:
        """The group, if in the caller's scope (else NotFound)."""

    @abc.abstractmethod
    async def contacts(self, borrower_ids: Sequence[str]) -> dict[str, BorrowerContact]:
        """The borrowers of `borrower_ids` in the caller's scope, by id (the others left out)."""


class Scorer(abc.ABC):
    """scoring_service."""

    @abc.abstractmethod
    async def score(self, subject_id: str, applicant_json: str) -> ScoreResult: ...
