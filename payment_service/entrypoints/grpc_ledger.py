"""The LedgerService servicer (kopa.payment.v2): the books with typed amounts and dates."""

from __future__ import annotations

from typing import TypeAlias

import grpc

from kopa.payment.v2 import ledger_pb2 as pb
from kopa.payment.v2 import ledger_pb2_grpc
from payment_service.entrypoints import mapping as m
from payment_service.service_layer.ledger import LedgerHandlers
from shared.dates import from_proto_date

Ctx: TypeAlias = grpc.aio.ServicerContext  # type: ignore[type-arg]


class LedgerServicer(ledger_pb2_grpc.LedgerServiceServicer):
    def __init__(self, ledger: LedgerHandlers) -> None:
        self.ledger = ledger

    async def ListAccounts(
        self, request: pb.ListAccountsRequest, context: Ctx
    ) -> pb.ListAccountsResponse:
        accounts = await self.ledger.list_accounts()
        return pb.ListAccountsResponse(accounts=[m.account_v2(a) for a in accounts])

    async def CreateAccount(
        self, request: pb.CreateAccountRequest, context: Ctx
    ) -> pb.CreateAccountResponse:
        a = request.account
        # An unknown type is refused by the domain, which names `type`.
        kind = m.ACCOUNT_TYPE_WORDS.get(a.type, str(a.type) if a.type else "")
        account = await self.ledger.create_account(a.code, a.name, kind)
        return pb.CreateAccountResponse(account=m.account_v2(account))

    async def GetTrialBalance(
        self, request: pb.GetTrialBalanceRequest, context: Ctx
    ) -> pb.GetTrialBalanceResponse:
        as_of = from_proto_date(request.as_of, "as_of")
        return m.trial_balance_v2(await self.ledger.trial_balance(as_of))

    async def GetGeneralLedger(
        self, request: pb.GetGeneralLedgerRequest, context: Ctx
    ) -> pb.GetGeneralLedgerResponse:
        page, token, currency = await self.ledger.general_ledger(
            request.account_code, request.page_size, request.page_token
        )
        return pb.GetGeneralLedgerResponse(
            lines=m.lines_v2(m.ledger_rows(page), currency), next_page_token=token
        )

    async def GetLoanStatement(
        self, request: pb.GetLoanStatementRequest, context: Ctx
    ) -> pb.GetLoanStatementResponse:
        statement, sources = await self.ledger.loan_statement(request.loan_id)
        lines = m.lines_v2(m.statement_rows(statement, sources), statement.currency)
        return pb.GetLoanStatementResponse(lines=lines)
