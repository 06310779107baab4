"""The StaffUser aggregate: creation rules, administration, passwords, lockout, login."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyotp
import pytest

from auth_service.domain.errors import (
    Conflict,
    PermissionDenied,
    Unauthenticated,
    ValidationError,
)
from auth_service.domain.lockout import (
    AddressThrottlePolicy,
    LockoutPolicy,
    client_bucket,
)
from auth_service.domain.mfa import MfaPolicy
from auth_service.domain.passwords import Argon2Parameters, PasswordHasher
from auth_service.domain.users import StaffUser, UserStatus
from shared import permissions
from shared.permissions import Principal, Role

pytestmark = pytest.mark.unit

NOW = datetime(2026, 3, 31, 9, 0, tzinfo=UTC)
FAST = PasswordHasher(Argon2Parameters(time_cost=1, memory_cost=8))
PASSWORD = "Tamarind-Sky-42"
ROOT = Principal("root", Role.PLATFORM_ADMIN, None, None, "s-root")
ADMIN = Principal("admin-1", Role.ADMIN, "inst-1", None, "s-admin")
OTHER_ADMIN = Principal("admin-2", Role.ADMIN, "inst-2", None, "s-admin2")
AGENT = Principal("agent-1", Role.AGENT, "inst-1", "br-1", "s-agent")


def make_user(
    role: Role = Role.AGENT,
    branch: str | None = "br-1",
    by: Principal = ADMIN,
    email: str = "Amina.Okafor@Kopa.Example ",
    institution: str | None = None,
) -> StaffUser:
    return StaffUser.create(
        user_id="u-1",
        email=email,
        full_name="  Amina   Okafor ",
        role=role,
        password=PASSWORD,
        institution_id=institution,
        branch_id=branch,
        created_by=by,
        now=NOW,
        hasher=FAST,
    )


def login_reason(user: StaffUser, password: str, now: datetime, **kw: object) -> str:
    with pytest.raises(Unauthenticated) as info:
        user.authenticate(password, now=now, hasher=FAST, **kw)  # type: ignore[arg-type]
    return info.value.reason


# --- creation -------------------------------------------------------------------------------


def test_admin_creates_a_user_in_its_institution() -> None:
    user = make_user()
    assert user.email == "amina.okafor@kopa.example"
    assert user.full_name == "Amina Okafor"
    assert (user.role, user.institution_id, user.branch_id) == (Role.AGENT, "inst-1", "br-1")
    assert user.status is UserStatus.ACTIVE and not user.must_change_password
    assert user.password_hash != PASSWORD and FAST.verify(user.password_hash, PASSWORD)
    [event] = user.pull_events()
    assert (event.name, event.actor_id, event.data["role"]) == ("user.created", "admin-1", "agent")
    assert user.pull_events() == []
    assert user.principal("sess-1") == Principal("u-1", Role.AGENT, "inst-1", "br-1", "sess-1")


def test_platform_admin_creates_admins_only() -> None:
    admin = make_user(Role.ADMIN, branch=None, by=ROOT, institution="inst-7")
    assert admin.institution_id == "inst-7"
    with pytest.raises(PermissionDenied):
        make_user(Role.AGENT, by=ROOT, institution="inst-7")
    with pytest.raises(ValidationError) as info:
        make_user(Role.ADMIN, branch=None, by=ROOT)  # which institution?
    assert info.value.field_errors == [
        ("institution_id", "An admin must belong to an institution.")
    ]


def test_nobody_creates_a_platform_admin() -> None:
    for creator in (ROOT, ADMIN):
        with pytest.raises(PermissionDenied):
            make_user(Role.PLATFORM_ADMIN, branch=None, by=creator)


def test_admin_cannot_create_in_another_institution() -> None:
    with pytest.raises(PermissionDenied, match="own institution"):
        make_user(by=ADMIN, institution="inst-2")


@pytest.mark.parametrize("creator_role", [Role.AGENT, Role.BRANCH_MANAGER, Role.AUDITOR])
def test_other_roles_cannot_create_users(creator_role: Role) -> None:
    branch = "br-1" if creator_role in permissions.BRANCH_SCOPED_ROLES else None
    creator = Principal("c", creator_role, "inst-1", branch, "s")
    with pytest.raises(PermissionDenied):
        make_user(Role.AGENT, by=creator)


def test_branch_rules() -> None:
    for role in (Role.AGENT, Role.BRANCH_MANAGER):
        with pytest.raises(ValidationError) as info:
            make_user(role, branch=None)
        assert info.value.field_errors == [
            ("branch_id", f"{permissions.describe_role(role)} must be assigned to a branch.")
        ]
    for role in (Role.ADMIN, Role.RISK_OFFICER, Role.AUDITOR):
        with pytest.raises(ValidationError) as info:
            make_user(role, branch="br-1")
        assert info.value.field_errors[0][0] == "branch_id"
        assert make_user(role, branch=None).branch_id is None


def test_unknown_role_is_a_validation_error() -> None:
    with pytest.raises(ValidationError) as info:
        make_user("wizard")  # type: ignore[arg-type]
    assert info.value.field_errors[0][0] == "role"


def test_every_bad_field_is_named() -> None:
    with pytest.raises(ValidationError) as info:
        StaffUser.create(
            user_id="u",
            email="not-an-email",
            full_name="  ",
            role=Role.AGENT,
            password="short",
            institution_id=None,
            branch_id=None,
            created_by=ADMIN,
            now=NOW,
            hasher=FAST,
        )
    fields = [f for f, _ in info.value.field_errors]
    assert fields == ["email", "full_name", "branch_id", "password", "password"]
    assert info.value.reason == "VALIDATION_FAILED"


def test_a_weak_password_alone_is_a_password_policy_error() -> None:
    with pytest.raises(ValidationError) as info:
        StaffUser.create(
            user_id="u",
            email="amina@kopa.example",
            full_name="Amina",
            role=Role.AUDITOR,
            password="amina-is-great",
            institution_id=None,
            branch_id=None,
            created_by=ADMIN,
            now=NOW,
            hasher=FAST,
        )
    assert info.value.reason == "PASSWORD_POLICY"
    assert info.value.field_errors == [
        ("password", "Do not include your e-mail address or user name.")
    ]


def test_bootstrap_platform_admin() -> None:
    root = StaffUser.bootstrap_platform_admin(
        user_id="root", email="Root@Kopa.Example", full_name="Root", password=PASSWORD,
        now=NOW, hasher=FAST,
    )  # fmt: skip
    assert (root.role, root.institution_id, root.email) == (
        Role.PLATFORM_ADMIN,
        None,
        "root@kopa.example",
    )


# --- administration -------------------------------------------------------------------------


def test_disable_and_enable() -> None:
    user = make_user()
    user.pull_events()
    version = user.token_version
    user.disable(ADMIN, NOW)
    assert user.status is UserStatus.DISABLED and user.token_version == version + 1
    with pytest.raises(Conflict):
        user.disable(ADMIN, NOW)
    assert login_reason(user, PASSWORD, NOW) == "ACCOUNT_DISABLED"
    assert login_reason(user, "wrong password!", NOW) == "INVALID_CREDENTIALS"  # no leak
    user.enable(ADMIN, NOW)
    assert user.is_active
    assert [e.name for e in user.pull_events()] == ["user.disabled", "user.enabled"]


def test_only_an_admin_of_the_institution_manages_a_user() -> None:
    user = make_user()
    for outsider in (OTHER_ADMIN, AGENT, ROOT):
        with pytest.raises(PermissionDenied):
            user.disable(outsider, NOW)
        with pytest.raises(PermissionDenied):
            user.reset_password_by_admin(outsider, "Temporary-Pass-77", NOW, FAST)


def test_nobody_disables_themself() -> None:
    admin = make_user(Role.ADMIN, branch=None)
    with pytest.raises(Conflict) as info:
        admin.disable(admin.principal("s"), NOW)
    assert info.value.reason == "CANNOT_MANAGE_SELF"


def test_reset_password_by_admin() -> None:
    user = make_user()
    for _ in range(5):
        user.record_failed_login(NOW)
    assert user.is_locked(NOW)
    user.reset_password_by_admin(ADMIN, "Temporary-Pass-77", NOW, FAST)
    assert user.must_change_password and not user.is_locked(NOW)
    assert user.token_version == 1
    assert FAST.verify(user.password_hash, "Temporary-Pass-77")
    assert user.authenticate("Temporary-Pass-77", now=NOW, hasher=FAST).must_change_password
    with pytest.raises(ValidationError):
        user.reset_password_by_admin(ADMIN, "short", NOW, FAST)


def test_change_password() -> None:
    user = make_user()
    user.must_change_password = True
    with pytest.raises(Unauthenticated) as wrong:
        user.change_password("not my password", "Another-Good-One-9", NOW, FAST)
    assert wrong.value.reason == "INVALID_CREDENTIALS"
    assert wrong.value.field_errors[0][0] == "old_password"
    with pytest.raises(ValidationError) as weak:
        user.change_password(PASSWORD, "weak", NOW, FAST)
    assert weak.value.reason == "PASSWORD_POLICY"
    assert {f for f, _ in weak.value.field_errors} == {"new_password"}
    with pytest.raises(ValidationError):
        user.change_password(PASSWORD, PASSWORD, NOW, FAST)
    user.change_password(PASSWORD, "Another-Good-One-9", NOW + timedelta(hours=1), FAST)
    assert not user.must_change_password
    assert user.password_changed_at == NOW + timedelta(hours=1)
    assert user.token_version == 1  # the other sessions end
    assert user.authenticate("Another-Good-One-9", now=NOW, hasher=FAST)


def test_revoke_all_sessions_moves_the_token_version() -> None:
    user = make_user()
    user.revoke_all_sessions(user.principal("s"), NOW)  # oneself
    user.revoke_all_sessions(ADMIN, NOW)
    assert user.token_version == 2
    with pytest.raises(PermissionDenied):
        user.revoke_all_sessions(OTHER_ADMIN, NOW)


# --- lockout --------------------------------------------------------------------------------


def test_lockout_after_five_failures_then_doubling_up_to_an_hour() -> None:
    user = make_user()
    t = NOW
    for _ in range(4):
        assert login_reason(user, "wrong password!", t) == "INVALID_CREDENTIALS"
    assert user.locked_until is None
    assert login_reason(user, "wrong password!", t) == "INVALID_CREDENTIALS"
    assert user.locked_until == t + timedelta(minutes=1)

    # While locked even the right password is refused, without counting.
    with pytest.raises(Unauthenticated) as info:
        user.authenticate(PASSWORD, now=t + timedelta(seconds=30), hasher=FAST)
    assert info.value.reason == "ACCOUNT_LOCKED"
    assert info.value.metadata == {"retry_after_seconds": "30"}
    assert user.failed_login_count == 5

    expected_minutes = [2, 4, 8, 16, 32, 60, 60]
    for minutes in expected_minutes:
        t = user.locked_until  # type: ignore[assignment]
        assert login_reason(user, "wrong password!", t) == "INVALID_CREDENTIALS"
        assert user.locked_until == t + timedelta(minutes=minutes)
    assert [e.name for e in user.pull_events()].count("user.locked") == 1 + len(expected_minutes)

    t = user.locked_until  # type: ignore[assignment]
    user.authenticate(PASSWORD, now=t, hasher=FAST)
    assert (user.failed_login_count, user.locked_until) == (0, None)
    assert user.last_login_at == t


def test_failures_are_forgotten_after_a_quiet_day() -> None:
    user = make_user()
    for _ in range(4):
        user.record_failed_login(NOW)
    user.record_failed_login(NOW + timedelta(hours=25))
    assert user.failed_login_count == 1 and user.locked_until is None


def test_lockout_policy_durations() -> None:
    policy = LockoutPolicy()
    assert [policy.lock_duration(n) for n in range(1, 5)] == [None] * 4
    assert policy.lock_duration(5) == timedelta(minutes=1)
    assert policy.lock_duration(6) == timedelta(minutes=2)
    assert policy.lock_duration(11) == timedelta(hours=1)
    assert policy.lock_duration(10_000) == timedelta(hours=1)


def test_address_throttle_policy() -> None:
    policy = AddressThrottlePolicy()
    assert policy.decide(19).allowed
    blocked = policy.decide(20, ttl_seconds=125)
    assert (blocked.allowed, blocked.retry_after_seconds) == (False, 125)
    assert policy.decide(50, ttl_seconds=-1).retry_after_seconds == 900
    assert policy.redis_key("10.0.0.7") == "kopa:auth:login_failures:10.0.0.7"
    assert policy.window_seconds == 900


def test_client_bucket_groups_ipv6_by_64() -> None:
    assert client_bucket("2001:db8:1:2:aaaa::1") == client_bucket("2001:db8:1:2:bbbb::9")
    assert client_bucket("2001:db8:1:2::1") == "2001:db8:1:2::/64"
    assert client_bucket("2001:db8:1:3::1") != client_bucket("2001:db8:1:2::1")
    assert client_bucket("::ffff:10.1.2.3") == "10.1.2.3"
    assert client_bucket("10.1.2.3:5555") == "10.1.2.3"
    assert client_bucket("[2001:db8::1]:443") == "2001:db8::/64"
    assert client_bucket("unix:/tmp/sock") == "unix:/tmp/sock"


# --- login with a second factor ---------------------------------------------------------------


def enrolled_user() -> tuple[StaffUser, pyotp.TOTP, list[str]]:
    user = make_user()
    secret, uri = user.begin_mfa_enrolment()
    assert "issuer=Kopa" in uri
    totp = pyotp.TOTP(secret)
    codes = user.confirm_mfa_enrolment(totp.at(NOW), NOW)
    return user, totp, codes


def test_mfa_required_then_accepted() -> None:
    user, totp, _ = enrolled_user()
    later = NOW + timedelta(minutes=5)
    assert login_reason(user, PASSWORD, later) == "MFA_REQUIRED"
    assert user.failed_login_count == 0  # asking for the code is not a failure
    assert login_reason(user, PASSWORD, later, otp="000000") in {"MFA_INVALID"}
    assert user.failed_login_count == 1  # a wrong code is
    result = user.authenticate(PASSWORD, now=later, otp=totp.at(later), hasher=FAST)
    assert not result.recovery_code_used and user.failed_login_count == 0
    # The same code again (replay) is refused.
    assert login_reason(user, PASSWORD, later, otp=totp.at(later)) == "MFA_INVALID"


def test_recovery_code_logs_in_once() -> None:
    user, _, codes = enrolled_user()
    result = user.authenticate(PASSWORD, now=NOW, otp=codes[0].upper(), hasher=FAST)
    assert result.recovery_code_used
    assert login_reason(user, PASSWORD, NOW, otp=codes[0]) == "MFA_INVALID"
    assert "user.recovery_code_used" in [e.name for e in user.pull_events()]


def test_mfa_brute_force_hits_the_lockout() -> None:
    user, _, _ = enrolled_user()
    for _ in range(5):
        login_reason(user, PASSWORD, NOW, otp="123456")
    assert login_reason(user, PASSWORD, NOW, otp="123456") == "ACCOUNT_LOCKED"


def test_policy_flags_users_who_must_enrol() -> None:
    user = make_user()
    policy = MfaPolicy.of(["agent", "admin"])
    result = user.authenticate(PASSWORD, now=NOW, mfa_policy=policy, hasher=FAST)
    assert result.mfa_enrolment_required
    assert not user.authenticate(PASSWORD, now=NOW, hasher=FAST).mfa_enrolment_required
    assert not user.must_enrol_mfa(MfaPolicy.of(["admin"]))  # not the agent's role
    assert user.principal("s", mfa_enrolment_required=True).permissions == frozenset()
    enrolled, totp, _ = enrolled_user()
    assert not enrolled.must_enrol_mfa(policy)  # enrolled: the policy is met
    later = NOW + timedelta(minutes=5)
    assert not enrolled.authenticate(
        PASSWORD, now=later, otp=totp.at(later), mfa_policy=policy, hasher=FAST
    ).mfa_enrolment_required


def test_admin_can_remove_a_lost_second_factor() -> None:
    user, _, _ = enrolled_user()
    with pytest.raises(PermissionDenied):
        user.disable_mfa(AGENT, NOW)
    user.disable_mfa(ADMIN, NOW)
    assert not user.mfa.enabled
    user.authenticate(PASSWORD, now=NOW, hasher=FAST)


def test_password_rehash_is_signalled() -> None:
    user = make_user()
    assert not user.authenticate(PASSWORD, now=NOW, hasher=FAST).password_needs_rehash
    strong = PasswordHasher(Argon2Parameters(time_cost=2, memory_cost=16))
    assert user.authenticate(PASSWORD, now=NOW, hasher=strong).password_needs_rehash
    user.rehash_password(PASSWORD, strong)
    assert not user.authenticate(PASSWORD, now=NOW, hasher=strong).password_needs_rehash
