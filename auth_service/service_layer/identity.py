"""Logging in and out: login, refresh, logout, the caller's sessions, login history.

Concurrency:
- account lockout counters live on the user document and are written with
  compare-and-set on `version`; a login that loses the race re-runs on a fresh copy, so
  concurrent wrong passwords are all counted and a TOTP code or recovery code is accepted
  once even by two simultaneous logins;
- a refresh rotates the session's token with compare-and-set on the session's `version`:
  of two refreshes presenting the same token only one can win; the loser re-reads the
  session, finds its token spent, and the session is revoked as a token reuse.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass

from auth_service.domain.errors import (
    DomainError,
    NotFound,
    Reason,
    Unauthenticated,
    ValidationError,
)
from auth_service.domain.login_history import LoginAttempt, LoginOutcome, outcome_for_error
from auth_service.domain.sessions import (
    RevokeReason,
    Session,
    hash_refresh_token,
)
from auth_service.domain.users import AuthResult, StaffUser, normalise_email
from auth_service.service_layer.audit import AuditHandlers
from auth_service.service_layer.unit import MAX_ATTEMPTS, AuthUnit
from shared import context
from shared import errors as shared_errors
from shared.errors import Aborted, RateLimited
from shared.ids import new_id
from shared.logging import get_logger
from shared.permissions import Permission, can, can_manage_user, require
from shared.tokens import issue_access_token

log = get_logger(__name__)

TOKEN_TYPE = "Bearer"  # noqa: S105
#: The audit actions of `POST /v1/auth/logout` and `DELETE /v1/me/sessions/{session_id}`,
#: named as the gateway names every request's (`gateway/audit.py`, `action_of`).
LOGOUT_ACTION = "auth.logout"
REVOKE_SESSION_ACTION = "me.sessions"

_COUNTED_FAILURES = frozenset(
    {Reason.INVALID_CREDENTIALS, Reason.MFA_INVALID, Reason.ACCOUNT_LOCKED}
)
"""Failures that count towards the per-address throttle (guessing signals). A missing
second factor is a normal step of a two-step login; a disabled account had the right
password."""


@dataclass(frozen=True)
class Tokens:
    access_token: str
    refresh_token: str
    expires_in: int
    must_change_password: bool = False
    mfa_enrolment_required: bool = False
    """The access token grants nothing but enrolment (see `domain/policy.py`)."""
    token_type: str = TOKEN_TYPE


@dataclass(frozen=True)
class ClientInfo:
    address: str
    user_agent: str

    @classmethod
    def resolve(cls, address: str, user_agent: str, peer: str = "") -> ClientInfo:
        """The client as the gateway reported it, else the request metadata, else the gRPC
        peer (`ipv4:10.0.0.1:5000`)."""
        ctx = context.current()
        fallback = peer.split(":", 1)[1] if ":" in peer else peer
        return cls(
            address=(address or ctx.client_address or fallback or "unknown")[:100],
            user_agent=(user_agent or ctx.user_agent)[:512],
        )


class IdentityHandlers:
    def __init__(self, unit: AuthUnit) -> None:
        self.u = unit
        self.audit = AuditHandlers(unit)

    # login -----------------------------------------------------------------------------

    async def _record(
        self,
        email: str,
        user: StaffUser | None,
        client: ClientInfo,
        outcome: LoginOutcome,
        *,
        reason: str | None = None,
        session_id: str | None = None,
    ) -> None:
        attempt = LoginAttempt(
            id=new_id("la"),
            email=email,
            user_id=user.id
            if user is not None and outcome is not LoginOutcome.UNKNOWN_USER
            else None,
            institution_id=user.institution_id if user is not None else None,
            at=self.u.clock(),
            address=client.address,
            user_agent=client.user_agent,
            outcome=outcome,
            session_id=session_id,
        )
        await self.u.attempts.add(attempt, reason=reason)
        log.info(
            "login_attempt",
            outcome=outcome.value,
            user_id=attempt.user_id,
            address=client.address,
            reason=reason,
        )

    async def login(self, email: str, password: str, otp: str, client: ClientInfo) -> Tokens:
        email = normalise_email(email)
        fields = (("email", email), ("password", password))
        missing = [(name, "is required") for name, value in fields if not value]
        if missing:
            raise ValidationError("E-mail and password are required.", field_errors=missing)
        decision = await self.u.throttle.check(client.address)
        if not decision.allowed:
            await self._record(
                email, None, client, LoginOutcome.THROTTLED, reason=Reason.ADDRESS_THROTTLED
            )
            raise RateLimited(
                "Too many failed logins from this address; try again in "
                f"{decision.retry_after_seconds} seconds.",
                retry_after_seconds=decision.retry_after_seconds,
                reason=Reason.ADDRESS_THROTTLED,
            )
        user, result = await self._authenticate(email, password, otp, client)
        return await self._start_session(email, user, result, client)

    async def _authenticate(
        self, email: str, password: str, otp: str, client: ClientInfo
    ) -> tuple[StaffUser, AuthResult]:
        for _ in range(MAX_ATTEMPTS):
            user = await self.u.users.by_email(email)
            if user is None:
                # Spend the time of a real check, then answer as for a wrong password.
                await asyncio.to_thread(self.u.hasher.dummy_verify, password)
                await self.u.throttle.record_failure(client.address)
                await self._record(
                    email,
                    None,
                    client,
                    LoginOutcome.UNKNOWN_USER,
                    reason=Reason.INVALID_CREDENTIALS,
                )
                raise Unauthenticated(
                    "The e-mail or password is wrong.", reason=Reason.INVALID_CREDENTIALS
                )
            policy = await self.u.policies.mfa_policy(user.institution_id)
            expected = user.version
            try:
                result = await asyncio.to_thread(
                    user.authenticate,
                    password,
                    now=self.u.clock(),
                    otp=otp or None,
                    mfa_policy=policy,
                    hasher=self.u.hasher,
                    lockout=self.u.lockout,
                )
            except DomainError as error:
                if user.version != expected and not await self.u.save_user(user, expected):
                    continue  # a concurrent login changed the counters: count again
                if error.reason in _COUNTED_FAILURES:
                    await self.u.throttle.record_failure(client.address)
                await self._record(
                    email, user, client, outcome_for_error(error), reason=error.reason
                )
                raise
            if result.password_needs_rehash:
                user.rehash_password(password, self.u.hasher)
            if await self.u.save_user(user, expected):
                return user, result
        raise Aborted("Too many concurrent logins for this account; retry.")

    async def _start_session(
        self, email: str, user: StaffUser, result: AuthResult, client: ClientInfo
    ) -> Tokens:
        session, refresh_token = Session.start(
            session_id=new_id("ses"),
            user_id=user.id,
            institution_id=user.institution_id,
            device=client.user_agent,
            address=client.address,
            now=self.u.clock(),
            user_token_version=user.token_version,
        )
        await self.u.sessions.insert(session)
        # A disable or password reset that listed the user's sessions just before this
        # insert would miss it: look again now that the session is visible.
        current = await self.u.users.get(user.id)
        if current is None or not current.is_active or current.token_version != user.token_version:
            await self.u.end_session(session.id, RevokeReason.USER_INVALIDATED)
            await self._record(email, user, client, LoginOutcome.DISABLED, reason="RACE_LOST")
            raise Unauthenticated(
                "This session has ended; log in again.", reason=Reason.SESSION_REVOKED
            )
        pending = result.mfa_enrolment_required
        issued = issue_access_token(
            self.u.keys.keyset, user.principal(session.id, mfa_enrolment_required=pending)
        )
        await self._record(email, user, client, LoginOutcome.SUCCESS, session_id=session.id)
        if pending:
            log.info("mfa_enrolment_required", user_id=user.id)
        return Tokens(
            access_token=issued.token,
            refresh_token=refresh_token,
            expires_in=issued.expires_in,
            must_change_password=result.must_change_password,
            mfa_enrolment_required=pending,
        )

    # refresh ---------------------------------------------------------------------------

    async def refresh(self, refresh_token: str, client: ClientInfo) -> Tokens:
        token = refresh_token.strip()
        if not token:
            raise Unauthenticated(
                "The refresh token is invalid.", reason=Reason.REFRESH_TOKEN_INVALID
            )
        token_hash = hash_refresh_token(token)
        for _ in range(MAX_ATTEMPTS):
            session = await self.u.sessions.by_token_hash(token_hash)
            if session is None:
                raise Unauthenticated(
                    "The refresh token is invalid.", reason=Reason.REFRESH_TOKEN_INVALID
                )
            user = await self.u.users.get(session.user_id)
            now = self.u.clock()
            expected = session.version
            if user is None or not user.is_active:
                await self.u.end_session(session.id, RevokeReason.USER_INVALIDATED)
                raise Unauthenticated("This account is disabled.", reason=Reason.ACCOUNT_DISABLED)
            try:
                new_token = session.rotate(token, now, user_token_version=user.token_version)
            except Unauthenticated as error:
                # The domain may have revoked the session (token reuse, or the user's
                # sessions were invalidated): persist that, then kill its access tokens.
                if session.version != expected and not await self.u.save_session(session, expected):
                    continue
                if session.is_revoked:
                    await self.u.revocations.revoke_sessions([session.id])
                    if error.reason == Reason.REFRESH_TOKEN_REUSED:
                        log.warning(
                            "refresh_token_reused",
                            session_id=session.id,
                            user_id=session.user_id,
                            address=client.address,
                        )
                raise
            if not await self.u.save_session(session, expected):
                continue  # a concurrent refresh won; this token is now spent
            # The policy is read again: switching it on reaches open sessions at their next
            # refresh, and a user who has just enrolled gets their permissions back.
            pending = user.must_enrol_mfa(await self.u.policies.mfa_policy(user.institution_id))
            issued = issue_access_token(
                self.u.keys.keyset,
                user.principal(session.id, mfa_enrolment_required=pending),
                now=now,
            )
            return Tokens(
                access_token=issued.token,
                refresh_token=new_token,
                expires_in=issued.expires_in,
                must_change_password=user.must_change_password,
                mfa_enrolment_required=pending,
            )
        raise Aborted("The session changed concurrently; retry.")

    # logout and sessions ---------------------------------------------------------------

    async def _audit_session_end(
        self, action: str, target_kind: str, target_id: str, summary: dict[str, str]
    ) -> None:
        """Record ending a session in the audit log, just before it ends: the gateway records
        a request after answering it, authenticated by the request's own token, which such a
        request has just revoked (`gateway/audit.py` leaves these requests to this service).
        The entry is named and targeted as the gateway would have done. A sign-out never
        fails for the audit log: a failed append is logged as the gateway logs its own."""
        try:
            await self.audit.append(
                action=action,
                target_kind=target_kind,
                target_id=target_id,
                request_id="",  # the call's
                summary_json=json.dumps(summary, sort_keys=True),
                institution_id="",  # the caller's chain
            )
        except shared_errors.DomainError as exc:
            log.error("audit_append_failed", action=action, reason=exc.reason, detail=str(exc))

    async def logout(self) -> None:
        p = context.principal()
        await self._audit_session_end(LOGOUT_ACTION, "auth", "", {"session_id": p.session_id or ""})
        await self.u.end_session(p.session_id, RevokeReason.LOGOUT)
        log.info("logged_out", session_id=p.session_id)

    async def list_sessions(self) -> tuple[list[Session], str]:
        """The caller's active sessions, newest first, and the current session's id."""
        p = context.principal()
        now = self.u.clock()
        sessions = [s for s in await self.u.sessions.open_sessions(p.user_id) if s.is_active(now)]
        return sessions, p.session_id

    async def revoke_session(self, session_id: str) -> None:
        """End one of the caller's sessions; an administrator may end a session of a user
        they manage. Anything else is NOT_FOUND."""
        p = context.principal()
        session = await self.u.sessions.get(session_id)
        not_found = NotFound(f"Session {session_id} not found.", reason=Reason.SESSION_NOT_FOUND)
        if session is None:
            raise not_found
        reason = RevokeReason.LOGOUT
        if session.user_id != p.user_id:
            owner = await self.u.users.get(session.user_id)
            if owner is None or not (
                can(p, Permission.SESSIONS_MANAGE)
                and can_manage_user(p, owner.role, owner.institution_id)
            ):
                raise not_found
            reason = RevokeReason.ADMIN
        summary = {"session_id": session.id, "user_id": session.user_id}
        await self._audit_session_end(REVOKE_SESSION_ACTION, "me", session.id, summary)
        await self.u.end_session(session.id, reason)

    # login history ---------------------------------------------------------------------

    async def login_history(self, size: int, token: str) -> tuple[list[LoginAttempt], str]:
        """Newest first. An institution's admins and auditors see its attempts; a platform
        admin (should its role be granted `login_history:read`) sees every attempt."""
        p = context.principal()
        require(p, Permission.LOGIN_HISTORY_READ)
        query = {} if p.is_platform_admin else {"institution_id": p.institution_id}
        return await self.u.attempts.page(query, size, token)
