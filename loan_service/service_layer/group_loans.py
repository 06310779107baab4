"""Group loans: one application for a joint-liability group with a principal per member,
approved and disbursed together, producing one ordinary loan per member (each with its own
schedule, arrears and statement) tied by the group loan's id.

The member loans are written one by one, each by its own use case (`applications`,
`disbursement`): there is no multi-document transaction (INFRA.md). Every step is
idempotent instead (a member loan is created with a request id derived from the group
loan's, a member loan already approved or disbursed is skipped), so a step interrupted by a
crash or a refusal is completed by repeating it, and the group loan's status follows once
every member loan has moved.

A repayment made at the group's meeting is split here (`plan_repayment`): as entered, or pro
rata to what each member owes by the day it was paid. The plan is stored under the
request's idempotency key before any money moves, so a retry posts the same parts; the
gateway posts each part to payment_service with its own derived key.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from loan_service.adapters.serialization import product_from_doc
from loan_service.domain.group_loans import (
    GroupLending,
    GroupLoanStatus,
    check_members,
    check_no_group_arrears,
    split_pro_rata,
)
from loan_service.service_layer import applications, disbursement, views
from loan_service.service_layer.clock import now
from loan_service.service_layer.collection_sheet import due_installments
from loan_service.service_layer.commands import (
    ApproveLoan,
    CreateLoan,
    DisburseLoan,
    RejectLoan,
)
from loan_service.service_layer.ports import GroupLoanRepository, UserDirectory
from loan_service.service_layer.products import product_in_scope
from loan_service.service_layer.unit_of_work import UnitOfWork
from shared import context
from shared.errors import Aborted, Conflict, IllegalState, NotFound, ValidationError
from shared.ids import new_id
from shared.money import fmt, minor_units, parse_amount
from shared.permissions import Permission, Principal, require

#: Member loan statuses in which a group loan's step is already done.
_DONE = {
    "approve": {"approved", "active", "closed", "written_off"},
    "reject": {"rejected"},
    "disburse": {"active", "closed", "written_off"},
}


@dataclass(frozen=True)
class MemberRequest:
    borrower_id: str
    principal: str


@dataclass(frozen=True)
class CreateGroupLoan:
    group_id: str
    product_id: str
    term: int
    members: tuple[MemberRequest, ...]
    disbursement_date: str = ""
    purpose: str = ""
    request_id: str = ""
    #: The currencies the amounts named (kopa.loan.v2's Money may name one): the product's.
    currencies: tuple[str, ...] = ()


@dataclass(frozen=True)
class RepaymentPart:
    loan_id: str
    amount: str


@dataclass(frozen=True)
class PlanGroupRepayment:
    group_loan_id: str
    #: The request's Idempotency-Key: the plan is stored under it.
    idempotency_key: str
    paid_on: date
    #: Either one amount, split pro rata to what is due, or the parts as entered.
    amount: str = ""
    parts: tuple[RepaymentPart, ...] = ()
    #: The currencies the amounts named: the group loan's.
    currencies: tuple[str, ...] = ()


def check_currency(currencies: tuple[str, ...], expected: str, field: str) -> None:
    wrong = [c for c in currencies if c != expected]
    if wrong:
        raise ValidationError.of(
            field,
            f"must be in {expected}, the loan's currency, not {', '.join(wrong)}",
            reason="CURRENCY_MISMATCH",
        )


@dataclass(frozen=True)
class GroupLoanView:
    doc: dict[str, Any]
    loans: list[dict[str, Any]]
    outstanding: Decimal
    days_past_due: int


def _same_application(doc: dict[str, Any], cmd: CreateGroupLoan) -> bool:
    """Whether `cmd` asks for what the stored group loan was made from (a retry)."""
    try:
        asked = [(m.borrower_id, Decimal(m.principal)) for m in cmd.members]
    except ArithmeticError:
        return False
    made = [(m["borrower_id"], Decimal(m["principal"])) for m in doc["members"]]
    return (doc["group_id"], doc["product_id"], doc["term"], made) == (
        cmd.group_id,
        cmd.product_id,
        cmd.term,
        asked,
    )


class GroupLoans:
    def __init__(self, repo: GroupLoanRepository, uow: UnitOfWork, users: UserDirectory) -> None:
        self.repo = repo
        self.uow = uow
        self.users = users

    async def _doc(self, p: Principal, group_loan_id: str) -> dict[str, Any]:
        doc = await self.repo.get(group_loan_id)
        if doc is None or not p.can_access(doc["institution_id"], doc["branch_id"]):
            raise NotFound(f"group loan {group_loan_id} not found", reason="GROUP_LOAN_NOT_FOUND")
        return doc

    async def _member_loans(self, doc: dict[str, Any]) -> list[dict[str, Any]]:
        return await self.uow.repo.get_loans([m["loan_id"] for m in doc["members"]])

    async def _group_days_past_due(self, institution_id: str, group_id: str) -> int:
        """The most days past due of any member loan of the group's group loans."""
        worst = 0
        business = (await self.uow.settings(institution_id)).business_date
        for group_loan in await self.repo.of_group(institution_id, group_id):
            for loan in await self._member_loans(group_loan):
                worst = max(worst, views.effective_arrears(loan, business)[1])
        return worst

    # --- applying -------------------------------------------------------------------------

    async def create(self, cmd: CreateGroupLoan) -> GroupLoanView:
        p = context.principal()
        require(p, Permission.LOANS_CREATE)
        institution_id = p.institution_id or ""
        errors: list[tuple[str, str]] = []
        if not cmd.group_id:
            errors.append(("group_id", "is required"))
        if not cmd.product_id:
            errors.append(("product_id", "is required"))
        if cmd.term < 1:
            errors.append(("term", "must be at least 1 installment"))
        if errors:
            raise ValidationError("the group loan application is invalid", field_errors=errors)

        group_loan_id = new_id("gln")
        if cmd.request_id:
            group_loan_id = await self.repo.reserve(
                f"{institution_id}:{cmd.request_id}", group_loan_id
            )
            existing = await self.repo.get(group_loan_id)
            if existing is not None:
                if not _same_application(existing, cmd):
                    raise Conflict(
                        f"Idempotency-Key {cmd.request_id!r} was used for another group loan "
                        f"application ({group_loan_id})",
                        reason="IDEMPOTENCY_KEY_REUSED",
                        metadata={"group_loan_id": group_loan_id},
                    )
                return await self._view(existing)

        group = await self.users.group(cmd.group_id)
        if not p.can_access(group.institution_id, group.branch_id):
            raise NotFound(f"group {cmd.group_id} not found", reason="GROUP_NOT_FOUND")
        if group.status != "active":
            raise IllegalState(
                f"group {group.id} is {group.status}; only an active group borrows",
                reason="GROUP_NOT_ACTIVE",
            )
        product_doc = await product_in_scope(self.uow.repo, p, cmd.product_id)
        terms = GroupLending(**(product_doc.get("group_lending") or {}))
        currency = product_doc["currency"]
        check_currency(cmd.currencies, currency, "members")
        requested: list[tuple[str, Decimal]] = []
        for i, m in enumerate(cmd.members):
            try:
                principal = parse_amount(m.principal, currency, f"members[{i}].principal")
            except ValidationError as exc:
                errors.extend(exc.field_errors)
                principal = Decimal(0)
            requested.append((m.borrower_id, principal))
        if errors:
            raise ValidationError("the group loan application is invalid", field_errors=errors)
        terms.check_size(len(requested))
        check_members(requested, list(group.member_ids), group.id)
        await self._check_open_loans(institution_id, requested, product_doc, group_loan_id)
        product = product_from_doc(product_doc["terms"])
        for i, (_, principal) in enumerate(requested):
            try:  # every member's principal and the term checked before any loan is made
                product.check_request(principal, cmd.term)
            except ValidationError as exc:
                raise ValidationError(
                    exc.message,
                    field_errors=[
                        (f"members[{i}].principal" if f == "principal" else f, why)
                        for f, why in exc.field_errors
                    ],
                ) from None
        if terms.joint_liability:
            check_no_group_arrears(
                group.id, await self._group_days_past_due(institution_id, group.id)
            )

        members = []
        for borrower_id, principal in requested:
            loan = await applications.create_loan(
                self.uow,
                self.users,
                CreateLoan(
                    borrower_id=borrower_id,
                    product_id=cmd.product_id,
                    principal=str(principal),
                    term=cmd.term,
                    disbursement_date=cmd.disbursement_date,
                    purpose=cmd.purpose,
                    request_id=f"{group_loan_id}:{borrower_id}",
                    group_loan_id=group_loan_id,
                    group_id=group.id,
                    center_id=group.center_id,
                ),
            )
            members.append(
                {"borrower_id": borrower_id, "loan_id": loan["_id"], "principal": str(principal)}
            )
        created = now()
        doc = {
            "_id": group_loan_id,
            "institution_id": institution_id,
            "branch_id": group.branch_id,
            "center_id": group.center_id,
            "group_id": group.id,
            "product_id": cmd.product_id,
            "currency": currency,
            "term": cmd.term,
            "joint_liability": terms.joint_liability,
            "status": GroupLoanStatus.SUBMITTED.value,
            "members": members,
            "request_id": cmd.request_id,
            "created_by": p.user_id,
            "history": [{"status": "submitted", "time": created, "actor_id": p.user_id}],
            "create_time": created,
            "update_time": created,
            "version": 1,
        }
        await self.repo.insert(doc)
        return await self._view(doc)

    async def _check_open_loans(
        self,
        institution_id: str,
        requested: list[tuple[str, Decimal]],
        product: dict[str, Any],
        group_loan_id: str,
    ) -> None:
        """A member whose open loans already reach the product's limit is refused by name:
        for a group loan this is not left to each member loan's approval. (This group loan's
        own member loans, made by an attempt a crash interrupted, do not count.)"""
        limit = product.get("max_open_loans") or 0
        if not limit:
            return
        errors = []
        for i, (borrower_id, _) in enumerate(requested):
            mine = await self.uow.repo.borrower_loans(institution_id, borrower_id)
            open_loans = [
                d["_id"]
                for d in mine
                if d.get("status") in applications.OPEN_STATUSES
                and d.get("group_loan_id") != group_loan_id
            ]
            if len(open_loans) >= limit:
                errors.append(
                    (
                        f"members[{i}].borrower_id",
                        f"borrower {borrower_id} already has {len(open_loans)} open loans "
                        f"({', '.join(open_loans)}); the product allows {limit}",
                    )
                )
        if errors:
            raise ValidationError(
                "the group loan application is invalid",
                field_errors=errors,
                reason="MAX_OPEN_LOANS",
            )

    # --- moving every member loan together ------------------------------------------------

    async def approve(self, group_loan_id: str, note: str, override_reason: str) -> GroupLoanView:
        p = context.principal()
        require(p, Permission.LOANS_APPROVE)
        doc = await self._doc(p, group_loan_id)
        for loan in await self._pending(doc, "approve"):
            await applications.approve(
                self.uow, ApproveLoan(loan["_id"], note=note, override_reason=override_reason)
            )
        return await self._finish(p, doc, GroupLoanStatus.APPROVED, note)

    async def reject(self, group_loan_id: str, reason: str) -> GroupLoanView:
        p = context.principal()
        require(p, Permission.LOANS_REJECT)
        doc = await self._doc(p, group_loan_id)
        if not reason.strip():
            raise ValidationError.of("reason", "say why the application is rejected")
        for loan in await self._pending(doc, "reject"):
            await applications.reject(self.uow, RejectLoan(loan["_id"], reason))
        return await self._finish(p, doc, GroupLoanStatus.REJECTED, reason)

    async def disburse(
        self,
        group_loan_id: str,
        disbursement_date: str,
        first_repayment_date: str,
        channel: str,
        request_id: str,
    ) -> GroupLoanView:
        p = context.principal()
        require(p, Permission.LOANS_DISBURSE)
        doc = await self._doc(p, group_loan_id)
        for loan in await self._pending(doc, "disburse"):
            await disbursement.disburse(
                self.uow,
                self.users,
                DisburseLoan(
                    loan["_id"],
                    disbursement_date=disbursement_date,
                    first_repayment_date=first_repayment_date,
                    channel=channel,
                    request_id=f"{request_id}:{loan['_id']}" if request_id else "",
                ),
            )
        return await self._finish(p, doc, GroupLoanStatus.ACTIVE, f"disbursed by {channel}")

    async def _pending(self, doc: dict[str, Any], step: str) -> list[dict[str, Any]]:
        """The member loans the step has still to move, in the members' order."""
        loans = {d["_id"]: d for d in await self._member_loans(doc)}
        return [
            loans[m["loan_id"]]
            for m in doc["members"]
            if m["loan_id"] in loans and loans[m["loan_id"]]["status"] not in _DONE[step]
        ]

    async def _finish(
        self, p: Principal, doc: dict[str, Any], status: GroupLoanStatus, note: str
    ) -> GroupLoanView:
        """Every member loan has moved: the group loan's status follows (once)."""
        for _ in range(5):
            if doc["status"] == status.value:
                return await self._view(doc)
            stamp = now()
            fields = {
                "status": status.value,
                "update_time": stamp,
                "history": [
                    *doc.get("history", []),
                    {"status": status.value, "time": stamp, "actor_id": p.user_id, "note": note},
                ],
            }
            if await self.repo.save(doc, fields):
                return await self._view({**doc, **fields, "version": doc["version"] + 1})
            doc = await self._doc(p, doc["_id"])
        raise Aborted(f"group loan {doc['_id']} kept changing concurrently; retry")

    # --- reading --------------------------------------------------------------------------

    async def joint_arrears(self, loan: dict[str, Any]) -> int:
        """A member loan's group's arrears when the group is jointly liable (0 otherwise):
        the most days past due of any member loan of the group's loans."""
        if not loan.get("group_loan_id"):
            return 0
        doc = await self.repo.get(loan["group_loan_id"])
        if doc is None or not doc.get("joint_liability"):
            return 0
        return await self._group_days_past_due(doc["institution_id"], doc["group_id"])

    async def of_group(self, group_id: str) -> list[GroupLoanView]:
        """The group's group loans in the caller's scope, oldest first."""
        p = context.principal()
        require(p, Permission.LOANS_READ)
        if not group_id:
            raise ValidationError.of("group_id", "is required")
        docs = await self.repo.of_group(p.institution_id or "", group_id)
        return [
            await self._view(d) for d in docs if p.can_access(d["institution_id"], d["branch_id"])
        ]

    async def get(self, group_loan_id: str) -> GroupLoanView:
        p = context.principal()
        require(p, Permission.LOANS_READ)
        return await self._view(await self._doc(p, group_loan_id))

    async def _view(self, doc: dict[str, Any]) -> GroupLoanView:
        loans = await self._member_loans(doc)
        business = (await self.uow.settings(doc["institution_id"])).business_date
        outstanding = sum(
            (Decimal((d.get("outstanding") or {}).get("total") or 0) for d in loans), Decimal(0)
        )
        dpd = max((views.effective_arrears(d, business)[1] for d in loans), default=0)
        if doc["status"] == "active" and loans and all(d["status"] == "closed" for d in loans):
            doc = {**doc, "status": GroupLoanStatus.CLOSED.value}
        return GroupLoanView(doc, loans, outstanding, dpd)

    # --- repaying at the meeting ----------------------------------------------------------

    async def plan_repayment(self, cmd: PlanGroupRepayment) -> tuple[dict[str, Any], str]:
        """The parts a group repayment is posted as (see the module's docstring), and their
        currency: stored under the idempotency key, so a retry answers the first plan; the
        same key with another request is a conflict."""
        p = context.principal()
        require(p, Permission.REPAYMENTS_CREATE)
        doc = await self._doc(p, cmd.group_loan_id)
        if not cmd.idempotency_key:
            raise ValidationError.of("Idempotency-Key", "is required")
        if not cmd.amount and not cmd.parts:
            raise ValidationError.of("amount", "give `amount`, `parts`, or both")
        request = {
            "paid_on": cmd.paid_on.isoformat(),
            "amount": cmd.amount,
            # Objects, not pairs: FerretDB stores no nested arrays.
            "parts": [{"loan_id": x.loan_id, "amount": x.amount} for x in cmd.parts],
        }
        loans = {d["_id"]: d for d in await self._member_loans(doc)}
        currency = doc["currency"]
        check_currency(cmd.currencies, currency, "parts" if cmd.parts else "amount")
        if cmd.parts:
            parts = self._entered_parts(cmd.parts, loans, currency)
            if cmd.amount:  # both: the parts must add up to the amount collected
                amount = parse_amount(cmd.amount, currency, "amount")
                entered = sum((a for _, a in parts), Decimal(0))
                if entered != amount:
                    difference = fmt(abs(amount - entered), currency)
                    raise ValidationError.of(
                        "parts",
                        f"the parts add up to {fmt(entered, currency)}, {difference} "
                        f"{'less' if entered < amount else 'more'} than the amount of "
                        f"{fmt(amount, currency)}",
                        reason="PARTS_DO_NOT_ADD_UP",
                    )
        else:
            amount = parse_amount(cmd.amount, currency, "amount")
            active = {i: d for i, d in loans.items() if d["status"] == "active"}
            if not active:
                raise IllegalState(
                    f"group loan {doc['_id']} has no active member loan to repay",
                    reason="GROUP_LOAN_NOT_ACTIVE",
                )
            weights = {
                i: sum((x.amount_due for x in due_installments(d, cmd.paid_on)), Decimal(0))
                for i, d in active.items()
            }
            if not any(weights.values()):  # nothing due yet: pro rata to what is owed
                weights = {
                    i: Decimal((d.get("outstanding") or {}).get("total") or 0)
                    for i, d in active.items()
                }
            split = split_pro_rata(amount, weights, minor_units(currency))
            parts = [(i, a) for i, a in split.items() if a > 0]
        plan = {
            "_id": f"{doc['_id']}:{cmd.idempotency_key}",
            "id": new_id("gpay"),
            "group_loan_id": doc["_id"],
            "institution_id": doc["institution_id"],
            "request": request,
            "parts": [{"loan_id": i, "amount": str(a)} for i, a in parts],
            "created_by": p.user_id,
            "create_time": now(),
        }
        stored = await self.repo.add_plan(plan)
        if stored["request"] != request:
            raise Conflict(
                f"Idempotency-Key {cmd.idempotency_key!r} was used for another group repayment",
                reason="IDEMPOTENCY_KEY_REUSED",
            )
        return stored, currency

    @staticmethod
    def _entered_parts(
        parts: tuple[RepaymentPart, ...], loans: dict[str, dict[str, Any]], currency: str
    ) -> list[tuple[str, Decimal]]:
        errors: list[tuple[str, str]] = []
        out: list[tuple[str, Decimal]] = []
        seen: set[str] = set()
        for i, part in enumerate(parts):
            if part.loan_id not in loans:
                errors.append((f"parts[{i}].loan_id", "is not a loan of this group loan"))
            elif part.loan_id in seen:
                errors.append((f"parts[{i}].loan_id", "appears twice"))
            seen.add(part.loan_id)
            try:
                out.append(
                    (part.loan_id, parse_amount(part.amount, currency, f"parts[{i}].amount"))
                )
            except ValidationError as exc:
                errors.extend(exc.field_errors)
        if errors:
            raise ValidationError("the group repayment is invalid", field_errors=errors)
        return out
