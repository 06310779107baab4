"""Idempotency keys for requests that move money.

The gateway passes the client's ``Idempotency-Key``; the service stores one record per key (scoped
to the institution and the caller by the adapter) holding the request's ``fingerprint`` and,
once done, the response. ``decide`` says what a request carrying a key must do:

=====================================================  =======================================
stored record                                          decision
=====================================================  =======================================
none (or completed longer ago than ``retention``)      ``Proceed()``: claim the key, do the work
same fingerprint, completed                            ``Replay(response)``: return it again
same fingerprint, in progress, lease running           ``InProgress(retry_after)``: 409 or wait
same fingerprint, in progress, lease expired           ``Proceed(resumed=True, attempt=n+1)``:
                                                       the first attempt died; take it over
different fingerprint (any state)                      ``ConflictError(IDEMPOTENCY_KEY_REUSED)``
=====================================================  =======================================

Claiming and taking over are compare-and-set writes in the adapter: insert-if-absent for a new
key, update-where-``attempt``-unchanged for a takeover, so two racing workers cannot both win.
Work resumed after a takeover must itself be idempotent (ledger entry ids are deterministic).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from enum import StrEnum
from typing import Any, Final

from payment_service.domain.errors import (
    IDEMPOTENCY_KEY_INVALID,
    IDEMPOTENCY_KEY_REUSED,
    IDEMPOTENCY_REQUEST_IN_PROGRESS,
    ConflictError,
    ValidationError,
)

IDEMPOTENCY_HEADER: Final = "Idempotency-Key"
DEFAULT_LEASE: Final = dt.timedelta(seconds=30)
DEFAULT_RETENTION: Final = dt.timedelta(hours=24)
_KEY_RE: Final = re.compile(r"[\x21-\x7e]{1,255}")  # visible ASCII, no spaces


def validate_key(key: object, *, field: str = IDEMPOTENCY_HEADER) -> str:
    """A key is 1 to 255 visible ASCII characters (a UUID is typical)."""
    if not isinstance(key, str) or not _KEY_RE.fullmatch(key):
        message = "must be 1 to 255 visible ASCII characters"
        raise ValidationError(
            f"{field} {message}", reason=IDEMPOTENCY_KEY_INVALID, field_errors=[(field, message)]
        )
    return key


# --- fingerprint ---------------------------------------------------------------------------


def canonical_json(value: Any) -> str:
    """A canonical JSON text: keys sorted, no whitespace, numbers in plain decimal notation.

    Numbers are written from their exact value (``1.50``, ``1.5`` and ``15E-1`` are the same
    number ``1.5``), so key order, spacing and number spelling do not change a fingerprint;
    strings do (``"1.50"`` is not ``"1.5"``). NaN and infinities are refused.
    """
    return "".join(_canonical(value))


def _canonical(value: Any) -> list[str]:
    if value is None:
        return ["null"]
    if value is True:
        return ["true"]
    if value is False:
        return ["false"]
    if isinstance(value, str):
        return [json.dumps(value, ensure_ascii=False)]
    if isinstance(value, int):
        return [str(value)]
    if isinstance(value, float | Decimal):
        return [_number_text(Decimal(repr(value)) if isinstance(value, float) else value)]
    if isinstance(value, Mapping):
        parts = ["{"]
        for i, key in enumerate(sorted(value)):
            if not isinstance(key, str):
                raise TypeError("JSON object keys must be strings")
            parts += ([","] if i else []) + [json.dumps(key, ensure_ascii=False), ":"]
            parts += _canonical(value[key])
        return [*parts, "}"]
    if isinstance(value, list | tuple):
        parts = ["["]
        for i, item in enumerate(value):
            parts += ([","] if i else []) + _canonical(item)
        return [*parts, "]"]
    raise TypeError(f"{type(value).__name__} has no JSON form")


def _number_text(number: Decimal) -> str:
    """The shortest exact spelling: ``1.50`` → ``1.5``, ``1E+2`` → ``100``, ``-0.0`` → ``0``.

    Plain notation within 10^±30, scientific beyond (``1E+999999999`` must not expand into
    a billion digits). Pure digit manipulation: no decimal context, so no overflow.
    """
    if not number.is_finite():
        raise ValueError("NaN and infinities have no JSON form")
    sign, digit_tuple, exponent = number.as_tuple()
    assert isinstance(exponent, int)
    digits = "".join(map(str, digit_tuple)).lstrip("0")
    if not digits:
        return "0"
    significant = digits.rstrip("0")
    exponent += len(digits) - len(significant)
    adjusted = exponent + len(significant) - 1
    if adjusted > 30 or adjusted < -30:
        mantissa = significant[0] + ("." + significant[1:] if len(significant) > 1 else "")
        text = f"{mantissa}E{adjusted:+d}"
    elif exponent >= 0:
        text = significant + "0" * exponent
    elif len(significant) + exponent > 0:
        point = len(significant) + exponent
        text = significant[:point] + "." + significant[point:]
    else:
        text = "0." + "0" * -(len(significant) + exponent) + significant
    return "-" + text if sign else text


def parse_body(raw_body: bytes) -> Any:
    """A JSON body parsed exactly (numbers as ``Decimal``/``int``), for fingerprinting.

    Raises ``ValueError`` (``json.JSONDecodeError`` or ``UnicodeDecodeError``) when the body is
    not UTF-8 JSON.
    """
    return json.loads(raw_body.decode("utf-8"), parse_float=Decimal)


def fingerprint(method: str, path: str, body: Any) -> str:
    """SHA-256 (hex) of the canonical JSON of ``[METHOD, path, body]``.

    ``body`` is the parsed JSON (a mapping, a list, ``None`` for no body); use ``parse_body``
    for raw bytes. The path is taken as given (without the query string by convention).
    """
    text = canonical_json([method.upper(), path, body])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# --- records and decisions -----------------------------------------------------------------


class RecordState(StrEnum):
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"


@dataclass(frozen=True)
class StoredResponse:
    """What to send back on a replay (the body as serialised the first time)."""

    status_code: int
    body: bytes
    content_type: str = "application/json"


@dataclass(frozen=True)
class IdempotencyRecord:
    key: str
    fingerprint: str
    state: RecordState
    created_at: dt.datetime
    lease_expires_at: dt.datetime
    attempt: int = 1
    response: StoredResponse | None = None
    completed_at: dt.datetime | None = None

    @classmethod
    def claim(
        cls, key: str, fingerprint: str, *, now: dt.datetime, lease: dt.timedelta = DEFAULT_LEASE
    ) -> IdempotencyRecord:
        """The record a worker inserts (if absent) before doing the work."""
        return cls(validate_key(key), fingerprint, RecordState.IN_PROGRESS, now, now + lease)

    def take_over(
        self, *, now: dt.datetime, lease: dt.timedelta = DEFAULT_LEASE
    ) -> IdempotencyRecord:
        """The record a worker writes (if ``attempt`` is unchanged) to resume a stuck one."""
        if self.state is not RecordState.IN_PROGRESS or now < self.lease_expires_at:
            raise ConflictError(
                "only an expired in-progress record can be taken over",
                reason=IDEMPOTENCY_REQUEST_IN_PROGRESS,
            )
        return replace(self, lease_expires_at=now + lease, attempt=self.attempt + 1)

    def renew(self, *, now: dt.datetime, lease: dt.timedelta = DEFAULT_LEASE) -> IdempotencyRecord:
        """Extend the lease of long work (a heartbeat)."""
        return replace(self, lease_expires_at=now + lease)

    def complete(self, response: StoredResponse, *, now: dt.datetime) -> IdempotencyRecord:
        return replace(self, state=RecordState.COMPLETED, response=response, completed_at=now)


@dataclass(frozen=True)
class Proceed:
    """Do the work. ``resumed``: a stuck attempt is being taken over (``attempt`` is the new
    attempt number, to compare-and-set against the stored one)."""

    resumed: bool = False
    attempt: int = 1


@dataclass(frozen=True)
class Replay:
    response: StoredResponse


@dataclass(frozen=True)
class InProgress:
    """The first request is still running: answer 409 (``as_error``) or wait and ask again."""

    retry_after_seconds: int

    def as_error(self) -> ConflictError:
        return ConflictError(
            "a request with this idempotency key is still in progress; retry later",
            reason=IDEMPOTENCY_REQUEST_IN_PROGRESS,
        )


Decision = Proceed | Replay | InProgress


def decide(
    record: IdempotencyRecord | None,
    fingerprint: str,
    *,
    now: dt.datetime,
    retention: dt.timedelta | None = DEFAULT_RETENTION,
) -> Decision:
    """What a request with this key and ``fingerprint`` must do, given the stored ``record``.

    Raises ``ConflictError(IDEMPOTENCY_KEY_REUSED)`` when the key was used for another request.
    A completed record older than ``retention`` is forgotten (``None``: kept forever).
    """
    if record is None:
        return Proceed()
    if record.state is RecordState.COMPLETED:
        finished = record.completed_at or record.created_at
        if retention is not None and now - finished > retention:
            return Proceed()
    if record.fingerprint != fingerprint:
        raise ConflictError(
            "this idempotency key was already used for a different request",
            reason=IDEMPOTENCY_KEY_REUSED,
            field_errors=[(IDEMPOTENCY_HEADER, "was already used with a different body")],
        )
    if record.state is RecordState.COMPLETED:
        assert record.response is not None
        return Replay(record.response)
    if now >= record.lease_expires_at:
        return Proceed(resumed=True, attempt=record.attempt + 1)
    remaining = (record.lease_expires_at - now).total_seconds()
    return InProgress(retry_after_seconds=max(1, math.ceil(remaining)))
