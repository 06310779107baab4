"""The permission table: who may do what, and on which data.

One table, checked twice: by the gateway before it calls a service, and again by every
service before it acts (defence in depth). Pure Python, no I/O.

- `Role` and `Permission` are string enums; their values are the wire strings
  (`"branch_manager"`, `"loans:approve"`) and compare equal to plain strings.
- `ROLE_PERMISSIONS` maps each role to what it may do; `can` / `require` consult it.
- `Principal` is who is acting, as carried by a verified access token. Its data scope is
  the institution (always, except for the platform administrator) and, for agents and
  branch managers, their branch: see `Principal.scope_filter` and `Principal.can_access`.
  A principal whose institution requires a second factor it has not enrolled yet holds no
  permission at all (`Principal.mfa_enrolment_required`) until it enrols.
- `CREATABLE_ROLES` says which roles a role may create (and manage); `check_user_management`
  adds the institution rule (an admin only inside their own institution).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from shared import errors as _errors

__all__ = [
    "ALL_PERMISSIONS",
    "BRANCH_SCOPED_ROLES",
    "CREATABLE_ROLES",
    "INSTITUTION_ROLES",
    "MFA_ENROLMENT_REQUIRED",
    "READ_ONLY_ROLES",
    "ROLE_PERMISSIONS",
    "Permission",
    "PermissionDenied",
    "Principal",
    "Role",
    "can",
    "can_manage_user",
    "check_user_management",
    "creatable_roles",
    "describe_role",
    "permissions_for",
    "require",
]


class Role(StrEnum):
    """A staff member's role (exactly one per user), or `SERVICE` for a service principal."""

    PLATFORM_ADMIN = "platform_admin"
    """Runs the platform: creates institutions and their admins. Sees no loans or borrowers."""
    ADMIN = "admin"
    """Everything within one institution: users, branches, products, settings, loans, jobs."""
    BRANCH_MANAGER = "branch_manager"
    """Within their branch: borrowers, the whole loan life cycle, repayments, branch reports."""
    RISK_OFFICER = "risk_officer"
    """Institution-wide: scorecards and scores; reads loans, borrowers and reports."""
    AGENT = "agent"
    """Within their branch: registers borrowers, takes applications, records repayments."""
    AUDITOR = "auditor"
    """Institution-wide, read-only, including the audit log and its verification."""
    SERVICE = "service"
    """Not staff: a Kopa service acting for one institution on its own (payment_service
    posting a matched mobile-money receipt), with only what that needs. Its short-lived
    tokens come from auth_service (IssueServiceToken); the gateway refuses them."""


