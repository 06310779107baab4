"""What every auth use case works with, and the writes they share.

`AuthUnit` holds the adapters. Its helpers are the only ways a user or a session changes:

- `update_user` loads a user, applies a domain change and writes it back with
  compare-and-set on `version` (with the events the change recorded, in the same write),
  reloading and re-applying when a concurrent write got there first; the events are then
  handed to the outbox relay (see `adapters/repository.py`);
- `end_sessions` revokes sessions in MongoDB and marks them revoked in Redis, so their
  outstanding access tokens are refused at once by every verifier.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from auth_service.adapters.audit_store import AuditStore
from auth_service.adapters.directory import Directory
from auth_service.adapters.keys import KeyRing
from auth_service.adapters.redis_store import LoginThrottle, Revocations
from auth_service.adapters.repository import (
    USER_EVENTS,
    LoginAttemptRepository,
    PolicyRepository,
    SessionRepository,
    UserRepository,
)
from auth_service.domain.errors import NotFound, Reason
from auth_service.domain.lockout import DEFAULT_LOCKOUT, LockoutPolicy
from auth_service.domain.passwords import PasswordHasher, default_hasher
from auth_service.domain.sessions import Session
from auth_service.domain.users import StaffUser, UserEvent
from auth_service.entrypoints.mapping import user_to_proto
from kopa.auth.v1 import events_pb2
from shared.errors import Aborted
from shared.events import event_meta
from shared.logging import get_logger
from shared.permissions import Principal, Role

log = get_logger(__name__)

T = TypeVar("T")

MAX_ATTEMPTS = 8
"""Compare-and-set retries before giving up with ABORTED (only under heavy contention)."""


def utcnow() -> datetime:
    return datetime.now(UTC)


def _no_notify(collection: str, doc_id: Any) -> None:
    return None


@dataclass
class AuthUnit:
    users: UserRepository
    sessions: SessionRepository
    attempts: LoginAttemptRepository
    policies: PolicyRepository
    audit: AuditStore
    keys: KeyRing
    revocations: Revocations
    throttle: LoginThrottle
    directory: Directory
    notify: Callable[[str, Any], None] = _no_notify
    """`OutboxRelay.notify`: publish a just-written document's events promptly."""
    hasher: PasswordHasher = field(default_factory=default_hasher)
    lockout: LockoutPolicy = DEFAULT_LOCKOUT
    clock: Callable[[], datetime] = utcnow

    # users -----------------------------------------------------------------------------

    def event_messages(self, user: StaffUser, events: list[UserEvent]) -> list[Any]:
        snapshot = user_to_proto(user)
        return [
            events_pb2.UserEvent(
                meta=event_meta(
                    event.name,
                    institution_id=event.institution_id or "",
                    branch_id=user.branch_id or "",
                    aggregate_id=user.id,
                    aggregate_version=user.version,
                ),
                user=snapshot,
            )
            for event in events
        ]

    async def save_user(self, user: StaffUser, expected_version: int) -> bool:
        """Compare-and-set write of the user with the events it recorded. On a lost race
        the events stay unpublished and the caller redoes the change on a fresh copy."""
        events = user.pull_events()
        saved = await self.users.save(user, expected_version, self.event_messages(user, events))
        if saved and events:
            await self.forward_events(user.id)
        return saved

    async def insert_user(self, user: StaffUser, *, create_key: str | None = None) -> None:
        events = user.pull_events()
        await self.users.insert(user, self.event_messages(user, events), create_key=create_key)
        await self.forward_events(user.id)

    async def forward_events(self, user_id: str) -> None:
        for event_id in await self.users.forward_events(user_id):
            self.notify(USER_EVENTS, event_id)

    async def forward_pending_events(self) -> int:
        """The sweep: forward events that a crash (or lost clean-up race) left on users."""
        ids = await self.users.with_pending_events()
        for user_id in ids:
            await self.forward_events(user_id)
        return len(ids)

    async def update_user(
        self,
        user_id: str,
        change: Callable[[StaffUser], T],
        *,
        check: Callable[[StaffUser], None] | None = None,
        blocking: bool = False,
    ) -> tuple[StaffUser, T]:
        """Load, `check` (e.g. visibility), `change`, compare-and-set; retried on a lost
        race. `blocking`: run `change` in a thread (it hashes a password)."""
        for _ in range(MAX_ATTEMPTS):
            user = await self.users.get(user_id)
            if user is None:
                raise user_not_found(user_id)
            if check is not None:
                check(user)
            expected = user.version
            result = await asyncio.to_thread(change, user) if blocking else change(user)
            if await self.save_user(user, expected):
                return user, result
        raise Aborted("The user changed concurrently; retry.", reason="CONCURRENT_MODIFICATION")

    # sessions --------------------------------------------------------------------------

    async def end_sessions(
        self, user_id: str, reason: str, *, keep: str | None = None
    ) -> list[str]:
        """Revoke every open session of the user (but `keep`): MongoDB, then Redis."""
        ids = [s.id for s in await self.sessions.open_sessions(user_id) if s.id != keep]
        for session_id in ids:
            await self._revoke_in_store(session_id, reason)
        await self.revocations.revoke_sessions(ids)
        if ids:
            log.info("sessions_revoked", user_id=user_id, count=len(ids), reason=reason)
        return ids

    async def end_session(self, session_id: str, reason: str) -> None:
        """Revoke one session (idempotent). The Redis mark is set even when MongoDB already
        had the session revoked, so a retry repairs a mark that failed to be written."""
        await self._revoke_in_store(session_id, reason)
        await self.revocations.revoke_sessions([session_id])

    async def _revoke_in_store(self, session_id: str, reason: str) -> None:
        for _ in range(MAX_ATTEMPTS):
            session = await self.sessions.get(session_id)
            if session is None or session.is_revoked:
                return
            expected = session.version
            session.revoke(self.clock(), reason)
            if await self.sessions.save(session, expected):
                return
        raise Aborted("The session changed concurrently; retry.", reason="CONCURRENT_MODIFICATION")

    async def save_session(self, session: Session, expected_version: int) -> bool:
        return await self.sessions.save(session, expected_version)


def user_not_found(user_id: str) -> NotFound:
    return NotFound(f"User {user_id} not found.", reason=Reason.USER_NOT_FOUND)


def visible_to(principal: Principal, user: StaffUser) -> bool:
    """Whether the caller may know this user exists. Members of an institution see its
    staff (agents and branch managers: their branch's staff and the institution-wide
    roles); the platform admin sees the admins of every institution (and platform admins).
    Anything else answers NOT_FOUND, so other institutions' users do not leak."""
    if principal.user_id == user.id:
        return True
    if principal.is_platform_admin:
        return user.role in (Role.ADMIN, Role.PLATFORM_ADMIN)
    return principal.can_access(user.institution_id, user.branch_id)


def require_visible(principal: Principal) -> Callable[[StaffUser], None]:
    def check(user: StaffUser) -> None:
        if not visible_to(principal, user):
            raise user_not_found(user.id)

    return check
