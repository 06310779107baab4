"""The inbound callback of a paybill-style mobile-money provider.

A provider (or the adapter that fronts it) POSTs a JSON body::

    {"transaction_id": "QK7Y2ZX1", "account_reference": "LN-7F3K2", "msisdn": "+254712345678",
     "amount": "1500.00", "currency": "KES", "transacted_at": "2026-03-31T09:15:02Z"}

with a header ``X-Kopa-Signature: t=<unix seconds>,v1=<hex>`` (Stripe's scheme): ``v1`` is
HMAC-SHA256, keyed with the institution's secret, over ``f"{t}.".encode() + raw_body`` (the
exact bytes received, never a re-serialisation). Several ``v1`` values may be sent while a
secret is rotated; the check accepts any of the institution's current secrets. Timestamps more
than ``tolerance_seconds`` (default 300) from now, in either direction, are refused as
replays, after the signature is found authentic.

The provider's ``transaction_id`` is the idempotency key: a callback delivered twice must book
the money once (``MobileMoneyCallback.idempotency_key``; the adapter enforces it).

``match_loan`` decides which loan the money is for, from the candidates the adapter found by
``account_reference`` (a loan's short reference, or a borrower's national ID or phone):
``Matched``, ``Unmatched`` or ``Ambiguous``. Unmatched and ambiguous money goes to suspense.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any, Final

from payment_service.domain.errors import (
    CALLBACK_INVALID,
    REPLAYED,
    SIGNATURE_INVALID,
    UnauthenticatedError,
    ValidationError,
)
from shared import errors as shared_errors
from shared import money

SIGNATURE_HEADER: Final = "X-Kopa-Signature"
DEFAULT_TOLERANCE_SECONDS: Final = 300
MAX_BODY_BYTES: Final = 16 * 1024
MAX_HEADER_LENGTH: Final = 2048
MAX_ID_LENGTH: Final = 64

_HEX_SHA256_RE: Final = re.compile(r"[0-9a-f]{64}")
_TIMESTAMP_RE: Final = re.compile(r"[0-9]{1,12}")
_TRANSACTION_ID_RE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")
_E164_RE: Final = re.compile(r"\+[1-9][0-9]{6,14}")
_RFC3339_RE: Final = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})"
)


# --- signature -----------------------------------------------------------------------------


@dataclass(frozen=True)
class SignatureHeader:
    timestamp: int
    signatures: tuple[str, ...]  # the v1 values (lowercase hex); other schemes are ignored


def _signature_error(message: str) -> UnauthenticatedError:
    return UnauthenticatedError(message, reason=SIGNATURE_INVALID)


def parse_signature_header(value: str | None) -> SignatureHeader:
    """Parse ``t=<unix>,v1=<hex>[,v1=<hex>...]``; unknown schemes (``v0=``) are ignored.

    Raises ``UnauthenticatedError(SIGNATURE_INVALID)`` when missing or malformed.
    """
    if not value:
        raise _signature_error(f"the {SIGNATURE_HEADER} header is missing")
    if len(value) > MAX_HEADER_LENGTH:
        raise _signature_error(f"the {SIGNATURE_HEADER} header is too long")
    timestamps: list[str] = []
    signatures: list[str] = []
    for item in value.split(","):
        key, sep, val = item.strip().partition("=")
        if not sep:
            raise _signature_error(f"the {SIGNATURE_HEADER} header is malformed")
        if key == "t":
            timestamps.append(val)
        elif key == "v1":
            if not _HEX_SHA256_RE.fullmatch(val):
                raise _signature_error("v1 must be 64 lowercase hex digits")
            signatures.append(val)
    if len(timestamps) != 1 or not _TIMESTAMP_RE.fullmatch(timestamps[0]):
        raise _signature_error(f"the {SIGNATURE_HEADER} header needs one t=<unix seconds>")
    if not signatures:
        raise _signature_error(f"the {SIGNATURE_HEADER} header has no v1 signature")
    return SignatureHeader(int(timestamps[0]), tuple(signatures))


def compute_signature(secret: bytes, timestamp: int, raw_body: bytes) -> str:
    """Hex HMAC-SHA256 of ``f"{timestamp}.".encode() + raw_body`` keyed with ``secret``."""
    if not isinstance(secret, bytes) or not secret:
        raise ValueError("a signing secret must be non-empty bytes")
    payload = f"{timestamp}.".encode("ascii") + raw_body
    return hmac.new(secret, payload, hashlib.sha256).hexdigest()


def signature_header(secret: bytes, raw_body: bytes, timestamp: int) -> str:
    """The header value a provider sends (for simulators and tests)."""
    return f"t={timestamp},v1={compute_signature(secret, timestamp, raw_body)}"


def verify_signature(
    raw_body: bytes,
    header: str | None,
    secrets: bytes | Sequence[bytes],
    *,
    now: dt.datetime,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
) -> int:
    """Check the signature over the exact ``raw_body``; return the signed timestamp.

    ``secrets`` is the institution's secret, or its current secrets during a rotation. Digests
    are compared in constant time. Raises ``UnauthenticatedError`` with reason
    ``SIGNATURE_INVALID`` (missing, malformed or wrong) or ``REPLAYED`` (authentic but signed
    more than ``tolerance_seconds`` before or after ``now``).
    """
    if now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    keys = [secrets] if isinstance(secrets, bytes) else list(secrets)
    if not keys or not all(isinstance(k, bytes) and k for k in keys):
        raise ValueError("at least one non-empty secret is required")
    parsed = parse_signature_header(header)
    expected = [compute_signature(key, parsed.timestamp, raw_body).encode() for key in keys]
    authentic = False
    for candidate in parsed.signatures:
        for digest in expected:
            # No early exit: the time taken does not depend on which pair matched.
            authentic |= hmac.compare_digest(digest, candidate.encode())
    if not authentic:
        raise _signature_error("the signature does not match the body")
    age = int(now.timestamp()) - parsed.timestamp
    if age > tolerance_seconds:
        raise UnauthenticatedError(
            f"the signature is {age} s old (tolerance {tolerance_seconds} s)", reason=REPLAYED
        )
    if -age > tolerance_seconds:
        raise UnauthenticatedError(
            f"the signature is dated {-age} s in the future (tolerance {tolerance_seconds} s)",
            reason=REPLAYED,
        )
    return parsed.timestamp


# --- the callback --------------------------------------------------------------------------


@dataclass(frozen=True)
class MobileMoneyCallback:
    transaction_id: str  # the provider's: the idempotency key
    account_reference: str  # as typed by the payer, normalised (see ``normalize_reference``)
    msisdn: str  # E.164
    amount: Decimal
    currency: str
    transacted_at: dt.datetime  # UTC

    def idempotency_key(self) -> str:
        """The provider's transaction id: the same transaction must be booked once."""
        return self.transaction_id


