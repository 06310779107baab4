"""The institution's books: chart of accounts, trial balance, general ledger, and each loan's
statement. Entries are booked by the payment service as money moves (disbursements,
repayments, accruals, write-offs, reversals); none is entered or changed here."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from gateway.convert import from_proto, to_proto
from gateway.deps import Stubs, allowed
from gateway.ledger.schemas import Account, LedgerLine, TrialBalance
from gateway.schema import IsoDate, Page, PageSize, PageToken
from kopa.payment.v2 import ledger_pb2
from shared.permissions import Permission as P

router = APIRouter(tags=["ledger"])


@router.get(
    "/v1/ledger/accounts",
    summary="The chart of accounts",
    dependencies=[allowed(P.LEDGER_READ)],
)
async def list_accounts(stubs: Stubs) -> Page[Account]:
    """Every account of the caller's institution, system accounts and added ones, in one
    page."""
    reply = await stubs.ledger.ListAccounts(ledger_pb2.ListAccountsRequest())
    return Page[Account](items=[from_proto(Account, a) for a in reply.accounts], next_page_token="")


@router.post(
    "/v1/ledger/accounts",
    status_code=201,
    summary="Add an account",
    dependencies=[allowed(P.LEDGER_MANAGE)],
)
async def create_account(body: Account, stubs: Stubs) -> Account:
    """Adds an account to the institution's chart (e.g. an expense account for manual
    bookkeeping); a code already in the chart is a 409."""
    reply = await stubs.ledger.CreateAccount(
        ledger_pb2.CreateAccountRequest(account=to_proto(ledger_pb2.Account, body))
    )
    return from_proto(Account, reply.account)


@router.get(
    "/v1/ledger/trial-balance",
    summary="Trial balance",
    dependencies=[allowed(P.LEDGER_READ)],
)
async def trial_balance(
    stubs: Stubs,
    as_of: Annotated[
        IsoDate | None, Query(description="count entries dated up to this day; default: all")
    ] = None,
) -> TrialBalance:
    """Each account's total debits, total credits and balance over the entries dated up to
    `as_of` (every entry when omitted), with the totals; they are equal when the books
    balance. Entries follow the loans' events within seconds."""
    reply = await stubs.ledger.GetTrialBalance(
        to_proto(ledger_pb2.GetTrialBalanceRequest, as_of=as_of)
    )
    return from_proto(TrialBalance, reply, as_of=as_of, currency=reply.total_debit.currency_code)


@router.get(
    "/v1/ledger/accounts/{account_code}/entries",
    summary="An account's general ledger",
    dependencies=[allowed(P.LEDGER_READ)],
)
async def general_ledger(
    account_code: str, stubs: Stubs, page_size: PageSize = 100, page_token: PageToken = ""
) -> Page[LedgerLine]:
    """The account's movements in date order, each with the running balance on the
    account's normal side (computed over every earlier entry, whatever the page). An
    unknown account code is a 404."""
    reply = await stubs.ledger.GetGeneralLedger(
        ledger_pb2.GetGeneralLedgerRequest(
            account_code=account_code, page_size=page_size, page_token=page_token
        )
    )
    return Page[LedgerLine](
        items=[from_proto(LedgerLine, line) for line in reply.lines],
        next_page_token=reply.next_page_token,
    )


@router.get(
    "/v1/loans/{loan_id}/statement",
    summary="A loan's statement",
    dependencies=[allowed(P.LEDGER_READ)],
)
async def loan_statement(loan_id: str, stubs: Stubs) -> Page[LedgerLine]:
    """The loan's ledger lines from the borrower's side, oldest first, in one page: `debit`
    is what an entry added to what the borrower owes (the principal disbursed, a payment
    reversed), `credit` what it took off (payments, with their split into principal,
    interest, fees, penalties and overpayment in the memo; principal written off), and
    `running_balance` the principal outstanding after it. Lines start with the disbursement
    (`approved -> active`; before it the books may not know the loan: 404) and stay readable
    once the loan is `closed` or `written_off`."""
    reply = await stubs.ledger.GetLoanStatement(ledger_pb2.GetLoanStatementRequest(loan_id=loan_id))
    return Page[LedgerLine](
        items=[from_proto(LedgerLine, line) for line in reply.lines], next_page_token=""
    )