class Permission(StrEnum):
    """Everything that can be allowed. The value is `<resource>:<verb>`.

    Every permission whose verb is `read` only reads; an auditor holds only those.
    """

    # Platform
    INSTITUTIONS_CREATE = "institutions:create"
    INSTITUTIONS_READ = "institutions:read"
    INSTITUTIONS_UPDATE = "institutions:update"
    # Staff and their sessions
    USERS_CREATE = "users:create"
    USERS_READ = "users:read"
    USERS_UPDATE = "users:update"
    USERS_DISABLE = "users:disable"
    USERS_RESET_PASSWORD = "users:reset_password"  # noqa: S105
    SESSIONS_MANAGE = "sessions:manage"
    LOGIN_HISTORY_READ = "login_history:read"
    # Institution set-up
    BRANCHES_CREATE = "branches:create"
    BRANCHES_READ = "branches:read"
    BRANCHES_UPDATE = "branches:update"
    SETTINGS_READ = "settings:read"
    SETTINGS_MANAGE = "settings:manage"
    SECURITY_POLICY_READ = "security_policy:read"
    SECURITY_POLICY_MANAGE = "security_policy:manage"
    """Which roles of an institution must sign in with a second factor."""
    LOAN_PRODUCTS_CREATE = "loan_products:create"
    LOAN_PRODUCTS_READ = "loan_products:read"
    LOAN_PRODUCTS_UPDATE = "loan_products:update"
    # Borrowers
    BORROWERS_CREATE = "borrowers:create"
    BORROWERS_READ = "borrowers:read"
    BORROWERS_UPDATE = "borrowers:update"
    BORROWERS_VERIFY = "borrowers:verify"
    """Set a borrower's KYC status to verified or rejected after reviewing the file."""
    # Loans
    LOANS_CREATE = "loans:create"
    LOANS_READ = "loans:read"
    LOANS_APPROVE = "loans:approve"
    LOANS_REJECT = "loans:reject"
    LOANS_DISBURSE = "loans:disburse"
    LOANS_WRITE_OFF = "loans:write_off"
    LOANS_RESCHEDULE = "loans:reschedule"
    LOANS_OVERRIDE_ELIGIBILITY = "loans:override_eligibility"
    LOANS_SCORE = "loans:score"
    # Repayments
    REPAYMENTS_CREATE = "repayments:create"
    REPAYMENTS_READ = "repayments:read"
    REPAYMENTS_REVERSE = "repayments:reverse"
    # Scoring
    SCORECARDS_MANAGE = "scorecards:manage"
    SCORECARDS_READ = "scorecards:read"
    # Reporting, batch, accounting, audit
    REPORTS_READ = "reports:read"
    JOBS_RUN = "jobs:run"
    LEDGER_READ = "ledger:read"
    LEDGER_MANAGE = "ledger:manage"
    AUDIT_READ = "audit:read"
    """List audit entries and verify the hash chain."""
    # Notifications, webhooks, alerts and the institution's clock
    NOTIFICATIONS_READ = "notifications:read"
    """The messages sent to borrowers, their preferences and the message templates."""
    NOTIFICATIONS_MANAGE = "notifications:manage"
    """Edit the message templates."""
    NOTIFICATION_PREFERENCES_UPDATE = "notification_preferences:update"
    """Record a borrower's channel consent, language and opt-out."""
    WEBHOOKS_READ = "webhooks:read"
    WEBHOOKS_MANAGE = "webhooks:manage"
    ALERTS_READ = "alerts:read"
    """The alert queue (only the alerts whose rule names the caller's role and branch)."""
    ALERTS_HANDLE = "alerts:handle"
    """Assign, acknowledge and resolve the alerts one sees."""
    ALERT_RULES_READ = "alert_rules:read"
    ALERT_RULES_MANAGE = "alert_rules:manage"
    SCHEDULE_READ = "schedule:read"
    SCHEDULE_MANAGE = "schedule:manage"
    """The institution's time zone, close-of-business time, reminders and quiet hours."""

    @property
    def is_read(self) -> bool:
        return self.value.endswith(":read")


P = Permission

ALL_PERMISSIONS: Final[frozenset[Permission]] = frozenset(Permission)

_READS: Final[frozenset[Permission]] = frozenset(p for p in Permission if p.is_read)

# Institution data that the platform administrator never sees.
_PLATFORM_ONLY: Final[frozenset[Permission]] = frozenset(
    {P.INSTITUTIONS_CREATE, P.INSTITUTIONS_UPDATE}
)

