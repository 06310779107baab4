"""Domain objects to proto messages: the books (payments are ``adapters.codec``'s)."""

from __future__ import annotations

from decimal import Decimal

from kopa.payment.v1 import payment_pb2
from payment_service.domain.ledger import Account, AccountLedger, LoanStatement, TrialBalance
from shared.money import fmt

ZERO = Decimal(0)

__all__ = [
    "account_to_proto",
    "ledger_lines",
    "statement_lines",
    "trial_balance_to_proto",
]


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


def ledger_lines(ledger: AccountLedger, currency: str) -> list[payment_pb2.LedgerLine]:
    return [
        payment_pb2.LedgerLine(
            entry_id=row.entry_id,
            date=row.date.isoformat(),
            memo=row.memo,
            debit=fmt(row.debit, currency),
            credit=fmt(row.credit, currency),
            running_balance=fmt(row.balance, currency),
            source_kind=row.source.kind,
            source_id=row.source.id,
        )
        for row in ledger.rows
    ]


def statement_lines(
    statement: LoanStatement, sources: dict[str, tuple[str, str]]
) -> list[payment_pb2.LedgerLine]:
    """The borrower's view: ``debit`` what the entry added to what the borrower owes
    (principal disbursed or adjusted up, a payment reversed), ``credit`` what it took off
    (everything paid, principal written off); ``running_balance`` is principal outstanding.
    The memo splits payments into principal, interest, fees, penalties and overpayment."""
    out = []
    for ln in statement.lines:
        up = ln.principal_disbursed + ln.principal_adjusted
        down = ln.paid + ln.principal_written_off
        debit = max(up, ZERO) + max(-down, ZERO)
        credit = max(down, ZERO) + max(-up, ZERO)
        memo = ln.memo
        if ln.paid:
            memo += (
                f" (principal {ln.principal_repaid}, interest {ln.interest_paid}, fees "
                f"{ln.fees_paid}, penalties {ln.penalties_paid}, overpayment {ln.overpaid})"
            )
        kind, source_id = sources.get(ln.entry_id, (ln.kind, ""))
        out.append(
            payment_pb2.LedgerLine(
                entry_id=ln.entry_id,
                date=ln.date.isoformat(),
                memo=memo,
                debit=fmt(debit, statement.currency),
                credit=fmt(credit, statement.currency),
                running_balance=fmt(ln.principal_outstanding, statement.currency),
                source_kind=kind,
                source_id=source_id,
            )
        )
    return out
