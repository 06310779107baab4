"""The RepaymentService servicer (kopa.loan.v2): the money path with typed contracts. Amounts
arrive as minor units of a named currency and dates as google.type.Date, so nothing is parsed
here: the use cases check them against the loan. Each answer is the loan's position after the
write, encoded as its events encode it (`adapters.contract`)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import TypeAlias

import grpc
from google.type import date_pb2

from kopa.loan.v2 import repayments_pb2 as pb
from kopa.loan.v2 import repayments_pb2_grpc
from loan_service.adapters.contract import Minor, loan_position
from loan_service.service_layer import commands, repayments
from loan_service.service_layer.inputs import collect
from loan_service.service_layer.unit_of_work import UnitOfWork
from shared.dates import from_proto_date
from shared.errors import ValidationError
from shared.money import from_minor

Ctx: TypeAlias = grpc.aio.ServicerContext


def _money_in(
    minor: int, currency: str, day: date_pb2.Date, date_field: str, *, required: bool = True
) -> tuple[Decimal, date | None]:
    """A request's amount (minor units of `currency`) and date, both bad fields named at once
    (whether the amount suits the loan is the use case's to say)."""
    errors: list[tuple[str, str]] = []
    amount = collect(errors, lambda: from_minor(minor, currency))
    on = collect(errors, lambda: from_proto_date(day, date_field))
    if on is None and required and not errors:
        errors.append((date_field, "is required"))
    if errors:
        raise ValidationError("the request is invalid", field_errors=errors)
    return amount, on


class RepaymentServicer(repayments_pb2_grpc.RepaymentServiceServicer):
    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow

    async def ApplyRepayment(
        self, request: pb.ApplyRepaymentRequest, context: Ctx
    ) -> pb.ApplyRepaymentResponse:
        amount, paid_on = _money_in(request.amount, request.currency, request.paid_on, "paid_on")
        assert paid_on is not None  # required
        doc, allocation = await repayments.apply_repayment(
            self.uow,
            commands.ApplyRepayment(
                loan_id=request.loan_id,
                payment_id=request.payment_id,
                amount=amount,
                currency=request.currency,
                paid_on=paid_on,
            ),
        )
        minor = Minor(doc["currency"])
        return pb.ApplyRepaymentResponse(
            allocation=minor.allocation(allocation),
            position=loan_position(None, doc, minor, installments=False),
        )

    async def ReverseRepayment(
        self, request: pb.ReverseRepaymentRequest, context: Ctx
    ) -> pb.ReverseRepaymentResponse:
        doc = await repayments.reverse_repayment(
            self.uow,
            commands.ReverseRepayment(
                loan_id=request.loan_id, payment_id=request.payment_id, reason=request.reason
            ),
        )
        position = loan_position(None, doc, Minor(doc["currency"]), installments=False)
        return pb.ReverseRepaymentResponse(position=position)

    async def RefundCredit(
        self, request: pb.RefundCreditRequest, context: Ctx
    ) -> pb.RefundCreditResponse:
        amount, on = _money_in(
            request.amount, request.currency, request.refunded_on, "refunded_on", required=False
        )
        doc, refunded = await repayments.refund_credit(
            self.uow,
            commands.RefundCredit(
                loan_id=request.loan_id,
                refund_id=request.refund_id,
                amount=amount,
                currency=request.currency,
                refunded_on=on,
            ),
        )
        minor = Minor(doc["currency"])
        return pb.RefundCreditResponse(
            amount=minor(refunded),
            position=loan_position(None, doc, minor, installments=False),
        )
