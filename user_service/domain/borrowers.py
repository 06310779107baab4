"""Borrower KYC rules: what a valid profile is, and how an edit is recorded."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import phonenumbers

from shared.dates import parse_date
from shared.errors import ValidationError
from shared.money import check_amount_text, fmt, parse_amount

ADULT_AGE = 18
GENDERS = {"female", "male", "other", "undisclosed"}
# Letters, digits and single hyphens/spaces: covers Kenyan, Ugandan (CM...), Nigerian NIN, etc.
NATIONAL_ID = re.compile(r"^[A-Z0-9](?:[A-Z0-9]|[- ](?=[A-Z0-9])){4,24}$")
NAME = re.compile(r"^[^\d\x00-\x1f<>{}\[\]\\]{1,80}$")
#: What a monthly income that is no decimal amount is told (the gateway, reading the API's
#: text for kopa.user.v2, says the same).
INCOME_MALFORMED = "must be a non-negative decimal string"
MEETING_DAYS = {"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"}

# Fields an edit may change; ids, institution and assignment change through their own commands.
EDITABLE = {
    "first_name",
    "last_name",
    "national_id",
    "phone",
    "date_of_birth",
    "gender",
    "address",
    "business_type",
    "monthly_income",
    "household_size",
    "document_refs",
}


def normalise_phone(value: str, field: str = "phone") -> str:
    """E.164, e.g. +254712345678. A number without `+` is refused: we cannot guess its country."""
    raw = (value or "").strip()
    if not raw.startswith("+"):
        raise ValidationError.of(field, "must be in E.164 form, e.g. +254712345678")
    try:
        parsed = phonenumbers.parse(raw, None)
    except phonenumbers.NumberParseException:
        raise ValidationError.of(field, "is not a phone number") from None
    if not phonenumbers.is_valid_number(parsed):
        raise ValidationError.of(field, "is not a valid phone number for its country code")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def normalise_national_id(value: str) -> str:
    cleaned = (value or "").strip().upper()
    if not NATIONAL_ID.match(cleaned):
        raise ValidationError.of(
            "national_id", "must be 5 to 25 letters or digits (single hyphens or spaces allowed)"
        )
    return cleaned


def parse_birth_date(value: str, today: date) -> date:
    born = parse_date(value, "date_of_birth")
    years = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
    if years < ADULT_AGE:
        raise ValidationError.of("date_of_birth", f"the borrower must be at least {ADULT_AGE}")
    if years > 120:
        raise ValidationError.of("date_of_birth", "is not plausible")
    return born


def validate_profile(data: dict[str, Any], today: date, currency: str) -> dict[str, Any]:
    """Checks and normalises a profile (its income an amount of `currency`, the
    institution's); reports every bad field at once."""
    errors: list[tuple[str, str]] = []
    out: dict[str, Any] = {}

    def attempt(field: str, fn: Any) -> None:
        try:
            out[field] = fn()
        except ValidationError as exc:
            errors.extend(exc.field_errors)

    for field in ("first_name", "last_name"):
        if field in data:
            value = str(data[field] or "").strip()
            if not value:
                errors.append((field, "is required"))
            elif not NAME.match(value):
                errors.append((field, "must be 1 to 80 characters without digits or markup"))
            else:
                out[field] = value
    if "national_id" in data:
        attempt("national_id", lambda: normalise_national_id(data["national_id"]))
    if "phone" in data:
        attempt("phone", lambda: normalise_phone(data["phone"]))
    if "date_of_birth" in data:
        attempt("date_of_birth", lambda: parse_birth_date(data["date_of_birth"], today).isoformat())
    if data.get("gender"):
        if data["gender"] not in GENDERS:
            errors.append(("gender", f"must be one of {', '.join(sorted(GENDERS))}"))
        else:
            out["gender"] = data["gender"]
    if data.get("monthly_income") not in (None, ""):
        # An amount of the institution's currency, stored as every amount is shown: with
        # exactly its decimals ("25000" -> "25000.00"), so that kopa.user.v2's Money and v1's
        # text say the same.
        text = str(data["monthly_income"])
        try:
            check_amount_text(text, "monthly_income", allow_zero=True)
        except ValidationError:
            errors.append(("monthly_income", INCOME_MALFORMED))
        else:
            attempt(
                "monthly_income",
                lambda: fmt(
                    parse_amount(text, currency, "monthly_income", allow_zero=True), currency
                ),
            )
    if data.get("household_size") not in (None, 0):
        size = data["household_size"]
        if not isinstance(size, int) or not 1 <= size <= 50:
            errors.append(("household_size", "must be a whole number from 1 to 50"))
        else:
            out["household_size"] = size
    if "business_type" in data:
        out["business_type"] = str(data["business_type"] or "")[:80]
    if "address" in data:
        out["address"] = {k: str(v)[:120] for k, v in (data["address"] or {}).items()}
    if "document_refs" in data:
        refs = data["document_refs"] or []
        if len(refs) > 20 or any(len(str(r)) > 300 for r in refs):
            errors.append(("document_refs", "at most 20 references of 300 characters"))
        else:
            out["document_refs"] = [str(r) for r in refs]
    if errors:
        raise ValidationError(
            "the borrower profile is invalid: " + "; ".join(f"{f} {m}" for f, m in errors),
            field_errors=errors,
        )
    return out


REQUIRED = ("first_name", "last_name", "national_id", "phone", "date_of_birth")


def validate_new(data: dict[str, Any], today: date, currency: str) -> dict[str, Any]:
    missing = [(f, "is required") for f in REQUIRED if not data.get(f)]
    if missing:
        raise ValidationError(
            "missing required fields: " + ", ".join(f for f, _ in missing), field_errors=missing
        )
    return validate_profile(data, today, currency)


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    """field -> [old, new] for what an edit changed (the version history entry)."""
    return {k: [before.get(k), v] for k, v in after.items() if before.get(k) != v}


def validate_group(name: str, member_ids: list[str], leader_id: str, meeting_day: str) -> None:
    errors = []
    if not name.strip():
        errors.append(("name", "is required"))
    if not 2 <= len(set(member_ids)) <= 50:
        errors.append(("member_ids", "a group has 2 to 50 distinct members"))
    if leader_id and leader_id not in member_ids:
        errors.append(("leader_id", "the leader must be a member"))
    if meeting_day and meeting_day.lower() not in MEETING_DAYS:
        errors.append(("meeting_day", "must be a day of the week"))
    if errors:
        raise ValidationError("the group is invalid", field_errors=errors)
