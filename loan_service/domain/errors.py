"""Typed domain errors with stable machine reasons.

Every class subclasses its `shared.errors` counterpart (pure Python: ``shared/errors.py``
imports nothing but the standard library), so the shared gRPC interceptor turns a loan
error into a rich ``google.rpc.Status`` (ErrorInfo reason and metadata, BadRequest field
violations) and the gateway into problem+json, with no translation in the service layer:

=======================  ==========================  ===================  =====
class                    shared.errors               gRPC code            HTTP
=======================  ==========================  ===================  =====
ValidationError          ValidationError             INVALID_ARGUMENT     422
IllegalTransition        IllegalState                FAILED_PRECONDITION  409
EligibilityFailed        IllegalState                FAILED_PRECONDITION  409
PreconditionFailed       IllegalState                FAILED_PRECONDITION  409
MakerCheckerViolation    PermissionDenied            PERMISSION_DENIED    403
ApprovalLimitExceeded    PermissionDenied            PERMISSION_DENIED    403
OverrideNotPermitted     PermissionDenied            PERMISSION_DENIED    403
NotFound                 NotFound                    NOT_FOUND            404
Conflict                 Conflict                    ALREADY_EXISTS       409
=======================  ==========================  ===================  =====

``kind`` (inherited from ``shared.errors``, e.g. ``"invalid_argument"``) picks the status
``shared.rpc_errors`` maps the error to.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from shared import errors as shared_errors


class DomainError(shared_errors.DomainError):
    """Base of every error the loan domain raises; ``reason`` is a stable UPPER_SNAKE code."""

    default_reason: ClassVar[str] = "FAILED_PRECONDITION"


class ValidationError(DomainError, shared_errors.ValidationError):
    """Bad input; ``field_errors`` names every offending field, not just the first."""

    default_reason = "INVALID_ARGUMENT"

    def __init__(
        self,
        field_errors: Sequence[tuple[str, str]],
        *,
        reason: str | None = None,
        message: str | None = None,
    ) -> None:
        errors = list(field_errors)
        if not errors:
            raise ValueError("a ValidationError needs at least one field error")
        text = message or "; ".join(f"{field}: {msg}" for field, msg in errors)
        DomainError.__init__(self, text, reason=reason, field_errors=errors)

    @classmethod
    def of(cls, field: str, message: str, *, reason: str | None = None) -> ValidationError:
        return cls([(field, message)], reason=reason)

    @property
    def fields(self) -> list[str]:
        return [field for field, _ in self.field_errors]


#: The name the brief uses; one class, two names.
DomainValidationError = ValidationError


class IllegalTransition(DomainError, shared_errors.IllegalState):
    """A verb applied to a loan in the wrong status. The reason names the status required,
    e.g. ``LOAN_NOT_ACTIVE``, so clients can branch without parsing the message; the
    message and the ``current_status`` metadata state the status the loan is in."""

    default_reason = "ILLEGAL_TRANSITION"

    def __init__(self, current_status: str, action: str, allowed_from: Sequence[str]) -> None:
        self.current_status = current_status
        self.action = action
        self.allowed_from = tuple(allowed_from)
        if len(self.allowed_from) == 1:
            reason = f"LOAN_NOT_{self.allowed_from[0].upper()}"
            only = f"only {self.allowed_from[0]} loans can be {action}"
        else:
            reason = self.default_reason
            only = f"only {' or '.join(self.allowed_from)} loans can be {action}"
        super().__init__(
            f"loan is {current_status}; {only}",
            reason=reason,
            metadata={"current_status": current_status, "action": action},
        )


class MakerCheckerViolation(DomainError, shared_errors.PermissionDenied):
    """The person who created a loan tried to approve it."""

    default_reason = "MAKER_CHECKER_VIOLATION"


class ApprovalLimitExceeded(DomainError, shared_errors.PermissionDenied):
    """The approver's role may not approve this principal (or any principal)."""

    default_reason = "APPROVAL_LIMIT_EXCEEDED"


class OverrideNotPermitted(DomainError, shared_errors.PermissionDenied):
    """Only a branch manager, with a written reason, may override failed eligibility."""

    default_reason = "OVERRIDE_NOT_PERMITTED"


class EligibilityFailed(DomainError, shared_errors.IllegalState):
    """Eligibility rules failed and no branch manager has overridden them. Each failed rule
    is a field error (``rule``, ``why``), so clients see every rule at fault."""

    default_reason = "NOT_ELIGIBLE"

    def __init__(self, failures: Sequence[tuple[str, str]]) -> None:
        self.failures = list(failures)
        super().__init__(
            "loan is not eligible: " + "; ".join(f"{rule}: {why}" for rule, why in failures),
            field_errors=self.failures,
            metadata={"rules": ",".join(rule for rule, _ in failures)},
        )


class PreconditionFailed(DomainError, shared_errors.IllegalState):
    """The loan's recorded history rules the request out (e.g. a repayment dated before a
    reschedule)."""

    default_reason = "FAILED_PRECONDITION"


class NotFound(DomainError, shared_errors.NotFound):
    default_reason = "NOT_FOUND"


class Conflict(DomainError, shared_errors.Conflict):
    """A duplicate, or a change that contradicts recorded history."""

    default_reason = "CONFLICT"


__all__ = [
    "ApprovalLimitExceeded",
    "Conflict",
    "DomainError",
    "DomainValidationError",
    "EligibilityFailed",
    "IllegalTransition",
    "MakerCheckerViolation",
    "NotFound",
    "OverrideNotPermitted",
    "PreconditionFailed",
    "ValidationError",
]
