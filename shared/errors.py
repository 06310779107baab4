"""Typed domain errors: what a client did wrong, with a stable reason and the fields at fault.

Pure Python so domain code can raise them without importing gRPC or HTTP. `shared.rpc_errors`
is the one mapping to `google.rpc.Status` (gRPC) and to RFC 9457 problem+json (HTTP).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar


class DomainError(Exception):
    """Base of every error a client can cause. `reason` is a stable UPPER_SNAKE code; `kind`
    picks the gRPC status and HTTP status (see shared.rpc_errors)."""

    kind: ClassVar[str] = "failed_precondition"
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
        self.reason = reason or self.default_reason
        self.field_errors = list(field_errors)
        self.metadata = dict(metadata or {})


class ValidationError(DomainError):
    kind = "invalid_argument"
    default_reason = "INVALID_ARGUMENT"

    @classmethod
    def of(cls, field: str, message: str, *, reason: str | None = None) -> ValidationError:
        return cls(f"{field}: {message}", reason=reason, field_errors=[(field, message)])

    @classmethod
    def of_fields(
        cls, problems: Sequence[tuple[str, str]], *, reason: str | None = None
    ) -> ValidationError:
        """Every bad field at once, each named with its message."""
        return cls(
            "; ".join(f"{f}: {m}" for f, m in problems), reason=reason, field_errors=problems
        )


class NotFound(DomainError):
    kind = "not_found"
    default_reason = "NOT_FOUND"


class Conflict(DomainError):
    """A duplicate (the record already exists, or a request id was reused)."""

    kind = "already_exists"
    default_reason = "ALREADY_EXISTS"


class IllegalState(DomainError):
    """An illegal transition or a failed business rule; metadata names the current state."""

    kind = "failed_precondition"
    default_reason = "FAILED_PRECONDITION"


class Aborted(DomainError):
    """A concurrent change won the race; the caller may retry."""

    kind = "aborted"
    default_reason = "CONCURRENT_MODIFICATION"


class Unauthenticated(DomainError):
    kind = "unauthenticated"
    default_reason = "UNAUTHENTICATED"


class PermissionDenied(DomainError):
    kind = "permission_denied"
    default_reason = "PERMISSION_DENIED"


class RateLimited(DomainError):
    kind = "resource_exhausted"
    default_reason = "RATE_LIMITED"

    def __init__(self, message: str, *, retry_after_seconds: int, reason: str | None = None):
        super().__init__(message, reason=reason, metadata={"retry_after": str(retry_after_seconds)})
        self.retry_after_seconds = retry_after_seconds
