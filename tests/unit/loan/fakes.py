"""In-memory stand-ins for loan_service's ports, for unit tests of its use cases.

Each subclasses the abstract class the real adapter implements (`service_layer.ports`), so
an interface change that a fake misses fails at its construction. Like MongoDB, the
repository hands out copies (a caller changing a document changes nothing stored) and
applies a write only if the loan is still at the version it was read at.
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

from loan_service.service_layer.ports import (
    SHEET_FIELDS,
    Borrower,
    BorrowerContact,
    LoanRepository,
    LoanWrite,
    OutgoingEvent,
    Scorer,
    ScoreResult,
    UserDirectory,
)
from shared.errors import NotFound


class FakeLoanRepository(LoanRepository):
    def __init__(self) -> None:
        self.products: dict[str, dict[str, Any]] = {}
        self.loans: dict[str, dict[str, Any]] = {}
        #: Every event written, by loan id, in order (what the relay would publish).
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


class FakeUserDirectory(UserDirectory):
    def __init__(self, currency: str = "KES") -> None:
        self.currency = currency
        self.borrowers: dict[str, Borrower] = {}
        self.names: dict[str, str] = {}

    def add_borrower(
        self, borrower_id: str, institution_id: str, branch_id: str, *, name: str = ""
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
        return None

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
