"""loan_service use cases.

Each checks the caller's permission and scope (a loan or product outside it is NOT_FOUND, as
if it did not exist), rebuilds the `Loan` aggregate from its document, applies one domain
verb and makes ONE atomic, version-guarded document write that stores the new state, the
figures derived from it (`views`) and the events it caused (the outbox). A write that loses
a race to a concurrent one re-runs the use case on the fresh document (`MAX_ATTEMPTS`), then
gives up with ABORTED.

Approval limits and delinquency buckets are the institution's (`settings`).
"""

from __future__ import annotations

import asyncio
import json
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from kopa.loan.v1 import events_pb2, loan_pb2
from loan_service.adapters.peers import BorrowerContact, Scorer, UserDirectory
from loan_service.adapters.repository import LOANS, Repository, hint_of
from loan_service.adapters.serialization import (
    allocation_to_doc,
    contributions_to_doc,
    first_allocations,
    loan_from_doc,
    loan_to_doc,
    product_from_doc,
    split_rows,
    stored_repayments,
)
from loan_service.domain import (
    Loan,
    LoanProduct,
    LoanStatus,
    ScoreBand,
    check_eligibility,
    parse_product,
    payoff_quote,
    price,
)
from loan_service.domain import ValidationError as DomainValidationError
from loan_service.domain.arrears import Bucket
from loan_service.domain.lifecycle import (
    CreditRefunded,
    EligibilityOverridden,
    Event,
    LoanApproved,
    LoanClosed,
    LoanDisbursed,
    LoanRejected,
    LoanReopened,
    LoanRescheduled,
    LoanSubmitted,
    LoanWrittenOff,
    RepaymentApplied,
    RepaymentReversed,
)
from loan_service.domain.schedule import Schedule
from loan_service.entrypoints.mapping import loan_to_proto
from loan_service.service_layer import views
from loan_service.service_layer.collection_sheet import CollectionSheet, read_whole
from loan_service.service_layer.collection_sheet import assemble as assemble_sheet
from loan_service.service_layer.settings import (
    InstitutionSettings,
    approval_limits_to_store,
    buckets_to_store,
    settings_of,
)
from shared import context
from shared.errors import Aborted, Conflict, NotFound, ValidationError
from shared.events import event_meta, outbox_fields, outbox_update
from shared.ids import new_id
from shared.logging import get_logger
from shared.money import fmt, minor_units, parse_amount, parse_decimal
from shared.permissions import Permission, Principal, Role, require

log = get_logger(__name__)

#: Loans are spread over this many close-of-business partitions (`crc32(id) % PARTITIONS`,
#: stored on each loan when it is created). It may grow, never shrink.
PARTITIONS = 8
MAX_ATTEMPTS = 5
#: The loans of a collection sheet read at a time (their borrowers asked for while the next
#: batch is read). A sheet of 300 (bench/bench_collection_sheet.py, local FerretDB): 108 ms
#: in batches of 100, 131 ms in one; batches of 50 were no faster and cost more CPU.
SHEET_BATCH = 100
_ALLOCATION_PARTS = ("principal", "interest", "fees", "penalties", "overpayment")
OPEN_STATUSES = ("submitted", "approved", "active")

#: Proto field names of the product, by the domain's name (for error messages).
_PRODUCT_FIELD_NAMES = {
    "upfront_fee_amount": "upfront_fee_flat",
    "upfront_fee_treatment": "upfront_fee_mode",
    "upfront_fee.amount": "upfront_fee_rate",
    "upfront_fee.treatment": "upfront_fee_mode",
    "upfront_fee.calculation": "upfront_fee_rate",
    "late_penalty_amount": "late_penalty_flat",
    "late_penalty_tolerance_days": "penalty_tolerance_days",
    "late_penalty.amount": "late_penalty_rate",
    "late_penalty.tolerance_days": "penalty_tolerance_days",
    "late_penalty.calculation": "late_penalty_rate",
    "prepayment_strategy": "prepayment_mode",
}
_DOMAIN_FIELD_NAMES = {
    "upfront_fee_flat": "upfront_fee_amount",
    "late_penalty_flat": "late_penalty_amount",
}
_PRODUCT_DECIMALS = (
    "annual_interest_rate",
    "min_principal",
    "max_principal",
    "upfront_fee_rate",
    "upfront_fee_flat",
    "installment_fee",
    "late_penalty_rate",
    "late_penalty_flat",
    "rounding_multiple",
)


