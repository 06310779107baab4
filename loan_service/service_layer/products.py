"""Loan products: creating one (its terms checked, every bad field named in one answer),
reading and listing them, and quoting a loan on one (its schedule and pricing).

A product outside the caller's institution is NOT_FOUND, as if it did not exist.
"""

from __future__ import annotations

from typing import Any

from loan_service.adapters.serialization import product_from_doc
from loan_service.domain import LoanProduct, generate_schedule, parse_product
from loan_service.domain import ValidationError as DomainValidationError
from loan_service.domain.schedule import Schedule
from loan_service.service_layer.clock import now
from loan_service.service_layer.commands import CreateProduct, QuoteLoan
from loan_service.service_layer.inputs import collect, other_currencies
from loan_service.service_layer.ports import LoanRepository, UserDirectory
from loan_service.service_layer.views import pricing_of
from shared import context
from shared.dates import parse_date
from shared.errors import NotFound, ValidationError
from shared.ids import new_id
from shared.money import minor_units, parse_amount, parse_decimal
from shared.permissions import Permission, Principal, require

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


async def create_product(
    repo: LoanRepository, users: UserDirectory, cmd: CreateProduct
) -> dict[str, Any]:
    p = context.principal()
    require(p, Permission.LOAN_PRODUCTS_CREATE)
    assert p.institution_id is not None
    currency = await users.institution_currency(p.institution_id)
    product, max_open = parse_terms(cmd, currency)
    doc = {
        "_id": new_id("lprod"),
        "institution_id": p.institution_id,
        "currency": currency,
        "terms": product.to_mapping(),
        "max_open_loans": max_open,
        **lending_rules(cmd),
        "created_by": p.user_id,
        "create_time": now(),
    }
    await repo.insert_product(doc)
    return doc


def lending_rules(cmd: CreateProduct) -> dict[str, Any]:
    """The product's rules beyond its terms: lending to groups, the security it requires and
    KYC before disbursement; every bad field named at once."""
    errors: list[tuple[str, str]] = []
    for name in ("min_group_members", "max_group_members"):
        if getattr(cmd, name) < 0:
            errors.append((name, "must not be negative"))
    if cmd.max_group_members and cmd.min_group_members > cmd.max_group_members:
        errors.append(("min_group_members", "must not exceed max_group_members"))
    if not cmd.group_lending:
        for name in ("min_group_members", "max_group_members", "joint_liability"):
            if getattr(cmd, name):
                errors.append((name, "applies to a product that lends to groups (group_lending)"))
    coverage = cmd.min_security_coverage.strip()
    if coverage:
        try:
            ratio = parse_decimal(coverage, "min_security_coverage")
            if not 0 <= ratio <= 10:
                errors.append(("min_security_coverage", "must be a ratio from 0 to 10, e.g. 1.2"))
        except ValidationError as exc:
            errors.extend(exc.field_errors)
    if errors:
        raise ValidationError(
            "the loan product is invalid: " + "; ".join(f"{f}: {m}" for f, m in errors),
            field_errors=errors,
            reason="PRODUCT_INVALID",
        )
    return {
        "group_lending": {
            "enabled": cmd.group_lending,
            "min_members": cmd.min_group_members,
            "max_members": cmd.max_group_members,
            "joint_liability": cmd.joint_liability,
        },
        "min_security_coverage": coverage,
        "requires_kyc_verified": cmd.requires_kyc_verified,
    }


