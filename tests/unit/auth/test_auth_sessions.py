"""Sessions: refresh-token rotation, reuse detection, lifetimes."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest

from auth_service.domain.errors import Unauthenticated
from auth_service.domain.sessions import (
    SESSION_ABSOLUTE_LIFETIME,
    SESSION_IDLE_TIMEOUT,
    RevokeReason,
    Session,
    hash_refresh_token,
)

pytestmark = pytest.mark.unit

NOW = datetime(2026, 3, 31, 9, 0, tzinfo=UTC)


def start() -> tuple[Session, str]:
    return Session.start(
        session_id="sess-1",
        user_id="u-1",
        institution_id="inst-1",
        device="Mozilla/5.0 (Android 14)",
        address="10.0.0.7",
        now=NOW,
    )


def refresh_reason(session: Session, token: str, now: datetime, version: int = 0) -> str:
    with pytest.raises(Unauthenticated) as info:
        session.rotate(token, now, user_token_version=version)
    return info.value.reason


def test_refresh_token_is_random_and_stored_hashed() -> None:
    session, token = start()
    assert len(token) >= 43  # 32 random bytes, base64url
    assert token not in repr(session.__dict__)
    assert session.refresh_token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert session.owns(hash_refresh_token(token))
    assert start()[1] != token


def test_rotation_yields_a_new_token_and_spends_the_old_one() -> None:
    session, first = start()
    later = NOW + timedelta(minutes=15)
    second = session.rotate(first, later, user_token_version=0)
    assert second != first
    assert session.last_used_at == later
    assert session.refresh_token_hash == hash_refresh_token(second)
    assert session.used_refresh_token_hashes == [hash_refresh_token(first)]
    third = session.rotate(second, later + timedelta(minutes=15), user_token_version=0)
    assert session.owns(hash_refresh_token(first)) and session.owns(hash_refresh_token(third))
    assert not session.is_revoked


def test_reusing_a_spent_token_revokes_the_whole_session() -> None:
    session, first = start()
    second = session.rotate(first, NOW, user_token_version=0)  # the legitimate client
    # Somebody replays the first token (stolen, or a confused client).
    assert refresh_reason(session, first, NOW + timedelta(minutes=1)) == "REFRESH_TOKEN_REUSED"
    assert session.is_revoked and session.revoked_reason == RevokeReason.REFRESH_TOKEN_REUSED
    assert session.revoked_at == NOW + timedelta(minutes=1)
    # ... and the current token of the family is dead too.
    assert refresh_reason(session, second, NOW + timedelta(minutes=2)) == "SESSION_REVOKED"
    names = [e.name for e in session.pull_events()]
    assert names == ["session.started", "session.refreshed", "session.revoked"]


def test_a_token_of_another_family_is_invalid_and_harmless() -> None:
    session, token = start()
    _, stranger = start()
    assert refresh_reason(session, stranger, NOW) == "REFRESH_TOKEN_INVALID"
    assert not session.is_revoked
    session.rotate(token, NOW, user_token_version=0)


def test_idle_timeout_and_absolute_lifetime() -> None:
    session, token = start()
    idle = NOW + SESSION_IDLE_TIMEOUT
    assert refresh_reason(session, token, idle) == "SESSION_EXPIRED"
    # Kept alive by refreshes, it still ends after the absolute lifetime.
    t = NOW
    while t + timedelta(hours=23) < NOW + SESSION_ABSOLUTE_LIFETIME:
        t += timedelta(hours=23)
        token = session.rotate(token, t, user_token_version=0)
    assert refresh_reason(session, token, NOW + SESSION_ABSOLUTE_LIFETIME) == "SESSION_EXPIRED"


def test_a_moved_token_version_ends_the_session() -> None:
    session, token = start()
    assert refresh_reason(session, token, NOW, version=1) == "SESSION_REVOKED"
    assert session.revoked_reason == RevokeReason.USER_INVALIDATED


def test_logout_is_idempotent_and_final() -> None:
    session, token = start()
    assert session.revoke(NOW)
    assert not session.revoke(NOW + timedelta(minutes=1))
    assert session.revoked_at == NOW and session.revoked_reason == "logout"
    assert refresh_reason(session, token, NOW) == "SESSION_REVOKED"
    assert not session.is_active(NOW)


def test_version_moves_on_every_change() -> None:
    session, token = start()
    v0 = session.version
    token = session.rotate(token, NOW, user_token_version=0)
    assert session.version == v0 + 1
    session.revoke(NOW)
    assert session.version == v0 + 2
