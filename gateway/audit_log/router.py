"""The audit log: read it, and check that nobody altered it."""

from __future__ import annotations

from fastapi import APIRouter

from gateway.audit_log.schemas import AuditChainVerification, AuditEntry
from gateway.convert import from_proto
from gateway.deps import Stubs, allowed
from gateway.schema import Page, PageSize, PageToken
from kopa.auth.v1 import auth_pb2
from shared.permissions import Permission as P

router = APIRouter(tags=["audit log"])


@router.get("/v1/audit-log", summary="Audit trail", dependencies=[allowed(P.AUDIT_READ)])
async def audit_log(
    stubs: Stubs, page_size: PageSize = 50, page_token: PageToken = ""
) -> Page[AuditEntry]:
    """The caller's institution's audit trail, newest first. Every successful change made
    through the API is in it (including those the platform administrator made to the
    institution), appended just after the answer is sent, so a change can take a moment to
    show."""
    reply = await stubs.auth.ListAuditEntries(
        auth_pb2.ListAuditEntriesRequest(page_size=page_size, page_token=page_token)
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
