"""Builders of the balanced journal entry for each money movement.

Each builder takes a ``PostingContext`` (the institution's chart, the business date, the
posting time and the request id) and returns a validated ``JournalEntry`` whose id is
deterministic in its source (``"repayment:<payment_id>"``), so a movement posted twice
collides instead of double-booking. Codes below are the default chart's.

=========================  ===========================================  ==========================
movement                   cash basis (default)                         accrual basis: differs?
=========================  ===========================================  ==========================
disbursement               Dr 1100 portfolio  principal + financed fee  same
                           Cr channel         principal - deducted fee
                           Cr 4100 fee income deducted + financed fee
repayment /                Dr channel (or Dr 2900 suspense) total       interest: Cr 1110 interest
suspense_assignment        Cr 1100 principal, Cr 4000 interest,         receivable (up to its
                           Cr 4100 fees, Cr 4200 penalties,             balance, the rest 4000);
                           Cr 2100 overpayment                          penalties: Cr 1120 (same)
interest_accrual           nothing (returns None)                       Dr 1110  Cr 4000
penalty_charge             nothing (returns None)                       Dr 1120  Cr 4200
write_off                  Dr 5000 write-off  Cr 1100 principal         also reverses what was
                                                                        accrued and not paid:
                                                                        Dr 4000 Cr 1110,
                                                                        Dr 4200 Cr 1120
unidentified_receipt       Dr channel (mobile wallet 1020)  Cr 2900     same
suspense_return            Dr 2900 suspense  Cr channel                 same
overpayment_refund         Dr 2100 overpayment  Cr channel              same
reversal (ledger.reverse)  the original's lines, debits and credits     same
                           swapped
=========================  ===========================================  ==========================

Channels: ``cash`` → 1000 cash, ``bank`` → 1010 bank, ``mobile_money`` → 1020 wallet.

Fees are recognised when paid (or deducted) on both bases: there is no fee accrual. A
*financed* fee is capitalised: it is added to the loan portfolio (the borrower owes it as
principal) and recognised as fee income at disbursement, so the loan service must report its
later repayment as principal, never again as fees.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, fields
from decimal import Decimal
from enum import StrEnum
from typing import Final

from payment_service.domain.errors import (
    ALLOCATION_INVALID,
    AMOUNT_INVALID,
    CHANNEL_UNKNOWN,
    ValidationError,
)
from payment_service.domain.ledger import (
    AccountRole,
    ChartOfAccounts,
    IncomeRecognition,
    JournalEntry,
    JournalLine,
    Source,
    SourceKind,
    entry_id_for,
)
from shared import money

ZERO: Final = Decimal(0)


class Channel(StrEnum):
    """How money moves in or out."""

    CASH = "cash"
    BANK = "bank"
    MOBILE_MONEY = "mobile_money"


CHANNEL_ACCOUNT: Final[Mapping[Channel, AccountRole]] = {
    Channel.CASH: AccountRole.CASH,
    Channel.BANK: AccountRole.BANK,
    Channel.MOBILE_MONEY: AccountRole.MOBILE_MONEY,
}


def parse_channel(value: object, *, field: str = "channel") -> Channel:
    """``"mobile_money"`` → ``Channel.MOBILE_MONEY``; anything else a ``ValidationError``."""
    try:
        return Channel(str(value))
    except ValueError:
        allowed = ", ".join(c.value for c in Channel)
        raise ValidationError(
            f"{field} must be one of {allowed}",
            reason=CHANNEL_UNKNOWN,
            field_errors=[(field, f"must be one of {allowed}")],
        ) from None


@dataclass(frozen=True)
class Allocation:
    """How the loan service split a payment (each part >= 0, at least one > 0)."""

    principal: Decimal = ZERO
    interest: Decimal = ZERO
    fees: Decimal = ZERO
    penalties: Decimal = ZERO
    overpayment: Decimal = ZERO

    def __post_init__(self) -> None:
        bad = [
            (f.name, "must be a non-negative decimal amount")
            for f in fields(self)
            if not _non_negative(getattr(self, f.name))
        ]
        if bad:
            raise ValidationError("invalid allocation", reason=ALLOCATION_INVALID, field_errors=bad)
        if self.total <= 0:
            raise ValidationError(
                "an allocation must allocate something",
                reason=ALLOCATION_INVALID,
                field_errors=[("allocation", "must have a positive part")],
            )

    @property
    def total(self) -> Decimal:
        return self.principal + self.interest + self.fees + self.penalties + self.overpayment


def _non_negative(value: object) -> bool:
    return isinstance(value, Decimal) and value.is_finite() and value >= 0


@dataclass(frozen=True)
class PostingContext:
    """What every posting shares: whose books, which business date, when, for which request."""

    chart: ChartOfAccounts
    date: dt.date
    posted_at: dt.datetime
    request_id: str

    @property
    def accrual(self) -> bool:
        return self.chart.income_recognition is IncomeRecognition.ACCRUAL

    def code(self, role: AccountRole) -> str:
        return self.chart.code_for(role)

    def amount(self, value: Decimal, field: str, *, allow_zero: bool = False) -> Decimal:
        return money.check_amount(value, self.chart.currency, field=field, allow_zero=allow_zero)

    def entry(
        self,
        source: Source,
        lines: list[JournalLine],
        *,
        loan_id: str | None,
        memo: str,
        entry_id: str | None,
    ) -> JournalEntry:
        entry = JournalEntry(
            id=entry_id or entry_id_for(source),
            institution_id=self.chart.institution_id,
            currency=self.chart.currency,
            date=self.date,
            posted_at=self.posted_at,
            lines=tuple(lines),
            source=source,
            request_id=self.request_id,
            loan_id=loan_id,
            memo=memo,
        )
        self.chart.check_entry(entry)
        return entry


def _lines(*pairs: tuple[str, Decimal, bool]) -> list[JournalLine]:
    """(account, amount, is_debit) triples to lines, dropping zero amounts."""
    return [
        JournalLine.dr(code, amount) if is_debit else JournalLine.cr(code, amount)
        for code, amount, is_debit in pairs
        if amount > 0
    ]


def _required(value: str, field: str) -> str:
    if not isinstance(value, str) or not value:
        raise ValidationError(f"{field} is required", field_errors=[(field, "is required")])
    return value


def disbursement(
    ctx: PostingContext,
    *,
    loan_id: str,
    principal: Decimal,
    channel: Channel | str,
    deducted_fees: Decimal = ZERO,
    financed_fees: Decimal = ZERO,
    memo: str | None = None,
    entry_id: str | None = None,
) -> JournalEntry:
    """Paying a loan out through ``channel``.

    Dr portfolio ``principal + financed_fees``; Cr channel ``principal - deducted_fees`` (the
    net paid out, must stay positive); Cr fee income ``deducted_fees + financed_fees``.
    """
    _required(loan_id, "loan_id")
    principal = ctx.amount(principal, "principal")
    deducted = ctx.amount(deducted_fees, "deducted_fees", allow_zero=True)
    financed = ctx.amount(financed_fees, "financed_fees", allow_zero=True)
    if deducted >= principal:
        raise ValidationError(
            "fees deducted at disbursement must leave a positive net amount",
            reason=AMOUNT_INVALID,
            field_errors=[("deducted_fees", "must be less than the principal")],
        )
    lines = _lines(
        (ctx.code(AccountRole.LOAN_PORTFOLIO), principal + financed, True),
        (ctx.code(CHANNEL_ACCOUNT[parse_channel(channel)]), principal - deducted, False),
        (ctx.code(AccountRole.FEE_INCOME), deducted + financed, False),
    )
    return ctx.entry(
        Source(SourceKind.DISBURSEMENT, loan_id),
        lines,
        loan_id=loan_id,
        memo=memo if memo is not None else f"Disbursement of loan {loan_id}",
        entry_id=entry_id,
    )


def _allocation_credits(
    ctx: PostingContext,
    allocation: Allocation,
    interest_receivable: Decimal | None,
    penalties_receivable: Decimal | None,
) -> list[tuple[str, Decimal, bool]]:
    # Each part must be exact at the currency's precision (and is quantized to it).
    a = Allocation(
        **{
            f.name: ctx.amount(getattr(allocation, f.name), f.name, allow_zero=True)
            for f in fields(allocation)
        }
    )
    credits: list[tuple[str, Decimal, bool]] = [
        (ctx.code(AccountRole.LOAN_PORTFOLIO), a.principal, False),
    ]
    credits += _income_credits(
        ctx,
        a.interest,
        interest_receivable,
        "interest_receivable",
        AccountRole.INTEREST_RECEIVABLE,
        AccountRole.INTEREST_INCOME,
    )
    credits.append((ctx.code(AccountRole.FEE_INCOME), a.fees, False))
    credits += _income_credits(
        ctx,
        a.penalties,
        penalties_receivable,
        "penalties_receivable",
        AccountRole.PENALTIES_RECEIVABLE,
        AccountRole.PENALTY_INCOME,
    )
    credits.append((ctx.code(AccountRole.OVERPAYMENT_LIABILITY), a.overpayment, False))
    return credits


def _income_credits(
    ctx: PostingContext,
    amount: Decimal,
    receivable: Decimal | None,
    field: str,
    receivable_role: AccountRole,
    income_role: AccountRole,
) -> list[tuple[str, Decimal, bool]]:
    """Cash basis: all to income. Accrual: clear the receivable first, the excess to income."""
    if not ctx.accrual:
        return [(ctx.code(income_role), amount, False)]
    if receivable is None:
        return [(ctx.code(receivable_role), amount, False)]
    receivable = ctx.amount(receivable, field, allow_zero=True)
    cleared = min(amount, receivable)
    return [
        (ctx.code(receivable_role), cleared, False),
        (ctx.code(income_role), amount - cleared, False),
    ]


def repayment(
    ctx: PostingContext,
    *,
    payment_id: str,
    loan_id: str,
    channel: Channel | str,
    allocation: Allocation,
    interest_receivable: Decimal | None = None,
    penalties_receivable: Decimal | None = None,
    memo: str | None = None,
    entry_id: str | None = None,
) -> JournalEntry:
    """A borrower's payment received through ``channel``, split by ``allocation``.

    Dr channel ``allocation.total``; Cr portfolio (principal), fee income (fees), overpayment
    liability (overpayment); interest and penalties to income on cash basis. On accrual basis
    they clear the receivable: give the loan's receivable balance before this payment
    (``interest_receivable``, ``penalties_receivable``) and any excess goes to income; left
    as ``None``, all of it clears the receivable.
    """
    _required(payment_id, "payment_id")
    _required(loan_id, "loan_id")
    lines = _lines(
        (ctx.code(CHANNEL_ACCOUNT[parse_channel(channel)]), allocation.total, True),
        *_allocation_credits(ctx, allocation, interest_receivable, penalties_receivable),
    )
    return ctx.entry(
        Source(SourceKind.REPAYMENT, payment_id),
        lines,
        loan_id=loan_id,
        memo=memo if memo is not None else f"Repayment {payment_id} of loan {loan_id}",
        entry_id=entry_id,
    )


def interest_accrual(
    ctx: PostingContext,
    *,
    loan_id: str,
    accrual_id: str,
    amount: Decimal,
    memo: str | None = None,
    entry_id: str | None = None,
) -> JournalEntry | None:
    """Interest earned and not yet paid (accrual basis): Dr interest receivable, Cr interest
    income. ``None`` on cash basis. ``accrual_id`` identifies the period, e.g.
    ``"<loan_id>:2026-03-31"``, so the close of business can post it once per date."""
    _required(loan_id, "loan_id")
    _required(accrual_id, "accrual_id")
    amount = ctx.amount(amount, "amount")
    if not ctx.accrual:
        return None
    lines = _lines(
        (ctx.code(AccountRole.INTEREST_RECEIVABLE), amount, True),
        (ctx.code(AccountRole.INTEREST_INCOME), amount, False),
    )
    return ctx.entry(
        Source(SourceKind.INTEREST_ACCRUAL, accrual_id),
        lines,
        loan_id=loan_id,
        memo=memo if memo is not None else f"Interest accrued on loan {loan_id}",
        entry_id=entry_id,
    )


def penalty_charge(
    ctx: PostingContext,
    *,
    loan_id: str,
    penalty_id: str,
    amount: Decimal,
    memo: str | None = None,
    entry_id: str | None = None,
) -> JournalEntry | None:
    """A late-payment penalty charged (accrual basis): Dr penalties receivable, Cr penalty
    income. ``None`` on cash basis (the penalty is income only when paid)."""
    _required(loan_id, "loan_id")
    _required(penalty_id, "penalty_id")
    amount = ctx.amount(amount, "amount")
    if not ctx.accrual:
        return None
    lines = _lines(
        (ctx.code(AccountRole.PENALTIES_RECEIVABLE), amount, True),
        (ctx.code(AccountRole.PENALTY_INCOME), amount, False),
    )
    return ctx.entry(
        Source(SourceKind.PENALTY_CHARGE, penalty_id),
        lines,
        loan_id=loan_id,
        memo=memo if memo is not None else f"Penalty charged on loan {loan_id}",
        entry_id=entry_id,
    )


def write_off(
    ctx: PostingContext,
    *,
    loan_id: str,
    principal: Decimal,
    accrued_interest: Decimal = ZERO,
    accrued_penalties: Decimal = ZERO,
    memo: str | None = None,
    entry_id: str | None = None,
) -> JournalEntry:
    """Writing a loan off: Dr write-off expense, Cr portfolio for the outstanding principal.

    On accrual basis, interest and penalties accrued and not paid (the loan's receivable
    balances) are reversed against income in the same entry. On cash basis nothing was
    accrued, so both must be zero.
    """
    _required(loan_id, "loan_id")
    principal = ctx.amount(principal, "principal", allow_zero=True)
    interest = ctx.amount(accrued_interest, "accrued_interest", allow_zero=True)
    penalties = ctx.amount(accrued_penalties, "accrued_penalties", allow_zero=True)
    if not ctx.accrual and (interest or penalties):
        raise ValidationError(
            "nothing is accrued on cash basis",
            field_errors=[
                (name, "must be zero on cash basis")
                for name, value in [
                    ("accrued_interest", interest),
                    ("accrued_penalties", penalties),
                ]
                if value
            ],
        )
    lines = _lines(
        (ctx.code(AccountRole.WRITE_OFF_EXPENSE), principal, True),
        (ctx.code(AccountRole.LOAN_PORTFOLIO), principal, False),
        (ctx.code(AccountRole.INTEREST_INCOME), interest, True),
        (ctx.code(AccountRole.INTEREST_RECEIVABLE), interest, False),
        (ctx.code(AccountRole.PENALTY_INCOME), penalties, True),
        (ctx.code(AccountRole.PENALTIES_RECEIVABLE), penalties, False),
    )
    if not lines:
        raise ValidationError(
            "nothing to write off", field_errors=[("principal", "must be greater than zero")]
        )
    return ctx.entry(
        Source(SourceKind.WRITE_OFF, loan_id),
        lines,
        loan_id=loan_id,
        memo=memo if memo is not None else f"Write-off of loan {loan_id}",
        entry_id=entry_id,
    )


def unidentified_receipt(
    ctx: PostingContext,
    *,
    receipt_id: str,
    amount: Decimal,
    channel: Channel | str = Channel.MOBILE_MONEY,
    memo: str | None = None,
    entry_id: str | None = None,
) -> JournalEntry:
    """Money received that matches no loan (or several): Dr channel, Cr suspense.

    ``receipt_id`` is the provider's transaction id for mobile money.
    """
    _required(receipt_id, "receipt_id")
    amount = ctx.amount(amount, "amount")
    lines = _lines(
        (ctx.code(CHANNEL_ACCOUNT[parse_channel(channel)]), amount, True),
        (ctx.code(AccountRole.SUSPENSE), amount, False),
    )
    return ctx.entry(
        Source(SourceKind.UNIDENTIFIED_RECEIPT, receipt_id),
        lines,
        loan_id=None,
        memo=memo if memo is not None else f"Unidentified receipt {receipt_id}",
        entry_id=entry_id,
    )


def suspense_assignment(
    ctx: PostingContext,
    *,
    assignment_id: str,
    loan_id: str,
    allocation: Allocation,
    interest_receivable: Decimal | None = None,
    penalties_receivable: Decimal | None = None,
    memo: str | None = None,
    entry_id: str | None = None,
) -> JournalEntry:
    """Money held in suspense assigned to a loan: Dr suspense, credits as for a repayment.

    The caller keeps the assigned total within what the receipt left in suspense.
    """
    _required(assignment_id, "assignment_id")
    _required(loan_id, "loan_id")
    lines = _lines(
        (ctx.code(AccountRole.SUSPENSE), allocation.total, True),
        *_allocation_credits(ctx, allocation, interest_receivable, penalties_receivable),
    )
    return ctx.entry(
        Source(SourceKind.SUSPENSE_ASSIGNMENT, assignment_id),
        lines,
        loan_id=loan_id,
        memo=memo if memo is not None else f"Suspense assigned to loan {loan_id}",
        entry_id=entry_id,
    )


def suspense_return(
    ctx: PostingContext,
    *,
    return_id: str,
    amount: Decimal,
    channel: Channel | str = Channel.MOBILE_MONEY,
    memo: str | None = None,
    entry_id: str | None = None,
) -> JournalEntry:
    """Unidentified money sent back to its payer: Dr suspense, Cr channel."""
    _required(return_id, "return_id")
    amount = ctx.amount(amount, "amount")
    lines = _lines(
        (ctx.code(AccountRole.SUSPENSE), amount, True),
        (ctx.code(CHANNEL_ACCOUNT[parse_channel(channel)]), amount, False),
    )
    return ctx.entry(
        Source(SourceKind.SUSPENSE_RETURN, return_id),
        lines,
        loan_id=None,
        memo=memo if memo is not None else f"Suspense returned {return_id}",
        entry_id=entry_id,
    )


def overpayment_refund(
    ctx: PostingContext,
    *,
    refund_id: str,
    amount: Decimal,
    channel: Channel | str,
    loan_id: str | None = None,
    memo: str | None = None,
    entry_id: str | None = None,
) -> JournalEntry:
    """A borrower's credit balance paid back: Dr overpayment liability, Cr channel."""
    _required(refund_id, "refund_id")
    amount = ctx.amount(amount, "amount")
    lines = _lines(
        (ctx.code(AccountRole.OVERPAYMENT_LIABILITY), amount, True),
        (ctx.code(CHANNEL_ACCOUNT[parse_channel(channel)]), amount, False),
    )
    return ctx.entry(
        Source(SourceKind.OVERPAYMENT_REFUND, refund_id),
        lines,
        loan_id=loan_id,
        memo=memo if memo is not None else f"Overpayment refund {refund_id}",
        entry_id=entry_id,
    )