def now() -> datetime:
    """The current time at the millisecond, the precision it is stored with, so the answer
    to a write shows the same timestamps as every later read."""
    stamp = datetime.now(UTC)
    return stamp.replace(microsecond=stamp.microsecond // 1000 * 1000)


def today() -> date:
    return now().date()


def parse_date(value: str, field: str, *, required: bool = True) -> date | None:
    if not value:
        if required:
            raise ValidationError.of(field, "is required (an ISO date like 2026-03-31)")
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValidationError.of(
            field, f"must be an ISO date like 2026-03-31, got {value!r}"
        ) from None


def _placeholder(name: str, data: dict[str, Any]) -> Any:
    """A value for a product field already reported as bad that lets the other fields be
    checked without errors caused by it (e.g. min_term vs the grace periods)."""

    def valid_int(key: str) -> int | None:
        value = data.get(key)
        return value if isinstance(value, int) and value >= 1 else None

    if name == "min_term":
        grace = max(
            int(data.get("grace_on_principal") or 0), int(data.get("grace_on_interest") or 0)
        )
        return max(grace + 1, 1)
    if name == "max_term":
        return max(valid_int("min_term") or 1, 1_000_000)
    if name == "min_principal":
        return "1"
    if name == "max_principal":
        return "999999999999"
    if name == "annual_interest_rate":
        return "10"
    if name in ("grace_on_principal", "grace_on_interest", "late_penalty_tolerance_days"):
        return 0
    if name in ("currency", "currency_decimals"):
        return data.get(name)
    required = {
        "interest_method": "flat",
        "amortization": "equal_installments",
        "repayment_frequency": "monthly",
    }
    if name in required:
        return required[name]
    return None  # optional terms and enums fall back to the product's defaults


def partition_of(loan_id: str) -> int:
    return zlib.crc32(loan_id.encode()) % PARTITIONS


def _hint_may_be_late(before: dict[str, Any], after: dict[str, Any]) -> bool:
    """Whether the write must first lower the loan's close-of-business hint. A hint is never
    later than the loan's stored next date, so only a loan that becomes active or a date that
    moves earlier can leave it late (most repayments move it later: one write saved)."""
    new = after.get("cob_next_date")
    old = before.get("cob_next_date")
    return bool(new) and (before["status"] != "active" or not old or new < old)


class _Lost(Exception):
    """The version-guarded write matched nothing: a concurrent write won."""


@dataclass
class Change:
    """What a use case asks `_commit` to store besides the aggregate."""

    note: str = ""
    set_fields: dict[str, Any] = field(default_factory=dict)
    allocations: dict[str, dict[str, str]] = field(default_factory=dict)
    extra_events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    event_fields: dict[type[Event], dict[str, Any]] = field(default_factory=dict)
    business_date: date | None = None
    reprice: bool = False


def _money_fields(doc: dict[str, Any]) -> Callable[[Decimal], str]:
    currency = doc["currency"]
    return lambda value: fmt(value, currency)


def _allocation_proto(stored: dict[str, str], doc: dict[str, Any]) -> loan_pb2.Allocation:
    money = _money_fields(doc)
    return loan_pb2.Allocation(
        **{k: money(Decimal(stored.get(k) or "0")) for k in _ALLOCATION_PARTS}
    )


class LoanHandlers:
    def __init__(
        self,
        repo: Repository,
        notify: Callable[[str, Any], None],
        users: UserDirectory,
        scorer: Scorer,
    ) -> None:
        self.repo = repo
        self._notify = notify  # OutboxRelay.notify
        self.users = users
        self.scorer = scorer
        self._reading: dict[str, tuple[float, InstitutionSettings]] = {}

    # --- products ------------------------------------------------------------------------

    async def create_product(self, message: loan_pb2.LoanProduct) -> dict[str, Any]:
        p = context.principal()
        require(p, Permission.LOAN_PRODUCTS_CREATE)
        assert p.institution_id is not None
        currency = await self.users.institution_currency(p.institution_id)
        product, max_open = self._parse_product(message, currency)
        doc = {
            "_id": new_id("lprod"),
            "institution_id": p.institution_id,
            "currency": currency,
            "terms": product.to_mapping(),
            "max_open_loans": max_open,
            "created_by": p.user_id,
            "create_time": now(),
        }
        await self.repo.insert_product(doc)
        return doc

    @staticmethod
    def _parse_product(message: loan_pb2.LoanProduct, currency: str) -> tuple[LoanProduct, int]:
        errors: list[tuple[str, str]] = []
        raw = {f: getattr(message, f) for f in _PRODUCT_DECIMALS}
        for name, value in raw.items():
            if value:
                try:
                    parse_decimal(value, name)
                except ValidationError as exc:
                    errors.extend(exc.field_errors)
        bad = {f for f, _ in errors}

        def text(name: str, value: str) -> str | None:
            return None if (not value or name in bad) else value

        data: dict[str, Any] = {
            "name": message.name.strip(),
            "currency": currency,
            "currency_decimals": minor_units(currency),
            "interest_method": message.interest_method or None,
            "amortization": message.amortization or None,
            "annual_interest_rate": text("annual_interest_rate", message.annual_interest_rate),
            "repayment_frequency": message.repayment_frequency or None,
            "min_principal": text("min_principal", message.min_principal),
            "max_principal": text("max_principal", message.max_principal),
            "min_term": message.min_term,
            "max_term": message.max_term,
            "days_in_year": message.days_in_year or None,
            "grace_on_principal": message.grace_on_principal,
            "grace_on_interest": message.grace_on_interest,
            "upfront_fee_rate": text("upfront_fee_rate", message.upfront_fee_rate),
            "upfront_fee_amount": text("upfront_fee_flat", message.upfront_fee_flat),
            "upfront_fee_treatment": message.upfront_fee_mode or None,
            "installment_fee": text("installment_fee", message.installment_fee),
            "late_penalty_rate": text("late_penalty_rate", message.late_penalty_rate),
            "late_penalty_amount": text("late_penalty_flat", message.late_penalty_flat),
            "late_penalty_tolerance_days": message.penalty_tolerance_days,
            "rounding_multiple": text("rounding_multiple", message.rounding_multiple),
            "allocation_strategy": message.allocation_strategy or None,
            "prepayment_strategy": message.prepayment_mode or None,
            "min_score_band": message.min_score_band or None,
        }
        if len(message.name) > 120:
            errors.append(("name", "must be at most 120 characters"))
        if message.max_open_loans < 0:
            errors.append(("max_open_loans", "must not be negative"))
        # parse_product stops at malformed values before checking the terms themselves, so a
        # field found bad is replaced by a neutral value and the rest checked again: every bad
        # field is named in one answer.
        reported = {_DOMAIN_FIELD_NAMES.get(f, f) for f in bad}
        for name in reported:
            data[name] = _placeholder(name, data)
        product: LoanProduct | None = None
        for _ in range(4):
            try:
                product = parse_product({k: v for k, v in data.items() if v is not None})
                break
            except DomainValidationError as exc:
                new = [(f, why) for f, why in exc.field_errors if f not in reported]
                if not new:
                    break
                for name, why in new:
                    reported.add(name)
                    errors.append((_PRODUCT_FIELD_NAMES.get(name, name), why))
                for name, _ in new:
                    data[name] = _placeholder(name, data)
        if errors or product is None:
            raise ValidationError(
                "the loan product is invalid: " + "; ".join(f"{f}: {m}" for f, m in errors),
                field_errors=errors,
                reason="PRODUCT_INVALID",
            )
        return product, message.max_open_loans

    async def _product(self, p: Principal, product_id: str) -> dict[str, Any]:
        if not product_id:
            raise ValidationError.of("product_id", "is required")
        doc = await self.repo.get_product(product_id)
        if doc is None or not p.can_access(doc["institution_id"]):
            raise NotFound(
                f"loan product {product_id} not found",
                reason="PRODUCT_NOT_FOUND",
                metadata={"product_id": product_id},
            )
        return doc

    async def get_product(self, product_id: str) -> dict[str, Any]:
        p = context.principal()
        require(p, Permission.LOAN_PRODUCTS_READ)
        return await self._product(p, product_id)

    async def list_products(self, size: int, token: str) -> tuple[list[dict[str, Any]], str]:
        p = context.principal()
        require(p, Permission.LOAN_PRODUCTS_READ)
        return await self.repo.page_products(p.institution_id or "", size, token)

    async def quote(
        self,
        product_id: str,
        principal: str,
        term: int,
        disbursement_date: str,
        first_repayment_date: str,
    ) -> tuple[Schedule, dict[str, str], str]:
        p = context.principal()
        require(p, Permission.LOAN_PRODUCTS_READ)
        doc = await self._product(p, product_id)
        product = product_from_doc(doc["terms"])
        errors: list[tuple[str, str]] = []
        amount = _collect(errors, lambda: parse_amount(principal, doc["currency"], "principal"))
        start = _collect(errors, lambda: parse_date(disbursement_date, "disbursement_date"))
        first = _collect(
            errors,
            lambda: parse_date(first_repayment_date, "first_repayment_date", required=False),
        )
        if term < 1:
            errors.append(("term", "must be at least 1 installment"))
        if errors:
            raise ValidationError("the quote request is invalid", field_errors=errors)
        assert amount is not None and start is not None
        product.check_request(amount, term)
        schedule = _schedule(product, amount, term, start, first)
        return schedule, pricing_of(schedule), doc["currency"]

    # --- applications --------------------------------------------------------------------

    async def reading_settings(self, institution_id: str) -> InstitutionSettings:
        """The institution's settings for reads (cached a few seconds): the last completed
        close-of-business date, to count days past due since a loan's figures were stored,
        and the delinquency buckets they fall in."""
        cached = self._reading.get(institution_id)
        stamp = time.monotonic()
        if cached is not None and stamp - cached[0] < 5.0:
            return cached[1]
        settings = await self._settings(institution_id)
        self._reading[institution_id] = (stamp, settings)
        return settings

    def forget_reading_settings(self, institution_id: str) -> None:
        """Called when a close of business completes in this process."""
        self._reading.pop(institution_id, None)

    async def _settings(self, institution_id: str) -> InstitutionSettings:
        return settings_of(await self.repo.settings(institution_id))

    async def loan_settings(self, institution_id: str) -> InstitutionSettings:
        p = context.principal()
        require(p, Permission.SETTINGS_READ)
        self._own_institution(p, institution_id)
        return await self._settings(institution_id)

    async def update_loan_settings(
        self,
        institution_id: str,
        approval_limits: dict[str, str] | None,
        buckets: list[Bucket] | None,
    ) -> InstitutionSettings:
        """Replaces the approval limits and/or the delinquency buckets (None: unchanged).
        New buckets reclassify every active loan at the next close of business: their
        hints are lowered so that it visits each of them once."""
        p = context.principal()
        require(p, Permission.SETTINGS_MANAGE)
        self._own_institution(p, institution_id)
        fields: dict[str, Any] = {}
        errors: list[tuple[str, str]] = []
        if approval_limits is not None:
            currency = await self.users.institution_currency(institution_id)
            fields["approval_limits"] = _collect(
                errors, lambda: approval_limits_to_store(approval_limits, currency)
            )
        if buckets is not None:
            fields["delinquency_buckets"] = _collect(errors, lambda: buckets_to_store(buckets))
        if errors:
            raise ValidationError("the loan settings are invalid", field_errors=errors)
        if fields:
            await self.repo.update_settings(institution_id, fields)
            if buckets is not None:
                await self.repo.revisit_all(institution_id)
            self._reading.pop(institution_id, None)
            log.info("loan_settings_updated", institution=institution_id, fields=sorted(fields))
        return await self._settings(institution_id)

    @staticmethod
    def _own_institution(p: Principal, institution_id: str) -> None:
        if p.institution_id != institution_id:
            raise NotFound(
                f"institution {institution_id} not found",
                reason="INSTITUTION_NOT_FOUND",
                metadata={"institution_id": institution_id},
            )

    async def create_loan(self, request: loan_pb2.CreateLoanRequest) -> dict[str, Any]:
        p = context.principal()
        require(p, Permission.LOANS_CREATE)
        institution_id = p.institution_id or ""
        errors: list[tuple[str, str]] = []
        if not request.borrower_id:
            errors.append(("borrower_id", "is required"))
        if not request.product_id:
            errors.append(("product_id", "is required"))
        expected = _collect(
            errors,
            lambda: parse_date(request.disbursement_date, "disbursement_date", required=False),
        )
        if request.term < 1:
            errors.append(("term", "must be at least 1 installment"))
        if len(request.purpose) > 500:
            errors.append(("purpose", "must be at most 500 characters"))
        if not request.principal:
            errors.append(("principal", "is required"))
        if errors:
            raise ValidationError("the loan application is invalid", field_errors=errors)

        loan_id = new_id("loan")
        if request.request_id:
            loan_id = await self.repo.reserve_request(
                f"{institution_id}:{request.request_id}", loan_id
            )
            existing = await self.repo.get_loan(loan_id)
            if existing is not None:
                same = (
                    existing["borrower_id"] == request.borrower_id
                    and existing["product_id"] == request.product_id
                    and existing["term"] == request.term
                    and Decimal(existing["principal"]) == _decimal_or_none(request.principal)
                )
                if not same:
                    raise Conflict(
                        f"request id {request.request_id} was used for another application "
                        f"(loan {loan_id})",
                        reason="REQUEST_ID_REUSED",
                        metadata={"loan_id": loan_id},
                    )
                return existing

        borrower = await self.users.borrower(request.borrower_id)
        if not p.can_access(borrower.institution_id, borrower.branch_id):
            raise NotFound(
                f"borrower {request.borrower_id} not found",
                reason="BORROWER_NOT_FOUND",
                metadata={"borrower_id": request.borrower_id},
            )
        product_doc = await self._product(p, request.product_id)
        currency = product_doc["currency"]
        principal = parse_amount(request.principal, currency, "principal")
        product = product_from_doc(product_doc["terms"])
        # Outside the product's limits is bad input (422 naming the field), as for a quote;
        # the other eligibility rules are judged at approval and may be overridden.
        product.check_request(principal, request.term)
        mine = await self.repo.borrower_loans(institution_id, borrower.id)
        open_loans = sum(1 for d in mine if d.get("status") in OPEN_STATUSES)
        max_open = product_doc.get("max_open_loans") or None
        loan = Loan.submit(
            id=loan_id,
            borrower_id=borrower.id,
            product=product,
            principal=principal,
            term=request.term,
            created_by=p.user_id,
            open_loans=open_loans,
            max_open_loans=max_open,
            expected_disbursement_date=expected,
            purpose=request.purpose or None,
        )
        created = now()
        doc: dict[str, Any] = {
            "_id": loan_id,
            "institution_id": institution_id,
            "branch_id": borrower.branch_id,
            "product_id": product_doc["_id"],
            "currency": currency,
            "partition": partition_of(loan_id),
            "request_id": request.request_id,
            "open_loans_at_submit": open_loans,
            "max_open_loans": max_open or 0,
            "approved_by": "",
            "score": None,
            "pricing": None,
            "cob_date": None,
            "classification_history": [],
            "written_off_amounts": None,
            "history": [
                {"status": "submitted", "time": created, "actor_id": p.user_id, "note": ""}
            ],
            "create_time": created,
            "update_time": created,
            "version": 1,
            **loan_to_doc(loan, {}),
        }
        derived = views.derive(loan, None, fallback=created.date())
        doc.update(derived.fields)
        indicative = views.indicative_schedule(loan, created.date())
        doc["pricing"] = pricing_of(indicative) if indicative is not None else None
        events = [
            self._loan_event(doc, e.name, self._domain_event_fields(e, doc))
            for e in loan.pull_events()
        ]
        doc.update(outbox_fields(events))
        await self.repo.insert_loan(doc)
        self._notify(LOANS, loan_id)
        doc.pop("outbox", None)
        return doc

    async def _loan_doc(self, p: Principal, loan_id: str) -> dict[str, Any]:
        if not loan_id:
            raise ValidationError.of("loan_id", "is required")
        doc = await self.repo.get_loan(loan_id)
        if doc is None or not p.can_access(doc["institution_id"], doc["branch_id"]):
            raise NotFound(
                f"loan {loan_id} not found", reason="LOAN_NOT_FOUND", metadata={"loan_id": loan_id}
            )
        return doc

    async def get_loan(self, loan_id: str) -> dict[str, Any]:
        p = context.principal()
        require(p, Permission.LOANS_READ)
        return await self._loan_doc(p, loan_id)

    async def list_loans(
        self, borrower_id: str, status: str, size: int, token: str
    ) -> tuple[list[dict[str, Any]], str]:
        p = context.principal()
        require(p, Permission.LOANS_READ)
        query: dict[str, Any] = dict(p.scope_filter())
        if borrower_id:
            query["borrower_id"] = borrower_id
        if status:
            query["status"] = status
        return await self.repo.page_loans(query, size, token)

    async def collection_sheet(self, on: str, agent_id: str, branch_id: str) -> CollectionSheet:
        """The installments due by `on` (today when empty) and unpaid, of the active loans
        in the caller's scope: an agent's own portfolio, else everyone's or `agent_id`'s,
        in one branch with `branch_id` (`collection_sheet`). One query for the loans, read
        `SHEET_BATCH` at a time: each batch's borrowers are asked of user_service (one
        BatchGetBorrowers) while the next batch is read, so the two reads overlap."""
        p = context.principal()
        require(p, Permission.REPAYMENTS_READ)
        day = parse_date(on, "date", required=False) or today()
        empty = CollectionSheet(day, "", [])
        scope = dict(p.scope_filter())
        if p.role == Role.AGENT:
            if agent_id and agent_id != p.user_id:
                return empty  # another agent's portfolio is outside an agent's own
            agent_id = p.user_id
        if branch_id:
            if scope.get("branch_id", branch_id) != branch_id:
                return empty  # another branch is outside a branch's staff scope
            scope["branch_id"] = branch_id
        loans: list[dict[str, Any]] = []
        asked: set[str] = set()
        lookups: list[asyncio.Task[dict[str, BorrowerContact]]] = []
        try:
            async for found in self.repo.due_loans(scope, day.isoformat(), SHEET_BATCH):
                batch = await self._whole_if_needed(found, day)
                loans.extend(batch)
                borrowers = sorted({d["borrower_id"] for d in batch} - asked)
                if borrowers:
                    asked.update(borrowers)
                    lookups.append(asyncio.create_task(self.users.contacts(borrowers)))
            replies = await asyncio.gather(*lookups)
        except BaseException:
            for lookup in lookups:  # a failed read or lookup: the others are not needed
                lookup.cancel()
            raise
        if not loans:
            return empty
        contacts = {k: v for reply in replies for k, v in reply.items()}
        return assemble_sheet(day, loans, contacts, agent_id)

    async def _whole_if_needed(
        self, found: list[dict[str, Any]], day: date
    ) -> list[dict[str, Any]]:
        """`found` (loans of a sheet, their `SHEET_FIELDS` read), with the whole loan instead
        of those the sheet of `day` needs whole (`read_whole`; if still active)."""
        ids = [d["_id"] for d in found if read_whole(d, day)]
        if not ids:
            return found
        whole = {d["_id"]: d for d in await self.repo.get_loans(ids) if d["status"] == "active"}
        wanted = set(ids)
        return [
            whole.get(d["_id"], d) for d in found if d["_id"] in whole or d["_id"] not in wanted
        ]

    # --- the write path ------------------------------------------------------------------

    async def _mutate(
        self,
        loan_id: str,
        permission: Permission,
        action: Callable[[Principal, dict[str, Any], Loan], Any],
    ) -> tuple[dict[str, Any], Any]:
        """Loads, applies `action` (which may return a `Change`, or ``(Change, result)``, or
        None for "nothing to write") and commits; retries a lost race."""
        p = context.principal()
        require(p, permission)
        for _ in range(MAX_ATTEMPTS):
            doc = await self._loan_doc(p, loan_id)
            loan = loan_from_doc(doc)
            outcome = action(p, doc, loan)
            if hasattr(outcome, "__await__"):
                outcome = await outcome
            result: Any = None
            if isinstance(outcome, tuple):
                outcome, result = outcome
            if outcome is None:
                return doc, result
            try:
                after = await self._commit(p, doc, loan, outcome)
            except _Lost:
                continue
            return after, result
        raise Aborted(
            f"loan {loan_id} kept changing concurrently; retry", reason="CONCURRENT_MODIFICATION"
        )

    async def _commit(
        self, p: Principal, before: dict[str, Any], loan: Loan, change: Change
    ) -> dict[str, Any]:
        settings = await self._settings(before["institution_id"])
        cob = date.fromisoformat(before["cob_date"]) if before.get("cob_date") else None
        as_of = views.view_date(loan, cob, settings.business_date, change.business_date)
        derived = views.derive(
            loan,
            as_of,
            fallback=before["create_time"].date(),
            previous_max_dpd=before.get("max_days_past_due", 0),
            buckets=settings.buckets,
        )
        allocations = {**first_allocations(before), **change.allocations}
        fields: dict[str, Any] = {**loan_to_doc(loan, allocations), **derived.fields}
        fields.update(change.set_fields)
        if change.reprice:
            schedule = loan.schedule or views.indicative_schedule(
                loan, before["create_time"].date()
            )
            fields["pricing"] = pricing_of(schedule) if schedule is not None else None
        stamp = now()
        fields["update_time"] = stamp
        if loan.status.value != before["status"]:
            fields["history"] = [
                *before.get("history", []),
                {
                    "status": loan.status.value,
                    "time": stamp,
                    "actor_id": p.user_id,
                    "note": change.note,
                },
            ]
        after = {**before, **fields, "version": before["version"] + 1}
        classification = views.classify(before, after)
        if classification.history_entry is not None:
            fields["classification_history"] = [
                *before.get("classification_history", []),
                classification.history_entry,
            ]
            after["classification_history"] = fields["classification_history"]

        events = []
        snapshot = loan_to_proto(after)
        for event in loan.pull_events():
            extra = self._domain_event_fields(event, after)
            extra.update(change.event_fields.get(type(event), {}))
            events.append(self._loan_event(after, event.name, extra, snapshot))
        for key, extra in change.extra_events:
            events.append(self._loan_event(after, key, extra, snapshot))
        events.extend(self._arrears_events(after, classification, snapshot))

        update = loan_update(fields, events)
        visited = loan.status is LoanStatus.ACTIVE or before["status"] == "active"
        if visited and _hint_may_be_late(before, after):
            await self.repo.lower_hint(before, fields.get("cob_next_date"))
        if not await self.repo.update_loan(before, update):
            raise _Lost
        if visited and hint_of(before) != hint_of(after):
            await self.repo.set_hint(after)
        if events:
            self._notify(LOANS, before["_id"])
        after.pop("outbox", None)
        return after

    def _arrears_events(
        self, doc: dict[str, Any], c: views.Classification, snapshot: loan_pb2.Loan
    ) -> list[events_pb2.LoanEvent]:
        out = []
        business = (doc.get("view") or {}).get("as_of") or ""
        if c.newly_overdue or c.penalties_added:
            out.append(
                self._loan_event(
                    doc, "loan.installment_overdue", {"business_date": business}, snapshot
                )
            )
        if c.previous_bucket is not None:
            out.append(
                self._loan_event(
                    doc,
                    "loan.reclassified",
                    {"business_date": business, "previous_bucket": c.previous_bucket},
                    snapshot,
                )
            )
        return out

    @staticmethod
    def _loan_event(
        doc: dict[str, Any],
        key: str,
        extra: dict[str, Any],
        snapshot: loan_pb2.Loan | None = None,
    ) -> events_pb2.LoanEvent:
        return loan_event(doc, key, extra, snapshot)

    @staticmethod
    def _domain_event_fields(event: Event, doc: dict[str, Any]) -> dict[str, Any]:
        money = _money_fields(doc)
        if isinstance(event, LoanDisbursed):
            return {
                "disbursed_net": money(event.disbursed_amount),
                "fees_deducted": money(event.upfront_fee),
                "business_date": event.disbursement_date.isoformat(),
            }
        if isinstance(event, RepaymentApplied):
            a = event.allocation
            return {
                "payment_id": event.repayment_id,
                "allocation": loan_pb2.Allocation(
                    principal=money(a.principal),
                    interest=money(a.interest),
                    fees=money(a.fees),
                    penalties=money(a.penalties),
                    overpayment=money(a.overpayment),
                ),
                "business_date": event.paid_on.isoformat(),
            }
        if isinstance(event, RepaymentReversed):
            return {"payment_id": event.repayment_id, "business_date": today().isoformat()}
        if isinstance(event, CreditRefunded):
            zero = money(Decimal(0))
            return {
                "payment_id": event.refund_id,
                "allocation": loan_pb2.Allocation(
                    principal=zero,
                    interest=zero,
                    fees=zero,
                    penalties=zero,
                    overpayment=money(event.amount),
                ),
                "business_date": event.refunded_on.isoformat(),
            }
        if isinstance(event, LoanClosed):
            return {"business_date": event.closed_on.isoformat()}
        if isinstance(event, LoanWrittenOff):
            return {"business_date": event.written_off_on.isoformat()}
        if isinstance(event, LoanRescheduled):
            return {"business_date": event.rescheduled_on.isoformat()}
        if isinstance(event, LoanApproved):
            return {"business_date": (event.approved_on or today()).isoformat()}
        if isinstance(event, LoanSubmitted | LoanRejected | LoanReopened | EligibilityOverridden):
            return {"business_date": today().isoformat()}
        return {}

    # --- lifecycle verbs -----------------------------------------------------------------

    async def approve(self, loan_id: str, note: str, override_reason: str) -> dict[str, Any]:
        limits_box: dict[str, Any] = {}

        async def action(p: Principal, doc: dict[str, Any], loan: Loan) -> Change:
            if not limits_box:
                settings = await self._settings(doc["institution_id"])
                limits_box["limits"] = settings.approval_limits
            if loan.status is LoanStatus.SUBMITTED:
                # The product's minimum band is checked against the score stored on the loan
                # now (a score is usually taken after the application was submitted).
                score = doc.get("score") or {}
                band = (
                    ScoreBand(score["band"]) if score.get("band") in ScoreBand.__members__ else None
                )
                loan.eligibility_failures = tuple(
                    check_eligibility(
                        loan.product,
                        loan.principal,
                        loan.term,
                        open_loans=doc.get("open_loans_at_submit", 0),
                        max_open_loans=doc.get("max_open_loans") or None,
                        score_band=band,
                    )
                )
                if (
                    override_reason.strip()
                    and loan.eligibility_failures
                    and loan.eligibility_override is None
                ):
                    require(p, Permission.LOANS_OVERRIDE_ELIGIBILITY)
                    loan.override_eligibility(
                        by=p.user_id, role=p.role.value, reason=override_reason
                    )
            loan.approve(
                p.user_id,
                note or None,
                approver_role=p.role.value,
                approval_limits=limits_box["limits"],
                approved_on=today(),
            )
            text = note
            if loan.eligibility_override is not None and override_reason.strip():
                rules = ", ".join(loan.eligibility_override.rules)
                text = (
                    f"{note + '; ' if note else ''}eligibility overridden ({rules}): "
                    f"{loan.eligibility_override.reason}"
                )
            return Change(note=text, set_fields={"approved_by": p.user_id})

        after, _ = await self._mutate(loan_id, Permission.LOANS_APPROVE, action)
        return after

    async def reject(self, loan_id: str, reason: str) -> dict[str, Any]:
        def action(p: Principal, doc: dict[str, Any], loan: Loan) -> Change:
            loan.reject(p.user_id, reason)
            return Change(note=reason.strip())

        after, _ = await self._mutate(loan_id, Permission.LOANS_REJECT, action)
        return after

    async def disburse(
        self,
        loan_id: str,
        disbursement_date: str,
        first_repayment_date: str,
        channel: str,
        request_id: str = "",
    ) -> dict[str, Any]:
        errors: list[tuple[str, str]] = []
        on = _collect(errors, lambda: parse_date(disbursement_date, "disbursement_date"))
        first = _collect(
            errors,
            lambda: parse_date(first_repayment_date, "first_repayment_date", required=False),
        )
        channel = channel or "cash"
        if channel not in ("cash", "bank", "mobile_money"):
            errors.append(("channel", "must be cash, bank or mobile_money"))
        if on is not None and first is not None and first <= on:
            errors.append(("first_repayment_date", "must be after the disbursement date"))
        if errors:
            raise ValidationError("the disbursement is invalid", field_errors=errors)
        assert on is not None
        # What a retry must repeat to be the same request (see DisburseLoanRequest.request_id).
        request = {
            "request_id": request_id,
            "disbursement_date": on.isoformat(),
            "first_repayment_date": first.isoformat() if first else "",
            "channel": channel,
        }

        def action(p: Principal, doc: dict[str, Any], loan: Loan) -> Change | None:
            done = doc.get("disbursement_request") or {}
            if request_id and done.get("request_id") == request_id:
                if done != request:
                    raise Conflict(
                        f"Idempotency-Key {request_id!r} was used for another disbursement",
                        reason="IDEMPOTENCY_KEY_REUSED",
                        metadata={"loan_id": loan_id},
                    )
                return None  # a retry of the disbursement that was applied: nothing to do
            if loan.first_repayment_date is not None and loan.first_repayment_date <= on:
                loan.first_repayment_date = None
            loan.disburse(on, first)
            return Change(
                note=f"disbursed by {channel}",
                set_fields={
                    "disbursement_channel": channel,
                    "disbursement_request": request if request_id else None,
                },
                event_fields={LoanDisbursed: {"channel": channel}},
                business_date=on,
                reprice=True,
            )

        after, _ = await self._mutate(loan_id, Permission.LOANS_DISBURSE, action)
        return after

    async def write_off(self, loan_id: str, reason: str, on: str) -> dict[str, Any]:
        day = parse_date(on, "date", required=False) or today()

        def action(p: Principal, doc: dict[str, Any], loan: Loan) -> Change:
            if loan.disbursement_date is not None and day < loan.disbursement_date:
                raise ValidationError.of("date", "must not be before the disbursement date")
            owed = loan.write_off(day, by=p.user_id, reason=reason)
            money = _money_fields(doc)
            return Change(
                note=reason.strip(),
                set_fields={
                    "written_off_amounts": {
                        "principal": money(owed.principal),
                        "interest": money(owed.interest),
                        "fees": money(owed.fees),
                        "penalties": money(owed.penalties),
                        "total": money(owed.total),
                    }
                },
                business_date=day,
            )

        after, _ = await self._mutate(loan_id, Permission.LOANS_WRITE_OFF, action)
        return after

    async def reschedule(
        self,
        loan_id: str,
        new_term: int,
        new_rate: str,
        grace_on_principal: int,
        reason: str,
        on: str,
    ) -> dict[str, Any]:
        errors: list[tuple[str, str]] = []
        day = _collect(errors, lambda: parse_date(on, "date", required=False)) or today()
        rate = _collect(
            errors,
            lambda: parse_decimal(new_rate, "new_annual_interest_rate") if new_rate else None,
        )
        if new_term < 0:
            errors.append(("new_term", "must be at least 1 installment"))
        if grace_on_principal < 0:
            errors.append(("grace_on_principal", "must not be negative"))
        if errors:
            raise ValidationError("the reschedule is invalid", field_errors=errors)

        def action(p: Principal, doc: dict[str, Any], loan: Loan) -> Change:
            try:
                loan.reschedule(
                    day,
                    by=p.user_id,
                    reason=reason,
                    new_term=new_term or None,
                    new_annual_rate=rate,
                    grace_on_principal=grace_on_principal,
                )
            except DomainValidationError as exc:
                names = {"new_annual_rate": "new_annual_interest_rate", "on": "date"}
                raise ValidationError(
                    exc.message,
                    field_errors=[(names.get(f, f), m) for f, m in exc.field_errors],
                    reason=exc.reason,
                ) from None
            return Change(note=reason.strip(), business_date=day, reprice=True)

        after, _ = await self._mutate(loan_id, Permission.LOANS_RESCHEDULE, action)
        return after

    # --- scoring -------------------------------------------------------------------------

    async def score(self, loan_id: str) -> dict[str, Any]:
        p = context.principal()
        require(p, Permission.LOANS_SCORE)
        doc = await self._loan_doc(p, loan_id)
        applicant = await self._applicant(doc)
        result = await self.scorer.score(loan_id, json.dumps(applicant))
        score = {
            "score": result.score,
            "band": result.band,
            "scorecard_id": result.scorecard_id,
            "scorecard_version": result.scorecard_version,
            "contributions": contributions_to_doc(result.contributions),
            "time": now(),
        }

        def action(p: Principal, doc: dict[str, Any], loan: Loan) -> Change:
            return Change(set_fields={"score": score}, extra_events=[("loan.scored", {})])

        after, _ = await self._mutate(loan_id, Permission.LOANS_SCORE, action)
        return after

    async def _applicant(self, doc: dict[str, Any]) -> dict[str, Any]:
        borrower = await self.users.borrower(doc["borrower_id"])
        age = None
        if borrower.date_of_birth:
            try:
                born = date.fromisoformat(borrower.date_of_birth)
                t = today()
                age = t.year - born.year - ((t.month, t.day) < (born.month, born.day))
            except ValueError:
                age = None
        group_size = await self.users.group_size(borrower.group_id) if borrower.group_id else None
        others = [
            d
            for d in await self.repo.borrower_loans(doc["institution_id"], doc["borrower_id"])
            if d["_id"] != doc["_id"]
        ]
        for d in others:  # days past due move on between writes (views.effective_arrears)
            d["max_days_past_due"] = max(
                int(d.get("max_days_past_due") or 0), views.effective_arrears(d, today())[1]
            )
        rows = split_rows((doc.get("view") or {}).get("rows") or "")
        installment = None
        if rows:
            # The level installment: the second when there is one (the first may be a stub).
            r = rows[1] if len(rows) > 1 else rows[0]
            installment = str(Decimal(r[3]) + Decimal(r[4]) + Decimal(r[5]))
        return {
            "borrower": {
                "monthly_income": borrower.monthly_income or None,
                "age": age,
                "household_size": borrower.household_size or None,
                "gender": borrower.gender or None,
                "business_type": borrower.business_type or None,
            },
            "loan": {
                "principal": doc["principal"],
                "term": doc["term"],
                "installment_amount": installment,
                "purpose": doc.get("purpose") or None,
            },
            "history": {
                "max_days_past_due": max(
                    (int(d.get("max_days_past_due") or 0) for d in others), default=0
                ),
                "loans_repaid": sum(1 for d in others if d.get("status") == "closed"),
                "loans_written_off": sum(1 for d in others if d.get("status") == "written_off"),
                "open_loans": sum(1 for d in others if d.get("status") == "active"),
            },
            "group": {"size": group_size, "is_member": bool(borrower.group_id)},
        }

    # --- repayments ----------------------------------------------------------------------

    async def apply_repayment(
        self, loan_id: str, payment_id: str, amount: str, paid_on: str
    ) -> tuple[dict[str, Any], dict[str, str]]:
        errors: list[tuple[str, str]] = []
        if not payment_id:
            errors.append(("payment_id", "is required"))
        day = _collect(errors, lambda: parse_date(paid_on, "paid_on"))
        if not amount:
            errors.append(("amount", "is required"))
        if errors:
            raise ValidationError("the repayment is invalid", field_errors=errors)
        assert day is not None

        def action(
            p: Principal, doc: dict[str, Any], loan: Loan
        ) -> tuple[Change | None, dict[str, str]]:
            recorded = next((r for r in stored_repayments(doc) if r["id"] == payment_id), None)
            if recorded is not None:  # a repeat: the first allocation, nothing written
                return None, recorded["allocation"] or {}
            value = parse_amount(amount, doc["currency"], "amount")
            allocation = loan.apply_repayment(payment_id, value, day)
            stored = allocation_to_doc(allocation)
            return Change(allocations={payment_id: stored}, business_date=day), stored

        after, allocation = await self._mutate(loan_id, Permission.REPAYMENTS_CREATE, action)
        return after, allocation

    async def reverse_repayment(self, loan_id: str, payment_id: str, reason: str) -> dict[str, Any]:
        if not payment_id:
            raise ValidationError.of("payment_id", "is required")

        def action(p: Principal, doc: dict[str, Any], loan: Loan) -> Change | None:
            recorded = next((r for r in stored_repayments(doc) if r["id"] == payment_id), None)
            if recorded is None:
                raise NotFound(
                    f"repayment {payment_id} not found on loan {loan_id}",
                    reason="REPAYMENT_NOT_FOUND",
                    metadata={"payment_id": payment_id},
                )
            if recorded.get("reversed"):
                return None  # already reversed: nothing to do
            loan.reverse_repayment(payment_id, reason.strip() or "reversed")
            allocation = recorded.get("allocation") or {}
            return Change(
                note=f"repayment {payment_id} reversed",
                event_fields={
                    RepaymentReversed: {"allocation": _allocation_proto(allocation, doc)}
                },
            )

        after, _ = await self._mutate(loan_id, Permission.REPAYMENTS_REVERSE, action)
        return after

    async def refund_credit(
        self, loan_id: str, refund_id: str, amount: str, refunded_on: str
    ) -> tuple[dict[str, Any], Decimal]:
        """Pays back part of the loan's credit balance; returns the loan document after it and
        the amount refunded. A repeat of ``refund_id`` returns the first amount and writes
        nothing."""
        errors: list[tuple[str, str]] = []
        if not refund_id:
            errors.append(("refund_id", "is required"))
        elif len(refund_id) > 128 or any(c in refund_id for c in "|\r\n"):
            errors.append(("refund_id", "must be at most 128 characters, without | or breaks"))
        day = _collect(errors, lambda: parse_date(refunded_on, "refunded_on", required=False))
        if not amount:
            errors.append(("amount", "is required"))
        if errors:
            raise ValidationError("the refund is invalid", field_errors=errors)
        on = day or today()

        def action(p: Principal, doc: dict[str, Any], loan: Loan) -> tuple[Change | None, Decimal]:
            first = next((r for r in loan.refunds if r.id == refund_id), None)
            if first is not None:
                return None, first.amount  # a repeat: the first result, nothing written
            value = parse_amount(amount, doc["currency"], "amount")
            loan.refund_credit(refund_id, value, on)
            return Change(note=f"credit refunded ({refund_id})"), value

        after, refunded = await self._mutate(loan_id, Permission.REPAYMENTS_REVERSE, action)
        return after, refunded

    async def payoff(self, loan_id: str, on: str) -> tuple[dict[str, str], str]:
        p = context.principal()
        require(p, Permission.LOANS_READ)
        doc = await self._loan_doc(p, loan_id)
        day = parse_date(on, "date", required=False) or today()
        loan = loan_from_doc(doc)
        if loan.status is not LoanStatus.ACTIVE:
            loan.payoff_quote(day)  # raises the illegal-transition error naming the status
        if loan.disbursement_date is not None and day < loan.disbursement_date:
            raise ValidationError.of("date", "must not be before the disbursement date")
        amounts = payoff_quote(loan.state(day), loan.product, day)
        money = _money_fields(doc)
        return (
            {
                "principal": money(amounts.principal),
                "interest": money(amounts.interest),
                "fees": money(amounts.fees),
                "penalties": money(amounts.penalties),
                "total": money(amounts.total),
            },
            doc["currency"],
        )


def loan_event(
    doc: dict[str, Any],
    key: str,
    extra: dict[str, Any],
    snapshot: loan_pb2.Loan | None = None,
) -> events_pb2.LoanEvent:
    """A LoanEvent carrying the loan as it is after the change (`snapshot`, when the caller
    already mapped `doc`: every event of one write carries the same one)."""
    return events_pb2.LoanEvent(
        meta=event_meta(
            key,
            institution_id=doc["institution_id"],
            branch_id=doc["branch_id"],
            aggregate_id=doc["_id"],
            aggregate_version=doc["version"],
        ),
        loan=snapshot if snapshot is not None else loan_to_proto(doc),
        **extra,
    )


def loan_update(fields: dict[str, Any], events: list[events_pb2.LoanEvent]) -> dict[str, Any]:
    """The update of one loan write: its fields, the version bump, and its events appended
    to the document's outbox (published by the relay)."""
    update: dict[str, Any] = outbox_update(events) or {}
    update["$set"] = fields
    update.setdefault("$inc", {})["version"] = 1
    return update


def pricing_of(schedule: Schedule) -> dict[str, str]:
    pricing = price(schedule)
    return {
        "total_interest": str(schedule.total_interest),
        "total_fees": str(schedule.total_fees),
        "total_repayment": str(schedule.total_repayment),
        "apr": str(pricing.apr),
        "eir": str(pricing.eir),
    }


def _schedule(
    product: LoanProduct, principal: Decimal, term: int, start: date, first: date | None
) -> Schedule:
    from loan_service.domain import generate_schedule

    return generate_schedule(product, principal, term, start, first)


def _decimal_or_none(text: str) -> Decimal | None:
    try:
        return Decimal(text)
    except ArithmeticError:
        return None


def _collect(errors: list[tuple[str, str]], parse: Callable[[], Any]) -> Any:
    """Runs a parser, adding its field errors to `errors` instead of raising."""
    try:
        return parse()
    except ValidationError as exc:
        errors.extend(exc.field_errors)
        return None


__all__ = [
    "PARTITIONS",
    "Change",
    "LoanHandlers",
    "loan_event",
    "loan_update",
    "partition_of",
    "pricing_of",
]
