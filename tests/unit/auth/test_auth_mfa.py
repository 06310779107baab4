"""TOTP enrolment, verification with replay prevention, recovery codes, the MFA policy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, unquote, urlparse

import pyotp
import pytest

from auth_service.domain.errors import Conflict, Unauthenticated
from auth_service.domain.mfa import (
    RECOVERY_CODE_COUNT,
    MfaPolicy,
    MfaState,
    hash_recovery_code,
    normalise_recovery_code,
)
from shared.permissions import Role

pytestmark = pytest.mark.unit

# Aligned on a 30-second step boundary, so offsets below are whole steps.
NOW = datetime(2026, 3, 31, 9, 0, 0, tzinfo=UTC)
STEP = timedelta(seconds=30)
EMAIL = "amina@kopa.example"


def enrolled() -> tuple[MfaState, pyotp.TOTP, list[str]]:
    state = MfaState()
    enrolment = state.begin_enrolment(EMAIL)
    totp = pyotp.TOTP(enrolment.secret)
    codes = state.confirm_enrolment(totp.at(NOW), NOW)
    return state, totp, codes


def test_enrolment_gives_a_random_secret_and_a_provisioning_uri() -> None:
    state = MfaState()
    enrolment = state.begin_enrolment(EMAIL)
    assert len(enrolment.secret) == 32 and set(enrolment.secret) <= set(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    )
    uri = urlparse(enrolment.provisioning_uri)
    assert (uri.scheme, uri.netloc) == ("otpauth", "totp")
    assert unquote(uri.path) == f"/Kopa:{EMAIL}"
    query = parse_qs(uri.query)
    assert query["secret"] == [enrolment.secret] and query["issuer"] == ["Kopa"]
    assert not state.enabled and state.secret is None
    assert MfaState().begin_enrolment(EMAIL).secret != enrolment.secret


def test_confirmation_needs_a_valid_first_code() -> None:
    state = MfaState()
    with pytest.raises(Conflict):
        state.confirm_enrolment("123456", NOW)  # nothing to confirm
    secret = state.begin_enrolment(EMAIL).secret
    totp = pyotp.TOTP(secret)
    wrong = f"{(int(totp.at(NOW)) + 1) % 1_000_000:06d}"
    with pytest.raises(Unauthenticated) as info:
        state.confirm_enrolment(wrong, NOW)
    assert info.value.reason == "MFA_INVALID" and not state.enabled
    codes = state.confirm_enrolment(totp.at(NOW), NOW)
    assert state.enabled and state.secret == secret and state.pending_secret is None
    assert len(codes) == RECOVERY_CODE_COUNT == 10 and len(set(codes)) == 10
    with pytest.raises(Conflict):
        state.begin_enrolment(EMAIL)


def test_codes_verify_within_one_step_either_side() -> None:
    state, totp, _ = enrolled()
    t = NOW + 10 * STEP
    state.verify_code(totp.at(t - STEP), t)  # a slow phone
    state.verify_code(totp.at(t + STEP), t)  # a fast phone
    with pytest.raises(Unauthenticated):
        state.verify_code(totp.at(t + 3 * STEP), t)  # too far
    with pytest.raises(Unauthenticated):
        state.verify_code("12345", t)
    with pytest.raises(Unauthenticated):
        state.verify_code("abcdef", t)


def test_a_code_is_accepted_only_once() -> None:
    state, totp, _ = enrolled()
    t = NOW + 10 * STEP
    code = totp.at(t)
    state.verify_code(code, t)
    with pytest.raises(Unauthenticated) as info:
        state.verify_code(code, t + timedelta(seconds=5))
    assert info.value.reason == "MFA_INVALID" and "already been used" in info.value.message
    # An older code still inside the window is refused too.
    with pytest.raises(Unauthenticated):
        state.verify_code(totp.at(t - STEP), t)
    # The next step's code works.
    state.verify_code(totp.at(t + STEP), t + STEP)
    assert state.last_used_step == totp.timecode(t + STEP)


def test_the_confirmation_code_cannot_be_replayed_at_login() -> None:
    state, totp, _ = enrolled()
    with pytest.raises(Unauthenticated):
        state.verify_code(totp.at(NOW), NOW + timedelta(seconds=10))


def test_recovery_codes_are_single_use_and_stored_hashed() -> None:
    state, _, codes = enrolled()
    assert not any(normalise_recovery_code(c) in "".join(state.recovery_code_hashes) for c in codes)
    assert all(h.startswith("sha256$") for h in state.recovery_code_hashes)
    assert state.use_recovery_code(codes[3]) == 9
    with pytest.raises(Unauthenticated) as info:
        state.use_recovery_code(codes[3])
    assert info.value.reason == "MFA_INVALID"
    # Typed sloppily (upper case, spaces instead of the dash) still works.
    assert state.use_recovery_code(" " + codes[0].upper().replace("-", " ") + " ") == 8
    with pytest.raises(Unauthenticated):
        state.use_recovery_code("aaaaa-aaaaa")
    assert state.recovery_codes_left == 8


def test_regenerating_recovery_codes_invalidates_the_old_ones() -> None:
    state, _, old = enrolled()
    new = state.regenerate_recovery_codes()
    with pytest.raises(Unauthenticated):
        state.use_recovery_code(old[0])
    state.use_recovery_code(new[0])


def test_recovery_code_hash_is_salted() -> None:
    assert hash_recovery_code("abcde-fghij") != hash_recovery_code("abcde-fghij")


def test_disable_forgets_everything() -> None:
    state, totp, codes = enrolled()
    state.disable()
    assert (state.enabled, state.secret, state.recovery_code_hashes) == (False, None, [])
    with pytest.raises(Conflict):
        state.verify_code(totp.at(NOW), NOW)
    with pytest.raises(Conflict):
        state.use_recovery_code(codes[0])


def test_policy() -> None:
    policy = MfaPolicy.of(["admin", Role.BRANCH_MANAGER])
    assert policy.is_required("admin") and policy.is_required(Role.BRANCH_MANAGER)
    assert not policy.is_required(Role.AGENT)
    assert not MfaPolicy().is_required(Role.ADMIN)
    with pytest.raises(ValueError):
        MfaPolicy.of(["wizard"])
