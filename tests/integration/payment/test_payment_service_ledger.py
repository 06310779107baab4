"""payment_service over real gRPC: the books — loan events booked once, the chart of
accounts, the general ledger and trial balance, and a new institution's books."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from kopa.loan.v1 import events_pb2 as loan_events_pb2
from kopa.loan.v1 import loan_pb2
from kopa.payment.v1 import payment_pb2
from shared.events import outbox_fields
from shared.permissions import Role
from tests.support.payment_world import (
    TODAY,
    ZERO,
    World,
    books,
    callback,
    new_active_loan,
    post,
    receive,
)
from tests.support.rpc import Code, md, rpc_error
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration


# --- loan events ------------------------------------------------------------------------------


async def test_disbursement_and_write_off_events_are_booked_once(world: World) -> None:
    w = world
    before = await books(w)
    loan = w.loans.add(w.inst, w.branch, principal=Decimal("2000"), principal_due=Decimal("2000"))
    # Through the broker, as loan_service publishes it (fees deducted: 50).
    entry = outbox_fields(
        [
            loan_events_pb2.LoanDisbursed.FromString(
                w.loan_event_body(
                    "loan.disbursed",
                    loan,
                    disbursed_net="1950.00",
                    fees_deducted="50.00",
                    channel="mobile_money",
                    business_date=TODAY,
                )
            )
        ]
    )["outbox"][0]
    await w.publisher.publish(entry)
    await w.publisher.publish(entry)  # at least once: delivered twice

    async def booked() -> bool:
        return await w.db.journal_entries.find_one({"_id": f"disbursement:{loan.id}"}) is not None

    await wait_until(booked)
    await asyncio.sleep(0.3)
    after = await books(w)
    assert after["1100"] - before["1100"] == Decimal("2000.00")
    assert before["1020"] - after["1020"] == Decimal("1950.00")
    assert after["4100"] - before["4100"] == Decimal("50.00")
    seen = await w.db.loans_seen.find_one({"_id": loan.id})
    assert seen["status"] == "active" and seen["ref"] == loan.id.upper()

    loan.status = loan_pb2.LOAN_STATUS_WRITTEN_OFF
    loan.written_off_principal = Decimal("2000")
    for _ in range(2):
        await w.loan_event("loan.written_off", loan, business_date=TODAY)
    written = await books(w)
    assert written["1100"] == before["1100"]
    assert written["5000"] - before["5000"] == Decimal("2000.00")
    assert await w.db.journal_entries.count_documents({"loan_id": loan.id}) == 2
    assert (await w.db.loans_seen.find_one({"_id": loan.id}))["status"] == "written_off"


# --- the ledger -------------------------------------------------------------------------------


async def test_the_chart_accounts_and_general_ledger(world: World) -> None:
    w = world
    loan = await new_active_loan(w)
    agent = w.token(Role.AGENT)
    for amount in ("10.00", "20.00"):
        await post(w, agent, loan.id, amount)
    auditor = w.token(Role.AUDITOR)
    accounts = await w.payments.ListAccounts(
        payment_pb2.ListAccountsRequest(), metadata=md(auditor)
    )
    assert {a.code for a in accounts.accounts} >= {"1000", "1100", "2900", "4000", "5000"}

    admin = w.token(Role.ADMIN)
    create = payment_pb2.CreateAccountRequest(
        account=payment_pb2.Account(code="1030", name="Agent float", type="asset")
    )
    await rpc_error(w.payments.CreateAccount(create, metadata=md(agent)), Code.PERMISSION_DENIED)
    made = await w.payments.CreateAccount(create, metadata=md(admin))
    assert made.account.code == "1030"
    err = await rpc_error(w.payments.CreateAccount(create, metadata=md(admin)), Code.ALREADY_EXISTS)
    assert err.reason == "ACCOUNT_CODE_TAKEN"
    bad = await rpc_error(
        w.payments.CreateAccount(
            payment_pb2.CreateAccountRequest(
                account=payment_pb2.Account(code="x", name="", type="other")
            ),
            metadata=md(admin),
        ),
        Code.INVALID_ARGUMENT,
    )
    assert sorted(f for f, _ in bad.field_errors) == ["code", "name", "type"]
    accounts = await w.payments.ListAccounts(
        payment_pb2.ListAccountsRequest(), metadata=md(auditor)
    )
    assert "1030" in {a.code for a in accounts.accounts}

    tb = await books(w)
    lines: list[payment_pb2.LedgerLine] = []
    token = ""
    while True:
        page = await w.payments.GetGeneralLedger(
            payment_pb2.GetGeneralLedgerRequest(account_code="1000", page_size=3, page_token=token),
            metadata=md(auditor),
        )
        lines += page.lines
        token = page.next_page_token
        if not token:
            break
    running = ZERO
    for line in lines:
        running += Decimal(line.debit) - Decimal(line.credit)
        assert Decimal(line.running_balance) == running
    assert running == tb["1000"]
    await rpc_error(
        w.payments.GetGeneralLedger(
            payment_pb2.GetGeneralLedgerRequest(account_code="9999"), metadata=md(auditor)
        ),
        Code.NOT_FOUND,
    )
    # A branch manager reads the books (ledger:read); an agent does not.
    await books(w)
    await rpc_error(
        w.payments.GetTrialBalance(payment_pb2.GetTrialBalanceRequest(), metadata=md(agent)),
        Code.PERMISSION_DENIED,
    )
    as_of = await w.payments.GetTrialBalance(
        payment_pb2.GetTrialBalanceRequest(as_of="2000-01-01"), metadata=md(auditor)
    )
    assert as_of.total_debit == as_of.total_credit == "0.00"
    # Statements are scoped like loans.
    await rpc_error(
        w.payments.GetLoanStatement(
            payment_pb2.GetLoanStatementRequest(loan_id=loan.id),
            metadata=md(w.token(Role.BRANCH_MANAGER, branch=w.other_branch)),
        ),
        Code.NOT_FOUND,
    )


async def test_a_new_institution_opens_its_books_in_its_own_currency(world: World) -> None:
    w = world
    fresh = f"{w.inst}_tzs"
    auditor = w.token(Role.AUDITOR, institution_id=fresh)
    tb = await w.payments.GetTrialBalance(
        payment_pb2.GetTrialBalanceRequest(), metadata=md(auditor)
    )
    assert tb.currency == "TZS" and tb.total_debit == "0.00" and len(tb.lines) == 12
    # Mobile money for an institution without secrets has no callback endpoint: not found,
    # before anything else.
    await rpc_error(receive(w, callback("QK1", "X"), institution_id=fresh), Code.NOT_FOUND)
