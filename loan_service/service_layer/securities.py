"""Guarantors and collateral of an individual loan: added and removed while the loan is an
application (submitted or approved), each change one write of the loan (`UnitOfWork`), and
checked at approval against the product's coverage rule (`approval_checks`).

A guarantor who is a registered borrower is kept by id (``guarantor_ids``, a top-level field
of the stored loan), so the guarantees a borrower has given are found when they borrow
themselves: their borrowing capacity counts them."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from loan_service.domain import Loan, LoanStatus
from loan_service.domain.lifecycle import RuleFailure
from loan_service.domain.securities import (
    Collateral,
    CollateralType,
    Guarantor,
    check_collateral,
    check_coverage,
    check_room,
    outside_person,
    required,
)
from loan_service.service_layer.ports import LoanRepository, UserDirectory
from loan_service.service_layer.unit_of_work import Change, UnitOfWork
from shared import context
from shared.errors import IllegalState, NotFound, ValidationError
from shared.ids import new_id
from shared.money import minor_units, parse_amount
from shared.permissions import Permission, Principal, require

#: The loan statuses in which its securities may change (before the money goes out).
OPEN_FOR_SECURITIES = (LoanStatus.SUBMITTED, LoanStatus.APPROVED)
#: The statuses of the loans whose guarantees still count against the guarantor.
LIVE_STATUSES = ("submitted", "approved", "active")


@dataclass(frozen=True)
class AddGuarantor:
    loan_id: str
    amount: str
    borrower_id: str = ""
    full_name: str = ""
    national_id: str = ""
    phone: str = ""
    currencies: tuple[str, ...] = ()


@dataclass(frozen=True)
class AddCollateral:
    loan_id: str
    type: str
    description: str
    value: str
    currency: str = ""
    location: str = ""
    document_ids: tuple[str, ...] = ()


def guarantors_of(doc: dict[str, Any]) -> list[Guarantor]:
    return [
        Guarantor(
            id=g["id"],
            amount=Decimal(g["amount"]),
            borrower_id=g.get("borrower_id", ""),
            full_name=g.get("full_name", ""),
            national_id=g.get("national_id", ""),
            phone=g.get("phone", ""),
        )
        for g in doc.get("guarantors") or []
    ]


def collateral_of(doc: dict[str, Any]) -> list[Collateral]:
    return [
        Collateral(
            id=c["id"],
            type=CollateralType(c["type"]),
            description=c["description"],
            value=Decimal(c["value"]),
            currency=c["currency"],
            location=c.get("location", ""),
            document_ids=tuple(c.get("document_ids") or ()),
        )
        for c in doc.get("collateral") or []
    ]


def _open(loan: Loan) -> None:
    if loan.status not in OPEN_FOR_SECURITIES:
        raise IllegalState(
            f"loan {loan.id} is {loan.status.value}; guarantors and collateral change only "
            "before disbursement",
            reason="LOAN_NOT_OPEN_FOR_SECURITIES",
        )


def _guarantor_ids(guarantors: list[dict[str, Any]]) -> list[str]:
    return sorted({g["borrower_id"] for g in guarantors if g.get("borrower_id")})


async def add_guarantor(uow: UnitOfWork, users: UserDirectory, cmd: AddGuarantor) -> dict[str, Any]:
    p = context.principal()
    require(p, Permission.LOANS_CREATE)
    doc = await uow.loan_doc(p, cmd.loan_id)
    currency = doc["currency"]
    wrong = [c for c in cmd.currencies if c != currency]
    if wrong:
        raise ValidationError.of("amount", f"must be in {currency}, the loan's currency")
    amount = parse_amount(cmd.amount, currency, "amount")
    entry: dict[str, Any] = {"id": new_id("gtr"), "amount": str(amount)}
    if cmd.borrower_id:
        if cmd.borrower_id == doc["borrower_id"]:
            raise ValidationError.of("borrower_id", "a borrower cannot guarantee their own loan")
        try:
            guarantor = await users.borrower(cmd.borrower_id)
        except NotFound:
            raise ValidationError.of(
                "borrower_id", f"borrower {cmd.borrower_id} does not exist"
            ) from None
        if guarantor.institution_id != doc["institution_id"]:
            raise ValidationError.of("borrower_id", f"borrower {cmd.borrower_id} does not exist")
        entry["borrower_id"] = guarantor.id
    else:
        name, national_id, phone = outside_person(
            {"full_name": cmd.full_name, "national_id": cmd.national_id, "phone": cmd.phone}
        )
        entry.update(full_name=name, national_id=national_id, phone=phone)

    def action(p: Principal, doc: dict[str, Any], loan: Loan) -> tuple[Change, dict[str, Any]]:
        _open(loan)
        existing = list(doc.get("guarantors") or [])
        check_room(len(existing), "borrower_id" if cmd.borrower_id else "national_id")
        if cmd.borrower_id and cmd.borrower_id in _guarantor_ids(existing):
            raise ValidationError.of("borrower_id", "already guarantees this loan")
        guarantors = [*existing, entry]
        fields = {"guarantors": guarantors, "guarantor_ids": _guarantor_ids(guarantors)}
        return Change(set_fields=fields), entry

    _, added = await uow.mutate(cmd.loan_id, Permission.LOANS_CREATE, action)
    return {**added, "currency": currency}


async def add_collateral(uow: UnitOfWork, cmd: AddCollateral) -> dict[str, Any]:
    p = context.principal()
    require(p, Permission.LOANS_CREATE)
    doc = await uow.loan_doc(p, cmd.loan_id)
    currency = doc["currency"]
    kind, description, location = check_collateral(
        {"type": cmd.type, "description": cmd.description, "location": cmd.location}
    )
    if cmd.currency and cmd.currency != currency:
        raise ValidationError.of(
            "currency", f"must be {currency}, the loan's: Kopa does not convert currencies"
        )
    value = parse_amount(cmd.value, currency, "value")
    entry = {
        "id": new_id("col"),
        "type": kind.value,
        "description": description,
        "value": str(value),
        "currency": currency,
        "location": location,
        "document_ids": list(cmd.document_ids),
    }

    def action(p: Principal, doc: dict[str, Any], loan: Loan) -> Change:
        _open(loan)
        existing = list(doc.get("collateral") or [])
        check_room(len(existing), "type")
        return Change(set_fields={"collateral": [*existing, entry]})

    await uow.mutate(cmd.loan_id, Permission.LOANS_CREATE, action)
    return entry


async def remove(uow: UnitOfWork, loan_id: str, kind: str, item_id: str) -> None:
    """Removes guarantor or collateral item `item_id` (`kind`: guarantors or collateral)."""

    def action(p: Principal, doc: dict[str, Any], loan: Loan) -> Change:
        _open(loan)
        items = list(doc.get(kind) or [])
        kept = [i for i in items if i["id"] != item_id]
        if len(kept) == len(items):
            raise NotFound(f"{item_id} is not among the loan's {kind}", reason="NOT_FOUND")
        fields: dict[str, Any] = {kind: kept}
        if kind == "guarantors":
            fields["guarantor_ids"] = _guarantor_ids(kept)
        return Change(set_fields=fields)

    await uow.mutate(loan_id, Permission.LOANS_CREATE, action)


async def securities(uow: UnitOfWork, loan_id: str) -> tuple[dict[str, Any], list[Any], list[Any]]:
    """The loan document with its guarantors and collateral, as stored."""
    p = context.principal()
    require(p, Permission.LOANS_READ)
    doc = await uow.loan_doc(p, loan_id)
    return doc, list(doc.get("guarantors") or []), list(doc.get("collateral") or [])


async def guaranteed_for_others(
    repo: LoanRepository, institution_id: str, borrower_id: str, excluding: str
) -> Decimal:
    """What `borrower_id` has guaranteed on other borrowers' live loans."""
    total = Decimal(0)
    for loan in await repo.guaranteed_by(institution_id, borrower_id):
        if loan["_id"] == excluding or loan.get("status") not in LIVE_STATUSES:
            continue
        total += sum(
            (
                Decimal(g["amount"])
                for g in loan.get("guarantors") or []
                if g.get("borrower_id") == borrower_id
            ),
            Decimal(0),
        )
    return total


