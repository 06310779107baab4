"""Outbound calls to peer services over gRPC.

Calls carry the caller's access token (the shared client interceptor forwards it), so the peer
checks the caller's permission and scope itself. With no user behind a call (a mobile-money
receipt), payment_service presents a service token of its own instead
(``shared.service_tokens.ServiceTokens``).
A peer's client-caused refusal comes back as the same ``shared.errors`` class
(``reraise_as_domain``); anything else (unavailable, deadline, internal) is re-raised as the
original ``grpc.aio.AioRpcError``: the outcome is then unknown.
"""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import date
from decimal import Decimal
from typing import Any, TypeVar

import grpc

from kopa.loan.v1.events_pb2 import LoanAllocation
from kopa.loan.v2 import loans_pb2, loans_pb2_grpc, repayments_pb2, repayments_pb2_grpc
from payment_service.adapters.codec import applied_from_proto
from payment_service.domain.loans import ALLOCATION_PARTS, OUTSTANDING_PARTS, Applied, LoanView
from payment_service.service_layer.ports import (
    SERVICE_NAME,
    AbstractLoanGateway,
    InstitutionCurrency,
)
from shared.dates import to_proto_date
from shared.loan_events import status_word
from shared.money import to_minor
from shared.rpc_errors import reraise_as_domain

__all__ = [
    "ALLOCATION_PARTS",
    "OUTSTANDING_PARTS",
    "SERVICE_NAME",
    "AbstractLoanGateway",
    "Applied",
    "InstitutionCurrency",
    "LoanGateway",
    "LoanView",
    "institution_currency_from_user_service",
]

T = TypeVar("T")


async def _call(coro: Awaitable[T]) -> T:
    try:
        return await coro
    except grpc.aio.AioRpcError as err:
        refused = reraise_as_domain(err)
        if refused is not None:
            raise refused from None
        raise


def _status_name(status: int) -> str:
    """The loan's status as payment_service names it (a status this build does not know yet
    by its number: GetLoan never fails on it)."""
    try:
        return status_word(status)
    except ValueError:
        return str(int(status))


class LoanGateway(AbstractLoanGateway):
    """loan_service over gRPC: kopa.loan.v2.LoanService to read a loan, and the money path on
    kopa.loan.v2.RepaymentService (amounts in minor units, typed dates)."""

    def __init__(self, channel: grpc.aio.Channel) -> None:
        self._loans = loans_pb2_grpc.LoanServiceStub(channel)
        self._money = repayments_pb2_grpc.RepaymentServiceStub(channel)

    async def get(self, loan_id: str) -> LoanView:
        reply = await _call(self._loans.GetLoan(loans_pb2.GetLoanRequest(loan_id=loan_id)))
        loan = reply.loan
        return LoanView(
            loan_id=loan.id or loan_id,
            institution_id=loan.institution_id,
            branch_id=loan.branch_id,
            borrower_id=loan.borrower_id,
            # kopa.loan.v2.LoanStatus numbers its values as the events' v1 enum does.
            status=_status_name(loan.status),
            currency=loan.currency,
        )

    async def apply(
        self,
        loan_id: str,
        payment_id: str,
        amount: Decimal,
        currency: str,
        paid_on: date,
        *,
        token: str = "",
    ) -> Applied:
        """Idempotent on ``payment_id`` at the loan service: a repeat returns the first answer.
        ``token``: a service token to act with, instead of the caller's."""
        reply = await _call(
            self._money.ApplyRepayment(
                repayments_pb2.ApplyRepaymentRequest(
                    loan_id=loan_id,
                    payment_id=payment_id,
                    amount=to_minor(amount, currency),
                    currency=currency,
                    paid_on=to_proto_date(paid_on),
                ),
                metadata=(("authorization", f"Bearer {token}"),) if token else None,
            )
        )
        return applied_from_proto(reply.position, reply.allocation)

    async def refund(
        self, loan_id: str, refund_id: str, amount: Decimal, currency: str, paid_on: date
    ) -> Applied:
        """Takes ``amount`` off the loan's credit balance; idempotent on ``refund_id``. The
        answer reads like a repayment's, with the whole amount as ``overpayment``."""
        reply = await _call(
            self._money.RefundCredit(
                repayments_pb2.RefundCreditRequest(
                    loan_id=loan_id,
                    refund_id=refund_id,
                    amount=to_minor(amount, currency),
                    currency=currency,
                    refunded_on=to_proto_date(paid_on),
                )
            )
        )
        return applied_from_proto(reply.position, LoanAllocation(overpayment=reply.amount))

    async def reverse(self, loan_id: str, payment_id: str, reason: str) -> None:
        """Idempotent: reversing a reversed payment changes nothing."""
        await _call(
            self._money.ReverseRepayment(
                repayments_pb2.ReverseRepaymentRequest(
                    loan_id=loan_id, payment_id=payment_id, reason=reason
                )
            )
        )


def institution_currency_from_user_service(stub: Any) -> InstitutionCurrency:
    """The institution's currency from user_service (``GetInstitution``, with the caller's
    token). Used only to open the books of an institution that has no loan yet."""
    from kopa.user.v2 import user_pb2

    async def currency(institution_id: str) -> str:
        reply = await _call(
            stub.GetInstitution(user_pb2.GetInstitutionRequest(institution_id=institution_id))
        )
        return str(reply.institution.currency)

    return currency