def normalize_reference(value: str) -> str:
    """Trim, collapse inner whitespace, upper-case: ``" ln-7f3k2 "`` → ``"LN-7F3K2"``."""
    return " ".join(value.split()).upper()


def parse_rfc3339(value: str) -> dt.datetime | None:
    """``"2026-03-31T09:15:02+03:00"`` → the UTC datetime; ``None`` if not RFC 3339 with an
    offset (a naive local time is ambiguous, so it is refused)."""
    if not _RFC3339_RE.fullmatch(value):
        return None
    try:
        return dt.datetime.fromisoformat(value.upper()).astimezone(dt.UTC)
    except ValueError:  # month 13, hour 25...
        return None


def _reject_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _invalid(field_errors: list[tuple[str, str]]) -> ValidationError:
    summary = "; ".join(f"{f} {m}" for f, m in field_errors)
    return ValidationError(
        f"invalid mobile-money callback: {summary}",
        reason=CALLBACK_INVALID,
        field_errors=field_errors,
    )


def parse_callback(raw_body: bytes, *, currency: str | None = None) -> MobileMoneyCallback:
    """Parse and validate the callback body (verify the signature first).

    ``currency`` is the institution's: a callback in another currency is refused. Unknown
    fields are ignored; duplicate keys and non-string values are refused. Raises
    ``ValidationError(CALLBACK_INVALID)`` naming every bad field.
    """
    if len(raw_body) > MAX_BODY_BYTES:
        raise _invalid([("body", f"must be at most {MAX_BODY_BYTES} bytes")])
    try:
        data = json.loads(
            raw_body.decode("utf-8"),
            object_pairs_hook=_reject_duplicate_keys,
            parse_constant=_reject_constant,
        )
    except (UnicodeDecodeError, ValueError) as exc:  # JSONDecodeError is a ValueError
        raise _invalid([("body", f"must be a UTF-8 JSON object ({exc})")]) from None
    if not isinstance(data, dict):
        raise _invalid([("body", "must be a JSON object")])

    errors: list[tuple[str, str]] = []

    def text(name: str) -> str | None:
        value = data.get(name)
        if value is None or value == "":
            errors.append((name, "is required"))
            return None
        if not isinstance(value, str):
            errors.append((name, "must be a string"))
            return None
        return value

    transaction_id = text("transaction_id")
    if transaction_id is not None and not _TRANSACTION_ID_RE.fullmatch(transaction_id):
        errors.append(("transaction_id", "must be 1 to 64 letters, digits or ._:-"))
    reference = text("account_reference")
    if reference is not None:
        reference = normalize_reference(reference)
        if not reference or len(reference) > MAX_ID_LENGTH:
            errors.append(("account_reference", f"must be 1 to {MAX_ID_LENGTH} characters"))
    msisdn = text("msisdn")
    if msisdn is not None and not _E164_RE.fullmatch(msisdn):
        errors.append(("msisdn", "must be an E.164 phone number such as +254712345678"))
    code = text("currency")
    if code is not None:
        try:
            money.minor_units(code)
        except shared_errors.ValidationError as exc:  # shared.money's, or ours
            errors.extend(exc.field_errors)
            code = None
        else:
            if currency is not None and code != currency:
                errors.append(("currency", f"must be {currency}"))
    amount: Decimal | None = None
    raw_amount = text("amount")
    if raw_amount is not None and code is not None:
        try:
            amount = money.parse_amount(raw_amount, code, lenient_trailing_zeros=True)
        except shared_errors.ValidationError as exc:  # shared.money's, or ours
            errors.extend(exc.field_errors)
    transacted_at: dt.datetime | None = None
    raw_time = text("transacted_at")
    if raw_time is not None:
        transacted_at = parse_rfc3339(raw_time)
        if transacted_at is None:
            errors.append(("transacted_at", "must be an RFC 3339 timestamp with an offset"))

    if errors:
        raise _invalid(errors)
    assert transaction_id and reference and msisdn and code and amount and transacted_at
    return MobileMoneyCallback(transaction_id, reference, msisdn, amount, code, transacted_at)


