"""The `StaffUser` aggregate: a member of an institution's staff (or a platform admin).

Invariants: the e-mail is normalised (trimmed, lower-case); the role is one of
`shared.permissions.Role`; agents and branch managers have a branch, other roles none;
everyone but the platform admin belongs to an institution. Who may create (and manage)
which role comes from `shared.permissions.CREATABLE_ROLES`: a platform admin creates
admins of any institution, an admin any other role within its own institution.

Logins go through `authenticate`, which applies the account lockout (see `lockout.py`)
and the second factor. `token_version` is the session-invalidation marker: it moves on
when the password changes or is reset, when the user is disabled and when an admin ends
their sessions; a session started under an older version can no longer refresh.

Every change is recorded as a `UserEvent` (`user.created`, `user.disabled`, ...), pulled by
the service layer and written with the user in one document.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final

from auth_service.domain.errors import (
    Conflict,
    PermissionDenied,
    Reason,
    Unauthenticated,
    ValidationError,
)
from auth_service.domain.lockout import DEFAULT_LOCKOUT, LockoutPolicy
from auth_service.domain.mfa import MfaPolicy, MfaState
from auth_service.domain.passwords import (
    PasswordHasher,
    check_password_policy,
    default_hasher,
    enforce_password_policy,
)
from shared import permissions as _perms
from shared.permissions import (
    BRANCH_SCOPED_ROLES,
    Permission,
    Principal,
    Role,
    creatable_roles,
    describe_role,
)

__all__ = [
    "AuthResult",
    "StaffUser",
    "UserEvent",
    "UserStatus",
    "normalise_email",
]

_EMAIL: Final = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
MAX_EMAIL_LENGTH: Final = 254
MAX_NAME_LENGTH: Final = 200


class UserStatus(StrEnum):
    ACTIVE = "active"
    DISABLED = "disabled"


@dataclass(frozen=True, slots=True)
class UserEvent:
    name: str
    user_id: str
    institution_id: str | None
    at: datetime
    actor_id: str | None = None
    data: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AuthResult:
    """A successful authentication, and what the caller should do next."""

    password_needs_rehash: bool
    must_change_password: bool
    mfa_enrolment_required: bool
    """The institution requires a second factor for this role and the user has none yet:
    the session grants nothing but enrolment (see `policy.py`)."""
    recovery_code_used: bool = False


def normalise_email(email: str) -> str:
    return email.strip().lower()


def _validate_email(email: str) -> str | None:
    if not email:
        return "E-mail is required."
    if len(email) > MAX_EMAIL_LENGTH or not _EMAIL.fullmatch(email):
        return "Enter a valid e-mail address, like name@example.org."
    return None


def _validate_name(name: str) -> str | None:
    if not name:
        return "Full name is required."
    if len(name) > MAX_NAME_LENGTH:
        return f"Full name is at most {MAX_NAME_LENGTH} characters."
    return None


def _validate_placement(
    role: Role, institution_id: str | None, branch_id: str | None
) -> list[tuple[str, str]]:
    errors: list[tuple[str, str]] = []
    if role is Role.PLATFORM_ADMIN:
        if institution_id is not None:
            errors.append(("institution_id", "A platform admin belongs to no institution."))
        if branch_id is not None:
            errors.append(("branch_id", "A platform admin belongs to no branch."))
        return errors
    if not institution_id:
        errors.append(("institution_id", f"{describe_role(role)} must belong to an institution."))
    if role in BRANCH_SCOPED_ROLES and not branch_id:
        errors.append(("branch_id", f"{describe_role(role)} must be assigned to a branch."))
    if role not in BRANCH_SCOPED_ROLES and branch_id:
        errors.append(
            ("branch_id", f"{describe_role(role)} works institution-wide and has no branch.")
        )
    return errors


def _as_domain_error(error: _perms.PermissionDenied) -> PermissionDenied:
    return PermissionDenied(error.message, reason=error.reason, permission=error.permission)


def require(principal: Principal, permission: Permission) -> None:
    """`shared.permissions.require`, raising the domain's `PermissionDenied`."""
    try:
        _perms.require(principal, permission)
    except _perms.PermissionDenied as error:
        raise _as_domain_error(error) from None


def check_user_management(principal: Principal, role: Role, institution_id: str | None) -> None:
    """`shared.permissions.check_user_management`, raising the domain's `PermissionDenied`."""
    try:
        _perms.check_user_management(principal, role, institution_id)
    except _perms.PermissionDenied as error:
        raise _as_domain_error(error) from None


def _looks_like_recovery_code(code: str) -> bool:
    compact = "".join(ch for ch in code if ch.isalnum())
    return len(compact) == 10 and not compact.isdigit()


