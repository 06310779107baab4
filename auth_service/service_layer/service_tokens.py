"""Issuing service tokens (see `domain/service_identity.py`)."""

from __future__ import annotations

from auth_service.domain.errors import Unauthenticated
from auth_service.domain.service_identity import (
    SERVICE_TOKEN_TTL,
    check_service_credential,
    service_principal,
)
from auth_service.service_layer.unit import AuthUnit
from shared.ids import new_id
from shared.logging import get_logger
from shared.tokens import IssuedToken, issue_access_token

log = get_logger(__name__)


class ServiceTokenHandlers:
    def __init__(self, unit: AuthUnit, secret: str | None) -> None:
        self.u = unit
        self._secret = secret

    async def issue(self, service: str, institution_id: str, credential: str) -> IssuedToken:
        try:
            check_service_credential(credential, self._secret)
        except Unauthenticated as refused:
            log.warning("service_token_refused", service=service, reason=refused.reason)
            raise
        principal = service_principal(service, institution_id, new_id("svc"))
        issued = issue_access_token(
            self.u.keys.keyset, principal, now=self.u.clock(), ttl=SERVICE_TOKEN_TTL
        )
        log.info("service_token_issued", service=service, institution_id=institution_id)
        return issued
