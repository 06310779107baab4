"""The RepaymentService and MobileMoneyService servicers (kopa.payment.v2): a loan's
repayments, refunds and reversals, and money from mobile-money providers, with typed amounts
and dates. The amount arrives as google.type.Money and the date as google.type.Date, read here
once; the use cases check them against the loan."""

from __future__ import annotations

from typing import TypeAlias

import grpc

from kopa.payment.v2 import repayments_pb2 as pb
from kopa.payment.v2 import repayments_pb2_grpc
from payment_service.adapters import codec
from payment_service.service_layer.mobile_money import MobileMoney
from payment_service.service_layer.repayments import RepaymentCommand, Repayments, read_field
from shared.dates import from_proto_date
from shared.errors import ValidationError
from shared.money import from_money

Ctx: TypeAlias = grpc.aio.ServicerContext  # type: ignore[type-arg]


def _command(request: pb.PostRepaymentRequest | pb.RefundCreditRequest) -> RepaymentCommand:
    unreadable: list[ValidationError] = []
    amount = (
        read_field(unreadable, lambda: from_money(request.amount))
        if request.HasField("amount")
        else None
    )
    paid_on = read_field(unreadable, lambda: from_proto_date(request.paid_on, "paid_on"))
    channel = (
        codec.CHANNEL_FROM_V2.get(request.channel, str(request.channel)) if request.channel else ""
    )
    return RepaymentCommand(
        loan_id=request.loan_id,
        amount=amount,
        paid_on=paid_on,
        channel=channel,
        reference=request.reference,
        idempotency_key=request.idempotency_key,
        currency=request.amount.currency_code,
        unreadable=tuple(unreadable),
    )


class RepaymentServicer(repayments_pb2_grpc.RepaymentServiceServicer):
    def __init__(self, repayments: Repayments) -> None:
        self.repayments = repayments

    async def PostRepayment(
        self, request: pb.PostRepaymentRequest, context: Ctx
    ) -> pb.PostRepaymentResponse:
        payment, replayed = await self.repayments.post(_command(request))
        return pb.PostRepaymentResponse(
            payment=codec.answered_v2(payment, replayed), replayed=replayed
        )

    async def RefundCredit(
        self, request: pb.RefundCreditRequest, context: Ctx
    ) -> pb.RefundCreditResponse:
        payment, replayed = await self.repayments.refund(_command(request))
        return pb.RefundCreditResponse(
            payment=codec.answered_v2(payment, replayed), replayed=replayed
        )

    async def GetPayment(
        self, request: pb.GetPaymentRequest, context: Ctx
    ) -> pb.GetPaymentResponse:
        payment = await self.repayments.get(request.payment_id)
        return pb.GetPaymentResponse(payment=codec.payment_v2(payment))

    async def ListRepayments(
        self, request: pb.ListRepaymentsRequest, context: Ctx
    ) -> pb.ListRepaymentsResponse:
        payments, token = await self.repayments.list_for_loan(
            request.loan_id, request.page_size, request.page_token
        )
        return pb.ListRepaymentsResponse(
            payments=[codec.payment_v2(p) for p in payments], next_page_token=token
        )

    async def ReverseRepayment(
        self, request: pb.ReverseRepaymentRequest, context: Ctx
    ) -> pb.ReverseRepaymentResponse:
        payment = await self.repayments.reverse(request.payment_id, request.reason)
        return pb.ReverseRepaymentResponse(payment=codec.payment_v2(payment))


class MobileMoneyServicer(repayments_pb2_grpc.MobileMoneyServiceServicer):
    def __init__(self, mobile_money: MobileMoney) -> None:
        self.mobile_money = mobile_money

    async def ReceiveMobileMoney(
        self, request: pb.ReceiveMobileMoneyRequest, context: Ctx
    ) -> pb.ReceiveMobileMoneyResponse:
        payment, replayed = await self.mobile_money.receive(
            request.institution_id, request.raw_body, request.signature
        )
        return pb.ReceiveMobileMoneyResponse(payment=codec.payment_v2(payment), replayed=replayed)

    async def AssignSuspense(
        self, request: pb.AssignSuspenseRequest, context: Ctx
    ) -> pb.AssignSuspenseResponse:
        payment = await self.mobile_money.assign(request.payment_id, request.loan_id)
        return pb.AssignSuspenseResponse(payment=codec.payment_v2(payment))

    async def ListSuspense(
        self, request: pb.ListSuspenseRequest, context: Ctx
    ) -> pb.ListSuspenseResponse:
        payments, token = await self.mobile_money.list_suspense(
            request.page_size, request.page_token
        )
        return pb.ListSuspenseResponse(
            payments=[codec.payment_v2(p) for p in payments], next_page_token=token
        )
