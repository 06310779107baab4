"""An institution's loan settings: reading and replacing its approval limits and
delinquency buckets, and the settings reads go by (cached a few seconds).

The stored form and its checks are in `settings`; these are the use cases.
"""

from __future__ import annotations

import time
from typing import Any

from loan_service.service_layer.commands import UpdateLoanSettings
from loan_service.service_layer.inputs import collect, other_currencies
from loan_service.service_layer.ports import LoanRepository, UserDirectory
from loan_service.service_layer.settings import (
    InstitutionSettings,
    approval_limits_to_store,
    buckets_to_store,
    settings_of,
)
from shared import context
from shared.errors import NotFound, ValidationError
from shared.logging import get_logger
from shared.permissions import Permission, Principal, require

log = get_logger(__name__)

#: How long reads go by the settings they last read (seconds).
READING_TTL = 5.0


class ReadingSettings:
    """The institution's settings for reads (cached `READING_TTL` seconds): the last
    completed close-of-business date, to count days past due since a loan's figures were
    stored, and the delinquency buckets they fall in."""

    def __init__(self, repo: LoanRepository) -> None:
        self.repo = repo
        self._cache: dict[str, tuple[float, InstitutionSettings]] = {}

    async def get(self, institution_id: str) -> InstitutionSettings:
        cached = self._cache.get(institution_id)
        stamp = time.monotonic()
        if cached is not None and stamp - cached[0] < READING_TTL:
            return cached[1]
        settings = settings_of(await self.repo.settings(institution_id))
        self._cache[institution_id] = (stamp, settings)
        return settings

    def forget(self, institution_id: str) -> None:
        """Called when the settings change or a close of business completes here."""
        self._cache.pop(institution_id, None)


def _own_institution(p: Principal, institution_id: str) -> None:
    if p.institution_id != institution_id:
        raise NotFound(
            f"institution {institution_id} not found",
            reason="INSTITUTION_NOT_FOUND",
            metadata={"institution_id": institution_id},
        )


async def loan_settings(repo: LoanRepository, institution_id: str) -> InstitutionSettings:
    p = context.principal()
    require(p, Permission.SETTINGS_READ)
    _own_institution(p, institution_id)
    return settings_of(await repo.settings(institution_id))


async def update_loan_settings(
    repo: LoanRepository,
    users: UserDirectory,
    reading: ReadingSettings,
    cmd: UpdateLoanSettings,
) -> InstitutionSettings:
    """Replaces the approval limits and/or the delinquency buckets (None: unchanged).
    New buckets reclassify every active loan at the next close of business: their
    hints are lowered so that it visits each of them once."""
    p = context.principal()
    require(p, Permission.SETTINGS_MANAGE)
    institution_id = cmd.institution_id
    _own_institution(p, institution_id)
    fields: dict[str, Any] = {}
    errors: list[tuple[str, str]] = []
    limits, buckets = cmd.approval_limits, cmd.buckets
    if limits is not None:
        currency = await users.institution_currency(institution_id)
        errors.extend(other_currencies(cmd.currencies, currency))
        fields["approval_limits"] = collect(
            errors, lambda: approval_limits_to_store(limits, currency)
        )
    if buckets is not None:
        fields["delinquency_buckets"] = collect(errors, lambda: buckets_to_store(buckets))
    if errors:
        raise ValidationError("the loan settings are invalid", field_errors=errors)
    if fields:
        await repo.update_settings(institution_id, fields)
        if buckets is not None:
            await repo.revisit_all(institution_id)
        reading.forget(institution_id)
        log.info("loan_settings_updated", institution=institution_id, fields=sorted(fields))
    return settings_of(await repo.settings(institution_id))
