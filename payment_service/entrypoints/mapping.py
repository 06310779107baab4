"""The books (domain objects) as the contract's messages: kopa.payment.v2's typed ones and,
for one release, v1's decimal strings (payments are ``adapters.codec``'s). Each line is
worked out once (`Line`) and then only encoded."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from kopa.payment.v1 import payment_pb2
from kopa.payment.v2 import ledger_pb2
from payment_service.domain.ledger import Account, AccountLedger, LoanStatement, TrialBalance
from shared.dates import to_proto_date
from shared.money import fmt, to_money

ZERO = Decimal(0)

ACCOUNT_TYPES: dict[str, ledger_pb2.AccountType.ValueType] = {
    "asset": ledger_pb2.ACCOUNT_TYPE_ASSET,
    "liability": ledger_pb2.ACCOUNT_TYPE_LIABILITY,
    "equity": ledger_pb2.ACCOUNT_TYPE_EQUITY,
    "income": ledger_pb2.ACCOUNT_TYPE_INCOME,
    "expense": ledger_pb2.ACCOUNT_TYPE_EXPENSE,
}
ACCOUNT_TYPE_WORDS = {number: word for word, number in ACCOUNT_TYPES.items()}


@dataclass(frozen=True)
class Line:
    """One line of a general ledger or of a loan statement."""

    entry_id: str
    date: dt.date
    memo: str
    debit: Decimal
    credit: Decimal
    balance: Decimal
    source_kind: str
    source_id: str


def ledger_rows(ledger: AccountLedger) -> list[Line]:
    return [
        Line(
            row.entry_id,
            row.date,
            row.memo,
            row.debit,
            row.credit,
            row.balance,
            row.source.kind,
            row.source.id,
        )
        for row in ledger.rows
    ]


def statement_rows(statement: LoanStatement, sources: dict[str, tuple[str, str]]) -> list[Line]:
    """The borrower's view: ``debit`` what the entry added to what the borrower owes
    (principal disbursed or adjusted up, a payment reversed), ``credit`` what it took off
    (everything paid, principal written off); the balance is principal outstanding. The memo
    splits payments into principal, interest, fees, penalties and overpayment."""
    out = []
    for ln in statement.lines:
        up = ln.principal_disbursed + ln.principal_adjusted
        down = ln.paid + ln.principal_written_off
        memo = ln.memo
        if ln.paid:
            memo += (
                f" (principal {ln.principal_repaid}, interest {ln.interest_paid}, fees "
                f"{ln.fees_paid}, penalties {ln.penalties_paid}, overpayment {ln.overpaid})"
            )
        kind, source_id = sources.get(ln.entry_id, (ln.kind, ""))
        out.append(
            Line(
                ln.entry_id,
                ln.date,
                memo,
                max(up, ZERO) + max(-down, ZERO),
                max(down, ZERO) + max(-up, ZERO),
                ln.principal_outstanding,
                kind,
                source_id,
            )
        )
    return out


# --- kopa.payment.v2 ---------------------------------------------------------------------


def account_v2(account: Account) -> ledger_pb2.Account:
    return ledger_pb2.Account(
        code=account.code, name=account.name, type=ACCOUNT_TYPES[account.type.value]
    )


def trial_balance_v2(tb: TrialBalance) -> ledger_pb2.GetTrialBalanceResponse:
    c = tb.currency
    return ledger_pb2.GetTrialBalanceResponse(
        lines=[
            ledger_pb2.TrialBalanceLine(
                account_code=row.account_code,
                account_name=row.name,
                debit=to_money(row.debit, c),
                credit=to_money(row.credit, c),
                balance=to_money(row.balance, c),
            )
            for row in tb.rows
        ],
        total_debit=to_money(tb.total_debit, c),
        total_credit=to_money(tb.total_credit, c),
    )


def lines_v2(lines: list[Line], currency: str) -> list[ledger_pb2.LedgerLine]:
    return [
        ledger_pb2.LedgerLine(
            entry_id=ln.entry_id,
            date=to_proto_date(ln.date),
            memo=ln.memo,
            debit=to_money(ln.debit, currency),
            credit=to_money(ln.credit, currency),
            running_balance=to_money(ln.balance, currency),
            source_kind=ln.source_kind,
            source_id=ln.source_id,
        )
        for ln in lines
    ]


# --- kopa.payment.v1 (deprecated) --------------------------------------------------------


def account_to_proto(account: Account) -> payment_pb2.Account:
    return payment_pb2.Account(code=account.code, name=account.name, type=account.type.value)


def trial_balance_to_proto(tb: TrialBalance) -> payment_pb2.GetTrialBalanceResponse:
    return payment_pb2.GetTrialBalanceResponse(
        lines=[
            payment_pb2.TrialBalanceLine(
                account_code=row.account_code,
                account_name=row.name,
                debit=fmt(row.debit, tb.currency),
                credit=fmt(row.credit, tb.currency),
                balance=fmt(row.balance, tb.currency),
            )
            for row in tb.rows
        ],
        total_debit=fmt(tb.total_debit, tb.currency),
        total_credit=fmt(tb.total_credit, tb.currency),
        currency=tb.currency,
    )


def lines_to_proto(lines: list[Line], currency: str) -> list[payment_pb2.LedgerLine]:
    return [
        payment_pb2.LedgerLine(
            entry_id=ln.entry_id,
            date=ln.date.isoformat(),
            memo=ln.memo,
            debit=fmt(ln.debit, currency),
            credit=fmt(ln.credit, currency),
            running_balance=fmt(ln.balance, currency),
            source_kind=ln.source_kind,
            source_id=ln.source_id,
        )
        for ln in lines
    ]
