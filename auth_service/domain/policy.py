"""An institution's security policy: which of its staff roles must use a second factor.

Set by the institution's admins (or the platform administrator, for any institution) and
applied at every login and refresh: a user whose role is listed and who has not enrolled
yet gets a session with no permissions (see `shared.permissions.Principal.
mfa_enrolment_required`) in which they can enrol, so switching the policy on never locks
anyone out, not even the admin who switched it on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from auth_service.domain.errors import ValidationError
from auth_service.domain.mfa import MfaPolicy
from shared.permissions import INSTITUTION_ROLES

__all__ = ["POLICY_ROLES", "SecurityPolicy"]

POLICY_ROLES = frozenset(role.value for role in INSTITUTION_ROLES)
"""The roles a policy can name: an institution's staff roles."""


@dataclass(frozen=True, slots=True)
class SecurityPolicy:
    institution_id: str
    mfa: MfaPolicy = field(default_factory=MfaPolicy)
    updated_at: datetime | None = None
    updated_by: str | None = None

    @classmethod
    def decide(
        cls, institution_id: str, mfa_required_roles: Sequence[str], *, by: str, now: datetime
    ) -> SecurityPolicy:
        """The policy that replaces the current one. Raises `ValidationError` naming every
        role that is not one of an institution's staff roles (a repeat is harmless)."""
        names = ", ".join(sorted(POLICY_ROLES))
        errors = [
            (f"mfa_required_roles[{i}]", f"{role!r} is not a staff role; use {names}")
            for i, role in enumerate(mfa_required_roles)
            if role not in POLICY_ROLES
        ]
        if errors:
            raise ValidationError("The security policy names unknown roles.", field_errors=errors)
        return cls(institution_id, MfaPolicy.of(mfa_required_roles), now, by)

    @property
    def mfa_required_roles(self) -> list[str]:
        return sorted(role.value for role in self.mfa.required_for_roles)
