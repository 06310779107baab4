"""Typed domain errors. Each subclasses the matching `shared.errors` class, so the one
shared mapping (`shared.rpc_errors`) turns its `kind` into a gRPC code and its `reason` into
a `google.rpc.ErrorInfo` reason; `field_errors` become the problem+json `errors` list.

Kinds: ValidationError (INVALID_ARGUMENT / 422), Unauthenticated (UNAUTHENTICATED / 401),
PermissionDenied (PERMISSION_DENIED / 403), Conflict (a state conflict such as "already
disabled": FAILED_PRECONDITION / 409), AlreadyExists (a duplicate such as a taken e-mail,
also a `Conflict`: ALREADY_EXISTS / 409), NotFound (NOT_FOUND / 404).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

from shared import errors as _shared
from shared import permissions as _permissions

__all__ = [
    "AlreadyExists",
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
    EMAIL_TAKEN: Final = "EMAIL_TAKEN"
    REQUEST_ID_REUSED: Final = "REQUEST_ID_REUSED"
    USER_NOT_FOUND: Final = "USER_NOT_FOUND"
    SESSION_NOT_FOUND: Final = "SESSION_NOT_FOUND"
    BRANCH_NOT_FOUND: Final = "BRANCH_NOT_FOUND"
    INSTITUTION_NOT_FOUND: Final = "INSTITUTION_NOT_FOUND"
    AUDIT_CHAIN_BROKEN: Final = "AUDIT_CHAIN_BROKEN"


class DomainError(_shared.DomainError):
    """Base of every auth domain error (a `shared.errors.DomainError`): a human `message`,
    a stable `reason`, the bad fields (`field_errors`, as `(field, message)`) and optional
    ErrorInfo `metadata`. Subclasses pick the `kind` through their shared base."""

    default_reason = "DOMAIN_ERROR"

    def __init__(
        self,
        message: str,
        *,
        reason: str | None = None,
        field_errors: Sequence[tuple[str, str]] = (),
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        _shared.DomainError.__init__(
            self, message, reason=reason, field_errors=field_errors, metadata=metadata
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(reason={self.reason!r}, message={self.message!r})"


class ValidationError(DomainError, _shared.ValidationError):
    default_reason = Reason.VALIDATION_FAILED


class Unauthenticated(DomainError, _shared.Unauthenticated):
    default_reason = Reason.UNAUTHENTICATED


class PermissionDenied(DomainError, _permissions.PermissionDenied):
    """A `DomainError` that is also `shared.permissions.PermissionDenied` (and so
    `shared.errors.PermissionDenied`), so catching any of them catches it."""

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


class Conflict(DomainError, _shared.IllegalState):
    """The request conflicts with the current state (already disabled, MFA already on, ...):
    FAILED_PRECONDITION / 409."""

    default_reason = Reason.CONFLICT


class AlreadyExists(Conflict, _shared.Conflict):
    """A duplicate (an e-mail already taken, a request id reused): ALREADY_EXISTS / 409.
    Also a `Conflict`, so code catching conflicts catches it."""

    kind = "already_exists"
    default_reason = Reason.CONFLICT


class NotFound(DomainError, _shared.NotFound):
    default_reason = Reason.NOT_FOUND
