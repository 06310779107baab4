"""Service principals: the internal credential, what a service token may do, and that the
gateway's verifier refuses it while the services' accept it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from auth_service.domain.errors import PermissionDenied, Unauthenticated, ValidationError
from auth_service.domain.passwords import Argon2Parameters, PasswordHasher
from auth_service.domain.service_identity import (
    SERVICE_TOKEN_TTL,
    check_service_credential,
    service_principal,
)
from auth_service.domain.users import StaffUser
from shared.auth import TokenAuthenticator
from shared.errors import Unauthenticated as SharedUnauthenticated
from shared.permissions import (
    INSTITUTION_ROLES,
    Permission,
    Principal,
    Role,
    can,
    can_manage_user,
)
from shared.tokens import KeySet, issue_access_token, verify_access_token

pytestmark = pytest.mark.unit

NOW = datetime(2026, 3, 31, 9, 0, tzinfo=UTC)
SECRET = "s3rvice-secret-0123456789-abcdefghij"
PAYMENT = service_principal("payment_service", "inst-1", "svc-1")
NOTIFICATION = service_principal("notification_service", "inst-1", "svc-2")


def test_the_right_credential_passes() -> None:
    check_service_credential(SECRET, SECRET)


@pytest.mark.parametrize("presented", ["", "wrong", SECRET[:-1], SECRET + "x", SECRET.upper()])
def test_any_other_credential_is_refused(presented: str) -> None:
    with pytest.raises(Unauthenticated) as info:
        check_service_credential(presented, SECRET)
    assert info.value.reason == "SERVICE_CREDENTIAL_INVALID"


@pytest.mark.parametrize("configured", [None, ""])
def test_without_a_configured_credential_nothing_passes(configured: str | None) -> None:
    with pytest.raises(Unauthenticated) as info:
        check_service_credential("", configured)
    assert info.value.reason == "SERVICE_CREDENTIALS_NOT_CONFIGURED"


def test_a_service_principal_names_a_known_service_and_one_institution() -> None:
    assert (PAYMENT.user_id, PAYMENT.role, PAYMENT.institution_id) == (
        "svc:payment_service",
        Role.SERVICE,
        "inst-1",
    )
    assert PAYMENT.branch_id is None and PAYMENT.is_service
    assert (NOTIFICATION.user_id, NOTIFICATION.role) == ("svc:notification_service", Role.SERVICE)
    with pytest.raises(ValidationError) as info:
        service_principal("loan_service", "", "svc-2")
    assert [f for f, _ in info.value.field_errors] == ["service", "institution_id"]


def test_a_service_token_may_do_what_payment_and_notification_need_and_nothing_else() -> None:
    # Loans and repayments for payment_service's matched receipts; borrowers, staff, the
    # institution and the close of business for notification_service's reminders, alerts and
    # clock.
    for service in (PAYMENT, NOTIFICATION):
        allowed = {p for p in Permission if can(service, p)}
        assert allowed == {
            Permission.LOANS_READ,
            Permission.REPAYMENTS_CREATE,
            Permission.BORROWERS_READ,
            Permission.USERS_READ,
            Permission.INSTITUTIONS_READ,
            Permission.JOBS_RUN,
        }


def test_a_service_principal_cannot_create_users() -> None:
    with pytest.raises(PermissionDenied):
        StaffUser.create(
            user_id="u-1",
            email="intruder@kopa.example",
            full_name="Intruder",
            role=Role.AGENT,
            password="Tamarind-Sky-42",
            institution_id="inst-1",
            branch_id="br-1",
            created_by=PAYMENT,
            now=NOW,
            hasher=PasswordHasher(Argon2Parameters(time_cost=1, memory_cost=8)),
        )
    assert not any(can_manage_user(PAYMENT, role, "inst-1") for role in Role)


def test_nobody_creates_a_service_principal_nor_names_it_in_a_policy() -> None:
    admin = Principal("admin-1", Role.ADMIN, "inst-1", None, "s-admin")
    assert not can_manage_user(admin, Role.SERVICE, "inst-1")
    assert Role.SERVICE not in INSTITUTION_ROLES


def test_a_service_token_stays_in_its_institution() -> None:
    assert PAYMENT.can_access("inst-1", "any-branch")
    assert not PAYMENT.can_access("inst-2")
    assert not PAYMENT.can_access(None)


class _NoRevocations:
    async def exists(self, *keys: str) -> int:
        return 0


async def test_the_gateway_refuses_service_tokens_and_services_accept_them() -> None:
    keys = KeySet.generate()
    token = issue_access_token(keys, PAYMENT, ttl=SERVICE_TOKEN_TTL).token
    assert verify_access_token(token, keys).role is Role.SERVICE

    async def jwks() -> dict[str, Any]:
        return keys.jwks()

    service_side = TokenAuthenticator(jwks, _NoRevocations())  # type: ignore[arg-type]
    assert (await service_side(token)) == PAYMENT
    gateway_side = TokenAuthenticator(
        jwks,
        _NoRevocations(),  # type: ignore[arg-type]
        accept_service_tokens=False,
    )
    with pytest.raises(SharedUnauthenticated) as info:
        await gateway_side(token)
    assert info.value.reason == "SERVICE_TOKEN_REFUSED"
    staff = issue_access_token(keys, Principal("u-1", Role.ADMIN, "inst-1", None, "s-1"))
    assert (await gateway_side(staff.token)).role is Role.ADMIN
