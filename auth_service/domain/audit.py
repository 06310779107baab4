"""The audit log: append-only, hash-chained per institution.

Each entry's `hash` is the SHA-256 (hex) of the canonical JSON (keys sorted, no
whitespace, UTF-8) of all its fields and the previous entry's hash:

    {"action", "actor": {"role", "user_id"}, "at", "institution_id", "prev_hash",
     "request_id", "seq", "summary", "target": {"id", "kind"}}

The first entry of an institution (seq 1) has `prev_hash` = 64 zeros (`GENESIS_HASH`).
Editing any field of an entry changes its hash; deleting or reordering entries breaks the
`seq` sequence and the `prev_hash` links. `verify_chain` finds the first such break.

Deleting the newest entries leaves a valid shorter chain; to catch that, keep the head
(last seq and hash) somewhere else (the institution document, a periodic signed
checkpoint) and pass it as `expected_head`. Anyone able to rewrite the whole collection
can also recompute every hash: the chain proves integrity relative to such an anchor.

An append may add several entries at once (`chain_segment`): each follows the one before it
exactly as if they had been appended one by one, so a segment verifies like any entries.

`at` is kept at millisecond precision (what MongoDB stores), so a stored entry hashes the
same when read back. `summary` holds JSON values only: Decimals, dates and enums are
turned into strings when the entry is made; floats are refused (not canonical).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any, Final

__all__ = [
    "GENESIS_HASH",
    "Actor",
    "AuditDraft",
    "AuditEntry",
    "Target",
    "VerifyResult",
    "canonical_json",
    "chain_segment",
    "format_timestamp",
    "verify_chain",
]

GENESIS_HASH: Final = "0" * 64


@dataclass(frozen=True, slots=True)
class Actor:
    user_id: str
    role: str


@dataclass(frozen=True, slots=True)
class Target:
    kind: str
    id: str


def format_timestamp(moment: datetime) -> str:
    """RFC 3339 UTC with milliseconds: `2026-03-31T12:00:00.123Z`."""
    if moment.tzinfo is None:
        raise ValueError("audit timestamps must be timezone-aware (UTC)")
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def _to_json_value(value: Any, path: str) -> Any:
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        raise ValueError(f"{path}: floats are not allowed in audit summaries; use a string")
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return format_timestamp(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Enum):
        return _to_json_value(value.value, path)
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValueError(f"{path}: keys must be strings")
            out[key] = _to_json_value(item, f"{path}.{key}")
        return out
    if isinstance(value, list | tuple):
        return [_to_json_value(item, f"{path}[{i}]") for i, item in enumerate(value)]
    raise ValueError(f"{path}: {type(value).__name__} is not a JSON value")


def canonical_json(value: Any) -> bytes:
    """Sorted keys, no whitespace, UTF-8: the bytes that are hashed."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


@dataclass(frozen=True, slots=True)
class AuditDraft:
    """What an entry records, before it takes its place in a chain (seq, time, links)."""

    actor: Actor
    action: str
    target: Target
    request_id: str
    summary: dict[str, Any]
    """JSON values only (see `of`)."""

    @classmethod
    def of(
        cls,
        *,
        actor: Actor,
        action: str,
        target: Target,
        request_id: str,
        summary: Mapping[str, Any] | None = None,
    ) -> AuditDraft:
        """Raises ValueError for a missing action or request id, or a summary that is not
        made of JSON values (a float, say)."""
        if not action or not request_id:
            raise ValueError("action and request_id are required")
        return cls(
            actor, action, target, request_id, _to_json_value(dict(summary or {}), "summary")
        )


