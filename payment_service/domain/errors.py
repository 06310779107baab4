"""Typed domain errors.

Every error carries a stable machine code in ``reason`` (``AMOUNT_INVALID``, ``LEDGER_UNBALANCED``
...) and, for validation errors, ``field_errors``: ``(field, message)`` pairs naming every bad
field. Each class subclasses its ``shared.errors`` counterpart (pure Python, no gRPC), so the
shared server interceptor maps them to rich gRPC statuses (and the gateway to HTTP) with no
translation in the service layer:

=====================  ==========================  ==================  =====
class                  shared.errors               gRPC code           HTTP
=====================  ==========================  ==================  =====
ValidationError        ValidationError             INVALID_ARGUMENT    422
ConflictError          Conflict                    ALREADY_EXISTS      409
NotFoundError          NotFound                    NOT_FOUND           404
UnauthenticatedError   Unauthenticated             UNAUTHENTICATED     401
=====================  ==========================  ==================  =====

``isinstance(err, shared.errors.ValidationError)`` holds for a payment ``ValidationError`` (and
``LedgerError``), and so on; the payment classes keep their own default reasons.
"""

from __future__ import annotations

from shared import errors as shared_errors
from shared.money import AMOUNT_INVALID, CURRENCY_UNSUPPORTED  # noqa: F401 (shared.money raises them)

# Stable reasons used by the payment domain (a reason is a public contract: never rename one).
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


class DomainError(shared_errors.DomainError):
    """Base of every error the payment domain raises on purpose."""

    default_reason = "DOMAIN_ERROR"

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(reason={self.reason!r}, message={self.message!r}, "
            f"field_errors={self.field_errors!r})"
        )


class ValidationError(DomainError, shared_errors.ValidationError):
    """Bad input: a value or a combination of values breaks a rule."""

    default_reason = "VALIDATION_FAILED"


class ConflictError(DomainError, shared_errors.Conflict):
    """The request clashes with the current state (duplicate, reused key, work in progress)."""

    default_reason = "CONFLICT"


class NotFoundError(DomainError, shared_errors.NotFound):
    """The thing does not exist (or belongs to another institution)."""

    default_reason = "NOT_FOUND"


class UnauthenticatedError(DomainError, shared_errors.Unauthenticated):
    """The caller could not be authenticated (bad signature, replayed message...)."""

    default_reason = "UNAUTHENTICATED"


# The names ``shared.errors`` uses, so that code written against either reads the same.
Conflict = ConflictError
NotFound = NotFoundError
Unauthenticated = UnauthenticatedError