def parse_terms(cmd: CreateProduct, currency: str) -> tuple[LoanProduct, int]:
    """The product `cmd` describes and its maximum of open loans per borrower; a
    ``PRODUCT_INVALID`` error naming every bad field (by its name in the request)."""
    errors = other_currencies(cmd.currencies, currency)
    raw = {f: getattr(cmd, f) for f in _PRODUCT_DECIMALS}
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
        "name": cmd.name.strip(),
        "currency": currency,
        "currency_decimals": minor_units(currency),
        "interest_method": cmd.interest_method or None,
        "amortization": cmd.amortization or None,
        "annual_interest_rate": text("annual_interest_rate", cmd.annual_interest_rate),
        "repayment_frequency": cmd.repayment_frequency or None,
        "min_principal": text("min_principal", cmd.min_principal),
        "max_principal": text("max_principal", cmd.max_principal),
        "min_term": cmd.min_term,
        "max_term": cmd.max_term,
        "days_in_year": cmd.days_in_year or None,
        "grace_on_principal": cmd.grace_on_principal,
        "grace_on_interest": cmd.grace_on_interest,
        "upfront_fee_rate": text("upfront_fee_rate", cmd.upfront_fee_rate),
        "upfront_fee_amount": text("upfront_fee_flat", cmd.upfront_fee_flat),
        "upfront_fee_treatment": cmd.upfront_fee_mode or None,
        "installment_fee": text("installment_fee", cmd.installment_fee),
        "late_penalty_rate": text("late_penalty_rate", cmd.late_penalty_rate),
        "late_penalty_amount": text("late_penalty_flat", cmd.late_penalty_flat),
        "late_penalty_tolerance_days": cmd.penalty_tolerance_days,
        "rounding_multiple": text("rounding_multiple", cmd.rounding_multiple),
        "allocation_strategy": cmd.allocation_strategy or None,
        "prepayment_strategy": cmd.prepayment_mode or None,
        "min_score_band": cmd.min_score_band or None,
    }
    if len(cmd.name) > 120:
        errors.append(("name", "must be at most 120 characters"))
    if cmd.max_open_loans < 0:
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
    return product, cmd.max_open_loans


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


async def product_in_scope(repo: LoanRepository, p: Principal, product_id: str) -> dict[str, Any]:
    """The stored product, if of `p`'s institution (else NOT_FOUND)."""
    if not product_id:
        raise ValidationError.of("product_id", "is required")
    doc = await repo.get_product(product_id)
    if doc is None or not p.can_access(doc["institution_id"]):
        raise NotFound(
            f"loan product {product_id} not found",
            reason="PRODUCT_NOT_FOUND",
            metadata={"product_id": product_id},
        )
    return doc


async def get_product(repo: LoanRepository, product_id: str) -> dict[str, Any]:
    p = context.principal()
    require(p, Permission.LOAN_PRODUCTS_READ)
    return await product_in_scope(repo, p, product_id)


async def list_products(
    repo: LoanRepository, size: int, token: str
) -> tuple[list[dict[str, Any]], str]:
    p = context.principal()
    require(p, Permission.LOAN_PRODUCTS_READ)
    return await repo.page_products(p.institution_id or "", size, token)


async def quote(repo: LoanRepository, cmd: QuoteLoan) -> tuple[Schedule, dict[str, str], str]:
    """The schedule of the loan asked for, its pricing and the product's currency."""
    p = context.principal()
    require(p, Permission.LOAN_PRODUCTS_READ)
    doc = await product_in_scope(repo, p, cmd.product_id)
    product = product_from_doc(doc["terms"])
    errors = other_currencies(cmd.currencies, doc["currency"])
    amount = collect(errors, lambda: parse_amount(cmd.principal, doc["currency"], "principal"))
    start = collect(errors, lambda: parse_date(cmd.disbursement_date, "disbursement_date"))
    first = collect(
        errors,
        lambda: parse_date(cmd.first_repayment_date, "first_repayment_date", required=False),
    )
    if cmd.term < 1:
        errors.append(("term", "must be at least 1 installment"))
    if errors:
        raise ValidationError("the quote request is invalid", field_errors=errors)
    assert amount is not None and start is not None
    product.check_request(amount, cmd.term)
    schedule = generate_schedule(product, amount, cmd.term, start, first)
    return schedule, pricing_of(schedule), doc["currency"]
