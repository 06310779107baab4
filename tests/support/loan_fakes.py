"""In-memory stand-ins for loan_service's ports, and the world its use-case unit tests run in.

Each subclasses the abstract class the real adapter implements (`service_layer.ports`), so
an interface change that a fake misses fails at its construction. Like MongoDB, the
repository hands out copies (a caller changing a document changes nothing stored) and
applies a write only if the loan is still at the version it was read at. The close of
business's repository (`FakeCobRepository`) keeps jobs and partitions as the real one does;
its hints are always exact (read off the loans), where the real ones may only be early.
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import date, datetime
from decimal import Decimal as D
from typing import Any

from loan_service.adapters.repository import hint_of
from loan_service.service_layer import applications, disbursement, products, repayments
from loan_service.service_layer.commands import (
    ApplyRepayment,
    ApproveLoan,
    CreateLoan,
    CreateProduct,
    DisburseLoan,
)
from loan_service.service_layer.ports import (
    SHEET_FIELDS,
    Borrower,
    BorrowerContact,
    CobRepository,
    GroupInfo,
    GroupLoanRepository,
    LoanRepository,
    LoanWrite,
    OutgoingEvent,
    Scorer,
    ScoreResult,
    UserDirectory,
)
from loan_service.service_layer.unit_of_work import UnitOfWork
from shared import context
from shared.errors import NotFound
from shared.permissions import BRANCH_SCOPED_ROLES, Principal, Role


class FakeLoanRepository(LoanRepository):
    def __init__(self) -> None:
        self.products: dict[str, dict[str, Any]] = {}
        self.loans: dict[str, dict[str, Any]] = {}
        #: Every event written, by aggregate id (a loan's; a close-of-business job's too in
        #: `FakeCobRepository`), in order: what the relay would publish.
        self.outbox: dict[str, list[OutgoingEvent]] = {}
        self.requests: dict[str, str] = {}
        self.stored_settings: dict[str, dict[str, Any]] = {}
        self.revisited: list[str] = []
        self.saves = 0
        #: Run once at the start of the next `save_loan`, before its version check: a
        #: concurrent writer getting there first.
        self.before_next_save: Callable[[], Awaitable[None]] | None = None

    # --- products ------------------------------------------------------------------------

    async def insert_product(self, doc: dict[str, Any]) -> None:
        self.products[doc["_id"]] = copy.deepcopy(doc)

    async def get_product(self, product_id: str) -> dict[str, Any] | None:
        doc = self.products.get(product_id)
        return copy.deepcopy(doc) if doc is not None else None

    async def page_products(
        self, institution_id: str, size: int, token: str
    ) -> tuple[list[dict[str, Any]], str]:
        found = [d for d in self.products.values() if d["institution_id"] == institution_id]
        return copy.deepcopy(sorted(found, key=lambda d: d["_id"])), ""

    # --- loans ---------------------------------------------------------------------------

    async def insert_loan(self, doc: dict[str, Any], events: Sequence[OutgoingEvent] = ()) -> None:
        assert doc["_id"] not in self.loans, "duplicate key"
        self.loans[doc["_id"]] = copy.deepcopy(doc)
        self.outbox[doc["_id"]] = list(events)

    async def get_loan(self, loan_id: str) -> dict[str, Any] | None:
        doc = self.loans.get(loan_id)
        return copy.deepcopy(doc) if doc is not None else None

    async def get_loans(self, loan_ids: Sequence[str]) -> list[dict[str, Any]]:
        return [copy.deepcopy(self.loans[i]) for i in loan_ids if i in self.loans]

    async def page_loans(
        self, query: dict[str, Any], size: int, token: str
    ) -> tuple[list[dict[str, Any]], str]:
        found = [d for d in self.loans.values() if all(d.get(k) == v for k, v in query.items())]
        return copy.deepcopy(sorted(found, key=lambda d: d["_id"])), ""

    async def borrower_loans(self, institution_id: str, borrower_id: str) -> list[dict[str, Any]]:
        return [
            copy.deepcopy(d)
            for d in self.loans.values()
            if d["institution_id"] == institution_id and d["borrower_id"] == borrower_id
        ]

    async def guaranteed_by(self, institution_id: str, borrower_id: str) -> list[dict[str, Any]]:
        return [
            copy.deepcopy(d)
            for d in self.loans.values()
            if d["institution_id"] == institution_id and borrower_id in d.get("guarantor_ids", [])
        ]

    async def due_loans(
        self, scope: dict[str, str], on: str, batch: int = 1000
    ) -> AsyncIterator[list[dict[str, Any]]]:
        due = [
            {f: d[f] for f in SHEET_FIELDS if f in d} | {"unpaid_version": d["version"]}
            for d in sorted(self.loans.values(), key=lambda d: d["_id"])
            if all(d.get(k) == v for k, v in scope.items())
            and d["status"] == "active"
            and "" < (d.get("oldest_unpaid_due_date") or "") <= on
        ]
        for start in range(0, len(due), batch):
            yield copy.deepcopy(due[start : start + batch])

    async def save_loan(self, before: dict[str, Any], write: LoanWrite) -> bool:
        self.saves += 1
        if self.before_next_save is not None:
            concurrent, self.before_next_save = self.before_next_save, None
            await concurrent()
        stored = self.loans.get(before["_id"])
        if stored is None or stored["version"] != before["version"]:
            return False
        stored.update(copy.deepcopy(write.fields))
        stored["version"] += 1
        self.outbox[before["_id"]].extend(write.events)
        return True

    async def reserve_request(self, key: str, loan_id: str) -> str:
        return self.requests.setdefault(key, loan_id)

    # --- settings ------------------------------------------------------------------------

    async def settings(self, institution_id: str) -> dict[str, Any]:
        return copy.deepcopy(self.stored_settings.get(institution_id, {}))

    async def update_settings(self, institution_id: str, fields: dict[str, Any]) -> None:
        self.stored_settings.setdefault(institution_id, {}).update(copy.deepcopy(fields))

    async def revisit_all(self, institution_id: str) -> None:
        self.revisited.append(institution_id)

    # --- for assertions ------------------------------------------------------------------

    def event_keys(self, loan_id: str) -> list[str]:
        return [e.key for e in self.outbox.get(loan_id, [])]


class FakeCobRepository(FakeLoanRepository, CobRepository):
    def __init__(self) -> None:
        super().__init__()
        self.jobs: dict[str, dict[str, Any]] = {}
        self.parts: dict[str, dict[str, Any]] = {}
        self.hints_set: list[str] = []  # loan ids, as the batch reported them
        #: Run once at the start of the next `complete_job`, before its state check: another
        #: worker completing the job first.
        self.before_next_complete: Callable[[], Awaitable[None]] | None = None

    async def write_loan(self, before: dict[str, Any], write: LoanWrite) -> bool:
        return await self.save_loan(before, write)

    async def bulk_write_loans(self, ops: Sequence[tuple[dict[str, Any], LoanWrite]]) -> set[str]:
        return {before["_id"] for before, write in ops if await self.save_loan(before, write)}

    async def set_hint(self, loan: dict[str, Any], *, repair: bool = False) -> None:
        self.hints_set.append(loan["_id"])

    async def set_hints(self, loans: Sequence[dict[str, Any]]) -> None:
        self.hints_set.extend(loan["_id"] for loan in loans)

    async def cob_candidates(
        self, institution_id: str, partition: int, as_of: str, after: str, batch_size: int
    ) -> AsyncIterator[dict[str, Any]]:
        for loan_id in sorted(self.loans):
            hint = hint_of(self.loans[loan_id])
            if (
                hint["institution_id"] == institution_id
                and hint["partition"] == partition
                and hint["status"] == "active"
                and hint["cob_next_date"] <= as_of
                and loan_id > after
            ):
                yield {"_id": loan_id}

    async def advance_business_date(self, institution_id: str, as_of: str) -> None:
        held = self.stored_settings.setdefault(institution_id, {})
        held["business_date"] = max(held.get("business_date") or "", as_of)

    async def get_job(self, job_id: str) -> dict[str, Any] | None:
        job = self.jobs.get(job_id)
        return copy.deepcopy(job) if job is not None else None

    async def create_job(self, job: dict[str, Any], partitions: list[dict[str, Any]]) -> bool:
        for part in partitions:
            self.parts.setdefault(part["_id"], copy.deepcopy(part))
        if job["_id"] in self.jobs:
            return False
        self.jobs[job["_id"]] = copy.deepcopy(job)
        return True

    async def partitions(self, job_id: str) -> list[dict[str, Any]]:
        return [copy.deepcopy(p) for p in self.parts.values() if p["job_id"] == job_id]

    async def claim_partition(
        self, job_id: str, owner: str, now: datetime, lease_until: datetime
    ) -> dict[str, Any] | None:
        free = sorted(
            (
                p
                for p in self.parts.values()
                if p["job_id"] == job_id and p["state"] == "pending" and p["lease_until"] < now
            ),
            key=lambda p: p["partition"],
        )
        if not free:
            return None
        free[0].update(lease_owner=owner, lease_until=lease_until)
        return copy.deepcopy(free[0])

    async def checkpoint(
        self,
        partition_id: str,
        owner: str,
        last_id: str,
        lease_until: datetime,
        processed: int,
        changed: int,
    ) -> bool:
        part = self.parts[partition_id]
        if part["lease_owner"] != owner:
            return False
        part.update(checkpoint=last_id, lease_until=lease_until)
        part["processed"] += processed
        part["changed"] += changed
        return True

    async def finish_partition(self, partition_id: str, owner: str, now: datetime) -> bool:
        part = self.parts[partition_id]
        if part["lease_owner"] != owner:
            return False
        part.update(state="done", lease_owner="", end_time=now)
        return True

    async def complete_job(
        self, job: dict[str, Any], now: datetime, events: Sequence[OutgoingEvent]
    ) -> bool:
        if self.before_next_complete is not None:
            concurrent, self.before_next_complete = self.before_next_complete, None
            await concurrent()
        stored = self.jobs[job["_id"]]
        if stored["state"] != "running":
            return False
        stored.update(state="completed", end_time=now)
        self.outbox.setdefault(job["_id"], []).extend(events)
        return True


class FakeGroupLoanRepository(GroupLoanRepository):
    def __init__(self) -> None:
        self.docs: dict[str, dict[str, Any]] = {}
        self.requests: dict[str, str] = {}
        self.plans: dict[str, dict[str, Any]] = {}

    async def insert(self, doc: dict[str, Any]) -> None:
        self.docs[doc["_id"]] = copy.deepcopy(doc)

    async def get(self, group_loan_id: str) -> dict[str, Any] | None:
        doc = self.docs.get(group_loan_id)
        return copy.deepcopy(doc) if doc else None

    async def of_group(self, institution_id: str, group_id: str) -> list[dict[str, Any]]:
        return [
            copy.deepcopy(d)
            for _, d in sorted(self.docs.items())
            if d["institution_id"] == institution_id and d["group_id"] == group_id
        ]

    async def save(self, before: dict[str, Any], fields: dict[str, Any]) -> bool:
        stored = self.docs[before["_id"]]
        if stored["version"] != before["version"]:
            return False
        stored.update(copy.deepcopy(fields), version=stored["version"] + 1)
        return True

    async def reserve(self, key: str, group_loan_id: str) -> str:
        return self.requests.setdefault(key, group_loan_id)

    async def add_plan(self, plan: dict[str, Any]) -> dict[str, Any]:
        return copy.deepcopy(self.plans.setdefault(plan["_id"], copy.deepcopy(plan)))


class FakeUserDirectory(UserDirectory):
    def __init__(self, currency: str = "KES") -> None:
        self.currency = currency
        self.borrowers: dict[str, Borrower] = {}
        self.names: dict[str, str] = {}
        self.groups: dict[str, GroupInfo] = {}

    def add_borrower(
        self,
        borrower_id: str,
        institution_id: str,
        branch_id: str,
        *,
        name: str = "",
        kyc_status: str = "unverified",
    ) -> Borrower:
        borrower = Borrower(
            id=borrower_id,
            institution_id=institution_id,
            branch_id=branch_id,
            date_of_birth="1990-06-01",
            monthly_income="30000",
            household_size=4,
            gender="female",
            business_type="retail",
            group_id="",
            kyc_status=kyc_status,
        )
        self.borrowers[borrower_id] = borrower
        self.names[borrower_id] = name or borrower_id
        return borrower

    async def borrower(self, borrower_id: str) -> Borrower:
        if borrower_id not in self.borrowers:
            raise NotFound(f"borrower {borrower_id} not found", reason="BORROWER_NOT_FOUND")
        return self.borrowers[borrower_id]

    async def institution_currency(self, institution_id: str) -> str:
        return self.currency

    async def group_size(self, group_id: str) -> int | None:
        group = self.groups.get(group_id)
        return len(group.member_ids) if group else None

    def add_group(self, group_id: str, member_ids: Sequence[str], status: str = "active") -> None:
        first = self.borrowers[member_ids[0]]
        self.groups[group_id] = GroupInfo(
            group_id, first.institution_id, first.branch_id, "", group_id, status, tuple(member_ids)
        )

    async def group(self, group_id: str) -> GroupInfo:
        if group_id not in self.groups:
            raise NotFound(f"group {group_id} not found", reason="GROUP_NOT_FOUND")
        return self.groups[group_id]

    async def contacts(self, borrower_ids: Sequence[str]) -> dict[str, BorrowerContact]:
        return {
            i: BorrowerContact(i, self.names[i], "+254700000000", "", "", "")
            for i in borrower_ids
            if i in self.borrowers
        }


class FakeScorer(Scorer):
    def __init__(self, result: ScoreResult) -> None:
        self.result = result
        self.asked: list[tuple[str, str]] = []

    async def score(self, subject_id: str, applicant_json: str) -> ScoreResult:
        self.asked.append((subject_id, applicant_json))
        return self.result


# --- the world of the use-case tests ---------------------------------------------------

INSTITUTION = "inst_1"
BRANCH = "br_1"
LEVEL = "8884.88"


def act_as(role: Role, *, institution: str = INSTITUTION, branch: str = BRANCH) -> None:
    context.set_current(
        context.RequestContext(
            request_id="req_1",
            principal=Principal(
                user_id=f"usr_{role.value}",
                role=role,
                institution_id=institution,
                branch_id=branch if role in BRANCH_SCOPED_ROLES else None,
                session_id="ses_1",
            ),
        )
    )


class World:
    """loan_service's use cases on the fakes: a product, a borrower, and helpers that take a
    loan through its life (100,000 KES over 12 months at 12%: see test_loan_use_cases)."""

    def __init__(self) -> None:
        self.repo = FakeCobRepository()
        self.users = FakeUserDirectory("KES")
        self.notified: list[str] = []
        self.notified_jobs: list[str] = []  # close-of-business jobs' (`CloseOfBusiness`)
        self.uow = UnitOfWork(self.repo, self.notified.append)
        self.users.add_borrower("bor_1", INSTITUTION, BRANCH, name="Achieng")
        self.product_id = ""

    async def product(self) -> str:
        act_as(Role.ADMIN)
        doc = await products.create_product(
            self.repo,
            self.users,
            CreateProduct(
                name="Biashara 12",
                interest_method="declining_balance",
                amortization="equal_installments",
                annual_interest_rate="12",
                repayment_frequency="monthly",
                min_principal="1000",
                max_principal="500000",
                min_term=1,
                max_term=24,
                days_in_year="360",
            ),
        )
        return str(doc["_id"])

    async def application(self, request_id: str = "") -> dict[str, Any]:
        self.product_id = self.product_id or await self.product()
        act_as(Role.AGENT)
        return await applications.create_loan(
            self.uow,
            self.users,
            CreateLoan(
                borrower_id="bor_1",
                product_id=self.product_id,
                principal="100000",
                term=12,
                disbursement_date="2024-01-15",
                request_id=request_id,
            ),
        )

    async def active_loan(self) -> str:
        loan_id = str((await self.application())["_id"])
        act_as(Role.BRANCH_MANAGER)
        await applications.approve(self.uow, ApproveLoan(loan_id, note="ok"))
        await disbursement.disburse(
            self.uow, self.users, DisburseLoan(loan_id, "2024-01-15", channel="cash")
        )
        return loan_id

    async def pay(self, loan_id: str, payment_id: str, amount: str, on: str) -> Any:
        act_as(Role.AGENT)
        return await repayments.apply_repayment(
            self.uow, ApplyRepayment(loan_id, payment_id, D(amount), date.fromisoformat(on))
        )
