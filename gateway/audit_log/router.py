"""The audit log: read it, and check that nobody altered it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from gateway.audit_log.schemas import AuditChainVerification, AuditEntry
from gateway.convert import from_proto
from gateway.deps import Stubs, allowed
from gateway.schema import Page, PageSize, PageToken
from kopa.auth.v1 import auth_pb2
from shared.permissions import Permission as P

router = APIRouter(tags=["audit log"])


TargetKind = Annotated[
    str,
    Query(
        max_length=100,
        description="only entries about this kind of record, the entries' `target_kind` (the "
        "URL's first segment after `/v1/`, such as `borrowers` or `loans`), compared exactly; "
        "a kind no entry has matches nothing",
        examples=["borrowers"],
    ),
]
TargetId = Annotated[
    str,
    Query(
        max_length=200,
        description="only entries about this record, the entries' `target_id`, compared "
        "exactly; requires `target_kind`",
        examples=["bor_0199f3b7d2e1f0a9b8c7d6e5f4a3b2c1"],
    ),
]
ActorId = Annotated[
    str,
    Query(
        max_length=200,
        description="only entries of changes made by this user, the entries' `actor_id`",
        examples=["usr_0199f3a2b4c1a1b2c3d4e5f60718293a"],
    ),
]


@router.get("/v1/audit-log", summary="Audit trail", dependencies=[allowed(P.AUDIT_READ)])
async def audit_log(
    stubs: Stubs,
    target_kind: TargetKind = "",
    target_id: TargetId = "",
    actor_id: ActorId = "",
    page_size: PageSize = 50,
    page_token: PageToken = "",
) -> Page[AuditEntry]:
    """The caller's institution's audit trail, newest first. Every successful change made
    through the API is in it (including those the platform administrator made to the
    institution, and sign-outs), appended just after the answer is sent, so a change can take
    a moment to show.

    Filters, each optional and combined with AND, each compared exactly (no prefix, no case
    folding):

    - `target_kind` and `target_id`: the entries about one record, such as one borrower's
      file (`target_kind=borrowers&target_id=bor_...`) or one loan's
      (`target_kind=loans&target_id=loan_...`): its creation (`POST /v1/borrowers`, whose
      entry names the id the answer gave the new record) and every change made through a URL
      of its own (`/v1/borrowers/{borrower_id}...`, `/v1/loans/{loan_id}/approve`,
      `.../repayments`, ...). `target_kind` alone: every entry about that kind of record.
      `target_id` needs `target_kind` (422 naming `target_id`). A kind or id no entry has is
      an empty page, not an error.
    - `actor_id`: the entries of changes made by one user (`actor_id` of the entries, the id
      in `GET /v1/users`).

    Pages: ask again with `page_token=next_page_token` and the same filters; a token used
    with other filters is 422 naming `page_token`."""
    reply = await stubs.auth.ListAuditEntries(
        auth_pb2.ListAuditEntriesRequest(
            page_size=page_size,
            page_token=page_token,
            target_kind=target_kind,
            target_id=target_id,
            actor_id=actor_id,
        )
    )
    return Page(
        items=[from_proto(AuditEntry, e) for e in reply.entries],
        next_page_token=reply.next_page_token,
    )


@router.get(
    "/v1/audit-log/verify",
    summary="Verify the audit trail",
    dependencies=[allowed(P.AUDIT_READ)],
)
async def verify_audit(stubs: Stubs) -> AuditChainVerification:
    """Recompute the hash chain of the caller's institution's audit trail from its first entry
    and report the first entry edited, missing or out of order, if any."""
    reply = await stubs.auth.VerifyAuditChain(auth_pb2.VerifyAuditChainRequest())
    return from_proto(AuditChainVerification, reply)
