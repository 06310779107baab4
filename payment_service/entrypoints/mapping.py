"""Stored documents and domain objects to proto messages."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from kopa.loan.v1 import loan_pb2
from kopa.payment.v1 import payment_pb2
from payment_service.domain.ledger import Account, AccountLedger, LoanStatement, TrialBalance
from payment_service.domain.money import format_amount
from shared.protos import timestamp as ts

ZERO = Decimal(0)

# Internal statuses (see service_layer.core) as the contract shows them.
STATUS_TO_PROTO: dict[str, payment_pb2.PaymentStatus.ValueType] = {
    "pending": payment_pb2.PAYMENT_STATUS_PENDING,
    "received": payment_pb2.PAYMENT_STATUS_PENDING,
    "assigning": payment_pb2.PAYMENT_STATUS_PENDING,
    "posted": payment_pb2.PAYMENT_STATUS_POSTED,
    "reversing": payment_pb2.PAYMENT_STATUS_POSTED,
    "reversed": payment_pb2.PAYMENT_STATUS_REVERSED,
    "failed": payment_pb2.PAYMENT_STATUS_FAILED,
    "suspense": payment_pb2.PAYMENT_STATUS_SUSPENSE,
}


def payment_to_proto(doc: dict[str, Any]) -> payment_pb2.Payment:
    allocation = doc.get("allocation") or {}
    outstanding = doc.get("outstanding") or {}
    failure = doc.get("failure") or {}
    return payment_pb2.Payment(
        id=doc["_id"],
        institution_id=doc.get("institution_id", ""),
        branch_id=doc.get("branch_id", ""),
        loan_id=doc.get("loan_id", ""),
        amount=doc.get("amount", ""),
        currency=doc.get("currency", ""),
        paid_on=doc.get("paid_on", ""),
        channel=doc.get("channel", ""),
        reference=doc.get("reference", ""),
        status=STATUS_TO_PROTO.get(doc.get("status", ""), payment_pb2.PAYMENT_STATUS_UNSPECIFIED),
        allocation=loan_pb2.Allocation(**allocation) if allocation else None,
        outstanding=loan_pb2.Outstanding(**outstanding) if outstanding else None,
        loan_status=loan_pb2.LoanStatus.ValueType(int(doc.get("loan_status") or 0)),
        recorded_by=doc.get("recorded_by", ""),
        reversal_reason=doc.get("reversal_reason", ""),
        create_time=ts(doc.get("create_time")),
        failure_reason=failure.get("message", ""),
        provider_transaction_id=doc.get("provider_transaction_id", ""),
        payer_phone=doc.get("payer_phone", ""),
        kind=doc.get("kind", ""),
    )


def account_to_proto(account: Account) -> payment_pb2.Account:
    return payment_pb2.Account(code=account.code, name=account.name, type=account.type.value)


def trial_balance_to_proto(tb: TrialBalance) -> payment_pb2.GetTrialBalanceResponse:
    return payment_pb2.GetTrialBalanceResponse(
        lines=[
            payment_pb2.TrialBalanceLine(
                account_code=row.account_code,
                account_name=row.name,
                debit=format_amount(row.debit, tb.currency),
                credit=format_amount(row.credit, tb.currency),
                balance=format_amount(row.balance, tb.currency),
            )
            for row in tb.rows
        ],
        total_debit=format_amount(tb.total_debit, tb.currency),
        total_credit=format_amount(tb.total_credit, tb.currency),
        currency=tb.currency,
    )


def ledger_lines(ledger: AccountLedger, currency: str) -> list[payment_pb2.LedgerLine]:
    return [
        payment_pb2.LedgerLine(
            entry_id=row.entry_id,
            date=row.date.isoformat(),
            memo=row.memo,
            debit=format_amount(row.debit, currency),
            credit=format_amount(row.credit, currency),
            running_balance=format_amount(row.balance, currency),
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
                debit=format_amount(debit, statement.currency),
                credit=format_amount(credit, statement.currency),
                running_balance=format_amount(ln.principal_outstanding, statement.currency),
                source_kind=kind,
                source_id=source_id,
            )
        )
    return out
