"""Suspense: money received (by mobile money) that could not be matched to one active loan,
waiting for a person to say which loan it pays."""

from __future__ import annotations

from fastapi import APIRouter

from gateway.convert import to_proto
from gateway.deps import Stubs, allowed
from gateway.repayments.schemas import Repayment
from gateway.schema import Page, PageSize, PageToken
from gateway.suspense.schemas import AssignBody
from kopa.payment.v2 import repayments_pb2
from shared.permissions import Permission as P

router = APIRouter(tags=["suspense"])


@router.get(
    "/v1/suspense", summary="List money in suspense", dependencies=[allowed(P.REPAYMENTS_READ)]
)
async def list_suspense(
    stubs: Stubs, page_size: PageSize = 50, page_token: PageToken = ""
) -> Page[Repayment]:
    """The institution's receipts in `suspense`: their reference matched no loan, several
    active loans, or a loan that is no longer active. Each is booked to the suspense account
    until assigned."""
    reply = await stubs.mobile_money.ListSuspense(
        repayments_pb2.ListSuspenseRequest(page_size=page_size, page_token=page_token)
    )
    return Page[Repayment](
        items=[Repayment.of(p) for p in reply.payments], next_page_token=reply.next_page_token
    )


@router.post(
    "/v1/suspense/{payment_id}/assign",
    summary="Assign money in suspense to a loan",
    dependencies=[allowed(P.REPAYMENTS_CREATE)],
)
async def assign_suspense(payment_id: str, body: AssignBody, stubs: Stubs) -> Repayment:
    """Applies a receipt waiting in `suspense` to an `active` loan as a repayment dated when
    it was received: it becomes `posted`, moved out of the suspense account. Assigning it
    again to the same loan answers it as it is; any other receipt not in suspense is 409."""
    reply = await stubs.mobile_money.AssignSuspense(
        to_proto(repayments_pb2.AssignSuspenseRequest, body, payment_id=payment_id)
    )
    return Repayment.of(reply.payment)
