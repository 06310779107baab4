"""Login sessions and their refresh tokens (rotation with reuse detection).

A session is one login on one device. It holds a *family* of refresh tokens: opaque random
strings (`secrets.token_urlsafe(32)`, 256 bits) of which only the SHA-256 is stored. Every
refresh rotates: presenting the current token returns a new one and the old one is spent.
Presenting a spent token means two parties hold the family (a stolen token, or a client
replaying), so the whole session is revoked: the thief and the user both have to log in
again, and every access token of the session is refused once the caller marks its `sid`
revoked (see `shared.tokens.revoked_session_key`).

Lifetimes: a session lasts at most `SESSION_ABSOLUTE_LIFETIME` (7 days) from login and
ends after `SESSION_IDLE_TIMEOUT` (24 hours) without a refresh.

The adapter stores a session as one document and finds it by the hash of a presented token
(`hash_refresh_token`, indexed over `refresh_token_hash` and `used_refresh_token_hashes`);
it must write with compare-and-set on `version`, so two concurrent refreshes of the same
token cannot both succeed.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final

from auth_service.domain.errors import Reason, Unauthenticated

__all__ = [
    "MAX_REMEMBERED_TOKENS",
    "SESSION_ABSOLUTE_LIFETIME",
    "SESSION_IDLE_TIMEOUT",
    "RevokeReason",
    "Session",
    "SessionEvent",
    "hash_refresh_token",
    "new_refresh_token",
]

SESSION_IDLE_TIMEOUT: Final = timedelta(hours=24)
SESSION_ABSOLUTE_LIFETIME: Final = timedelta(days=7)
MAX_REMEMBERED_TOKENS: Final = 1_000
"""Spent token hashes kept for reuse detection (a week of 15-minute refreshes is 672)."""


def new_refresh_token() -> str:
    return secrets.token_urlsafe(32)


def hash_refresh_token(token: str) -> str:
    """Hex SHA-256 of the token: what is stored and looked up (the token is 256 random
    bits, so a fast unsalted hash is enough)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class SessionEvent:
    name: str
    session_id: str
    user_id: str
    at: datetime
    reason: str | None = None


class RevokeReason:
    LOGOUT: Final = "logout"
    REFRESH_TOKEN_REUSED: Final = "refresh_token_reused"  # noqa: S105
    USER_INVALIDATED: Final = "user_sessions_invalidated"
    """The user's token version moved on: password changed or reset, disabled, or an
    admin ended all their sessions."""
    ADMIN: Final = "revoked_by_admin"


def _unauthenticated(reason: str, message: str) -> Unauthenticated:
    return Unauthenticated(message, reason=reason)


@dataclass
class Session:
    id: str
    user_id: str
    institution_id: str | None
    device: str
    address: str
    created_at: datetime
    last_used_at: datetime
    expires_at: datetime
    refresh_token_hash: str
    user_token_version: int = 0
    used_refresh_token_hashes: list[str] = field(default_factory=list)
    revoked_at: datetime | None = None
    revoked_reason: str | None = None
    version: int = 0
    """Incremented on every change: the adapter's compare-and-set guard."""
    events: list[SessionEvent] = field(default_factory=list, repr=False, compare=False)

    @classmethod
    def start(
        cls,
        *,
        session_id: str,
        user_id: str,
        institution_id: str | None,
        device: str,
        address: str,
        now: datetime,
        user_token_version: int = 0,
    ) -> tuple[Session, str]:
        """A new session and its first refresh token (returned in clear, stored hashed)."""
        token = new_refresh_token()
        session = cls(
            id=session_id,
            user_id=user_id,
            institution_id=institution_id,
            device=device[:512],
            address=address,
            created_at=now,
            last_used_at=now,
            expires_at=now + SESSION_ABSOLUTE_LIFETIME,
            refresh_token_hash=hash_refresh_token(token),
            user_token_version=user_token_version,
        )
        session.events.append(SessionEvent("session.started", session_id, user_id, now))
        return session, token

    # state ---------------------------------------------------------------------------

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    def is_active(self, now: datetime) -> bool:
        return (
            self.revoked_at is None
            and now < self.expires_at
            and now < self.last_used_at + SESSION_IDLE_TIMEOUT
        )

    def owns(self, token_hash: str) -> bool:
        """Whether a token (by hash) belongs to this session's family, spent or not."""
        return hmac.compare_digest(token_hash, self.refresh_token_hash) or any(
            hmac.compare_digest(token_hash, h) for h in self.used_refresh_token_hashes
        )

    @property
    def all_refresh_token_hashes(self) -> list[str]:
        return [self.refresh_token_hash, *self.used_refresh_token_hashes]

    # transitions ---------------------------------------------------------------------

    def rotate(self, presented_token: str, now: datetime, *, user_token_version: int) -> str:
        """Spend the presented refresh token and return the next one.

        Raises `Unauthenticated` with reason
        - `REFRESH_TOKEN_REUSED` for an already spent token of this family: the session is
          revoked (check `is_revoked` and persist it, then mark the `sid` revoked);
        - `SESSION_REVOKED` if the session was ended (logout, reuse, disabled user) or the
          user's token version moved on (password changed, sessions ended by an admin);
        - `SESSION_EXPIRED` after the idle timeout or the absolute lifetime;
        - `REFRESH_TOKEN_INVALID` for a token that is not of this family.
        """
        presented = hash_refresh_token(presented_token)
        if self.revoked_at is not None:
            raise _unauthenticated(Reason.SESSION_REVOKED, "This session has ended; log in again.")
        if any(hmac.compare_digest(presented, h) for h in self.used_refresh_token_hashes):
            self.revoke(now, RevokeReason.REFRESH_TOKEN_REUSED)
            raise _unauthenticated(
                Reason.REFRESH_TOKEN_REUSED,
                "This refresh token was already used; the session has been ended. Log in again.",
            )
        if not hmac.compare_digest(presented, self.refresh_token_hash):
            raise _unauthenticated(Reason.REFRESH_TOKEN_INVALID, "The refresh token is invalid.")
        if user_token_version != self.user_token_version:
            self.revoke(now, RevokeReason.USER_INVALIDATED)
            raise _unauthenticated(Reason.SESSION_REVOKED, "This session has ended; log in again.")
        if not self.is_active(now):
            raise _unauthenticated(
                Reason.SESSION_EXPIRED, "This session has expired; log in again."
            )
        token = new_refresh_token()
        self.used_refresh_token_hashes.append(self.refresh_token_hash)
        del self.used_refresh_token_hashes[:-MAX_REMEMBERED_TOKENS]
        self.refresh_token_hash = hash_refresh_token(token)
        self.last_used_at = now
        self.version += 1
        self.events.append(SessionEvent("session.refreshed", self.id, self.user_id, now))
        return token

    def touch(self, now: datetime) -> None:
        self.last_used_at = max(self.last_used_at, now)
        self.version += 1

    def revoke(self, now: datetime, reason: str = RevokeReason.LOGOUT) -> bool:
        """End the session. Returns False if it had already ended (idempotent)."""
        if self.revoked_at is not None:
            return False
        self.revoked_at = now
        self.revoked_reason = reason
        self.version += 1
        self.events.append(SessionEvent("session.revoked", self.id, self.user_id, now, reason))
        return True

    def pull_events(self) -> list[SessionEvent]:
        events, self.events = self.events, []
        return events
