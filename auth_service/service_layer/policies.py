"""An institution's security policy: read by its admins and auditors, replaced by its admins;
the platform administrator reads and replaces any institution's. Another institution's
policy is NOT_FOUND, so its existence does not leak. What the policy does at login is in
`domain/policy.py`."""

from __future__ import annotations

from collections.abc import Sequence

from auth_service.domain.errors import NotFound, Reason, ValidationError
from auth_service.domain.policy import SecurityPolicy
from auth_service.service_layer.unit import AuthUnit
from shared import context
from shared.logging import get_logger
from shared.permissions import Permission, Principal, require

log = get_logger(__name__)


class PolicyHandlers:
    def __init__(self, unit: AuthUnit) -> None:
        self.u = unit

    async def get(self, institution_id: str) -> SecurityPolicy:
        p = context.principal()
        require(p, Permission.SECURITY_POLICY_READ)
        await self._check_scope(p, institution_id)
        return await self.u.policies.get(institution_id)

    async def replace(
        self, institution_id: str, mfa_required_roles: Sequence[str]
    ) -> SecurityPolicy:
        p = context.principal()
        require(p, Permission.SECURITY_POLICY_MANAGE)
        await self._check_scope(p, institution_id)
        policy = SecurityPolicy.decide(
            institution_id, mfa_required_roles, by=p.user_id, now=self.u.clock()
        )
        await self.u.policies.save(policy)
        log.info(
            "security_policy_replaced",
            institution_id=institution_id,
            mfa_required_roles=policy.mfa_required_roles,
        )
        return policy

    async def _check_scope(self, p: Principal, institution_id: str) -> None:
        if not institution_id:
            raise ValidationError.of("institution_id", "is required")
        if p.is_platform_admin:
            found = await self.u.directory.institution_exists(institution_id)
        else:
            found = institution_id == p.institution_id
        if not found:
            raise NotFound(
                f"Institution {institution_id} not found.", reason=Reason.INSTITUTION_NOT_FOUND
            )
