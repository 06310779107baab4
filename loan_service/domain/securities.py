"""What secures an individual loan: guarantors (a registered borrower, or an outside person)
and collateral items, and the product's rule for how much of the principal they must cover.

Amounts are Decimals in the loan's currency. The coverage rule is a ratio of the principal
(`Decimal("1.2")` = guarantees plus collateral worth at least 120% of it), checked when the
loan is approved; a refusal says what is missing and how much."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal
from enum import StrEnum
from typing import Any

from shared.errors import IllegalState, ValidationError

NATIONAL_ID = re.compile(r"^[A-Z0-9](?:[A-Z0-9]|[- ](?=[A-Z0-9])){4,24}$")
PHONE = re.compile(r"^\+[1-9]\d{6,14}$")
#: At most this many guarantors and collateral items on one loan.
MAX_ITEMS = 20


class CollateralType(StrEnum):
    LAND = "land"
    BUILDING = "building"
    VEHICLE = "vehicle"
    LIVESTOCK = "livestock"
    EQUIPMENT = "equipment"
    HOUSEHOLD_GOODS = "household_goods"
    INVENTORY = "inventory"
    SAVINGS = "savings"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class Guarantor:
    id: str
    amount: Decimal
    #: A registered borrower of the institution, or empty for an outside person.
    borrower_id: str = ""
    full_name: str = ""
    national_id: str = ""
    phone: str = ""


@dataclass(frozen=True, slots=True)
class Collateral:
    id: str
    type: CollateralType
    description: str
    value: Decimal
    currency: str
    location: str = ""
    document_ids: tuple[str, ...] = ()


def outside_person(data: dict[str, Any]) -> tuple[str, str, str]:
    """(full name, national id, phone) of a guarantor who is not a borrower; every bad field
    named at once."""
    errors = []
    name = (data.get("full_name") or "").strip()
    if not name or len(name) > 160 or re.search(r"[\d<>{}\[\]\\\x00-\x1f]", name):
        errors.append(("full_name", "is required: the guarantor's name (no digits or markup)"))
    national_id = (data.get("national_id") or "").strip().upper()
    if not NATIONAL_ID.match(national_id):
        errors.append(("national_id", "must be 5 to 25 letters or digits"))
    phone = (data.get("phone") or "").strip().replace(" ", "")
    if not PHONE.match(phone):
        errors.append(("phone", "must be in E.164 form, e.g. +254712345678"))
    if errors:
        raise ValidationError("the guarantor is invalid", field_errors=errors)
    return name, national_id, phone


def check_collateral(data: dict[str, Any]) -> tuple[CollateralType, str, str]:
    """(type, description, location) of a collateral item; every bad field named at once."""
    errors = []
    try:
        kind = CollateralType((data.get("type") or "").strip().lower())
    except ValueError:
        kind = CollateralType.OTHER
        errors.append(("type", f"must be one of {', '.join(t.value for t in CollateralType)}"))
    description = (data.get("description") or "").strip()
    if not description or len(description) > 500:
        errors.append(("description", "is required (at most 500 characters)"))
    location = (data.get("location") or "").strip()
    if len(location) > 300:
        errors.append(("location", "at most 300 characters"))
    if errors:
        raise ValidationError("the collateral item is invalid", field_errors=errors)
    return kind, description, location


def check_room(existing: int, field: str) -> None:
    if existing >= MAX_ITEMS:
        raise ValidationError.of(field, f"a loan has at most {MAX_ITEMS} of these")


def required(principal: Decimal, ratio: Decimal | None, decimals: int) -> Decimal:
    """What the rule asks guarantees and collateral to be worth, rounded up to the currency's
    minor unit (never less than the rule); zero without a rule."""
    if not ratio:
        return Decimal(0)
    return (principal * ratio).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_CEILING)


def check_coverage(
    principal: Decimal,
    currency: str,
    decimals: int,
    required_ratio: Decimal | None,
    guarantors: list[Guarantor],
    collateral: list[Collateral],
) -> None:
    """Refuses (FAILED_PRECONDITION, `SECURITY_INSUFFICIENT`) when guarantees plus collateral
    cover less than `required_ratio` of the principal, saying what each covers and what is
    missing."""
    if not required_ratio:
        return
    unit = Decimal(1).scaleb(-decimals)
    needed = required(principal, required_ratio, decimals)

    def fmt(amount: Decimal) -> str:
        return f"{amount.quantize(unit):f}"

    guaranteed = sum((g.amount for g in guarantors), Decimal(0))
    pledged = sum((c.value for c in collateral), Decimal(0))
    if guaranteed + pledged >= needed:
        return
    short = needed - guaranteed - pledged
    percent = (required_ratio * 100).normalize()
    raise IllegalState(
        f"the product requires guarantees and collateral worth {percent:f}% of the principal "
        f"({fmt(needed)}); guarantors cover {fmt(guaranteed)} and "
        f"collateral {fmt(pledged)}: add {fmt(short)} {currency} more in "
        "guarantees or collateral before approving",
        reason="SECURITY_INSUFFICIENT",
        metadata={
            "required": fmt(needed),
            "guaranteed": fmt(guaranteed),
            "collateral": fmt(pledged),
            "missing": fmt(short),
        },
    )
