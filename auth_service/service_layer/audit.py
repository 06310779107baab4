"""The hash-chained audit log: append (called by the gateway on the actor's behalf), list,
verify.

Appending under concurrency: read the chain's head (seq, hash), build the next entry after
it, insert it (unique `(institution_id, seq)`), then move the head with compare-and-set. A
writer whose insert collides helps the head forward onto the entry that won and retries, so
every seq is taken exactly once, each entry links to the one before it, and the head never
goes back. Verification walks the chain in seq order and compares its end with the head, so
deleting the newest entries is caught too.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from auth_service.domain.audit import (
    Actor,
    AuditEntry,
    Target,
    VerifyResult,
    format_timestamp,
    verify_chain,
)
from auth_service.domain.errors import PermissionDenied, ValidationError
from auth_service.service_layer.unit import AuthUnit
from shared import context
from shared.errors import Aborted
from shared.logging import get_logger
from shared.permissions import Permission, Principal, require

log = get_logger(__name__)

MAX_APPEND_ATTEMPTS = 50
MAX_ACTION_LENGTH = 100
MAX_SUMMARY_BYTES = 16_384


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    checked: int
    first_bad_seq: int | None
    reason: str | None


def _parse_summary(summary_json: str) -> dict[str, Any]:
    if not summary_json.strip():
        return {}
    if len(summary_json.encode("utf-8")) > MAX_SUMMARY_BYTES:
        raise ValidationError.of("summary_json", f"is at most {MAX_SUMMARY_BYTES} bytes")
    try:
        # Numbers with a fraction become Decimals, kept as decimal strings (no floats).
        value = json.loads(summary_json, parse_float=Decimal)
    except json.JSONDecodeError as exc:
        raise ValidationError.of("summary_json", f"is not JSON ({exc.msg})") from None
    if not isinstance(value, dict):
        raise ValidationError.of("summary_json", "must be a JSON object")
    return value


class AuditHandlers:
    def __init__(self, unit: AuthUnit) -> None:
        self.u = unit

    @staticmethod
    def _chain_for_writer(p: Principal, institution_id: str) -> str | None:
        if p.is_platform_admin:
            return institution_id or None  # None: the platform's own chain
        if institution_id and institution_id != p.institution_id:
            raise PermissionDenied(
                "You can only write to your own institution's audit log.",
                permission=Permission.AUDIT_READ.value,
            )
        return p.institution_id

    async def append(
        self,
        *,
        action: str,
        target_kind: str,
        target_id: str,
        request_id: str,
        summary_json: str,
        institution_id: str,
    ) -> AuditEntry:
        """Append an entry for the caller's action. The actor, institution and time come
        from the caller's token and the server clock, never from the request."""
        p = context.principal()
        errors = []
        action = action.strip()
        if not action:
            errors.append(("action", "is required, like loans.approve"))
        elif len(action) > MAX_ACTION_LENGTH:
            errors.append(("action", f"is at most {MAX_ACTION_LENGTH} characters"))
        if errors:
            raise ValidationError("The audit entry is invalid.", field_errors=errors)
        summary = _parse_summary(summary_json)
        chain = self._chain_for_writer(p, institution_id)
        request_id = request_id or context.current().request_id or "-"
        actor = Actor(p.user_id, p.role.value)
        target = Target(target_kind[:100], target_id[:200])
        for _ in range(MAX_APPEND_ATTEMPTS):
            head = await self.u.audit.head(chain)
            previous = await self._previous(chain, head)
            try:
                entry = AuditEntry.append(
                    previous,
                    institution_id=chain,
                    actor=actor,
                    action=action,
                    target=target,
                    request_id=request_id[:200],
                    at=self.u.clock(),
                    summary=summary,
                )
            except ValueError as exc:
                raise ValidationError.of("summary_json", str(exc)) from None
            if await self.u.audit.try_append(entry, head):
                return entry
            await self.u.audit.help_forward(chain, head)
        raise Aborted("The audit log is busy; retry.", reason="AUDIT_CONTENTION")

    async def _previous(self, chain: str | None, head: tuple[int, str]) -> AuditEntry | None:
        """The entry the next one follows, linked through the head's hash (the trusted
        anchor) even if the stored entry was altered, so appending never stops; the
        alteration is what `verify` reports."""
        seq, head_hash = head
        if seq == 0:
            return None
        stored = await self.u.audit.entry(chain, seq)
        if stored is not None and stored.hash == head_hash:
            return stored
        log.warning("audit_head_mismatch", chain=chain or "platform", seq=seq)
        stand_in = stored or AuditEntry(
            seq=seq,
            institution_id=chain,
            actor=Actor("", ""),
            action="-",
            target=Target("", ""),
            request_id="-",
            at=format_timestamp(self.u.clock()),
        )
        return dataclasses.replace(stand_in, hash=head_hash)

    def _reader_chain(self) -> str | None:
        p = context.principal()
        require(p, Permission.AUDIT_READ)
        return p.institution_id

    async def list(self, size: int, token: str) -> tuple[list[AuditEntry], str]:
        """The caller's institution's entries, newest first."""
        return await self.u.audit.newest_first(self._reader_chain(), size, token)

    async def verify(self) -> ChainReport:
        """Walk the caller's institution's chain in seq order up to the head read first
        (entries being appended meanwhile are left for the next run), then check that the
        chain ends exactly at the head."""
        chain = self._reader_chain()
        head_seq, head_hash = await self.u.audit.head(chain)
        checked = 0
        last: AuditEntry | None = None
        async for batch in self.u.audit.in_order(chain, upto=head_seq):
            result = verify_chain(batch, after=last)
            if not result.ok:
                return self._report(result, checked)
            checked += result.checked
            last = batch[-1]
        if head_seq == 0:
            # An empty chain by its head: intact unless entries exist all the same.
            first_stray = await self.u.audit.entry(chain, 1)
            if first_stray is None:
                return ChainReport(True, 0, None, None)
            return self._report(VerifyResult(False, 0, 1, "HEAD_MISMATCH"), 0)
        result = verify_chain([], after=last, expected_head=(head_seq, head_hash))
        return self._report(result, checked)

    @staticmethod
    def _report(result: VerifyResult, checked_before: int) -> ChainReport:
        if not result.ok:
            log.warning(
                "audit_chain_broken", first_bad_seq=result.first_bad_seq, reason=result.reason
            )
        return ChainReport(
            result.ok, checked_before + result.checked, result.first_bad_seq, result.reason
        )
