"""Service principals: a Kopa service acting for one institution on its own, with no user
behind the call (payment_service applying a mobile-money receipt that matched a loan,
notification_service reading the borrower a reminder goes to or running the close of
business on the institution's clock).

A service proves itself to auth_service with the platform's internal credential
(`KOPA_SERVICE_SECRET`, the same value on both sides; compared in constant time) and gets
an ordinary access token, signed with the same keys, for role `service`: user id
`svc:<service>`, one institution, no branch, and only the permissions of
`shared.permissions.Role.SERVICE`. It lives five minutes; the service caches it until
shortly before that. The gateway refuses such tokens, so they cannot be used from outside.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import timedelta
from typing import Final

from auth_service.domain.errors import Unauthenticated, ValidationError
from shared.permissions import Principal, Role

__all__ = [
    "KNOWN_SERVICES",
    "SERVICE_TOKEN_TTL",
    "check_service_credential",
    "service_principal",
]

SERVICE_TOKEN_TTL: Final = timedelta(minutes=5)
KNOWN_SERVICES: Final = frozenset({"payment_service", "notification_service"})
"""The services that act on their own; any other name is refused."""

CREDENTIAL_INVALID: Final = "SERVICE_CREDENTIAL_INVALID"
NOT_CONFIGURED: Final = "SERVICE_CREDENTIALS_NOT_CONFIGURED"


def _digest(value: str) -> bytes:
    # Equal-length digests, so the comparison does not reveal the secret's length either.
    return hashlib.sha256(value.encode("utf-8")).digest()


def check_service_credential(presented: str, configured: str | None) -> None:
    """Raise `Unauthenticated` unless `presented` is the configured credential."""
    if not configured:
        raise Unauthenticated(
            "Service tokens are not enabled here: KOPA_SERVICE_SECRET is not set.",
            reason=NOT_CONFIGURED,
        )
    if not hmac.compare_digest(_digest(presented), _digest(configured)):
        raise Unauthenticated("The service credential is wrong.", reason=CREDENTIAL_INVALID)


def service_principal(service: str, institution_id: str, session_id: str) -> Principal:
    """Who a service token speaks for. Raises `ValidationError` naming the bad fields."""
    errors = []
    if service not in KNOWN_SERVICES:
        errors.append(("service", f"must be one of: {', '.join(sorted(KNOWN_SERVICES))}"))
    if not institution_id:
        errors.append(("institution_id", "is required: a service acts for one institution"))
    if errors:
        raise ValidationError("The service token request is invalid.", field_errors=errors)
    return Principal(f"svc:{service}", Role.SERVICE, institution_id, None, session_id)
