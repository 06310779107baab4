"""Staff accounts: the caller's own account (password, MFA) and user administration.

Who may do what comes from the domain (`StaffUser.create`, `disable`, ...), which applies
`shared.permissions`; this layer adds the data scope (another institution's user is
NOT_FOUND), the checks that need I/O (the branch and institution exist, via user_service)
and the revocation of sessions when an account's credentials or status change.
"""

from __future__ import annotations

import asyncio

from auth_service.domain.errors import AlreadyExists, Reason, Unauthenticated, ValidationError
from auth_service.domain.sessions import RevokeReason
from auth_service.domain.users import StaffUser, normalise_email
from auth_service.service_layer.unit import (
    MAX_ATTEMPTS,
    AuthUnit,
    require_visible,
    user_not_found,
)
from shared import context
from shared.errors import Aborted
from shared.ids import new_id
from shared.logging import get_logger
from shared.permissions import BRANCH_SCOPED_ROLES, Permission, Role, require

log = get_logger(__name__)

BOOTSTRAP_CREATE_KEY = "bootstrap:platform_admin"


class StaffHandlers:
    def __init__(self, unit: AuthUnit) -> None:
        self.u = unit

    # the caller's own account --------------------------------------------------------

    async def get_me(self) -> StaffUser:
        p = context.principal()
        user = await self.u.users.get(p.user_id)
        if user is None:
            raise user_not_found(p.user_id)
        return user

    async def change_password(self, current_password: str, new_password: str) -> None:
        """Change one's own password. The caller's session stays; every other session of
        the user ends at once."""
        p = context.principal()

        def change(user: StaffUser) -> None:
            try:
                user.change_password(current_password, new_password, self.u.clock(), self.u.hasher)
            except Unauthenticated as error:
                # A wrong current password is a mistake in the form, not a lost session.
                raise ValidationError(
                    error.message,
                    reason=error.reason,
                    field_errors=[("current_password", error.message)],
                ) from None

        user, _ = await self.u.update_user(p.user_id, change, blocking=True)
        await self.u.end_sessions(user.id, RevokeReason.USER_INVALIDATED, keep=p.session_id)
        await self._carry_session(p.session_id, user.token_version)
        log.info("password_changed", user_id=user.id)

    async def _carry_session(self, session_id: str, token_version: int) -> None:
        """Move the caller's own session onto the user's new token version, so it keeps
        refreshing after a password change or an MFA enrolment."""
        for _ in range(MAX_ATTEMPTS):
            session = await self.u.sessions.get(session_id)
            if session is None or session.is_revoked:
                return
            expected = session.version
            session.user_token_version = token_version
            session.version += 1
            if await self.u.save_session(session, expected):
                return
        raise Aborted("The session changed concurrently; retry.")

    async def enroll_mfa(self) -> tuple[str, str]:
        """(secret, otpauth URI). The factor is on only after `confirm_mfa`."""
        p = context.principal()
        _, (secret, uri) = await self.u.update_user(
            p.user_id, lambda user: user.begin_mfa_enrolment()
        )
        return secret, uri

    async def confirm_mfa(self, code: str) -> list[str]:
        """Turn TOTP on with a first valid code; returns the recovery codes (shown once)."""
        p = context.principal()

        def confirm(user: StaffUser) -> list[str]:
            try:
                return user.confirm_mfa_enrolment(code, self.u.clock())
            except Unauthenticated as error:
                raise ValidationError(
                    error.message, reason=error.reason, field_errors=[("code", error.message)]
                ) from None

        user, codes = await self.u.update_user(p.user_id, confirm)
        await self.u.end_sessions(user.id, RevokeReason.USER_INVALIDATED, keep=p.session_id)
        await self._carry_session(p.session_id, user.token_version)
        log.info("mfa_enabled", user_id=p.user_id)
        return codes

    # administration ------------------------------------------------------------------

    async def create_user(
        self,
        *,
        email: str,
        full_name: str,
        role: str,
        password: str,
        branch_id: str,
        institution_id: str,
        request_id: str,
    ) -> StaffUser:
        """Create a staff account (idempotent on `request_id` per creator)."""
        p = context.principal()
        require(p, Permission.USERS_CREATE)
        create_key = f"{p.user_id}:{request_id}" if request_id else None
        if create_key is not None:
            existing = await self.u.users.by_create_key(create_key)
            if existing is not None:
                return self._replay(existing, email)
        user = await asyncio.to_thread(
            StaffUser.create,
            user_id=new_id("usr"),
            email=email,
            full_name=full_name,
            role=role,
            password=password,
            institution_id=institution_id or None,
            branch_id=branch_id or None,
            created_by=p,
            now=self.u.clock(),
            hasher=self.u.hasher,
        )
        await self._check_placement(p.is_platform_admin, user)
        try:
            await self.u.insert_user(user, create_key=create_key)
        except AlreadyExists as error:
            if error.reason == Reason.REQUEST_ID_REUSED and create_key is not None:
                existing = await self.u.users.by_create_key(create_key)
                if existing is not None:
                    return self._replay(existing, email)
            raise
        log.info(
            "user_created",
            user_id=user.id,
            role=user.role.value,
            institution_id=user.institution_id,
        )
        return user

    @staticmethod
    def _replay(existing: StaffUser, email: str) -> StaffUser:
        if existing.email != normalise_email(email):
            raise AlreadyExists(
                "This request id was already used to create another user.",
                reason=Reason.REQUEST_ID_REUSED,
                field_errors=[("request_id", "was already used for another user")],
            )
        return existing

    async def _check_placement(self, by_platform_admin: bool, user: StaffUser) -> None:
        """The branch must be one of the user's institution; a platform admin must name an
        existing institution (an admin's own institution exists by construction)."""
        if (
            by_platform_admin
            and user.institution_id is not None
            and not await self.u.directory.institution_exists(user.institution_id)
        ):
            raise ValidationError(
                f"Institution {user.institution_id} does not exist.",
                reason=Reason.INSTITUTION_NOT_FOUND,
                field_errors=[("institution_id", "does not exist")],
            )
        if user.role in BRANCH_SCOPED_ROLES and user.branch_id is not None:
            owner = await self.u.directory.branch_institution(user.branch_id)
            if owner is None or owner != user.institution_id:
                raise ValidationError(
                    f"Branch {user.branch_id} does not exist in the institution.",
                    reason=Reason.BRANCH_NOT_FOUND,
                    field_errors=[("branch_id", "is not a branch of the institution")],
                )

    async def get_user(self, user_id: str) -> StaffUser:
        p = context.principal()
        require(p, Permission.USERS_READ)
        user = await self.u.users.get(user_id)
        if user is None:
            raise user_not_found(user_id)
        require_visible(p)(user)
        return user

    async def list_users(self, size: int, token: str) -> tuple[list[StaffUser], str]:
        """The caller's institution's staff (agents and branch managers: their branch's and
        the institution-wide roles), by id; the platform admin lists every admin."""
        p = context.principal()
        require(p, Permission.USERS_READ)
        query: dict[str, object]
        if p.is_platform_admin:
            query = {"role": {"$in": [Role.ADMIN.value, Role.PLATFORM_ADMIN.value]}}
        else:
            query = {"institution_id": p.institution_id}
            if p.is_branch_scoped:
                query["branch_id"] = {"$in": [p.branch_id, None]}
        return await self.u.users.page(query, size, token)

    async def disable_user(self, user_id: str) -> StaffUser:
        """Disable the account and end all its sessions at once."""
        p = context.principal()
        require(p, Permission.USERS_DISABLE)
        user, _ = await self.u.update_user(
            user_id, lambda user: user.disable(p, self.u.clock()), check=require_visible(p)
        )
        await self.u.end_sessions(user.id, RevokeReason.USER_INVALIDATED)
        log.info("user_disabled", user_id=user.id)
        return user

    async def enable_user(self, user_id: str) -> StaffUser:
        p = context.principal()
        require(p, Permission.USERS_DISABLE)
        user, _ = await self.u.update_user(
            user_id, lambda user: user.enable(p, self.u.clock()), check=require_visible(p)
        )
        log.info("user_enabled", user_id=user.id)
        return user

    async def reset_password(self, user_id: str, temporary_password: str) -> StaffUser:
        """Set a temporary password (to change at next login) and end all the user's
        sessions at once."""
        p = context.principal()
        require(p, Permission.USERS_RESET_PASSWORD)
        user, _ = await self.u.update_user(
            user_id,
            lambda user: user.reset_password_by_admin(
                p, temporary_password, self.u.clock(), self.u.hasher
            ),
            check=require_visible(p),
            blocking=True,
        )
        await self.u.end_sessions(user.id, RevokeReason.USER_INVALIDATED)
        log.info("password_reset", user_id=user.id)
        return user

    # bootstrap -----------------------------------------------------------------------

    async def ensure_platform_admin(self, email: str | None, password: str | None) -> None:
        """Create the first platform admin once (idempotent, safe for replicas starting
        together). Without both values, warn and do nothing."""
        if not email or not password:
            log.warning(
                "bootstrap_admin_not_configured",
                hint="set KOPA_BOOTSTRAP_EMAIL and KOPA_BOOTSTRAP_PASSWORD to create the "
                "first platform administrator",
            )
            return
        if await self.u.users.by_email(normalise_email(email)) is not None:
            log.info("bootstrap_admin_exists", email=normalise_email(email))
            return
        try:
            user = await asyncio.to_thread(
                StaffUser.bootstrap_platform_admin,
                user_id=new_id("usr"),
                email=email,
                full_name="Platform administrator",
                password=password,
                now=self.u.clock(),
                hasher=self.u.hasher,
            )
        except ValidationError as error:
            raise SystemExit(
                f"KOPA_BOOTSTRAP_EMAIL/KOPA_BOOTSTRAP_PASSWORD are not acceptable: {error.message}"
            ) from None
        try:
            await self.u.insert_user(user, create_key=BOOTSTRAP_CREATE_KEY)
        except AlreadyExists:
            log.info("bootstrap_admin_exists", email=user.email)
            return
        log.info("bootstrap_admin_created", user_id=user.id, email=user.email)