def capacity_failure(
    principal: Decimal, guaranteed: Decimal, max_principal: Decimal
) -> RuleFailure | None:
    """The borrower's capacity: the product's maximum principal, less what they have
    guaranteed for others."""
    if guaranteed and principal + guaranteed > max_principal:
        return RuleFailure(
            "borrowing_capacity",
            f"principal {principal} plus {guaranteed} guaranteed for other borrowers exceeds "
            f"the product's maximum of {max_principal}",
        )
    return None


def coverage_check(doc: dict[str, Any], loan: Loan) -> None:
    """The product's coverage rule (copied onto the loan when it was applied for)."""
    check_coverage(
        loan.principal,
        doc["currency"],
        minor_units(doc["currency"]),
        coverage_ratio(doc),
        guarantors_of(doc),
        collateral_of(doc),
    )


def coverage_ratio(doc: dict[str, Any]) -> Decimal | None:
    ratio = doc.get("min_security_coverage")
    return Decimal(ratio) if ratio else None


def coverage_figures(doc: dict[str, Any]) -> tuple[Decimal, Decimal]:
    """What the loan's guarantees and collateral are worth together, and what the product's
    rule requires (zero without a rule), as approval judges them."""
    given = sum((g.amount for g in guarantors_of(doc)), Decimal(0)) + sum(
        (c.value for c in collateral_of(doc)), Decimal(0)
    )
    needed = required(Decimal(doc["principal"]), coverage_ratio(doc), minor_units(doc["currency"]))
    return given, needed
