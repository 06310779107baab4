"""Typed domain errors. The entrypoint maps each kind to a gRPC code and the `reason` to
a `google.rpc.ErrorInfo` reason; `field_errors` become the problem+json `errors` list.

Kinds: ValidationError (INVALID_ARGUMENT / 422), Unauthenticated (UNAUTHENTICATED / 401),
PermissionDenied (PERMISSION_DENIED / 403), Conflict (FAILED_PRECONDITION or
ALREADY_EXISTS / 409), NotFound (NOT_FOUND / 404).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

from shared import permissions as _permissions

__all__ = [
    "Conflict",
    "DomainError",
    "NotFound",
    "PermissionDenied",
    "Reason",
    "Unauthenticated",
    "ValidationError",
]


class Reason:
    """Stable reason codes (ErrorInfo reasons). Clients may switch on them."""

    VALIDATION_FAILED: Final = "VALIDATION_FAILED"
    PASSWORD_POLICY: Final = "PASSWORD_POLICY"  # noqa: S105
    INVALID_CREDENTIALS: Final = "INVALID_CREDENTIALS"
    ACCOUNT_LOCKED: Final = "ACCOUNT_LOCKED"
    ACCOUNT_DISABLED: Final = "ACCOUNT_DISABLED"
    ADDRESS_THROTTLED: Final = "ADDRESS_THROTTLED"
    MFA_REQUIRED: Final = "MFA_REQUIRED"
    MFA_INVALID: Final = "MFA_INVALID"
    MFA_NOT_ENROLLED: Final = "MFA_NOT_ENROLLED"
    MFA_ALREADY_ENABLED: Final = "MFA_ALREADY_ENABLED"
    REFRESH_TOKEN_INVALID: Final = "REFRESH_TOKEN_INVALID"  # noqa: S105
    REFRESH_TOKEN_REUSED: Final = "REFRESH_TOKEN_REUSED"  # noqa: S105
    SESSION_REVOKED: Final = "SESSION_REVOKED"
    SESSION_EXPIRED: Final = "SESSION_EXPIRED"
    PERMISSION_DENIED: Final = "PERMISSION_DENIED"
    USER_ALREADY_DISABLED: Final = "USER_ALREADY_DISABLED"
    USER_ALREADY_ACTIVE: Final = "USER_ALREADY_ACTIVE"
    CANNOT_MANAGE_SELF: Final = "CANNOT_MANAGE_SELF"
    NOT_FOUND: Final = "NOT_FOUND"
    CONFLICT: Final = "CONFLICT"
    UNAUTHENTICATED: Final = "UNAUTHENTICATED"


class DomainError(Exception):
    """Base of every domain error: a human `message`, a stable `reason`, the bad fields
    (`field_errors`, as `(field, message)`) and optional ErrorInfo `metadata`."""

    default_reason: str = "DOMAIN_ERROR"

    def __init__(
        self,
        message: str,
        *,
        reason: str | None = None,
        field_errors: Sequence[tuple[str, str]] = (),
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        Exception.__init__(self, message)
        self.message = message
        self.reason = reason or self.default_reason
        self.field_errors: list[tuple[str, str]] = list(field_errors)
        self.metadata: dict[str, str] = dict(metadata or {})

    def __repr__(self) -> str:
        return f"{type(self).__name__}(reason={self.reason!r}, message={self.message!r})"


class ValidationError(DomainError):
    default_reason = Reason.VALIDATION_FAILED


class Unauthenticated(DomainError):
    default_reason = Reason.UNAUTHENTICATED


class PermissionDenied(DomainError, _permissions.PermissionDenied):
    """A `DomainError` that is also `shared.permissions.PermissionDenied`, so catching
    either catches both."""

    default_reason = Reason.PERMISSION_DENIED

    def __init__(
        self,
        message: str = "You are not allowed to do this.",
        *,
        reason: str | None = None,
        field_errors: Sequence[tuple[str, str]] = (),
        metadata: Mapping[str, str] | None = None,
        permission: str | None = None,
    ) -> None:
        DomainError.__init__(
            self, message, reason=reason, field_errors=field_errors, metadata=metadata
        )
        self.permission = permission
        if permission:
            self.metadata.setdefault("permission", permission)


class Conflict(DomainError):
    default_reason = Reason.CONFLICT


class NotFound(DomainError):
    default_reason = Reason.NOT_FOUND
