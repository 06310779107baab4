"""Callbacks of mobile-money providers (paybill-style), authenticated by their signature."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Request

from gateway.convert import from_proto
from gateway.deps import Stubs
from gateway.mobile_money.schemas import MobileMoneyCallback, MobileMoneyReceipt
from gateway.repayments.schemas import Repayment
from kopa.payment.v2 import repayments_pb2

router = APIRouter(tags=["mobile money"])

Signature = Annotated[
    str,
    Header(
        alias="X-Kopa-Signature",
        max_length=1000,
        description="`t=<unix seconds>,v1=<hex HMAC-SHA256>`, the HMAC keyed with the "
        "institution's callback secret over `<t>.` followed by the raw body; several `v1` "
        "while a secret is rotated",
    ),
]


@router.post(
    "/v1/mobile-money/{institution_id}/callbacks",
    summary="Receive a mobile-money payment",
    # The body is read raw (the signature covers its exact bytes), so it is described here.
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": MobileMoneyCallback.model_json_schema()}},
        }
    },
)
async def mobile_money_callback(
    institution_id: str, request: Request, stubs: Stubs, signature: Signature
) -> MobileMoneyReceipt:
    """For the mobile-money provider, not for staff: it takes no bearer token. It is
    authenticated by the `X-Kopa-Signature` header, an HMAC-SHA256 over the raw body keyed with
    the institution's callback secret (401 `SIGNATURE_INVALID` when missing or wrong, 401
    `REPLAYED` when signed too far from now, by default 5 minutes). An institution without a
    callback secret is 404.

    The money is booked to suspense at once, then posted as a repayment of the loan whose id
    is the `account_reference` when that loan is `active` (if the loan service cannot be
    reached, shortly after); otherwise it stays in suspense for a person to assign
    (`/v1/suspense`). The provider's `transaction_id` makes redeliveries idempotent."""
    raw = await request.body()
    reply = await stubs.mobile_money.ReceiveMobileMoney(
        repayments_pb2.ReceiveMobileMoneyRequest(
            institution_id=institution_id, raw_body=raw, signature=signature
        )
    )
    return from_proto(
        MobileMoneyReceipt, reply, result="accepted", payment=Repayment.of(reply.payment)
    )
