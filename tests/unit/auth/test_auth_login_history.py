"""Login attempt records."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from auth_service.domain.errors import Reason, Unauthenticated
from auth_service.domain.login_history import LoginAttempt, LoginOutcome, outcome_for_error

pytestmark = pytest.mark.unit

NOW = datetime(2026, 3, 31, 9, 0, tzinfo=UTC)


def attempt(outcome: LoginOutcome, user_id: str | None = "u-1") -> LoginAttempt:
    return LoginAttempt(
        id="a-1",
        email=" Amina@Kopa.Example ",
        user_id=user_id,
        institution_id="inst-1",
        at=NOW,
        address="10.0.0.7",
        user_agent="curl/8",
        outcome=outcome,
    )


def test_outcomes_are_the_documented_strings() -> None:
    assert {o.value for o in LoginOutcome} >= {
        "success",
        "bad_password",
        "unknown_user",
        "locked",
        "disabled",
        "mfa_required",
        "mfa_invalid",
    }


@pytest.mark.parametrize(
    ("reason", "outcome"),
    [
        (Reason.INVALID_CREDENTIALS, LoginOutcome.BAD_PASSWORD),
        (Reason.ACCOUNT_LOCKED, LoginOutcome.LOCKED),
        (Reason.ACCOUNT_DISABLED, LoginOutcome.DISABLED),
        (Reason.MFA_REQUIRED, LoginOutcome.MFA_REQUIRED),
        (Reason.MFA_INVALID, LoginOutcome.MFA_INVALID),
        (Reason.ADDRESS_THROTTLED, LoginOutcome.THROTTLED),
    ],
)
def test_outcome_for_error(reason: str, outcome: LoginOutcome) -> None:
    assert outcome_for_error(Unauthenticated("x", reason=reason)) is outcome
    assert outcome_for_error(Unauthenticated("x", reason=reason), user_known=False) is (
        LoginOutcome.UNKNOWN_USER
    )


def test_record_normalises_and_checks() -> None:
    record = attempt(LoginOutcome.SUCCESS)
    assert record.email == "amina@kopa.example" and record.succeeded
    assert not attempt(LoginOutcome.UNKNOWN_USER, user_id=None).succeeded
    with pytest.raises(ValueError):
        attempt(LoginOutcome.UNKNOWN_USER, user_id="u-1")
    with pytest.raises(ValueError):
        attempt(LoginOutcome.SUCCESS, user_id=None)
