"""auth_service over real gRPC: MFA enrolment and login with a code, and the
institution's security policy that requires MFA of some roles."""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta
from typing import Any

import pyotp
import pytest

from kopa.auth.v1 import auth_pb2
from kopa.user.v1 import user_pb2
from tests.support.auth_fleet import PASSWORD, Fleet, Institution, new_institution
from tests.support.rpc import Code, md, rpc_error

pytestmark = pytest.mark.integration


# --- MFA ----------------------------------------------------------------------------------


async def test_mfa_enrolment_then_login_needs_a_code(fleet: Fleet, inst: Institution) -> None:
    user = await fleet.create_user(inst.admin_token, "auditor")
    own = await fleet.login(user.email, PASSWORD)
    token = own.access_token
    elsewhere = await fleet.login(user.email, PASSWORD)  # e.g. whoever else has the password
    enrol = await fleet.auth.EnrollMfa(auth_pb2.EnrollMfaRequest(), metadata=md(token))
    assert enrol.otpauth_uri.startswith("otpauth://totp/") and enrol.secret
    totp = pyotp.TOTP(enrol.secret)
    now = datetime.now(UTC)
    valid = {totp.at(now + timedelta(seconds=d)) for d in (-60, -30, 0, 30, 60)}
    wrong_code = next(
        c for c in ("000000", "111111", "222222", "333333", "444444", "555555") if c not in valid
    )
    wrong = await rpc_error(
        fleet.auth.ConfirmMfa(auth_pb2.ConfirmMfaRequest(code=wrong_code), metadata=md(token)),
        Code.INVALID_ARGUMENT,
    )
    assert wrong.reason == "MFA_INVALID"
    confirmed = await fleet.auth.ConfirmMfa(
        auth_pb2.ConfirmMfaRequest(code=totp.at(now)), metadata=md(token)
    )
    codes = list(confirmed.recovery_codes)
    assert len(codes) == 10
    assert (await fleet.me(token)).mfa_enabled
    # Enrolling ends the sessions opened with the password alone, not the enrolling one.
    await rpc_error(fleet.me(elsewhere.access_token), Code.UNAUTHENTICATED)
    await rpc_error(
        fleet.auth.Refresh(auth_pb2.RefreshRequest(refresh_token=elsewhere.refresh_token)),
        Code.UNAUTHENTICATED,
    )
    refreshed = await fleet.refresh(own.refresh_token)
    assert (await fleet.me(refreshed.access_token)).mfa_enabled
    stored = await fleet.db.users.find_one({"_id": user.id})
    assert enrol.secret not in str(stored["mfa"])  # never the bare secret next to the rest

    required = await rpc_error(fleet.login_error(user.email, PASSWORD), Code.UNAUTHENTICATED)
    assert required.reason == "MFA_REQUIRED"
    # The confirmation used this time step; the next step's code is valid (clock drift).
    code = totp.at(now + timedelta(seconds=30))
    assert (await fleet.login(user.email, PASSWORD, otp=code)).access_token
    replay = await rpc_error(
        fleet.login_error(user.email, PASSWORD, otp=code), Code.UNAUTHENTICATED
    )
    assert replay.reason == "MFA_INVALID"
    assert (await fleet.login(user.email, PASSWORD, otp=codes[0])).access_token
    spent = await rpc_error(
        fleet.login_error(user.email, PASSWORD, otp=codes[0]), Code.UNAUTHENTICATED
    )
    assert spent.reason == "MFA_INVALID"
    again = await rpc_error(
        fleet.auth.EnrollMfa(auth_pb2.EnrollMfaRequest(), metadata=md(token)),
        Code.FAILED_PRECONDITION,
    )
    assert again.reason == "MFA_ALREADY_ENABLED"


# --- the institution's security policy ------------------------------------------------------


def policy_call(
    fleet: Fleet, token: str, institution_id: str, roles: list[str] | None = None
) -> Awaitable[Any]:
    """GetSecurityPolicy, or UpdateSecurityPolicy when `roles` is given."""
    if roles is None:
        return fleet.auth.GetSecurityPolicy(
            auth_pb2.GetSecurityPolicyRequest(institution_id=institution_id), metadata=md(token)
        )
    policy = auth_pb2.SecurityPolicy(institution_id=institution_id, mfa_required_roles=roles)
    return fleet.auth.UpdateSecurityPolicy(
        auth_pb2.UpdateSecurityPolicyRequest(policy=policy), metadata=md(token)
    )


