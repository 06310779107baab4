"""Typed domain errors.

Every error carries a stable machine code in ``reason`` (``AMOUNT_INVALID``, ``LEDGER_UNBALANCED``
...) and, for validation errors, ``field_errors``: ``(field, message)`` pairs naming every bad
field. The constructor has the same shape as ``shared.errors.DomainError`` (which imports grpc
and so cannot be used by a pure domain); the service layer maps these classes one to one:

=====================  ==========================  ==================  =====
class                  shared.errors               gRPC code           HTTP
=====================  ==========================  ==================  =====
ValidationError        ValidationError             INVALID_ARGUMENT    422
ConflictError          Conflict                    ALREADY_EXISTS      409
NotFoundError          NotFound                    NOT_FOUND           404
UnauthenticatedError   Unauthenticated             UNAUTHENTICATED     401
=====================  ==========================  ==================  =====

This module is meant to move to ``shared/`` later: it depends on nothing.
"""

from __future__ import annotations

from collections.abc import Iterable

# Stable reasons used by the payment domain (a reason is a public contract: never rename one).
AMOUNT_INVALID = "AMOUNT_INVALID"
CURRENCY_UNSUPPORTED = "CURRENCY_UNSUPPORTED"
CURRENCY_MISMATCH = "CURRENCY_MISMATCH"
LEDGER_UNBALANCED = "LEDGER_UNBALANCED"
LEDGER_LINE_INVALID = "LEDGER_LINE_INVALID"
LEDGER_ENTRY_INVALID = "LEDGER_ENTRY_INVALID"
LEDGER_REVERSAL_INVALID = "LEDGER_REVERSAL_INVALID"
ACCOUNT_UNKNOWN = "ACCOUNT_UNKNOWN"
ACCOUNT_INVALID = "ACCOUNT_INVALID"
ACCOUNT_CODE_TAKEN = "ACCOUNT_CODE_TAKEN"
ACCOUNT_TYPE_UNKNOWN = "ACCOUNT_TYPE_UNKNOWN"
ALLOCATION_INVALID = "ALLOCATION_INVALID"
CHANNEL_UNKNOWN = "CHANNEL_UNKNOWN"
CALLBACK_INVALID = "CALLBACK_INVALID"
SIGNATURE_INVALID = "SIGNATURE_INVALID"
REPLAYED = "REPLAYED"
IDEMPOTENCY_KEY_INVALID = "IDEMPOTENCY_KEY_INVALID"
IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"
IDEMPOTENCY_REQUEST_IN_PROGRESS = "IDEMPOTENCY_REQUEST_IN_PROGRESS"


class DomainError(Exception):
    """Base of every error the domain raises on purpose."""

    default_reason = "DOMAIN_ERROR"

    def __init__(
        self,
        message: str,
        *,
        reason: str | None = None,
        field_errors: Iterable[tuple[str, str]] = (),
    ) -> None:
        super().__init__(message)
        self.message = message
        self.reason: str = reason or self.default_reason
        self.field_errors: list[tuple[str, str]] = list(field_errors)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(reason={self.reason!r}, message={self.message!r}, "
            f"field_errors={self.field_errors!r})"
        )


class ValidationError(DomainError):
    """Bad input: a value or a combination of values breaks a rule."""

    default_reason = "VALIDATION_FAILED"


class ConflictError(DomainError):
    """The request clashes with the current state (duplicate, reused key, work in progress)."""

    default_reason = "CONFLICT"


class NotFoundError(DomainError):
    """The thing does not exist (or belongs to another institution)."""

    default_reason = "NOT_FOUND"


class UnauthenticatedError(DomainError):
    """The caller could not be authenticated (bad signature, replayed message...)."""

    default_reason = "UNAUTHENTICATED"


# The names ``shared.errors`` uses, so that code written against either reads the same.
Conflict = ConflictError
NotFound = NotFoundError
Unauthenticated = UnauthenticatedError
