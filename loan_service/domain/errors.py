"""Typed domain errors with stable machine reasons.

The shape (``message``, ``reason``, ``field_errors``, ``metadata``) mirrors
``shared/errors.py`` so the base class can later move there; it is defined here because the
shared module imports grpc and the domain must not. ``kind`` names the gRPC status family
as a plain string so the mapping layer can translate without the domain importing grpc.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar


class DomainError(Exception):
    """Base of every error the loan domain raises; ``reason`` is a stable UPPER_SNAKE code."""

    kind: ClassVar[str] = "FAILED_PRECONDITION"
    default_reason: ClassVar[str] = "FAILED_PRECONDITION"

    def __init__(
        self,
        message: str,
        *,
        reason: str | None = None,
        field_errors: Sequence[tuple[str, str]] = (),
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.reason: str = reason or self.default_reason
        self.field_errors: list[tuple[str, str]] = list(field_errors)
        self.metadata: dict[str, str] = dict(metadata or {})


class ValidationError(DomainError):
    """Bad input; ``field_errors`` names every offending field, not just the first."""

    kind = "INVALID_ARGUMENT"
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
        super().__init__(text, reason=reason, field_errors=errors)

    @classmethod
    def of(cls, field: str, message: str, *, reason: str | None = None) -> ValidationError:
        return cls([(field, message)], reason=reason)

    @property
    def fields(self) -> list[str]:
        return [field for field, _ in self.field_errors]


#: The name the brief uses; one class, two names.
DomainValidationError = ValidationError


class IllegalTransition(DomainError):
    """A verb applied to a loan in the wrong status. The reason names the status required,
    e.g. ``LOAN_NOT_ACTIVE``, so clients can branch without parsing the message."""

    kind = "FAILED_PRECONDITION"
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


class MakerCheckerViolation(DomainError):
    """The person who created a loan tried to approve it."""

    kind = "PERMISSION_DENIED"
    default_reason = "MAKER_CHECKER_VIOLATION"


class ApprovalLimitExceeded(DomainError):
    """The approver's role may not approve this principal (or any principal)."""

    kind = "PERMISSION_DENIED"
    default_reason = "APPROVAL_LIMIT_EXCEEDED"


class OverrideNotPermitted(DomainError):
    """Only a branch manager, with a written reason, may override failed eligibility."""

    kind = "PERMISSION_DENIED"
    default_reason = "OVERRIDE_NOT_PERMITTED"


class EligibilityFailed(DomainError):
    """Eligibility rules failed and no branch manager has overridden them."""

    kind = "FAILED_PRECONDITION"
    default_reason = "NOT_ELIGIBLE"

    def __init__(self, failures: Sequence[tuple[str, str]]) -> None:
        self.failures = list(failures)
        super().__init__(
            "loan is not eligible: " + "; ".join(f"{rule}: {why}" for rule, why in failures),
            metadata={"rules": ",".join(rule for rule, _ in failures)},
        )


class PreconditionFailed(DomainError):
    """The loan's recorded history rules the request out (e.g. a repayment dated before a
    reschedule)."""

    kind = "FAILED_PRECONDITION"
    default_reason = "FAILED_PRECONDITION"


class NotFound(DomainError):
    kind = "NOT_FOUND"
    default_reason = "NOT_FOUND"


class Conflict(DomainError):
    """A duplicate, or a change that contradicts recorded history."""

    kind = "ALREADY_EXISTS"
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