async def test_who_reads_and_replaces_a_security_policy(fleet: Fleet) -> None:
    inst, other = await new_institution(fleet), await new_institution(fleet)
    assert (
        list((await policy_call(fleet, inst.admin_token, inst.id)).policy.mfa_required_roles) == []
    )
    auditor = await fleet.create_user(inst.admin_token, "auditor")
    auditor_token = (await fleet.login(auditor.email, PASSWORD)).access_token
    set_by_admin = (await policy_call(fleet, inst.admin_token, inst.id, ["auditor"])).policy
    assert list(set_by_admin.mfa_required_roles) == ["auditor"]
    assert set_by_admin.updated_by == inst.admin.id and set_by_admin.HasField("update_time")

    # An auditor (whose own session predates the policy) reads it but may not change it.
    read = (await policy_call(fleet, auditor_token, inst.id)).policy
    assert list(read.mfa_required_roles) == ["auditor"]
    denied = await rpc_error(policy_call(fleet, auditor_token, inst.id, []), Code.PERMISSION_DENIED)
    assert denied.metadata.get("permission") == "security_policy:manage"
    # Another institution's policy does not exist for an admin, whatever the call.
    for call in (
        policy_call(fleet, other.admin_token, inst.id),
        policy_call(fleet, other.admin_token, inst.id, []),
    ):
        assert (await rpc_error(call, Code.NOT_FOUND)).reason == "INSTITUTION_NOT_FOUND"
    # The platform admin sets any existing institution's; an unknown one is NOT_FOUND.
    by_root = (await policy_call(fleet, inst.root_token, inst.id, ["admin", "auditor"])).policy
    assert list(by_root.mfa_required_roles) == ["admin", "auditor"]
    await rpc_error(policy_call(fleet, inst.root_token, "inst_nowhere", []), Code.NOT_FOUND)
    bad = await rpc_error(
        policy_call(fleet, inst.admin_token, inst.id, ["admin", "platform_admin"]),
        Code.INVALID_ARGUMENT,
    )
    assert [f for f, _ in bad.field_errors] == ["mfa_required_roles[1]"]
    assert (
        list((await policy_call(fleet, other.admin_token, other.id)).policy.mfa_required_roles)
        == []
    )


async def test_required_mfa_lets_an_unenrolled_user_in_only_to_enrol(fleet: Fleet) -> None:
    inst = await new_institution(fleet)
    officer = await fleet.create_user(inst.admin_token, "risk_officer")
    before = await fleet.login(officer.email, PASSWORD)
    assert not before.mfa_enrolment_required
    await policy_call(fleet, inst.root_token, inst.id, ["risk_officer", "admin"])
    list_branches = user_pb2.ListBranchesRequest()

    # The login succeeds, but the token allows nothing but the user's own account, and
    # every service says why (user_service here, verifying the token itself).
    pending = await fleet.login(officer.email, PASSWORD)
    assert pending.mfa_enrolment_required
    refused = await rpc_error(
        fleet.users.ListBranches(list_branches, metadata=md(pending.access_token)),
        Code.PERMISSION_DENIED,
    )
    assert refused.reason == "MFA_ENROLMENT_REQUIRED"
    # A session opened before the policy is held to it from its next refresh.
    assert (await fleet.refresh(before.refresh_token)).mfa_enrolment_required
    assert (await fleet.me(pending.access_token)).id == officer.id
    enrol = await fleet.auth.EnrollMfa(
        auth_pb2.EnrollMfaRequest(), metadata=md(pending.access_token)
    )
    await fleet.auth.ConfirmMfa(
        auth_pb2.ConfirmMfaRequest(code=pyotp.TOTP(enrol.secret).now()),
        metadata=md(pending.access_token),
    )
    # Enrolled: a refresh gives the role's permissions back.
    enrolled = await fleet.refresh(pending.refresh_token)
    assert not enrolled.mfa_enrolment_required
    await fleet.users.ListBranches(list_branches, metadata=md(enrolled.access_token))
    # The admin who is required to enrol is not locked out either.
    admin_pair = await fleet.login(inst.admin.email, PASSWORD)
    assert admin_pair.mfa_enrolment_required
    await fleet.auth.EnrollMfa(auth_pb2.EnrollMfaRequest(), metadata=md(admin_pair.access_token))
