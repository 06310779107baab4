"""The permission table, the principal's data scope and who may create whom."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from auth_service.domain import errors as domain_errors
from shared.permissions import (
    ALL_PERMISSIONS,
    CREATABLE_ROLES,
    ROLE_PERMISSIONS,
    Permission,
    PermissionDenied,
    Principal,
    Role,
    can,
    can_manage_user,
    check_user_management,
    creatable_roles,
    permissions_for,
    require,
)

pytestmark = pytest.mark.unit

P = Permission


def principal_for(role: Role, institution: str = "inst-1", branch: str = "br-1") -> Principal:
    if role is Role.PLATFORM_ADMIN:
        return Principal("u-" + role.value, role, None, None, "s-1")
    if role in (Role.AGENT, Role.BRANCH_MANAGER):
        return Principal("u-" + role.value, role, institution, branch, "s-1")
    return Principal("u-" + role.value, role, institution, None, "s-1")


roles = st.sampled_from(list(Role))
perms = st.sampled_from(sorted(Permission))

LOAN_AND_BORROWER_DATA = {
    P.LOANS_READ,
    P.LOANS_CREATE,
    P.LOANS_APPROVE,
    P.BORROWERS_READ,
    P.BORROWERS_CREATE,
    P.REPAYMENTS_READ,
    P.REPAYMENTS_CREATE,
    P.REPORTS_READ,
    P.LEDGER_READ,
    P.SCORECARDS_READ,
    P.AUDIT_READ,
}


@given(roles, perms)
def test_can_and_require_agree_with_the_table(role: Role, permission: Permission) -> None:
    principal = principal_for(role)
    allowed = permission in ROLE_PERMISSIONS[role]
    assert can(principal, permission) is allowed
    assert can(principal, permission.value) is allowed  # plain strings work too
    if allowed:
        require(principal, permission)
    else:
        with pytest.raises(PermissionDenied) as info:
            require(principal, permission)
        assert info.value.reason == "PERMISSION_DENIED"
        assert info.value.permission == permission.value
        assert role.value.replace("_", " ") in info.value.message


@given(perms)
def test_agent_cannot_approve_loans_nor_create_admins(permission: Permission) -> None:
    agent = principal_for(Role.AGENT)
    if permission in {
        P.LOANS_APPROVE,
        P.LOANS_REJECT,
        P.LOANS_DISBURSE,
        P.LOANS_WRITE_OFF,
        P.LOANS_OVERRIDE_ELIGIBILITY,
        P.REPAYMENTS_REVERSE,
        P.USERS_CREATE,
        P.INSTITUTIONS_CREATE,
        P.SCORECARDS_MANAGE,
        P.JOBS_RUN,
    }:
        assert not can(agent, permission)
    assert not can_manage_user(agent, Role.ADMIN, "inst-1")
    with pytest.raises(PermissionDenied):
        check_user_management(agent, Role.ADMIN, "inst-1")


@given(perms)
def test_auditor_has_only_read_permissions(permission: Permission) -> None:
    auditor = principal_for(Role.AUDITOR)
    if can(auditor, permission):
        assert permission.value.endswith(":read")
    elif permission.value.endswith(":read"):
        pytest.fail(f"auditor should read {permission}")  # ... and every read


@given(perms)
def test_platform_admin_sees_no_institution_business_data(permission: Permission) -> None:
    root = principal_for(Role.PLATFORM_ADMIN)
    if permission in LOAN_AND_BORROWER_DATA:
        assert not can(root, permission)
    assert not can(root, P.LOANS_READ)


@given(roles)
def test_only_the_platform_admin_creates_institutions(role: Role) -> None:
    assert can(principal_for(role), P.INSTITUTIONS_CREATE) is (role is Role.PLATFORM_ADMIN)


def test_each_role_has_its_documented_core() -> None:
    assert permissions_for("admin") >= {
        P.USERS_CREATE,
        P.BRANCHES_CREATE,
        P.LOAN_PRODUCTS_CREATE,
        P.SETTINGS_MANAGE,
        P.LOANS_APPROVE,
        P.JOBS_RUN,
        P.AUDIT_READ,
    }
    assert permissions_for("branch_manager") >= {
        P.BORROWERS_CREATE,
        P.LOANS_APPROVE,
        P.LOANS_REJECT,
        P.LOANS_DISBURSE,
        P.LOANS_WRITE_OFF,
        P.REPAYMENTS_REVERSE,
        P.REPORTS_READ,
    }
    assert P.USERS_CREATE not in permissions_for("branch_manager")
    assert permissions_for("risk_officer") >= {
        P.SCORECARDS_MANAGE,
        P.LOANS_SCORE,
        P.LOANS_READ,
        P.BORROWERS_READ,
        P.REPORTS_READ,
    }
    assert not permissions_for("risk_officer") & {P.LOANS_APPROVE, P.BORROWERS_CREATE}
    assert permissions_for("agent") >= {
        P.BORROWERS_CREATE,
        P.BORROWERS_UPDATE,
        P.LOANS_CREATE,
        P.REPAYMENTS_CREATE,
        P.LOANS_READ,
    }
    assert P.AUDIT_READ in permissions_for("auditor")
    assert P.INSTITUTIONS_CREATE not in permissions_for("admin")
    assert set().union(*ROLE_PERMISSIONS.values()) == ALL_PERMISSIONS  # none is dead


def test_unknown_permission_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown permission"):
        can(principal_for(Role.ADMIN), "loans:aprove")


def test_domain_permission_denied_is_also_the_shared_one() -> None:
    err = domain_errors.PermissionDenied("no", permission="loans:approve")
    assert isinstance(err, PermissionDenied) and isinstance(err, domain_errors.DomainError)
    assert err.reason == "PERMISSION_DENIED" and err.metadata == {"permission": "loans:approve"}


# --- who creates whom -----------------------------------------------------------------------


def test_creatable_roles() -> None:
    assert creatable_roles(Role.PLATFORM_ADMIN) == {Role.ADMIN}
    # Nobody creates a service principal: it is no staff member.
    assert creatable_roles(Role.ADMIN) == set(Role) - {Role.PLATFORM_ADMIN, Role.SERVICE}
    for role in (Role.BRANCH_MANAGER, Role.RISK_OFFICER, Role.AGENT, Role.AUDITOR, Role.SERVICE):
        assert CREATABLE_ROLES[role] == frozenset()
    assert all(Role.PLATFORM_ADMIN not in created for created in CREATABLE_ROLES.values())


@given(roles, roles)
def test_user_management_follows_the_creatable_roles(creator: Role, target: Role) -> None:
    who = principal_for(creator)
    expected = target in CREATABLE_ROLES[creator]
    assert can_manage_user(who, target, "inst-1") is expected
    if expected:
        check_user_management(who, target, "inst-1")
    else:
        with pytest.raises(PermissionDenied):
            check_user_management(who, target, "inst-1")


def test_admin_manages_only_its_own_institution() -> None:
    admin = principal_for(Role.ADMIN, institution="inst-1")
    assert can_manage_user(admin, Role.AGENT, "inst-1")
    assert not can_manage_user(admin, Role.AGENT, "inst-2")
    assert not can_manage_user(admin, Role.AGENT, None)
    with pytest.raises(PermissionDenied, match="own institution"):
        check_user_management(admin, Role.AGENT, "inst-2")
    root = principal_for(Role.PLATFORM_ADMIN)
    assert can_manage_user(root, Role.ADMIN, "inst-2")
    assert not can_manage_user(root, Role.ADMIN, None)
    assert not can_manage_user(root, "wizard", "inst-2")


# --- the principal and its scope ------------------------------------------------------------


def test_scope_filter() -> None:
    assert principal_for(Role.AGENT).scope_filter() == {
        "institution_id": "inst-1",
        "branch_id": "br-1",
    }
    assert principal_for(Role.BRANCH_MANAGER).scope_filter() == {
        "institution_id": "inst-1",
        "branch_id": "br-1",
    }
    for role in (Role.ADMIN, Role.RISK_OFFICER, Role.AUDITOR):
        assert principal_for(role).scope_filter() == {"institution_id": "inst-1"}
    assert principal_for(Role.PLATFORM_ADMIN).scope_filter() == {}


@given(
    roles,
    st.sampled_from(["inst-1", "inst-2", None]),
    st.sampled_from(["br-1", "br-2", None]),
)
def test_can_access(role: Role, institution: str | None, branch: str | None) -> None:
    who = principal_for(role)
    result = who.can_access(institution, branch)
    if role is Role.PLATFORM_ADMIN:
        assert result
    elif institution != "inst-1":
        assert not result  # another institution's data: never
    elif role in (Role.AGENT, Role.BRANCH_MANAGER):
        assert result is (branch in ("br-1", None))
    else:
        assert result


@pytest.mark.parametrize(
    ("role", "institution", "branch"),
    [
        ("platform_admin", "inst-1", None),
        ("admin", None, None),
        ("agent", "inst-1", None),
        ("branch_manager", "inst-1", None),
        ("auditor", "inst-1", "br-1"),
        ("wizard", "inst-1", None),
    ],
)
def test_principal_rejects_impossible_combinations(
    role: str, institution: str | None, branch: str | None
) -> None:
    with pytest.raises(ValueError):
        Principal("u", role, institution, branch, "s")  # type: ignore[arg-type]


def test_principal_coerces_role_strings_and_is_frozen() -> None:
    who = Principal("u", "agent", "i", "b", "s")  # type: ignore[arg-type]
    assert who.role is Role.AGENT and who.is_branch_scoped
    with pytest.raises(AttributeError):
        who.role = Role.ADMIN  # type: ignore[misc]


# --- a user who must enrol a second factor first ------------------------------------------


@given(roles.filter(lambda r: r is not Role.PLATFORM_ADMIN), perms)
def test_a_principal_pending_mfa_enrolment_holds_no_permission(
    role: Role, permission: Permission
) -> None:
    full = principal_for(role)
    pending = Principal(
        full.user_id, role, full.institution_id, full.branch_id, "s-1", mfa_enrolment_required=True
    )
    assert not can(pending, permission)
    with pytest.raises(PermissionDenied) as info:
        require(pending, permission)
    # Told to enrol, not that the role lacks the right.
    assert info.value.reason == "MFA_ENROLMENT_REQUIRED"
    assert "/v1/me/mfa/enroll" in info.value.message
    assert info.value.permission == permission.value
    assert pending.can_access("inst-1")  # the scope is unchanged; the permissions are not


def test_who_reads_and_who_sets_an_institution_security_policy() -> None:
    readers = {r for r in Role if can(principal_for(r), P.SECURITY_POLICY_READ)}
    managers = {r for r in Role if can(principal_for(r), P.SECURITY_POLICY_MANAGE)}
    assert readers == {Role.PLATFORM_ADMIN, Role.ADMIN, Role.AUDITOR}
    assert managers == {Role.PLATFORM_ADMIN, Role.ADMIN}
