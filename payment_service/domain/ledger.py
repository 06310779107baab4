"""The books: a per-institution chart of accounts and the double-entry journal.

- ``ChartOfAccounts``: the institution's accounts (code, name, type, normal side), its currency
  and its income-recognition basis (cash or accrual). ``ChartOfAccounts.default`` creates the
  default chart; ``add_account`` lets an admin add accounts. Each ``AccountRole`` (what the
  system posts to: cash, loan portfolio, suspense...) maps to exactly one account.
- ``JournalEntry``: one immutable document per money movement. It always balances (total
  debits == total credits > 0), each line is one-sided and positive, and amounts have at most
  the currency's decimals; anything else raises ``LedgerError`` on construction.
- ``reverse``: the compensating entry (debits and credits swapped). Entries are never deleted
  or edited; a mistake is undone by its reversal, dated the day of the correction.
- ``BookedEntry`` / ``VersionedChart``: an entry and a chart as the storage holds them (with
  the entry's branch and loan-service answer, the chart's version).
- Reports over a list of entries: ``trial_balance``, ``general_ledger`` (one account with a
  running balance) and ``loan_statement`` (principal outstanding and everything paid).

Entry ids are deterministic by default (``"{source.kind}:{source.id}"``) so that posting the
same movement twice (an event delivered twice) hits the storage's unique id instead of
double-booking; a second reversal of the same entry collides the same way.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from payment_service.domain.errors import (
    ACCOUNT_CODE_TAKEN,
    ACCOUNT_INVALID,
    ACCOUNT_TYPE_UNKNOWN,
    ACCOUNT_UNKNOWN,
    CURRENCY_MISMATCH,
    LEDGER_ENTRY_INVALID,
    LEDGER_LINE_INVALID,
    LEDGER_REVERSAL_INVALID,
    LEDGER_UNBALANCED,
    ConflictError,
    NotFoundError,
    ValidationError,
)
from payment_service.domain.loans import Applied
from shared import money

ZERO: Final = Decimal(0)


class LedgerError(ValidationError):
    """A journal entry or a ledger operation breaks a bookkeeping rule."""

    default_reason = LEDGER_ENTRY_INVALID


class AccountType(StrEnum):
    ASSET = "asset"
    LIABILITY = "liability"
    EQUITY = "equity"
    INCOME = "income"
    EXPENSE = "expense"


class Side(StrEnum):
    DEBIT = "debit"
    CREDIT = "credit"


NORMAL_SIDE: Final[Mapping[AccountType, Side]] = MappingProxyType(
    {
        AccountType.ASSET: Side.DEBIT,
        AccountType.EXPENSE: Side.DEBIT,
        AccountType.LIABILITY: Side.CREDIT,
        AccountType.EQUITY: Side.CREDIT,
        AccountType.INCOME: Side.CREDIT,
    }
)


class AccountRole(StrEnum):
    """The accounts the system itself posts to; each maps to one account of the chart."""

    CASH = "cash"
    BANK = "bank"
    MOBILE_MONEY = "mobile_money"
    LOAN_PORTFOLIO = "loan_portfolio"
    INTEREST_RECEIVABLE = "interest_receivable"
    PENALTIES_RECEIVABLE = "penalties_receivable"
    OVERPAYMENT_LIABILITY = "overpayment_liability"
    SUSPENSE = "suspense"
    INTEREST_INCOME = "interest_income"
    FEE_INCOME = "fee_income"
    PENALTY_INCOME = "penalty_income"
    WRITE_OFF_EXPENSE = "write_off_expense"


class IncomeRecognition(StrEnum):
    """When interest and penalty income is recognised (a per-institution setting).

    ``cash`` (default): when the borrower pays. ``accrual``: when earned (interest accrued by the
    close of business, penalties when charged) against a receivable that payments then clear.
    """

    CASH = "cash"
    ACCRUAL = "accrual"


@dataclass(frozen=True)
class Account:
    code: str
    name: str
    type: AccountType
    role: AccountRole | None = None

    @property
    def normal_side(self) -> Side:
        return NORMAL_SIDE[self.type]


DEFAULT_ACCOUNTS: Final[tuple[Account, ...]] = (
    Account("1000", "Cash", AccountType.ASSET, AccountRole.CASH),
    Account("1010", "Bank", AccountType.ASSET, AccountRole.BANK),
    Account("1020", "Mobile money wallet", AccountType.ASSET, AccountRole.MOBILE_MONEY),
    Account("1100", "Loan portfolio", AccountType.ASSET, AccountRole.LOAN_PORTFOLIO),
    Account("1110", "Interest receivable", AccountType.ASSET, AccountRole.INTEREST_RECEIVABLE),
    Account("1120", "Penalties receivable", AccountType.ASSET, AccountRole.PENALTIES_RECEIVABLE),
    Account(
        "2100", "Overpayment liability", AccountType.LIABILITY, AccountRole.OVERPAYMENT_LIABILITY
    ),
    Account("2900", "Suspense", AccountType.LIABILITY, AccountRole.SUSPENSE),
    Account("4000", "Interest income", AccountType.INCOME, AccountRole.INTEREST_INCOME),
    Account("4100", "Fee income", AccountType.INCOME, AccountRole.FEE_INCOME),
    Account("4200", "Penalty income", AccountType.INCOME, AccountRole.PENALTY_INCOME),
    Account("5000", "Write-off expense", AccountType.EXPENSE, AccountRole.WRITE_OFF_EXPENSE),
)

_CODE_RE: Final = re.compile(r"[0-9]{3,10}")
MAX_ACCOUNT_NAME: Final = 100


@dataclass
class ChartOfAccounts:
    """An institution's accounts, keyed by code, plus its currency and recognition basis."""

    institution_id: str
    currency: str
    accounts: dict[str, Account]
    income_recognition: IncomeRecognition = IncomeRecognition.CASH
    _roles: dict[AccountRole, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.institution_id:
            raise ValidationError(
                "institution_id is required", field_errors=[("institution_id", "is required")]
            )
        money.minor_units(self.currency)
        self.income_recognition = IncomeRecognition(self.income_recognition)
        roles: dict[AccountRole, str] = {}
        for code, account in self.accounts.items():
            if code != account.code:
                raise ValidationError(f"account keyed {code} has code {account.code}")
            if account.role is not None:
                if account.role in roles:
                    raise ValidationError(f"role {account.role} is held by two accounts")
                roles[account.role] = code
        missing = [role.value for role in AccountRole if role not in roles]
        if missing:
            raise ValidationError(f"the chart has no account for: {', '.join(missing)}")
        self._roles = roles

    @classmethod
    def default(
        cls,
        institution_id: str,
        currency: str,
        income_recognition: IncomeRecognition | str = IncomeRecognition.CASH,
    ) -> ChartOfAccounts:
        """The default chart (codes as in ``DEFAULT_ACCOUNTS``)."""
        return cls(
            institution_id=institution_id,
            currency=currency,
            accounts={account.code: account for account in DEFAULT_ACCOUNTS},
            income_recognition=IncomeRecognition(income_recognition),
        )

    def add_account(self, code: str, name: str, type: AccountType | str) -> Account:
        """Add an admin-defined account (no system role).

        Raises ``ValidationError`` naming every bad field (``code``: 3 to 10 digits; ``name``:
        1 to 100 characters; ``type``: one of ``AccountType``), or ``ConflictError``
        (``ACCOUNT_CODE_TAKEN``) when the code exists.
        """
        problems: list[tuple[str, str, str]] = []
        if not isinstance(code, str) or not _CODE_RE.fullmatch(code):
            problems.append((ACCOUNT_INVALID, "code", "must be 3 to 10 digits"))
        clean_name = name.strip() if isinstance(name, str) else ""
        if not clean_name or len(clean_name) > MAX_ACCOUNT_NAME:
            problems.append(
                (ACCOUNT_INVALID, "name", f"must be 1 to {MAX_ACCOUNT_NAME} characters")
            )
        account_type: AccountType | None
        try:
            account_type = AccountType(type)
        except ValueError:
            account_type = None
            allowed = ", ".join(t.value for t in AccountType)
            problems.append((ACCOUNT_TYPE_UNKNOWN, "type", f"must be one of {allowed}"))
        if problems:
            reasons = {reason for reason, _, _ in problems}
            raise ValidationError(
                "; ".join(f"{f} {m}" for _, f, m in problems),
                reason=reasons.pop() if len(reasons) == 1 else ACCOUNT_INVALID,
                field_errors=[(f, m) for _, f, m in problems],
            )
        assert account_type is not None
        if code in self.accounts:
            raise ConflictError(
                f"account code {code} already exists",
                reason=ACCOUNT_CODE_TAKEN,
                field_errors=[("code", "already exists")],
            )
        account = Account(code, clean_name, account_type)
        self.accounts[code] = account
        return account

    def account(self, code: str) -> Account:
        try:
            return self.accounts[code]
        except KeyError:
            raise NotFoundError(f"no account {code}", reason=ACCOUNT_UNKNOWN) from None

    def code_for(self, role: AccountRole) -> str:
        return self._roles[role]

    def role_of(self, code: str) -> AccountRole | None:
        account = self.accounts.get(code)
        return account.role if account else None

    def check_entry(self, entry: JournalEntry) -> None:
        """Refuse an entry of another institution or currency, or naming an unknown account."""
        if entry.institution_id != self.institution_id:
            raise LedgerError(
                f"entry {entry.id} belongs to another institution", reason=LEDGER_ENTRY_INVALID
            )
        if entry.currency != self.currency:
            raise LedgerError(
                f"entry {entry.id} is in {entry.currency}, the books in {self.currency}",
                reason=CURRENCY_MISMATCH,
            )
        unknown = sorted({ln.account_code for ln in entry.lines} - self.accounts.keys())
        if unknown:
            raise LedgerError(
                f"entry {entry.id} names unknown accounts: {', '.join(unknown)}",
                reason=ACCOUNT_UNKNOWN,
            )


class SourceKind(StrEnum):
    """What caused an entry. ``Source.kind`` is a plain string, so other kinds may be added."""

    DISBURSEMENT = "disbursement"
    REPAYMENT = "repayment"
    INTEREST_ACCRUAL = "interest_accrual"
    PENALTY_CHARGE = "penalty_charge"
    WRITE_OFF = "write_off"
    UNIDENTIFIED_RECEIPT = "unidentified_receipt"
    SUSPENSE_ASSIGNMENT = "suspense_assignment"
    SUSPENSE_RETURN = "suspense_return"
    OVERPAYMENT_REFUND = "overpayment_refund"
    REVERSAL = "reversal"


@dataclass(frozen=True)
class Source:
    """What an entry records: ``Source("repayment", payment_id)``."""

    kind: str
    id: str

    def __post_init__(self) -> None:
        if not self.kind or not self.id:
            raise LedgerError("an entry source needs a kind and an id")


def entry_id_for(source: Source) -> str:
    """The default, deterministic id of the entry recording ``source``."""
    return f"{source.kind}:{source.id}"


@dataclass(frozen=True)
class JournalLine:
    """One line: an account and an amount on exactly one side."""

    account_code: str
    debit: Decimal = ZERO
    credit: Decimal = ZERO

    def __post_init__(self) -> None:
        if not isinstance(self.account_code, str) or not self.account_code:
            raise LedgerError("a line needs an account code", reason=LEDGER_LINE_INVALID)
        for value in (self.debit, self.credit):
            if not isinstance(value, Decimal) or not value.is_finite() or value < 0:
                raise LedgerError(
                    f"line amounts must be non-negative Decimals, got {value!r}",
                    reason=LEDGER_LINE_INVALID,
                )
        if (self.debit > 0) == (self.credit > 0):
            raise LedgerError(
                f"a line on {self.account_code} must have exactly one positive side",
                reason=LEDGER_LINE_INVALID,
            )

    @classmethod
    def dr(cls, account_code: str, amount: Decimal) -> JournalLine:
        return cls(account_code, debit=amount)

    @classmethod
    def cr(cls, account_code: str, amount: Decimal) -> JournalLine:
        return cls(account_code, credit=amount)

    @property
    def side(self) -> Side:
        return Side.DEBIT if self.debit > 0 else Side.CREDIT

    @property
    def amount(self) -> Decimal:
        return self.debit if self.debit > 0 else self.credit

    @property
    def net(self) -> Decimal:
        """Debit minus credit."""
        return self.debit - self.credit

    def swapped(self) -> JournalLine:
        return JournalLine(self.account_code, debit=self.credit, credit=self.debit)


@dataclass(frozen=True)
class JournalEntry:
    """One balanced journal entry: the unit of storage (one document) and of posting."""

    id: str
    institution_id: str
    currency: str
    date: dt.date
    posted_at: dt.datetime
    lines: tuple[JournalLine, ...]
    source: Source
    request_id: str
    loan_id: str | None = None
    memo: str = ""
    reverses: str | None = None

    def __post_init__(self) -> None:
        for name in ("id", "institution_id", "request_id"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name):
                raise LedgerError(f"an entry needs {name}", field_errors=[(name, "is required")])
        if self.loan_id is not None and not self.loan_id:
            raise LedgerError("loan_id must be None or non-empty")
        if self.reverses is not None and (not self.reverses or self.reverses == self.id):
            raise LedgerError("reverses must name another entry", reason=LEDGER_REVERSAL_INVALID)
        if not isinstance(self.date, dt.date) or isinstance(self.date, dt.datetime):
            raise LedgerError("date must be a business date (datetime.date)")
        if not isinstance(self.posted_at, dt.datetime) or self.posted_at.utcoffset() is None:
            raise LedgerError("posted_at must be a timezone-aware datetime")
        if not isinstance(self.source, Source):
            raise LedgerError("source must be a Source")
        lines = tuple(self.lines)
        if not all(isinstance(line, JournalLine) for line in lines):
            raise LedgerError("lines must be JournalLines", reason=LEDGER_LINE_INVALID)
        q = money.quantum(self.currency)  # raises for an unknown currency
        quantized = []
        for line in lines:
            if line.amount.adjusted() >= money.MAX_INTEGER_DIGITS:
                raise LedgerError(
                    f"{line.amount} on {line.account_code} is too large", reason=LEDGER_LINE_INVALID
                )
            exact = JournalLine(line.account_code, line.debit.quantize(q), line.credit.quantize(q))
            if exact != line:
                raise LedgerError(
                    f"{line.amount} on {line.account_code} has more decimals than "
                    f"{self.currency} allows",
                    reason=LEDGER_LINE_INVALID,
                )
            quantized.append(exact)
        debits = sum((line.debit for line in quantized), ZERO)
        credits = sum((line.credit for line in quantized), ZERO)
        if debits != credits or debits <= 0:
            raise LedgerError(
                f"entry {self.id} does not balance: debits {debits}, credits {credits}",
                reason=LEDGER_UNBALANCED,
            )
        object.__setattr__(self, "lines", tuple(quantized))
        object.__setattr__(self, "posted_at", self.posted_at.astimezone(dt.UTC))

    @property
    def total(self) -> Decimal:
        """Total debits (== total credits)."""
        return sum((line.debit for line in self.lines), ZERO)

    def net(self, account_code: str) -> Decimal:
        """Debit minus credit on one account in this entry."""
        return sum((ln.net for ln in self.lines if ln.account_code == account_code), ZERO)


def reverse(
    original: JournalEntry,
    *,
    date: dt.date,
    posted_at: dt.datetime,
    request_id: str,
    memo: str | None = None,
    entry_id: str | None = None,
) -> JournalEntry:
    """The entry compensating ``original``: same accounts, debits and credits swapped.

    Dated ``date`` (the business date of the correction, not before the original's). A
    reversal cannot itself be reversed: to restore a reversed movement, post it again.
    """
    if original.reverses is not None:
        raise LedgerError(
            f"entry {original.id} is a reversal and cannot be reversed",
            reason=LEDGER_REVERSAL_INVALID,
        )
    if date < original.date:
        raise LedgerError(
            f"a reversal cannot be dated before the entry it reverses ({original.date})",
            reason=LEDGER_REVERSAL_INVALID,
        )
    source = Source(SourceKind.REVERSAL, original.id)
    return JournalEntry(
        id=entry_id or entry_id_for(source),
        institution_id=original.institution_id,
        currency=original.currency,
        date=date,
        posted_at=posted_at,
        lines=tuple(line.swapped() for line in original.lines),
        source=source,
        request_id=request_id,
        loan_id=original.loan_id,
        memo=memo if memo is not None else f"Reversal of {original.id}",
        reverses=original.id,
    )


# --- as stored -------------------------------------------------------------------------------


@dataclass(frozen=True)
class BookedEntry:
    """A journal entry as booked, with what was stored beside it: the branch it was booked
    for (None: not recorded) and, for a payment's entry, what the loan service did with the
    payment (``applied``), from which an interrupted posting completes."""

    entry: JournalEntry
    branch_id: str | None = None
    applied: Applied | None = None


@dataclass(frozen=True)
class VersionedChart:
    """An institution's chart as stored, with its ``version`` for compare-and-set updates."""

    chart: ChartOfAccounts
    version: int


def _ordered(entries: Iterable[JournalEntry]) -> list[JournalEntry]:
    return sorted(entries, key=lambda e: (e.date, e.posted_at, e.id))


def _checked(entries: Iterable[JournalEntry], chart: ChartOfAccounts) -> list[JournalEntry]:
    ordered = _ordered(entries)
    seen: set[str] = set()
    for entry in ordered:
        chart.check_entry(entry)
        if entry.id in seen:
            raise LedgerError(f"entry {entry.id} appears twice", reason=LEDGER_ENTRY_INVALID)
        seen.add(entry.id)
    return ordered


def _on_normal_side(account: Account, net: Decimal) -> Decimal:
    return net if account.normal_side is Side.DEBIT else -net


# --- trial balance -------------------------------------------------------------------------


@dataclass(frozen=True)
class TrialBalanceRow:
    account_code: str
    name: str
    type: AccountType
    debit: Decimal
    credit: Decimal

    @property
    def net(self) -> Decimal:
        """Signed balance, debit positive (these sum to zero over the trial balance)."""
        return self.debit - self.credit

    @property
    def balance(self) -> Decimal:
        """Balance on the account's normal side (an asset with more debits is positive)."""
        return self.net if NORMAL_SIDE[self.type] is Side.DEBIT else -self.net


@dataclass(frozen=True)
class TrialBalance:
    currency: str
    as_of: dt.date | None
    rows: tuple[TrialBalanceRow, ...]

    @property
    def total_debit(self) -> Decimal:
        return sum((r.debit for r in self.rows), ZERO)

    @property
    def total_credit(self) -> Decimal:
        return sum((r.credit for r in self.rows), ZERO)

    @property
    def is_balanced(self) -> bool:
        return self.total_debit == self.total_credit and sum((r.net for r in self.rows), ZERO) == 0

    def row(self, account_code: str) -> TrialBalanceRow:
        for r in self.rows:
            if r.account_code == account_code:
                return r
        raise NotFoundError(f"no account {account_code}", reason=ACCOUNT_UNKNOWN)

    def balance(self, account_code: str) -> Decimal:
        return self.row(account_code).balance


def trial_balance(
    entries: Iterable[JournalEntry], chart: ChartOfAccounts, *, as_of: dt.date | None = None
) -> TrialBalance:
    """Per-account debit and credit totals of ``entries`` dated up to ``as_of`` (inclusive).

    Every account of the chart has a row (zero if untouched), ordered by code.
    """
    debit: dict[str, Decimal] = dict.fromkeys(chart.accounts, ZERO)
    credit: dict[str, Decimal] = dict.fromkeys(chart.accounts, ZERO)
    for entry in _checked(entries, chart):
        if as_of is not None and entry.date > as_of:
            continue
        for line in entry.lines:
            debit[line.account_code] += line.debit
            credit[line.account_code] += line.credit
    rows = tuple(
        TrialBalanceRow(code, acc.name, acc.type, debit[code], credit[code])
        for code, acc in sorted(chart.accounts.items())
    )
    return TrialBalance(chart.currency, as_of, rows)


# --- general ledger --------------------------------------------------------------------------


@dataclass(frozen=True)
class LedgerRow:
    date: dt.date
    posted_at: dt.datetime
    entry_id: str
    source: Source
    loan_id: str | None
    memo: str
    debit: Decimal
    credit: Decimal
    balance: Decimal  # running, on the account's normal side


@dataclass(frozen=True)
class AccountLedger:
    account: Account
    start: dt.date | None
    end: dt.date | None
    opening_balance: Decimal
    rows: tuple[LedgerRow, ...]

    @property
    def closing_balance(self) -> Decimal:
        return self.rows[-1].balance if self.rows else self.opening_balance

    @property
    def total_debit(self) -> Decimal:
        return sum((r.debit for r in self.rows), ZERO)

    @property
    def total_credit(self) -> Decimal:
        return sum((r.credit for r in self.rows), ZERO)


def general_ledger(
    entries: Iterable[JournalEntry],
    chart: ChartOfAccounts,
    account_code: str,
    *,
    start: dt.date | None = None,
    end: dt.date | None = None,
) -> AccountLedger:
    """One account's movements from ``start`` to ``end`` (inclusive) with a running balance.

    Entries before ``start`` make up the opening balance. An entry with several lines on the
    account shows as one row with its debit and credit totals.
    """
    account = chart.account(account_code)
    opening = ZERO
    running = ZERO
    rows: list[LedgerRow] = []
    for entry in _checked(entries, chart):
        lines = [ln for ln in entry.lines if ln.account_code == account_code]
        if not lines or (end is not None and entry.date > end):
            continue
        debit = sum((ln.debit for ln in lines), ZERO)
        credit = sum((ln.credit for ln in lines), ZERO)
        change = _on_normal_side(account, debit - credit)
        if start is not None and entry.date < start:
            opening += change
            running = opening
            continue
        running += change
        rows.append(
            LedgerRow(
                entry.date,
                entry.posted_at,
                entry.id,
                entry.source,
                entry.loan_id,
                entry.memo,
                debit,
                credit,
                running,
            )
        )
    return AccountLedger(account, start, end, opening, tuple(rows))


# --- loan statement --------------------------------------------------------------------------

_PAYMENT_KINDS: Final = frozenset({SourceKind.REPAYMENT, SourceKind.SUSPENSE_ASSIGNMENT})
_PRINCIPAL_KINDS: Final = _PAYMENT_KINDS | {SourceKind.DISBURSEMENT, SourceKind.WRITE_OFF}


@dataclass(frozen=True)
class StatementLine:
    """One entry of a loan, as the borrower's statement shows it (signed: reversals negative)."""

    date: dt.date
    entry_id: str
    kind: str  # the source kind; for a reversal, "reversal" (see ``reverses``)
    reverses: str | None
    memo: str
    principal_disbursed: Decimal
    principal_repaid: Decimal
    principal_written_off: Decimal
    principal_adjusted: Decimal  # portfolio movements of any other kind
    interest_paid: Decimal
    fees_paid: Decimal
    penalties_paid: Decimal
    overpaid: Decimal
    paid: Decimal  # everything this entry received from the borrower for the loan
    refunded: Decimal
    principal_outstanding: Decimal  # running
    total_paid: Decimal  # running


@dataclass(frozen=True)
class LoanStatement:
    loan_id: str
    currency: str
    lines: tuple[StatementLine, ...]

    def _sum(self, attr: str) -> Decimal:
        return sum((getattr(ln, attr) for ln in self.lines), ZERO)

    @property
    def principal_disbursed(self) -> Decimal:
        return self._sum("principal_disbursed")

    @property
    def principal_repaid(self) -> Decimal:
        return self._sum("principal_repaid")

    @property
    def principal_written_off(self) -> Decimal:
        return self._sum("principal_written_off")

    @property
    def principal_adjusted(self) -> Decimal:
        return self._sum("principal_adjusted")

    @property
    def interest_paid(self) -> Decimal:
        return self._sum("interest_paid")

    @property
    def fees_paid(self) -> Decimal:
        return self._sum("fees_paid")

    @property
    def penalties_paid(self) -> Decimal:
        return self._sum("penalties_paid")

    @property
    def overpaid(self) -> Decimal:
        return self._sum("overpaid")

    @property
    def refunded(self) -> Decimal:
        return self._sum("refunded")

    @property
    def principal_outstanding(self) -> Decimal:
        return self.lines[-1].principal_outstanding if self.lines else ZERO

    @property
    def total_paid(self) -> Decimal:
        return self.lines[-1].total_paid if self.lines else ZERO


def loan_statement(
    entries: Iterable[JournalEntry], chart: ChartOfAccounts, loan_id: str
) -> LoanStatement:
    """The loan's entries in order with principal outstanding and total paid running.

    ``entries`` may hold other loans' entries too; only ``loan_id``'s are used. A reversal is
    classified like the entry it reverses (which must be among ``entries``), with the opposite
    sign. Principal outstanding is the loan's net debit on the loan portfolio account, so it
    always equals disbursed - repaid - written off + adjusted.
    """
    mine = [e for e in _checked(entries, chart) if e.loan_id == loan_id]
    by_id = {e.id: e for e in mine}
    role = chart.code_for
    portfolio = role(AccountRole.LOAN_PORTFOLIO)
    interest = (role(AccountRole.INTEREST_INCOME), role(AccountRole.INTEREST_RECEIVABLE))
    penalties = (role(AccountRole.PENALTY_INCOME), role(AccountRole.PENALTIES_RECEIVABLE))
    fees = (role(AccountRole.FEE_INCOME),)
    overpayment = role(AccountRole.OVERPAYMENT_LIABILITY)

    def received(entry: JournalEntry, codes: Sequence[str]) -> Decimal:
        return -sum((entry.net(code) for code in codes), ZERO)

    outstanding = ZERO
    total_paid = ZERO
    lines: list[StatementLine] = []
    for entry in mine:
        kind = entry.source.kind
        if entry.reverses is not None:
            original = by_id.get(entry.reverses)
            if original is None:
                raise LedgerError(
                    f"reversal {entry.id} without its original {entry.reverses}",
                    reason=LEDGER_REVERSAL_INVALID,
                )
            kind = original.source.kind
        change = entry.net(portfolio)
        disbursed = change if kind == SourceKind.DISBURSEMENT else ZERO
        written_off = -change if kind == SourceKind.WRITE_OFF else ZERO
        is_payment = kind in _PAYMENT_KINDS
        repaid = -change if is_payment else ZERO
        adjusted = ZERO if kind in _PRINCIPAL_KINDS else change
        interest_paid = received(entry, interest) if is_payment else ZERO
        fees_paid = received(entry, fees) if is_payment else ZERO
        penalties_paid = received(entry, penalties) if is_payment else ZERO
        overpaid = received(entry, (overpayment,)) if is_payment else ZERO
        paid = repaid + interest_paid + fees_paid + penalties_paid + overpaid
        refunded = entry.net(overpayment) if kind == SourceKind.OVERPAYMENT_REFUND else ZERO
        outstanding += change
        total_paid += paid
        lines.append(
            StatementLine(
                date=entry.date,
                entry_id=entry.id,
                kind=entry.source.kind,
                reverses=entry.reverses,
                memo=entry.memo,
                principal_disbursed=disbursed,
                principal_repaid=repaid,
                principal_written_off=written_off,
                principal_adjusted=adjusted,
                interest_paid=interest_paid,
                fees_paid=fees_paid,
                penalties_paid=penalties_paid,
                overpaid=overpaid,
                paid=paid,
                refunded=refunded,
                principal_outstanding=outstanding,
                total_paid=total_paid,
            )
        )
    return LoanStatement(loan_id, chart.currency, tuple(lines))
