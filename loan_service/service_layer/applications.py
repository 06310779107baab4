"""Loan applications: submitting one (idempotent on its request id), scoring it, approving
it (eligibility rules, the approver's limit, an override with a reason) or rejecting it.

Approval limits are the institution's (`settings`); the eligibility rules are judged at
approval, against the score stored on the loan then.
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Any

from loan_service.adapters.serialization import (
    contributions_to_doc,
    loan_to_doc,
    product_from_doc,
    split_rows,
)
from loan_service.domain import Loan, LoanStatus, ScoreBand, check_eligibility
from loan_service.service_layer import securities, views
from loan_service.service_layer.clock import now, today
from loan_service.service_layer.commands import ApproveLoan, CreateLoan, RejectLoan, ScoreLoan
from loan_service.service_layer.inputs import collect, decimal_or_none, other_currencies
from loan_service.service_layer.ports import Scorer, UserDirectory
from loan_service.service_layer.products import product_in_scope
from loan_service.service_layer.unit_of_work import Change, UnitOfWork, partition_of
from shared import context
from shared.dates import parse_date
from shared.errors import Conflict, NotFound, ValidationError
from shared.ids import new_id
from shared.money import parse_amount
from shared.permissions import Permission, Principal, require

#: The statuses a borrower's loan counts as open in (a product's `max_open_loans`).
OPEN_STATUSES = ("submitted", "approved", "active")


async def create_loan(uow: UnitOfWork, users: UserDirectory, cmd: CreateLoan) -> dict[str, Any]:
    """Submits an application; a repeat of its request id answers the loan it created."""
    p = context.principal()
    require(p, Permission.LOANS_CREATE)
    repo = uow.repo
    institution_id = p.institution_id or ""
    errors: list[tuple[str, str]] = []
    if not cmd.borrower_id:
        errors.append(("borrower_id", "is required"))
    if not cmd.product_id:
        errors.append(("product_id", "is required"))
    expected = collect(
        errors,
        lambda: parse_date(cmd.disbursement_date, "disbursement_date", required=False),
    )
    if cmd.term < 1:
        errors.append(("term", "must be at least 1 installment"))
    if len(cmd.purpose) > 500:
        errors.append(("purpose", "must be at most 500 characters"))
    if not cmd.principal:
        errors.append(("principal", "is required"))
    if errors:
        raise ValidationError("the loan application is invalid", field_errors=errors)

    loan_id = new_id("loan")
    if cmd.request_id:
        loan_id = await repo.reserve_request(f"{institution_id}:{cmd.request_id}", loan_id)
        existing = await repo.get_loan(loan_id)
        if existing is not None:
            same = (
                existing["borrower_id"] == cmd.borrower_id
                and existing["product_id"] == cmd.product_id
                and existing["term"] == cmd.term
                and Decimal(existing["principal"]) == decimal_or_none(cmd.principal)
            )
            if not same:
                raise Conflict(
                    f"request id {cmd.request_id} was used for another application "
                    f"(loan {loan_id})",
                    reason="REQUEST_ID_REUSED",
                    metadata={"loan_id": loan_id},
                )
            return existing

    borrower = await users.borrower(cmd.borrower_id)
    if not p.can_access(borrower.institution_id, borrower.branch_id):
        raise NotFound(
            f"borrower {cmd.borrower_id} not found",
            reason="BORROWER_NOT_FOUND",
            metadata={"borrower_id": cmd.borrower_id},
        )
    product_doc = await product_in_scope(repo, p, cmd.product_id)
    currency = product_doc["currency"]
    if wrong := other_currencies(cmd.currencies, currency):
        raise ValidationError("the loan application is invalid", field_errors=wrong)
    principal = parse_amount(cmd.principal, currency, "principal")
    product = product_from_doc(product_doc["terms"])
    # Outside the product's limits is bad input (422 naming the field), as for a quote;
    # the other eligibility rules are judged at approval and may be overridden.
    product.check_request(principal, cmd.term)
    mine = await repo.borrower_loans(institution_id, borrower.id)
    open_loans = sum(1 for d in mine if d.get("status") in OPEN_STATUSES)
    max_open = product_doc.get("max_open_loans") or None
    loan = Loan.submit(
        id=loan_id,
        borrower_id=borrower.id,
        product=product,
        principal=principal,
        term=cmd.term,
        created_by=p.user_id,
        open_loans=open_loans,
        max_open_loans=max_open,
        expected_disbursement_date=expected,
        purpose=cmd.purpose or None,
    )
    created = now()
    doc: dict[str, Any] = {
        "_id": loan_id,
        "institution_id": institution_id,
        "branch_id": borrower.branch_id,
        "product_id": product_doc["_id"],
        "currency": currency,
        "partition": partition_of(loan_id),
        "request_id": cmd.request_id,
        "group_loan_id": cmd.group_loan_id,
        "group_id": cmd.group_id,
        "center_id": cmd.center_id,
        "open_loans_at_submit": open_loans,
        "max_open_loans": max_open or 0,
        # The product's rules judged at approval and disbursement, as they were when the
        # application was made.
        "min_security_coverage": product_doc.get("min_security_coverage") or "",
        "requires_kyc_verified": bool(product_doc.get("requires_kyc_verified")),
        "approved_by": "",
        "score": None,
        "pricing": None,
        "cob_date": None,
        "classification_history": [],
        "written_off_amounts": None,
        "history": [{"status": "submitted", "time": created, "actor_id": p.user_id, "note": ""}],
        "create_time": created,
        "update_time": created,
        "version": 1,
        **loan_to_doc(loan, {}),
    }
    derived = views.derive(loan, None, fallback=created.date())
    doc.update(derived.fields)
    indicative = views.indicative_schedule(loan, created.date())
    doc["pricing"] = views.pricing_of(indicative) if indicative is not None else None
    await uow.add(doc, loan)
    return doc


async def approve(uow: UnitOfWork, cmd: ApproveLoan) -> dict[str, Any]:
    """Approves a submitted application within the approver's limit; the product's
    eligibility rules are checked again now, and may be overridden with a reason by a role
    allowed to."""
    note, override_reason = cmd.note, cmd.override_reason
    limits_box: dict[str, Any] = {}

    async def action(p: Principal, doc: dict[str, Any], loan: Loan) -> Change:
        if not limits_box:
            settings = await uow.settings(doc["institution_id"])
            limits_box["limits"] = settings.approval_limits
        if loan.status is LoanStatus.SUBMITTED:
            # The product's minimum band is checked against the score stored on the loan
            # now (a score is usually taken after the application was submitted).
            score = doc.get("score") or {}
            band = ScoreBand(score["band"]) if score.get("band") in ScoreBand.__members__ else None
            failures = check_eligibility(
                loan.product,
                loan.principal,
                loan.term,
                open_loans=doc.get("open_loans_at_submit", 0),
                max_open_loans=doc.get("max_open_loans") or None,
                score_band=band,
            )
            guaranteed = await securities.guaranteed_for_others(
                uow.repo, doc["institution_id"], doc["borrower_id"], excluding=doc["_id"]
            )
            capacity = securities.capacity_failure(
                loan.principal, guaranteed, loan.product.max_principal
            )
            loan.eligibility_failures = tuple([*failures, *([capacity] if capacity else [])])
            # Unlike eligibility, security is not overridden: the product requires it.
            securities.coverage_check(doc, loan)
            if (
                override_reason.strip()
                and loan.eligibility_failures
                and loan.eligibility_override is None
            ):
                require(p, Permission.LOANS_OVERRIDE_ELIGIBILITY)
                loan.override_eligibility(by=p.user_id, role=p.role.value, reason=override_reason)
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

    after, _ = await uow.mutate(cmd.loan_id, Permission.LOANS_APPROVE, action)
    return after


async def reject(uow: UnitOfWork, cmd: RejectLoan) -> dict[str, Any]:
    def action(p: Principal, doc: dict[str, Any], loan: Loan) -> Change:
        loan.reject(p.user_id, cmd.reason)
        return Change(note=cmd.reason.strip())

    after, _ = await uow.mutate(cmd.loan_id, Permission.LOANS_REJECT, action)
    return after


async def score(
    uow: UnitOfWork, users: UserDirectory, scorer: Scorer, cmd: ScoreLoan
) -> dict[str, Any]:
    """Scores the application with scoring_service and stores the result on the loan."""
    p = context.principal()
    require(p, Permission.LOANS_SCORE)
    doc = await uow.loan_doc(p, cmd.loan_id)
    applicant = await _applicant(uow, users, doc)
    result = await scorer.score(cmd.loan_id, json.dumps(applicant))
    stored = {
        "score": result.score,
        "band": result.band,
        "scorecard_id": result.scorecard_id,
        "scorecard_version": result.scorecard_version,
        "contributions": contributions_to_doc(result.contributions),
        "time": now(),
    }

    def action(p: Principal, doc: dict[str, Any], loan: Loan) -> Change:
        return Change(set_fields={"score": stored}, extra_events=[("loan.scored", {})])

    after, _ = await uow.mutate(cmd.loan_id, Permission.LOANS_SCORE, action)
    return after


async def _applicant(uow: UnitOfWork, users: UserDirectory, doc: dict[str, Any]) -> dict[str, Any]:
    """What the scorecard reads of an application: the borrower, the loan, their history
    with the institution and their group."""
    borrower = await users.borrower(doc["borrower_id"])
    age = None
    if borrower.date_of_birth:
        try:
            born = date.fromisoformat(borrower.date_of_birth)
            t = today()
            age = t.year - born.year - ((t.month, t.day) < (born.month, born.day))
        except ValueError:
            age = None
    group_size = await users.group_size(borrower.group_id) if borrower.group_id else None
    others = [
        d
        for d in await uow.repo.borrower_loans(doc["institution_id"], doc["borrower_id"])
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