@dataclass
class StaffUser:
    id: str
    email: str
    full_name: str
    role: Role
    institution_id: str | None
    branch_id: str | None
    password_hash: str
    status: UserStatus = UserStatus.ACTIVE
    must_change_password: bool = False
    mfa: MfaState = field(default_factory=MfaState)
    failed_login_count: int = 0
    last_failed_login_at: datetime | None = None
    locked_until: datetime | None = None
    password_changed_at: datetime | None = None
    token_version: int = 0
    created_at: datetime | None = None
    created_by: str | None = None
    last_login_at: datetime | None = None
    version: int = 0
    """Incremented on every change: the adapter's compare-and-set guard."""
    events: list[UserEvent] = field(default_factory=list, repr=False, compare=False)

    # creation ------------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        *,
        user_id: str,
        email: str,
        full_name: str,
        role: Role | str,
        password: str,
        institution_id: str | None,
        branch_id: str | None,
        created_by: Principal,
        now: datetime,
        hasher: PasswordHasher | None = None,
        must_change_password: bool = False,
    ) -> StaffUser:
        """A new user, created by `created_by`.

        Raises `PermissionDenied` if the creator may not create this role in this
        institution, and `ValidationError` naming every bad field otherwise (reason
        `PASSWORD_POLICY` when only the password is at fault). An admin's new user goes
        into the admin's institution when `institution_id` is not given; checking that
        `branch_id` is a branch of that institution is the service layer's job.
        """
        try:
            parsed_role = Role(role)
        except ValueError:
            names = ", ".join(r.value for r in Role if r is not Role.SERVICE)
            raise ValidationError(
                f"Unknown role {role!r}.", field_errors=[("role", f"Choose one of: {names}.")]
            ) from None
        require(created_by, Permission.USERS_CREATE)
        if institution_id is None and not created_by.is_platform_admin:
            institution_id = created_by.institution_id
        if parsed_role not in creatable_roles(created_by.role) or institution_id is not None:
            check_user_management(created_by, parsed_role, institution_id)
        user = cls._new(
            user_id=user_id,
            email=email,
            full_name=full_name,
            role=parsed_role,
            password=password,
            institution_id=institution_id,
            branch_id=branch_id,
            now=now,
            hasher=hasher,
            must_change_password=must_change_password,
            created_by=created_by.user_id,
        )
        return user

    @classmethod
    def bootstrap_platform_admin(
        cls,
        *,
        user_id: str,
        email: str,
        full_name: str,
        password: str,
        now: datetime,
        hasher: PasswordHasher | None = None,
    ) -> StaffUser:
        """The first platform admin, created by the platform itself at start-up."""
        return cls._new(
            user_id=user_id,
            email=email,
            full_name=full_name,
            role=Role.PLATFORM_ADMIN,
            password=password,
            institution_id=None,
            branch_id=None,
            now=now,
            hasher=hasher,
            must_change_password=False,
            created_by=None,
        )

    @classmethod
    def _new(
        cls,
        *,
        user_id: str,
        email: str,
        full_name: str,
        role: Role,
        password: str,
        institution_id: str | None,
        branch_id: str | None,
        now: datetime,
        hasher: PasswordHasher | None,
        must_change_password: bool,
        created_by: str | None,
    ) -> StaffUser:
        email = normalise_email(email)
        full_name = " ".join(full_name.split())
        errors: list[tuple[str, str]] = []
        if (message := _validate_email(email)) is not None:
            errors.append(("email", message))
        if (message := _validate_name(full_name)) is not None:
            errors.append(("full_name", message))
        errors.extend(_validate_placement(role, institution_id, branch_id))
        password_errors = [
            ("password", v.message) for v in check_password_policy(password, email=email)
        ]
        if errors or password_errors:
            only_password = not errors
            raise ValidationError(
                "The user cannot be created: "
                + " ".join(message for _, message in errors + password_errors),
                reason=Reason.PASSWORD_POLICY if only_password else Reason.VALIDATION_FAILED,
                field_errors=errors + password_errors,
            )
        hasher = hasher or default_hasher()
        user = cls(
            id=user_id,
            email=email,
            full_name=full_name,
            role=role,
            institution_id=institution_id,
            branch_id=branch_id,
            password_hash=hasher.hash(password),
            must_change_password=must_change_password,
            password_changed_at=now,
            created_at=now,
            created_by=created_by,
        )
        user._record(
            "user.created",
            now,
            created_by,
            role=role.value,
            email=email,
            branch_id=branch_id or "",
        )
        return user

    # views ---------------------------------------------------------------------------

    @property
    def is_active(self) -> bool:
        return self.status is UserStatus.ACTIVE

    def is_locked(self, now: datetime) -> bool:
        return self.locked_until is not None and now < self.locked_until

    def must_enrol_mfa(self, policy: MfaPolicy | None) -> bool:
        """The institution requires a second factor of this role and the user has none."""
        return policy is not None and policy.is_required(self.role) and not self.mfa.enabled

    def principal(self, session_id: str, *, mfa_enrolment_required: bool = False) -> Principal:
        """Who this user is when acting in the given session (for the access token)."""
        return Principal(
            user_id=self.id,
            role=self.role,
            institution_id=self.institution_id,
            branch_id=self.branch_id,
            session_id=session_id,
            mfa_enrolment_required=mfa_enrolment_required,
        )

    # administration ------------------------------------------------------------------

    def _check_managed_by(self, actor: Principal, permission: Permission) -> None:
        require(actor, permission)
        check_user_management(actor, self.role, self.institution_id)
        if actor.user_id == self.id:
            raise Conflict(
                "You cannot do this to your own account.", reason=Reason.CANNOT_MANAGE_SELF
            )

    def disable(self, by: Principal, now: datetime) -> None:
        """Disable the account: no login, no refresh; its sessions end (token version)."""
        self._check_managed_by(by, Permission.USERS_DISABLE)
        if self.status is UserStatus.DISABLED:
            raise Conflict("The user is already disabled.", reason=Reason.USER_ALREADY_DISABLED)
        self.status = UserStatus.DISABLED
        self.token_version += 1
        self._record("user.disabled", now, by.user_id)

    def enable(self, by: Principal, now: datetime) -> None:
        self._check_managed_by(by, Permission.USERS_DISABLE)
        if self.status is UserStatus.ACTIVE:
            raise Conflict("The user is already active.", reason=Reason.USER_ALREADY_ACTIVE)
        self.status = UserStatus.ACTIVE
        self.failed_login_count = 0
        self.locked_until = None
        self._record("user.enabled", now, by.user_id)

    def reset_password_by_admin(
        self,
        by: Principal,
        temporary_password: str,
        now: datetime,
        hasher: PasswordHasher | None = None,
    ) -> None:
        """Set a temporary password that the user must change at next login; ends their
        sessions and lifts a lockout."""
        self._check_managed_by(by, Permission.USERS_RESET_PASSWORD)
        enforce_password_policy(temporary_password, email=self.email)
        self.password_hash = (hasher or default_hasher()).hash(temporary_password)
        self.must_change_password = True
        self.password_changed_at = now
        self.failed_login_count = 0
        self.locked_until = None
        self.token_version += 1
        self._record("user.password_reset", now, by.user_id)

    def revoke_all_sessions(self, by: Principal, now: datetime) -> None:
        """End every session of the user (moves the token version on)."""
        if by.user_id != self.id:
            require(by, Permission.SESSIONS_MANAGE)
            check_user_management(by, self.role, self.institution_id)
        self.token_version += 1
        self._record("user.sessions_revoked", now, by.user_id)

    # self-service --------------------------------------------------------------------

    def change_password(
        self,
        old_password: str,
        new_password: str,
        now: datetime,
        hasher: PasswordHasher | None = None,
    ) -> None:
        """Change one's own password: the old one must match (`INVALID_CREDENTIALS`,
        field `old_password`), the new one must meet the policy (`PASSWORD_POLICY`, field
        `new_password`) and differ from the old. Ends the user's other sessions."""
        hasher = hasher or default_hasher()
        if not hasher.verify(self.password_hash, old_password):
            raise Unauthenticated(
                "The current password is wrong.",
                reason=Reason.INVALID_CREDENTIALS,
                field_errors=[("old_password", "The current password is wrong.")],
            )
        enforce_password_policy(new_password, email=self.email, field="new_password")
        if new_password == old_password:
            raise ValidationError(
                "The new password must differ from the current one.",
                reason=Reason.PASSWORD_POLICY,
                field_errors=[("new_password", "Choose a password you have not used here.")],
            )
        self.password_hash = hasher.hash(new_password)
        self.must_change_password = False
        self.password_changed_at = now
        self.token_version += 1
        self._record("user.password_changed", now, self.id)

    def begin_mfa_enrolment(self) -> tuple[str, str]:
        """(secret, otpauth:// URI) for the authenticator app."""
        enrolment = self.mfa.begin_enrolment(self.email)
        self.version += 1
        return enrolment.secret, enrolment.provisioning_uri

    def confirm_mfa_enrolment(self, code: str, now: datetime) -> list[str]:
        """Enable TOTP with a first valid code; returns the recovery codes (show once). Ends
        the user's other sessions: they were opened with the password alone, perhaps by
        whoever made the factor necessary."""
        codes = self.mfa.confirm_enrolment(code, now)
        self.token_version += 1
        self._record("user.mfa_enabled", now, self.id)
        return codes

    def disable_mfa(self, by: Principal, now: datetime) -> None:
        """Remove the second factor (the user themself, or an admin for a lost phone)."""
        if by.user_id != self.id:
            self._check_managed_by(by, Permission.USERS_RESET_PASSWORD)
        self.mfa.disable()
        self.token_version += 1
        self._record("user.mfa_disabled", now, by.user_id)

    # login ---------------------------------------------------------------------------

    def authenticate(
        self,
        password: str,
        *,
        now: datetime,
        otp: str | None = None,
        mfa_policy: MfaPolicy | None = None,
        hasher: PasswordHasher | None = None,
        lockout: LockoutPolicy = DEFAULT_LOCKOUT,
    ) -> AuthResult:
        """Check a login. Raises `Unauthenticated` with reason:

        - `ACCOUNT_LOCKED` (metadata `retry_after_seconds`) while locked; the password
          is not even checked;
        - `INVALID_CREDENTIALS` for a wrong password (counts towards the lockout);
        - `ACCOUNT_DISABLED` for a disabled account (only once the password is right);
        - `MFA_REQUIRED` when a second factor is enabled and `otp` is missing;
        - `MFA_INVALID` for a wrong, reused or replayed code (counts towards the lockout).

        `otp` is a TOTP code or a recovery code. On success the failure count resets.
        """
        hasher = hasher or default_hasher()
        locked_until = self.locked_until
        if locked_until is not None and now < locked_until:
            wait = math.ceil((locked_until - now).total_seconds())
            raise Unauthenticated(
                f"Too many failed logins; try again in {wait} seconds.",
                reason=Reason.ACCOUNT_LOCKED,
                metadata={"retry_after_seconds": str(wait)},
            )
        if not hasher.verify(self.password_hash, password):
            self.record_failed_login(now, lockout)
            raise Unauthenticated(
                "The e-mail or password is wrong.", reason=Reason.INVALID_CREDENTIALS
            )
        if not self.is_active:
            raise Unauthenticated("This account is disabled.", reason=Reason.ACCOUNT_DISABLED)
        recovery_used = False
        if self.mfa.enabled:
            if not otp:
                raise Unauthenticated(
                    "Enter the code from your authenticator app.",
                    reason=Reason.MFA_REQUIRED,
                    field_errors=[("otp", "A verification code is required.")],
                )
            try:
                if _looks_like_recovery_code(otp):
                    left = self.mfa.use_recovery_code(otp)
                    recovery_used = True
                    self._record("user.recovery_code_used", now, self.id, remaining=str(left))
                else:
                    self.mfa.verify_code(otp, now)
            except Unauthenticated:
                self.record_failed_login(now, lockout)
                raise
        self.record_successful_login(now)
        return AuthResult(
            password_needs_rehash=hasher.needs_rehash(self.password_hash),
            must_change_password=self.must_change_password,
            mfa_enrolment_required=self.must_enrol_mfa(mfa_policy),
            recovery_code_used=recovery_used,
        )

    def rehash_password(self, password: str, hasher: PasswordHasher | None = None) -> None:
        """After a successful login whose `password_needs_rehash` was true."""
        self.password_hash = (hasher or default_hasher()).hash(password)
        self.version += 1

    def record_failed_login(
        self, now: datetime, lockout: LockoutPolicy = DEFAULT_LOCKOUT
    ) -> timedelta | None:
        """Count a failure; lock the account when the policy says so. Returns the lock."""
        if (
            self.last_failed_login_at is not None
            and now - self.last_failed_login_at > lockout.failure_memory
        ):
            self.failed_login_count = 0
        self.failed_login_count += 1
        self.last_failed_login_at = now
        self.version += 1
        duration = lockout.lock_duration(self.failed_login_count)
        if duration is not None:
            self.locked_until = now + duration
            self._record(
                "user.locked",
                now,
                None,
                failures=str(self.failed_login_count),
                seconds=str(int(duration.total_seconds())),
            )
        return duration

    def record_successful_login(self, now: datetime) -> None:
        self.failed_login_count = 0
        self.last_failed_login_at = None
        self.locked_until = None
        self.last_login_at = now
        self.version += 1

    # events --------------------------------------------------------------------------

    def _record(self, name: str, now: datetime, actor_id: str | None, **data: str) -> None:
        self.version += 1
        self.events.append(UserEvent(name, self.id, self.institution_id, now, actor_id, data))

    def pull_events(self) -> list[UserEvent]:
        events, self.events = self.events, []
        return events
