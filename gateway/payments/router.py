"""The books (chart of accounts, trial balance, general ledger, loan statements), suspense,
and the mobile-money provider callback."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from pydantic import Field, StrictStr

from gateway.convert import page, to_json
from gateway.deps import Stubs, allowed
from gateway.schema import Strict
from gateway.loans.router import payment_json
from kopa.payment.v1 import payment_pb2
from shared.permissions import Permission as P

router = APIRouter(tags=["ledger"])


class AccountBody(Strict):
    code: StrictStr = Field(min_length=3, max_length=10)
    name: StrictStr = Field(min_length=1, max_length=100)
    type: StrictStr = Field(description="asset, liability, equity, income or expense")


class AssignBody(Strict):
    loan_id: StrictStr


@router.get("/v1/ledger/accounts", dependencies=[allowed(P.LEDGER_READ)])
async def list_accounts(stubs: Stubs) -> dict[str, Any]:
    reply = await stubs.payment.ListAccounts(payment_pb2.ListAccountsRequest())
    return page([to_json(a) for a in reply.accounts], "")


@router.post("/v1/ledger/accounts", status_code=201, dependencies=[allowed(P.LEDGER_MANAGE)])
async def create_account(body: AccountBody, stubs: Stubs) -> dict[str, Any]:
    reply = await stubs.payment.CreateAccount(
        payment_pb2.CreateAccountRequest(
            account=payment_pb2.Account(code=body.code, name=body.name, type=body.type)
        )
    )
    return to_json(reply.account)


@router.get("/v1/ledger/trial-balance", dependencies=[allowed(P.LEDGER_READ)])
async def trial_balance(stubs: Stubs, as_of: str = "") -> dict[str, Any]:
    reply = await stubs.payment.GetTrialBalance(payment_pb2.GetTrialBalanceRequest(as_of=as_of))
    return {
        "as_of": as_of or None,
        "currency": reply.currency,
        "lines": [to_json(line) for line in reply.lines],
        "total_debit": reply.total_debit,
        "total_credit": reply.total_credit,
    }


@router.get("/v1/ledger/accounts/{account_code}/entries", dependencies=[allowed(P.LEDGER_READ)])
async def general_ledger(
    account_code: str, stubs: Stubs, page_size: int = 100, page_token: str = ""
) -> dict[str, Any]:
    reply = await stubs.payment.GetGeneralLedger(
        payment_pb2.GetGeneralLedgerRequest(
            account_code=account_code, page_size=page_size, page_token=page_token
        )
    )
    return page([to_json(line) for line in reply.lines], reply.next_page_token)


@router.get("/v1/loans/{loan_id}/statement", dependencies=[allowed(P.LEDGER_READ)])
async def loan_statement(loan_id: str, stubs: Stubs) -> dict[str, Any]:
    reply = await stubs.payment.GetLoanStatement(
        payment_pb2.GetLoanStatementRequest(loan_id=loan_id)
    )
    return page([to_json(line) for line in reply.lines], "")


@router.get("/v1/suspense", tags=["repayments"], dependencies=[allowed(P.REPAYMENTS_READ)])
async def list_suspense(stubs: Stubs, page_size: int = 50, page_token: str = "") -> dict[str, Any]:
    reply = await stubs.payment.ListSuspense(
        payment_pb2.ListSuspenseRequest(page_size=page_size, page_token=page_token)
    )
    return page([payment_json(p) for p in reply.payments], reply.next_page_token)


@router.post(
    "/v1/suspense/{payment_id}/assign",
    tags=["repayments"],
    dependencies=[allowed(P.REPAYMENTS_CREATE)],
)
async def assign_suspense(payment_id: str, body: AssignBody, stubs: Stubs) -> dict[str, Any]:
    reply = await stubs.payment.AssignSuspense(
        payment_pb2.AssignSuspenseRequest(payment_id=payment_id, loan_id=body.loan_id)
    )
    return payment_json(reply.payment)


@router.post("/v1/mobile-money/{institution_id}/callbacks", tags=["mobile money"])
async def mobile_money_callback(
    institution_id: str,
    request: Request,
    stubs: Stubs,
    signature: Annotated[
        str,
        Header(
            alias="X-Kopa-Signature",
            max_length=1000,
            description="t=<unix time>,v1=<hex HMAC-SHA256>",
        ),
    ],
) -> dict[str, Any]:
    """A provider's paybill-style callback: authenticated by its HMAC signature over the raw
    body (no bearer token); the provider's transaction id makes retries idempotent."""
    raw = await request.body()
    reply = await stubs.payment.ReceiveMobileMoney(
        payment_pb2.ReceiveMobileMoneyRequest(
            institution_id=institution_id, raw_body=raw, signature=signature
        )
    )
    return {
        "result": "accepted",
        "replayed": reply.replayed,
        "payment": payment_json(reply.payment),
    }