def verify_and_parse(
    raw_body: bytes,
    header: str | None,
    secrets: bytes | Sequence[bytes],
    *,
    now: dt.datetime,
    currency: str | None = None,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
) -> MobileMoneyCallback:
    """``verify_signature`` then ``parse_callback``: nothing unauthenticated is parsed."""
    verify_signature(raw_body, header, secrets, now=now, tolerance_seconds=tolerance_seconds)
    return parse_callback(raw_body, currency=currency)


# --- matching ------------------------------------------------------------------------------


class MatchedBy(StrEnum):
    """How the adapter found a candidate from ``account_reference``."""

    LOAN_REFERENCE = "loan_reference"  # the loan's own short reference: specific
    NATIONAL_ID = "national_id"  # the borrower's: may name several loans
    PHONE = "phone"


REPAYABLE_STATUSES: Final = frozenset({"active"})


@dataclass(frozen=True)
class LoanCandidate:
    loan_id: str
    status: str  # the loan service's status: "active", "closed", "written_off"...
    matched_by: MatchedBy = MatchedBy.LOAN_REFERENCE


@dataclass(frozen=True)
class Matched:
    loan_id: str


@dataclass(frozen=True)
class Unmatched:
    reason: str  # NO_LOAN_FOUND or NO_ACTIVE_LOAN


@dataclass(frozen=True)
class Ambiguous:
    candidates: tuple[str, ...]  # the active loans it could be for, sorted


MatchResult = Matched | Unmatched | Ambiguous

NO_LOAN_FOUND: Final = "NO_LOAN_FOUND"
NO_ACTIVE_LOAN: Final = "NO_ACTIVE_LOAN"


def match_loan(candidates: Iterable[LoanCandidate]) -> MatchResult:
    """Which loan a receipt pays, from the candidates found by its reference.

    Only active loans can take a repayment (money for a closed or written-off loan goes to
    suspense for a person to decide). A loan found by its own reference beats loans found
    through the borrower: if exactly one active loan matched by loan reference, it wins.
    Otherwise exactly one active loan is a match, several are ambiguous, none is unmatched.
    """
    found: dict[str, LoanCandidate] = {}
    for candidate in candidates:
        previous = found.get(candidate.loan_id)
        if previous is None or candidate.matched_by is MatchedBy.LOAN_REFERENCE:
            found[candidate.loan_id] = candidate
    if not found:
        return Unmatched(NO_LOAN_FOUND)
    active = [c for c in found.values() if c.status in REPAYABLE_STATUSES]
    if not active:
        return Unmatched(NO_ACTIVE_LOAN)
    by_reference = [c for c in active if c.matched_by is MatchedBy.LOAN_REFERENCE]
    if len(by_reference) == 1:
        return Matched(by_reference[0].loan_id)
    if len(active) == 1:
        return Matched(active[0].loan_id)
    pool = by_reference or active
    return Ambiguous(tuple(sorted(c.loan_id for c in pool)))
