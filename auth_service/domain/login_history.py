"""Login history: one record per login attempt, successful or not.

Kept for the user (recent sign-ins), for admins and auditors (`login_history:read`), and
for incident response. Passwords and codes are never recorded.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Final

from auth_service.domain.errors import DomainError, Reason

__all__ = ["LoginAttempt", "LoginOutcome", "outcome_for_error"]


class LoginOutcome(StrEnum):
    SUCCESS = "success"
    BAD_PASSWORD = "bad_password"  # noqa: S105
    UNKNOWN_USER = "unknown_user"
    LOCKED = "locked"
    DISABLED = "disabled"
    MFA_REQUIRED = "mfa_required"
    MFA_INVALID = "mfa_invalid"
    THROTTLED = "throttled"
    """Refused because the client address had too many recent failures."""


_BY_REASON: Final[dict[str, LoginOutcome]] = {
    Reason.INVALID_CREDENTIALS: LoginOutcome.BAD_PASSWORD,
    Reason.ACCOUNT_LOCKED: LoginOutcome.LOCKED,
    Reason.ACCOUNT_DISABLED: LoginOutcome.DISABLED,
    Reason.MFA_REQUIRED: LoginOutcome.MFA_REQUIRED,
    Reason.MFA_INVALID: LoginOutcome.MFA_INVALID,
    Reason.ADDRESS_THROTTLED: LoginOutcome.THROTTLED,
}


def outcome_for_error(error: DomainError, *, user_known: bool = True) -> LoginOutcome:
    """The outcome to record for a login that raised `error`."""
    if not user_known:
        return LoginOutcome.UNKNOWN_USER
    return _BY_REASON.get(error.reason, LoginOutcome.BAD_PASSWORD)


@dataclass(frozen=True, slots=True)
class LoginAttempt:
    """Who tried (the e-mail as typed, normalised; the user id when it names a user),
    when, from where, with what, and what came of it."""

    id: str
    email: str
    user_id: str | None
    institution_id: str | None
    at: datetime
    address: str
    user_agent: str
    outcome: LoginOutcome
    session_id: str | None = None
    """The session started, for a successful login."""

    def __post_init__(self) -> None:
        if self.at.tzinfo is None:
            raise ValueError("login attempt time must be timezone-aware (UTC)")
        object.__setattr__(self, "email", self.email.strip().lower()[:320])
        object.__setattr__(self, "user_agent", self.user_agent[:512])
        if self.outcome is LoginOutcome.UNKNOWN_USER and self.user_id is not None:
            raise ValueError("an unknown-user attempt has no user id")
        if self.outcome is LoginOutcome.SUCCESS and self.user_id is None:
            raise ValueError("a successful attempt names its user")

    @property
    def succeeded(self) -> bool:
        return self.outcome is LoginOutcome.SUCCESS
