"""An institution's security policy: which staff roles must use a second factor."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from auth_service.domain.errors import ValidationError
from auth_service.domain.policy import SecurityPolicy
from shared.permissions import Role

pytestmark = pytest.mark.unit

NOW = datetime(2026, 3, 31, 9, 0, tzinfo=UTC)


def test_a_policy_names_staff_roles_once_each() -> None:
    policy = SecurityPolicy.decide(
        "inst-1", ["branch_manager", "admin", "admin"], by="usr-1", now=NOW
    )
    assert policy.mfa_required_roles == ["admin", "branch_manager"]
    assert policy.mfa.is_required(Role.ADMIN) and not policy.mfa.is_required(Role.AGENT)
    assert (policy.institution_id, policy.updated_by, policy.updated_at) == ("inst-1", "usr-1", NOW)
    assert SecurityPolicy.decide("inst-1", [], by="usr-1", now=NOW).mfa_required_roles == []


def test_a_policy_refuses_roles_an_institution_has_no_staff_of() -> None:
    with pytest.raises(ValidationError) as info:
        SecurityPolicy.decide(
            "inst-1", ["admin", "platform_admin", "wizard", "Admin"], by="usr-1", now=NOW
        )
    assert [field for field, _ in info.value.field_errors] == [
        "mfa_required_roles[1]",
        "mfa_required_roles[2]",
        "mfa_required_roles[3]",
    ]
    assert "branch_manager" in info.value.field_errors[0][1]  # says what is allowed


def test_no_policy_requires_nothing() -> None:
    assert SecurityPolicy("inst-1").mfa_required_roles == []