ROLE_PERMISSIONS: Final[Mapping[Role, frozenset[Permission]]] = {
    Role.PLATFORM_ADMIN: frozenset(
        {
            P.INSTITUTIONS_CREATE,
            P.INSTITUTIONS_READ,
            P.INSTITUTIONS_UPDATE,
            # Only for users whose role it may create (admins): see CREATABLE_ROLES.
            P.USERS_CREATE,
            P.USERS_READ,
            P.USERS_UPDATE,
            P.USERS_DISABLE,
            P.USERS_RESET_PASSWORD,
            P.SESSIONS_MANAGE,
            # Any institution's: it may have to require MFA of the admins it created.
            P.SECURITY_POLICY_READ,
            P.SECURITY_POLICY_MANAGE,
        }
    ),
    Role.ADMIN: ALL_PERMISSIONS - _PLATFORM_ONLY,
    Role.BRANCH_MANAGER: frozenset(
        {
            P.INSTITUTIONS_READ,
            P.USERS_READ,
            P.BRANCHES_READ,
            P.SETTINGS_READ,
            P.LOAN_PRODUCTS_READ,
            P.BORROWERS_CREATE,
            P.BORROWERS_READ,
            P.BORROWERS_UPDATE,
            P.BORROWERS_VERIFY,
            P.LOANS_CREATE,
            P.LOANS_READ,
            P.LOANS_APPROVE,
            P.LOANS_REJECT,
            P.LOANS_DISBURSE,
            P.LOANS_WRITE_OFF,
            P.LOANS_RESCHEDULE,
            P.LOANS_OVERRIDE_ELIGIBILITY,
            P.LOANS_SCORE,
            P.REPAYMENTS_CREATE,
            P.REPAYMENTS_READ,
            P.REPAYMENTS_REVERSE,
            P.SCORECARDS_READ,
            P.REPORTS_READ,
            P.LEDGER_READ,
            P.NOTIFICATIONS_READ,
            P.NOTIFICATION_PREFERENCES_UPDATE,
            P.ALERTS_READ,
            P.ALERTS_HANDLE,
            P.ALERT_RULES_READ,
            P.SCHEDULE_READ,
        }
    ),
    Role.RISK_OFFICER: frozenset(
        {
            P.INSTITUTIONS_READ,
            P.BRANCHES_READ,
            P.SETTINGS_READ,
            P.LOAN_PRODUCTS_READ,
            P.BORROWERS_READ,
            P.LOANS_READ,
            P.LOANS_SCORE,
            P.REPAYMENTS_READ,
            P.SCORECARDS_MANAGE,
            P.SCORECARDS_READ,
            P.REPORTS_READ,
            P.ALERTS_READ,
            P.ALERTS_HANDLE,
            P.ALERT_RULES_READ,
        }
    ),
    Role.AGENT: frozenset(
        {
            P.INSTITUTIONS_READ,
            P.BRANCHES_READ,
            P.LOAN_PRODUCTS_READ,
            P.BORROWERS_CREATE,
            P.BORROWERS_READ,
            P.BORROWERS_UPDATE,
            P.LOANS_CREATE,
            P.LOANS_READ,
            P.REPAYMENTS_CREATE,
            P.REPAYMENTS_READ,
            P.NOTIFICATIONS_READ,
            P.NOTIFICATION_PREFERENCES_UPDATE,
            P.ALERTS_READ,
            P.ALERTS_HANDLE,
        }
    ),
    # Everything readable inside an institution, audit log included; nothing else.
    Role.AUDITOR: _READS,
    # What a service acting on its own needs, and nothing more: payment_service applies a
    # matched receipt to the loan it names; notification_service reads the borrower and loan
    # a message is about, the staff an alert goes to and its institution's name (messages sign
    # with it), and runs the close of business on the institution's clock.
    Role.SERVICE: frozenset(
        {
            P.LOANS_READ,
            P.REPAYMENTS_CREATE,
            P.BORROWERS_READ,
            P.USERS_READ,
            P.INSTITUTIONS_READ,
            P.JOBS_RUN,
        }
    ),
}

BRANCH_SCOPED_ROLES: Final[frozenset[Role]] = frozenset({Role.AGENT, Role.BRANCH_MANAGER})
"""Roles that act within one branch: their users must have a branch."""

INSTITUTION_ROLES: Final[frozenset[Role]] = frozenset(Role) - {Role.PLATFORM_ADMIN, Role.SERVICE}
"""The staff roles of an institution (a service principal acts for one too, but it is no
staff member: nobody creates it, no policy names it)."""

READ_ONLY_ROLES: Final[frozenset[Role]] = frozenset({Role.AUDITOR})

