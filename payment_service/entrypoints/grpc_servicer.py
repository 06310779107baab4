"""The PaymentService servicer: maps proto requests to use cases and results back.

Errors are raised as ``shared.errors`` classes (the payment domain's subclass them) and turned
into rich statuses by the shared server interceptor.
"""

from __future__ import annotations

from typing import TypeAlias

import grpc

from kopa.payment.v1 import payment_pb2, payment_pb2_grpc
from payment_service.adapters import codec
from payment_service.entrypoints import mapping as m
from payment_service.service_layer.ledger import LedgerHandlers
from payment_service.service_layer.mobile_money import MobileMoney
from payment_service.service_layer.repayments import (
    RepaymentCommand,
    Repayments,
    command_from_text,
)
from shared.dates import parse_date

Ctx: TypeAlias = grpc.aio.ServicerContext  # type: ignore[type-arg]


def _command(
    request: payment_pb2.PostRepaymentRequest | payment_pb2.RefundCreditRequest,
) -> RepaymentCommand:
    return command_from_text(
        loan_id=request.loan_id,
        amount=request.amount,
        paid_on=request.paid_on,
        channel=request.channel,
        reference=request.reference,
        idempotency_key=request.idempotency_key,
    )


class PaymentServicer(payment_pb2_grpc.PaymentServiceServicer):
    def __init__(
        self, repayments: Repayments, mobile_money: MobileMoney, ledger: LedgerHandlers
    ) -> None:
        self.repayments = repayments
        self.mobile_money = mobile_money
        self.ledger = ledger

    async def PostRepayment(
        self, request: payment_pb2.PostRepaymentRequest, context: Ctx
    ) -> payment_pb2.PostRepaymentResponse:
        payment, replayed = await self.repayments.post(_command(request))
        return payment_pb2.PostRepaymentResponse(payment=codec.answered(payment), replayed=replayed)

    async def RefundCredit(
        self, request: payment_pb2.RefundCreditRequest, context: Ctx
    ) -> payment_pb2.RefundCreditResponse:
        payment, replayed = await self.repayments.refund(_command(request))
        return payment_pb2.RefundCreditResponse(payment=codec.answered(payment), replayed=replayed)

    async def GetPayment(
        self, request: payment_pb2.GetPaymentRequest, context: Ctx
    ) -> payment_pb2.GetPaymentResponse:
        payment = await self.repayments.get(request.payment_id)
        return payment_pb2.GetPaymentResponse(payment=codec.payment_message(payment))

    async def ListRepayments(
        self, request: payment_pb2.ListRepaymentsRequest, context: Ctx
    ) -> payment_pb2.ListRepaymentsResponse:
        payments, token = await self.repayments.list_for_loan(
            request.loan_id, request.page_size, request.page_token
        )
        return payment_pb2.ListRepaymentsResponse(
            payments=[codec.payment_message(p) for p in payments], next_page_token=token
        )

    async def ReverseRepayment(
        self, request: payment_pb2.ReverseRepaymentRequest, context: Ctx
    ) -> payment_pb2.ReverseRepaymentResponse:
        payment = await self.repayments.reverse(request.payment_id, request.reason)
        return payment_pb2.ReverseRepaymentResponse(payment=codec.payment_message(payment))

    async def ReceiveMobileMoney(
        self, request: payment_pb2.ReceiveMobileMoneyRequest, context: Ctx
    ) -> payment_pb2.ReceiveMobileMoneyResponse:
        payment, replayed = await self.mobile_money.receive(
            request.institution_id, request.raw_body, request.signature
        )
        return payment_pb2.ReceiveMobileMoneyResponse(
            payment=codec.payment_message(payment), replayed=replayed
        )

    async def AssignSuspense(
        self, request: payment_pb2.AssignSuspenseRequest, context: Ctx
    ) -> payment_pb2.AssignSuspenseResponse:
        payment = await self.mobile_money.assign(request.payment_id, request.loan_id)
        return payment_pb2.AssignSuspenseResponse(payment=codec.payment_message(payment))

    async def ListSuspense(
        self, request: payment_pb2.ListSuspenseRequest, context: Ctx
    ) -> payment_pb2.ListSuspenseResponse:
        payments, token = await self.mobile_money.list_suspense(
            request.page_size, request.page_token
        )
        return payment_pb2.ListSuspenseResponse(
            payments=[codec.payment_message(p) for p in payments], next_page_token=token
        )

    async def GetTrialBalance(
        self, request: payment_pb2.GetTrialBalanceRequest, context: Ctx
    ) -> payment_pb2.GetTrialBalanceResponse:
        as_of = parse_date(request.as_of, "as_of", required=False)
        return m.trial_balance_to_proto(await self.ledger.trial_balance(as_of))

    async def ListAccounts(
        self, request: payment_pb2.ListAccountsRequest, context: Ctx
    ) -> payment_pb2.ListAccountsResponse:
        accounts = await self.ledger.list_accounts()
        return payment_pb2.ListAccountsResponse(accounts=[m.account_to_proto(a) for a in accounts])

    async def CreateAccount(
        self, request: payment_pb2.CreateAccountRequest, context: Ctx
    ) -> payment_pb2.CreateAccountResponse:
        a = request.account
        account = await self.ledger.create_account(a.code, a.name, a.type)
        return payment_pb2.CreateAccountResponse(account=m.account_to_proto(account))

    async def GetGeneralLedger(
        self, request: payment_pb2.GetGeneralLedgerRequest, context: Ctx
    ) -> payment_pb2.GetGeneralLedgerResponse:
        page, token, currency = await self.ledger.general_ledger(
            request.account_code, request.page_size, request.page_token
        )
        return payment_pb2.GetGeneralLedgerResponse(
            lines=m.lines_to_proto(m.ledger_rows(page), currency), next_page_token=token
        )

    async def GetLoanStatement(
        self, request: payment_pb2.GetLoanStatementRequest, context: Ctx
    ) -> payment_pb2.GetLoanStatementResponse:
        statement, sources = await self.ledger.loan_statement(request.loan_id)
        lines = m.lines_to_proto(m.statement_rows(statement, sources), statement.currency)
        return payment_pb2.GetLoanStatementResponse(lines=lines)
