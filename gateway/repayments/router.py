"""Repayments of a loan, refunds of its credit balance, and reversals. payment_service owns the
money and the books; loan_service the balances it applies them to."""

from __future__ import annotations

from fastapi import APIRouter

from gateway.convert import to_proto
from gateway.deps import Stubs, allowed
from gateway.repayments.schemas import Repayment, RepaymentBody, ReversalBody
from gateway.schema import IdempotencyKey, Page, PageSize, PageToken
from kopa.payment.v2 import repayments_pb2
from shared.permissions import Permission as P

router = APIRouter(tags=["repayments"])


@router.post(
    "/v1/loans/{loan_id}/repayments",
    status_code=201,
    summary="Record a repayment",
    dependencies=[allowed(P.REPAYMENTS_CREATE)],
)
async def post_repayment(
    loan_id: str, body: RepaymentBody, idempotency_key: IdempotencyKey, stubs: Stubs
) -> Repayment:
    """Applies money received from the borrower to an `active` loan, exactly once per
    `Idempotency-Key`: penalties, fees, interest and principal as the product's allocation
    strategy says, anything beyond everything owed kept as the loan's credit balance. A loan
    paid in full becomes `closed` (`loan_status`). A loan in another status is 409."""
    reply = await stubs.repayments.PostRepayment(
        to_proto(
            repayments_pb2.PostRepaymentRequest,
            body,
            loan_id=loan_id,
            idempotency_key=idempotency_key,
        )
    )
    return Repayment.of(reply.payment)


@router.get(
    "/v1/loans/{loan_id}/repayments",
    summary="List a loan's repayments",
    dependencies=[allowed(P.REPAYMENTS_READ)],
)
async def list_repayments(
    loan_id: str, stubs: Stubs, page_size: PageSize = 50, page_token: PageToken = ""
) -> Page[Repayment]:
    """Every repayment recorded for the loan, reversed ones included (refunds are not
    repayments and are not listed)."""
    reply = await stubs.repayments.ListRepayments(
        repayments_pb2.ListRepaymentsRequest(
            loan_id=loan_id, page_size=page_size, page_token=page_token
        )
    )
    return Page[Repayment](
        items=[Repayment.of(p) for p in reply.payments], next_page_token=reply.next_page_token
    )


@router.post(
    "/v1/loans/{loan_id}/refunds",
    status_code=201,
    summary="Refund a loan's credit balance",
    dependencies=[allowed(P.REPAYMENTS_REVERSE)],
)
async def refund_credit(
    loan_id: str, body: RepaymentBody, idempotency_key: IdempotencyKey, stubs: Stubs
) -> Repayment:
    """Pays (part of) the loan's credit balance, what the borrower overpaid, back to the
    borrower through `channel`, exactly once per `Idempotency-Key`. The loan must be `active`
    or `closed`; more than the credit balance is 422 naming `amount` (`CREDIT_EXCEEDED`). The
    same privilege as reversing a repayment."""
    reply = await stubs.repayments.RefundCredit(
        to_proto(
            repayments_pb2.RefundCreditRequest,
            body,
            loan_id=loan_id,
            idempotency_key=idempotency_key,
        )
    )
    return Repayment.of(reply.payment)


@router.post(
    "/v1/repayments/{payment_id}/reverse",
    summary="Reverse a repayment",
    dependencies=[allowed(P.REPAYMENTS_REVERSE)],
)
async def reverse_repayment(payment_id: str, body: ReversalBody, stubs: Stubs) -> Repayment:
    """Undoes a `posted` repayment (a bounced cheque, a payment keyed to the wrong loan): the
    loan is recomputed as if it had never been paid (a `closed` loan may become `active`
    again) and the books get a compensating entry; nothing is deleted. The repayment becomes
    `reversed`, and reversing it again answers it as it is. A payment not `posted` (or a
    refund) is 409; so is undoing credit already refunded (`CREDIT_ALREADY_REFUNDED`)."""
    reply = await stubs.repayments.ReverseRepayment(
        to_proto(repayments_pb2.ReverseRepaymentRequest, body, payment_id=payment_id)
    )
    return Repayment.of(reply.payment)