CREATABLE_ROLES: Final[Mapping[Role, frozenset[Role]]] = {
    Role.PLATFORM_ADMIN: frozenset({Role.ADMIN}),
    Role.ADMIN: INSTITUTION_ROLES,
    Role.BRANCH_MANAGER: frozenset(),
    Role.RISK_OFFICER: frozenset(),
    Role.AGENT: frozenset(),
    Role.AUDITOR: frozenset(),
    Role.SERVICE: frozenset(),
}
"""Which roles a role may create, and so manage (disable, reset passwords, end sessions).

Nobody creates a platform administrator through the API: the first one is bootstrapped.
"""


def describe_role(role: Role | str) -> str:
    """`"An agent"`, `"A branch manager"`: a role in a sentence."""
    words = Role(role).value.replace("_", " ")
    return ("An " if words[0] in "aeiou" else "A ") + words


class PermissionDenied(_errors.PermissionDenied):
    """The principal may not do this. Maps to gRPC PERMISSION_DENIED / HTTP 403.

    A `shared.errors.PermissionDenied`, so the one mapping (`shared.rpc_errors`) turns it
    into a `google.rpc.Status`; the permission at stake is in `permission` and in the
    ErrorInfo metadata.
    """

    default_reason = "PERMISSION_DENIED"

    def __init__(
        self,
        message: str = "You are not allowed to do this.",
        *,
        reason: str | None = None,
        permission: str | None = None,
    ) -> None:
        _errors.DomainError.__init__(
            self,
            message,
            reason=reason,
            metadata={"permission": permission} if permission else None,
        )
        self.permission = permission


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is acting: the claims of a verified access token.

    `institution_id` is None only for the platform administrator; `branch_id` is set for
    agents and branch managers (and None for institution-wide roles). The constructor
    rejects any other combination with `ValueError`.

    `mfa_enrolment_required`: the institution requires a second factor of this role and
    the user has none yet. Such a principal holds no permission, so it can reach only what
    needs none (its own account, MFA enrolment, its sessions, logging out); once enrolled,
    a refreshed token carries the role's permissions again.
    """

    user_id: str
    role: Role
    institution_id: str | None
    branch_id: str | None
    session_id: str
    mfa_enrolment_required: bool = False

    def __post_init__(self) -> None:
        role = self.role
        if not isinstance(role, Role):
            try:
                role = Role(role)
            except ValueError:
                raise ValueError(f"unknown role {role!r}") from None
            object.__setattr__(self, "role", role)
        if not self.user_id:
            raise ValueError("a principal needs a user id")
        if not self.session_id:
            raise ValueError("a principal needs a session id")
        if role is Role.PLATFORM_ADMIN:
            if self.institution_id is not None or self.branch_id is not None:
                raise ValueError("a platform admin belongs to no institution or branch")
            return
        if not self.institution_id:
            raise ValueError(f"a {role.value} must belong to an institution")
        if role in BRANCH_SCOPED_ROLES and not self.branch_id:
            raise ValueError(f"a {role.value} must belong to a branch")
        if role not in BRANCH_SCOPED_ROLES and self.branch_id is not None:
            raise ValueError(f"a {role.value} acts institution-wide and has no branch")

    @property
    def is_platform_admin(self) -> bool:
        return self.role is Role.PLATFORM_ADMIN

    @property
    def is_service(self) -> bool:
        return self.role is Role.SERVICE

    @property
    def is_branch_scoped(self) -> bool:
        return self.role in BRANCH_SCOPED_ROLES

    @property
    def permissions(self) -> frozenset[Permission]:
        if self.mfa_enrolment_required:
            return frozenset()
        return ROLE_PERMISSIONS[self.role]

    def scope_filter(self) -> dict[str, str]:
        """The data this principal may see, as equality filters on the stored documents.

        `{"institution_id": ...}` always, plus `{"branch_id": ...}` for agents and branch
        managers. Empty for the platform administrator, whose permissions give it no
        institution data to begin with (it reads institutions and their users).
        """
        scope: dict[str, str] = {}
        if self.institution_id is not None:
            scope["institution_id"] = self.institution_id
        if self.is_branch_scoped and self.branch_id is not None:
            scope["branch_id"] = self.branch_id
        return scope

    def can_access(self, institution_id: str | None, branch_id: str | None = None) -> bool:
        """Whether a resource owned by this institution (and branch) is inside the scope.

        `branch_id=None` means an institution-level resource (a loan product, a scorecard),
        which every member of the institution is in scope for. A resource of another
        institution is out of scope for everyone but the platform administrator; callers
        answer 404 for it, not 403, so its existence does not leak.
        """
        if self.is_platform_admin:
            return True
        if institution_id is None or institution_id != self.institution_id:
            return False
        if self.is_branch_scoped and branch_id is not None:
            return branch_id == self.branch_id
        return True


def _as_permission(permission: Permission | str) -> Permission:
    if isinstance(permission, Permission):
        return permission
    try:
        return Permission(permission)
    except ValueError:
        # A typo in code, not client input: fail loudly rather than deny silently.
        raise ValueError(f"unknown permission {permission!r}") from None


def permissions_for(role: Role | str) -> frozenset[Permission]:
    """The permissions of a role (`ValueError` for an unknown role)."""
    return ROLE_PERMISSIONS[Role(role)]


MFA_ENROLMENT_REQUIRED: Final = "MFA_ENROLMENT_REQUIRED"


def can(principal: Principal, permission: Permission | str) -> bool:
    """Whether the principal holds the permission (scope is checked separately)."""
    return _as_permission(permission) in principal.permissions


def require(principal: Principal, permission: Permission | str) -> None:
    """Raise `PermissionDenied` unless the principal holds the permission; the reason is
    `MFA_ENROLMENT_REQUIRED` when only a missing second factor stands in the way."""
    perm = _as_permission(permission)
    if perm in principal.permissions:
        return
    if principal.mfa_enrolment_required:
        raise PermissionDenied(
            "Your institution requires two-factor authentication for your role: enrol "
            "(POST /v1/me/mfa/enroll, then /v1/me/mfa/confirm), then refresh your token.",
            reason=MFA_ENROLMENT_REQUIRED,
            permission=perm.value,
        )
    raise PermissionDenied(
        f"{describe_role(principal.role)} is not allowed to {perm.value}.",
        permission=perm.value,
    )


def creatable_roles(role: Role | str) -> frozenset[Role]:
    """The roles that a user of `role` may create."""
    return CREATABLE_ROLES[Role(role)]


def can_manage_user(
    principal: Principal, target_role: Role | str, target_institution_id: str | None
) -> bool:
    """Whether the principal may create (or disable, reset, ...) a user with this role in
    this institution: the role must be creatable by the principal's role, and an admin
    manages only its own institution. A platform admin manages admins of any institution.
    """
    try:
        role = Role(target_role)
    except ValueError:
        return False
    if role not in CREATABLE_ROLES[principal.role]:
        return False
    if principal.is_platform_admin:
        return target_institution_id is not None
    return target_institution_id is not None and target_institution_id == principal.institution_id


def check_user_management(
    principal: Principal, target_role: Role | str, target_institution_id: str | None
) -> None:
    """`can_manage_user`, raising `PermissionDenied` with a message saying why not."""
    role_value = str(target_role)
    allowed = CREATABLE_ROLES[principal.role]
    if not allowed:
        raise PermissionDenied(
            f"{describe_role(principal.role)} cannot create or manage users.",
            permission=Permission.USERS_CREATE.value,
        )
    if role_value not in {r.value for r in allowed}:
        names = ", ".join(sorted(r.value for r in allowed))
        raise PermissionDenied(
            f"{describe_role(principal.role)} can only create or manage users with role: {names}.",
            permission=Permission.USERS_CREATE.value,
        )
    if not can_manage_user(principal, role_value, target_institution_id):
        raise PermissionDenied(
            "An admin can only create or manage users of their own institution.",
            permission=Permission.USERS_CREATE.value,
        )