@dataclass(frozen=True, slots=True)
class AuditEntry:
    seq: int
    institution_id: str | None
    """None for the platform's own chain (institutions created, their admins)."""
    actor: Actor
    action: str
    """`<resource>.<verb>`, e.g. `loans.approve`."""
    target: Target
    request_id: str
    at: str
    """RFC 3339 UTC, milliseconds (see `format_timestamp`)."""
    summary: dict[str, Any] = field(default_factory=dict)
    prev_hash: str = GENESIS_HASH
    hash: str = ""

    @classmethod
    def append(
        cls,
        previous: AuditEntry | None,
        *,
        institution_id: str | None,
        actor: Actor,
        action: str,
        target: Target,
        request_id: str,
        at: datetime,
        summary: Mapping[str, Any] | None = None,
    ) -> AuditEntry:
        """The entry that follows `previous` (None: the first of the institution's
        chain). The adapter inserts it with a unique index on (institution_id, seq), so
        two writers cannot both append after the same entry."""
        if previous is not None and previous.institution_id != institution_id:
            raise ValueError("an entry follows one of the same institution's chain")
        draft = AuditDraft.of(
            actor=actor, action=action, target=target, request_id=request_id, summary=summary
        )
        head = (0, GENESIS_HASH) if previous is None else (previous.seq, previous.hash)
        return cls.following(head, draft, institution_id=institution_id, at=at)

    @classmethod
    def following(
        cls, head: tuple[int, str], draft: AuditDraft, *, institution_id: str | None, at: datetime
    ) -> AuditEntry:
        """The entry recording `draft` right after `head`, the (seq, hash) of the chain's
        newest entry ((0, GENESIS_HASH) for an empty chain)."""
        seq, prev_hash = head
        entry = cls(
            seq=seq + 1,
            institution_id=institution_id,
            actor=draft.actor,
            action=draft.action,
            target=draft.target,
            request_id=draft.request_id,
            at=format_timestamp(at),
            summary=draft.summary,
            prev_hash=prev_hash,
        )
        return entry.with_hash()

    def hashed_content(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "institution_id": self.institution_id,
            "actor": {"user_id": self.actor.user_id, "role": self.actor.role},
            "action": self.action,
            "target": {"kind": self.target.kind, "id": self.target.id},
            "request_id": self.request_id,
            "at": self.at,
            "summary": self.summary,
            "prev_hash": self.prev_hash,
        }

    def compute_hash(self) -> str:
        return hashlib.sha256(canonical_json(self.hashed_content())).hexdigest()

    def with_hash(self) -> AuditEntry:
        return AuditEntry(
            seq=self.seq,
            institution_id=self.institution_id,
            actor=self.actor,
            action=self.action,
            target=self.target,
            request_id=self.request_id,
            at=self.at,
            summary=self.summary,
            prev_hash=self.prev_hash,
            hash=self.compute_hash(),
        )

    def to_document(self) -> dict[str, Any]:
        """All fields as JSON values (hashed content plus `hash`)."""
        return {**self.hashed_content(), "hash": self.hash}

    @classmethod
    def from_document(cls, doc: Mapping[str, Any]) -> AuditEntry:
        return cls(
            seq=doc["seq"],
            institution_id=doc["institution_id"],
            actor=Actor(doc["actor"]["user_id"], doc["actor"]["role"]),
            action=doc["action"],
            target=Target(doc["target"]["kind"], doc["target"]["id"]),
            request_id=doc["request_id"],
            at=doc["at"],
            summary=dict(doc.get("summary") or {}),
            prev_hash=doc["prev_hash"],
            hash=doc["hash"],
        )


def chain_segment(
    head: tuple[int, str],
    drafts: Iterable[AuditDraft],
    *,
    institution_id: str | None,
    at: datetime,
) -> list[AuditEntry]:
    """Consecutive entries after `head` (see `AuditEntry.following`), one per draft in
    order, each linked to the one before: what appending the drafts one by one would give."""
    entries: list[AuditEntry] = []
    for draft in drafts:
        entry = AuditEntry.following(head, draft, institution_id=institution_id, at=at)
        entries.append(entry)
        head = (entry.seq, entry.hash)
    return entries


@dataclass(frozen=True, slots=True)
class VerifyResult:
    ok: bool
    checked: int
    """Entries confirmed intact, from the start, before the first break."""
    first_bad_seq: int | None = None
    """The first seq whose integrity cannot be confirmed: an edited entry's own seq, or
    the seq that should have come next where an entry is missing or out of order."""
    reason: str | None = None
    """`HASH_MISMATCH` (entry edited), `SEQ_GAP` (the expected seq is missing here:
    deleted, or moved later), `SEQ_ORDER` (a seq repeats or goes back: moved earlier or
    duplicated), `PREV_HASH_MISMATCH` (link broken), `INSTITUTION_MISMATCH` or
    `HEAD_MISMATCH` (the chain ends elsewhere than the recorded head)."""
    last_hash: str | None = None
    """Hash of the last intact entry (to continue verifying the next page)."""


def verify_chain(
    entries: Iterable[AuditEntry],
    *,
    after: AuditEntry | None = None,
    expected_head: tuple[int, str] | None = None,
) -> VerifyResult:
    """Walk the entries in the order given and check each one's hash, its `seq` (one
    more than the previous) and its `prev_hash` link.

    `after`: an already verified entry the given ones follow (verifying page by page);
    otherwise they must start at seq 1 from `GENESIS_HASH`. `expected_head`: the (seq,
    hash) recorded elsewhere for the newest entry, to catch deletions at the end.
    """
    expected_seq = 1 if after is None else after.seq + 1
    prev_hash = GENESIS_HASH if after is None else after.hash
    institution = after.institution_id if after is not None else None
    first = after is None
    checked = 0
    last: AuditEntry | None = after

    def bad(seq: int, reason: str) -> VerifyResult:
        return VerifyResult(False, checked, seq, reason, last.hash if last else None)

    for entry in entries:
        if first:
            institution = entry.institution_id
            first = False
        elif entry.institution_id != institution:
            return bad(expected_seq, "INSTITUTION_MISMATCH")
        if entry.seq > expected_seq:
            return bad(expected_seq, "SEQ_GAP")
        if entry.seq < expected_seq:
            return bad(expected_seq, "SEQ_ORDER")
        if entry.compute_hash() != entry.hash:
            # Its content changed since it was written (or its stored hash did).
            return bad(expected_seq, "HASH_MISMATCH")
        if entry.prev_hash != prev_hash:
            return bad(expected_seq, "PREV_HASH_MISMATCH")
        checked += 1
        last = entry
        prev_hash = entry.hash
        expected_seq += 1
    if expected_head is not None:
        head_seq, head_hash = expected_head
        if last is None or last.seq != head_seq or last.hash != head_hash:
            return bad(expected_seq, "HEAD_MISMATCH")
    return VerifyResult(True, checked, None, None, last.hash if last else None)
