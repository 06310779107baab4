"""The hash-chained audit log: append (called by the gateway on the actors' behalf), list,
verify.

An append carries one entry or several (the gateway sends what it has queued for an
institution in one call). Each entry's actor is the principal of a verified access token:
the caller's, or the one the entry names (the token of the request it records). Everything
is validated before anything is written, so a refused call appends none of its entries.

Appending under concurrency: read the chain's head (seq, hash), build the consecutive
entries after it, insert them in order (unique `(institution_id, seq)`), then move the head
with compare-and-set (see `adapters/audit_store.py`). A writer whose insert collides keeps
what it inserted before the collision, helps the head forward over the entries that won
and appends the rest after them, so every seq is taken exactly once, each entry links to
the one before it, no entry is lost or written twice, and the head never goes back.
Verification walks the chain in seq order and compares its end with the head, so deleting
the newest entries is caught too.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from auth_service.domain.audit import (
    Actor,
    AuditDraft,
    AuditEntry,
    Target,
    VerifyResult,
    chain_segment,
    verify_chain,
)
from auth_service.domain.errors import PermissionDenied, ValidationError
from auth_service.service_layer.unit import AuthUnit
from shared import context
from shared.errors import Aborted, Unauthenticated
from shared.logging import get_logger
from shared.permissions import Permission, Principal, require

log = get_logger(__name__)

MAX_APPEND_ATTEMPTS = 50
MAX_ACTION_LENGTH = 100
MAX_SUMMARY_BYTES = 16_384
MAX_ENTRIES_PER_APPEND = 100
#: What an entry keeps of its target (longer values are cut), and so the longest filters.
MAX_TARGET_KIND_LENGTH = 100
MAX_ID_LENGTH = 200

Authenticate = Callable[[str], Awaitable[Principal]]


@dataclass(frozen=True)
class AuditRecord:
    """One entry an append asks for: what the gateway saw of a state-changing request."""

    action: str = ""
    target_kind: str = ""
    target_id: str = ""
    request_id: str = ""
    summary_json: str = ""
    institution_id: str = ""
    """The institution the action touched, when the actor is a platform administrator."""
    access_token: str = ""
    """The access token of the request recorded, whose principal is the entry's actor;
    empty: the caller is the actor."""


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
    def __init__(self, unit: AuthUnit, authenticate: Authenticate | None = None) -> None:
        """`authenticate` verifies the access token an entry names (as the server
        interceptor verifies the caller's); without it only the caller can be an actor."""
        self.u = unit
        self._authenticate = authenticate

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
        record = AuditRecord(
            action, target_kind, target_id, request_id, summary_json, institution_id
        )
        return (await self.append_many([record], field=""))[0]

    async def append_many(
        self, records: Sequence[AuditRecord], *, field: str = "entries"
    ) -> list[AuditEntry]:
        """Append the records, in this order, to one chain (one after the other unless
        another writer's entries came between, see `_append_segment`). A
        refusal (ValidationError naming `<field>[i].<name>`, PermissionDenied,
        Unauthenticated) comes before anything is written; only Aborted, after
        MAX_APPEND_ATTEMPTS lost races, may leave the first records appended. The actors,
        the institution and the time come from verified tokens and the server clock, never
        from the request."""
        if not records:
            raise ValidationError.of(field or "action", "at least one entry is required")
        if len(records) > MAX_ENTRIES_PER_APPEND:
            raise ValidationError.of(field, f"at most {MAX_ENTRIES_PER_APPEND} per call")
        actors: dict[str, Principal] = {"": context.principal()}
        principals: list[Principal] = []
        drafts: list[AuditDraft] = []
        errors: list[tuple[str, str]] = []
        # A lone entry without a request id takes the call's; in a list each names its own.
        call_request_id = "" if field else context.current().request_id
        for i, record in enumerate(records):
            name = f"{field}[{i}]." if field else ""
            p = await self._actor(record.access_token, actors, f"{name}access_token")
            principals.append(p)
            draft = self._draft(record, p, name, errors, call_request_id)
            if draft is not None:
                drafts.append(draft)
        if errors:
            raise ValidationError("The audit entry is invalid.", field_errors=errors)
        chains = {
            self._chain_for_writer(p, r.institution_id)
            for p, r in zip(principals, records, strict=True)
        }
        if len(chains) > 1:
            raise ValidationError.of(field, "must all belong to one institution's audit log")
        return await self._append_segment(chains.pop(), drafts)

    async def _actor(self, token: str, known: dict[str, Principal], name: str) -> Principal:
        """The principal of `token` (verified once per call), or the caller's for ""."""
        if token not in known:
            if self._authenticate is None:
                raise Unauthenticated(f"{name}: this server cannot verify it.")
            known[token] = await self._authenticate(token)
        return known[token]

    def _draft(
        self,
        record: AuditRecord,
        p: Principal,
        name: str,
        errors: list[tuple[str, str]],
        call_request_id: str,
    ) -> AuditDraft | None:
        """The entry's draft, or None with its errors added to `errors` (its action's, or
        else its summary's)."""
        action = record.action.strip()
        if not action:
            errors.append((f"{name}action", "is required, like loans.approve"))
            return None
        if len(action) > MAX_ACTION_LENGTH:
            errors.append((f"{name}action", f"is at most {MAX_ACTION_LENGTH} characters"))
            return None
        try:
            summary = _parse_summary(record.summary_json)
        except ValidationError as exc:
            errors.extend((f"{name}{f}", message) for f, message in exc.field_errors)
            return None
        request_id = record.request_id or call_request_id or "-"
        try:
            return AuditDraft.of(
                actor=Actor(p.user_id, p.role.value),
                action=action,
                target=Target(
                    record.target_kind[:MAX_TARGET_KIND_LENGTH], record.target_id[:MAX_ID_LENGTH]
                ),
                request_id=request_id[:200],
                summary=summary,
            )
        except ValueError as exc:
            errors.append((f"{name}summary_json", str(exc)))
            return None

    async def _append_segment(
        self, chain: str | None, drafts: list[AuditDraft]
    ) -> list[AuditEntry]:
        """Append the drafts after the chain's head as one segment; if another writer took
        one of their seqs, the ones before it stay where they are and the rest are appended
        again after the other writer's entries."""
        appended: list[AuditEntry] = []
        head: tuple[int, str] | None = None
        for _ in range(MAX_APPEND_ATTEMPTS):
            if head is None:
                head = await self.u.audit.head(chain, cached=True)
            # Linked through the head's hash, the trusted anchor, even if the stored entry
            # was altered, so appending never stops; the alteration is what `verify` reports.
            segment = chain_segment(head, drafts, institution_id=chain, at=self.u.clock())
            inserted = await self.u.audit.append_segment(segment, head)
            appended += segment[:inserted]
            drafts = drafts[inserted:]
            if not drafts:
                return appended
            # Another writer took the next seq. Once it has moved the head past what this
            # one knows, append the rest after it; else move the head over its entries
            # first (it may have died before moving the head itself).
            known = (segment[inserted - 1].seq, segment[inserted - 1].hash) if inserted else head
            head = await self.u.audit.head(chain)
            if head[0] <= known[0]:
                head = await self.u.audit.help_forward(chain, head)
        log.warning("audit_append_gave_up", chain=chain or "platform", appended=len(appended))
        raise Aborted("The audit log is busy; retry.", reason="AUDIT_CONTENTION")

    def _reader_chain(self) -> str | None:
        p = context.principal()
        require(p, Permission.AUDIT_READ)
        return p.institution_id

    async def list(
        self,
        size: int,
        token: str,
        *,
        target_kind: str = "",
        target_id: str = "",
        actor_id: str = "",
    ) -> tuple[list[AuditEntry], str]:
        """The caller's institution's entries, newest first: only those about `target_kind`
        (and `target_id`, which needs the kind) and by `actor_id` when given, each compared
        exactly (an unknown kind or id matches nothing). A page token works only with the
        filters it was issued for (ValidationError naming `page_token`)."""
        chain = self._reader_chain()
        errors: list[tuple[str, str]] = []
        for name, value, limit in (
            ("target_kind", target_kind, MAX_TARGET_KIND_LENGTH),
            ("target_id", target_id, MAX_ID_LENGTH),
            ("actor_id", actor_id, MAX_ID_LENGTH),
        ):
            if len(value) > limit:
                errors.append((name, f"is at most {limit} characters"))
        if target_id and not target_kind:
            errors.append(("target_id", "needs target_kind too, like target_kind=borrowers"))
        if errors:
            raise ValidationError("The audit log filters are invalid.", field_errors=errors)
        return await self.u.audit.newest_first(
            chain,
            size,
            token,
            target_kind=target_kind,
            target_id=target_id,
            actor_id=actor_id,
        )

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
