"""The institution's hash-chained audit trail of every change made through the API."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from gateway.schema import Timestamp


class AuditEntry(BaseModel):
    """One change made through the API: who, what, on which record, and the link that chains
    it to the entry before."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "seq": 1842,
                    "institution_id": "inst_0199f3a0e2d1b7c6a5f4e3d2c1b0a998",
                    "actor_id": "usr_0199f3a2b4c1a1b2c3d4e5f60718293a",
                    "actor_role": "branch_manager",
                    "action": "loans.approve",
                    "target_kind": "loans",
                    "target_id": "loan_0199f3b7d2e1f0a9b8c7d6e5f4a3b2c1",
                    "request_id": "5f0c6e1b9a7d4c3e8b2a1f0e9d8c7b6a",
                    "time": "2026-03-31T09:30:00.123Z",
                    "summary_json": '{"note":"visited the shop; stock matches the plan"}',
                    "prev_hash": "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb",
                    "hash": "3e23e8160039594a33894f6564e1b1348bbd7a0088d42c4acb73eeaed59c009d",
                }
            ]
        }
    )

    seq: int = Field(description="position in the institution's chain, from 1")
    institution_id: str = Field(description="empty in the platform's own chain")
    actor_id: str = Field(description="the user who made the change")
    actor_role: str = Field(description="their role at the time")
    action: str = Field(description="`<resource>.<verb>`, e.g. `loans.approve`")
    target_kind: str = Field(description="the resource, e.g. `loans`")
    target_id: str = Field(
        description="the first id in the path; for a creation at a collection's URL (`POST "
        "/v1/borrowers`), the id of the record created; empty when there is neither"
    )
    request_id: str = Field(description="the request's `X-Request-ID`, to find it in the logs")
    time: Timestamp
    summary_json: str = Field(
        description="the request body as canonical JSON text, passwords, tokens and codes "
        "replaced by `[redacted]`"
    )
    prev_hash: str = Field(description="`hash` of the entry before; 64 zeros for the first")
    hash: str = Field(
        description="SHA-256 (hex) of the canonical JSON of this entry's fields and prev_hash"
    )


class AuditChainVerification(BaseModel):
    """The outcome of recomputing the institution's whole chain."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"ok": True, "checked": 1842, "first_bad_seq": 0, "reason": ""}]
        }
    )

    ok: bool = Field(description="every entry is intact, in order, and the chain ends at its head")
    checked: int = Field(description="entries confirmed intact, from the first, before any break")
    first_bad_seq: int = Field(
        description="0 when ok; else the first seq whose integrity cannot be confirmed"
    )
    reason: str = Field(
        description="empty when ok; else `HASH_MISMATCH` (an entry was edited), `SEQ_GAP` (an "
        "entry is missing), `SEQ_ORDER` (moved or duplicated), `PREV_HASH_MISMATCH` (a broken "
        "link), `INSTITUTION_MISMATCH` or `HEAD_MISMATCH` (entries deleted at the end)"
    )
