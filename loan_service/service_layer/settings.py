"""An institution's lending settings: approval limits per role and delinquency buckets.

Stored in its ``loan_settings`` document (with the last close-of-business date):

``approval_limits``      ``{role: decimal string}``; a role absent or null approves any amount.
                         Only ``branch_manager`` and ``admin`` approve loans at all.
``delinquency_buckets``  ``[{name, min_days, max_days}]``, contiguous from 0 days, the last
                         open-ended (max_days null); absent: `arrears.DEFAULT_BUCKETS` (SEEP:
                         current, 1-30, 31-60, 61-90, 91-180, over 180).

No limit applies until the institution sets one: a fixed default amount would mean
nothing across currencies (1,000,000 is a large loan in KES and a small one in UGX).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from loan_service.domain.arrears import DEFAULT_BUCKETS, Bucket, validate_buckets
from shared.errors import ValidationError
from shared.money import fmt, parse_amount

UNLIMITED = Decimal("Infinity")
APPROVER_ROLES = ("branch_manager", "admin")


@dataclass(frozen=True)
class InstitutionSettings:
    approval_limits: dict[str, Decimal]
    buckets: tuple[Bucket, ...]
    business_date: date | None

    @property
    def reading_date(self) -> date:
        """The date a read counts days past due up to: the last completed close of business
        once the institution runs them (its figures are stated as of its business date),
        today before its first (a migrated or back-dated book shows its arrears at once)."""
        return self.business_date or datetime.now(UTC).date()


def settings_of(doc: Mapping[str, Any]) -> InstitutionSettings:
    """The settings stored in an institution's ``loan_settings`` document (may be empty)."""
    limits = dict.fromkeys(APPROVER_ROLES, UNLIMITED)
    for role, value in (doc.get("approval_limits") or {}).items():
        limits[role] = UNLIMITED if value in (None, "") else Decimal(str(value))
    stored = doc.get("delinquency_buckets")
    buckets = (
        tuple(Bucket(b["name"], int(b["min_days"]), b.get("max_days")) for b in stored)
        if stored
        else DEFAULT_BUCKETS
    )
    business = doc.get("business_date")
    return InstitutionSettings(limits, buckets, date.fromisoformat(business) if business else None)


def approval_limits_to_store(limits: Mapping[str, str], currency: str) -> dict[str, str | None]:
    """Validated limits in their stored form; an empty amount means unlimited."""
    errors: list[tuple[str, str]] = []
    out: dict[str, str | None] = {}
    for role, amount in limits.items():
        field = f"approval_limits.{role}"
        if role not in APPROVER_ROLES:
            errors.append((field, f"only {' and '.join(APPROVER_ROLES)} approve loans"))
            continue
        if not amount:
            out[role] = None
            continue
        try:
            value = parse_amount(amount, currency, field)
        except ValidationError as exc:
            errors.extend(exc.field_errors)
            continue
        if value <= 0:
            errors.append((field, "must be positive (leave it empty for no limit)"))
        out[role] = fmt(value, currency)
    if errors:
        raise ValidationError("the approval limits are invalid", field_errors=errors)
    return out


def buckets_to_store(buckets: Sequence[Bucket]) -> list[dict[str, Any]]:
    """Validated buckets in their stored form."""
    errors: list[tuple[str, str]] = []
    buckets = [Bucket(b.name.strip(), b.min_days, b.max_days) for b in buckets]
    for i, bucket in enumerate(buckets):
        if not bucket.name or len(bucket.name) > 40:
            errors.append((f"delinquency_buckets[{i}].name", "must be 1 to 40 characters"))
    try:
        validate_buckets(buckets)
    except ValidationError as exc:
        errors.extend(
            (f"delinquency_{field}" if field.startswith("buckets") else field, message)
            for field, message in exc.field_errors
        )
    if errors:
        raise ValidationError("the delinquency buckets are invalid", field_errors=errors)
    return [{"name": b.name, "min_days": b.min_days, "max_days": b.max_days} for b in buckets]
