"""The institution's books: charts of accounts, booking entries, and the ledger reports.

- A chart is created on first use with ``ChartOfAccounts.default(institution, currency)`` on
  cash basis; its currency is the loan's (from the loan service or a loan event), else that
  of a loan already seen for the institution, else (reads by a user) the institution's own
  from user_service. Without any of those the books are not open (FAILED_PRECONDITION).
- ``Books.record`` inserts one immutable entry document with a deterministic id; a second
  insert of the same movement is a duplicate-key no-op, never a second booking.
- The repository speaks domain objects (``BookedEntry``: an entry with its branch and the
  loan service's answer; ``VersionedChart``) and rebuilds (so re-validates) each stored entry.
- Reports read the stored entries. The trial balance streams every entry of the institution
  and sums per account in Python (FerretDB's aggregation cannot sum decimal strings exactly);
  the general ledger and loan statement load only the entries of one account or loan.
  Correctness first: no cached running totals.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import AsyncIterator
from decimal import Decimal

from payment_service.domain import ledger
from payment_service.domain.ledger import (
    Account,
    AccountLedger,
    BookedEntry,
    ChartOfAccounts,
    IncomeRecognition,
    JournalEntry,
    LoanStatement,
    TrialBalance,
    TrialBalanceRow,
)
from payment_service.domain.loans import Applied
from payment_service.service_layer.ports import AbstractRepository, InstitutionCurrency
from shared import context
from shared.errors import Aborted, IllegalState, NotFound, ValidationError
from shared.logging import get_logger
from shared.mongo import decode_page_token, encode_page_token, page_size
from shared.permissions import Permission, Principal, require

log = get_logger(__name__)

ZERO = Decimal(0)
BOOKS_NOT_OPEN = "BOOKS_NOT_OPEN"
CURRENCY_MISMATCH = "CURRENCY_MISMATCH"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


#: How long a posting may use a chart read earlier. A chart only ever gains accounts (its
#: currency, basis and default accounts are fixed when the books open), and postings use
#: only the default accounts, so an older copy books exactly the same entry.
CHART_REUSE_SECONDS = 30.0


class Books:
    def __init__(
        self, repo: AbstractRepository, institution_currency: InstitutionCurrency | None = None
    ) -> None:
        self.repo = repo
        self._institution_currency = institution_currency
        self._charts: dict[str, tuple[float, ChartOfAccounts]] = {}

    # --- charts --------------------------------------------------------------------------

    async def existing_chart(
        self, institution_id: str, *, fresh: bool = True
    ) -> ChartOfAccounts | None:
        """The institution's chart; ``fresh=False`` (postings) may reuse a recent copy."""
        held = self._charts.get(institution_id)
        if not fresh and held is not None and held[0] > time.monotonic():
            return held[1]
        stored = await self.repo.get_chart(institution_id)
        if stored is None:
            return None
        chart = stored.chart
        self._charts[institution_id] = (time.monotonic() + CHART_REUSE_SECONDS, chart)
        return chart

    async def chart(
        self, institution_id: str, currency: str | None = None, *, ask_peer: bool = False
    ) -> ChartOfAccounts:
        """The institution's chart, created (default accounts, cash basis) on first use.

        ``currency`` is the currency of the movement about to be booked: a chart in another
        currency refuses it (CURRENCY_MISMATCH), and a recent copy of the chart serves.
        ``ask_peer`` lets a user's read open the books with the institution's currency from
        user_service.
        """
        chart = await self.existing_chart(institution_id, fresh=currency is None)
        if chart is None:
            code = currency or await self._currency_of(institution_id, ask_peer=ask_peer)
            fresh = ChartOfAccounts.default(institution_id, code, IncomeRecognition.CASH)
            if await self.repo.insert_chart(fresh, now=_now()):
                log.info("chart_created", institution=institution_id, currency=code)
                chart = fresh
            else:
                chart = await self.existing_chart(institution_id)
                assert chart is not None
        if currency and chart.currency != currency:
            raise IllegalState(
                f"the books of this institution are kept in {chart.currency}, not {currency}",
                reason=CURRENCY_MISMATCH,
                metadata={"books_currency": chart.currency, "currency": currency},
            )
        return chart

    async def known_currency(self, institution_id: str) -> str | None:
        """The books' currency, or that of a loan seen for the institution; None if neither."""
        stored = await self.repo.get_chart(institution_id)
        if stored is not None:
            return stored.chart.currency
        loan = await self.repo.any_loan_of(institution_id)
        return str(loan["currency"]) if loan and loan.get("currency") else None

    async def _currency_of(self, institution_id: str, *, ask_peer: bool) -> str:
        known = await self.known_currency(institution_id)
        if known:
            return known
        if ask_peer and self._institution_currency is not None:
            return await self._institution_currency(institution_id)
        raise IllegalState(
            "the books of this institution open with its first loan",
            reason=BOOKS_NOT_OPEN,
        )

    async def add_account(self, institution_id: str, code: str, name: str, type: str) -> Account:
        for _ in range(5):
            await self.chart(institution_id, ask_peer=True)
            stored = await self.repo.get_chart(institution_id)
            assert stored is not None
            chart = stored.chart
            account = chart.add_account(code, name, type)
            if await self.repo.replace_chart(chart, stored.version, now=_now()):
                log.info("account_created", institution=institution_id, code=account.code)
                return account
        raise Aborted("the chart of accounts is being changed; retry")

    # --- entries -------------------------------------------------------------------------

    async def record(
        self, entry: JournalEntry, *, branch_id: str | None = None, applied: Applied | None = None
    ) -> bool:
        """Books ``entry`` once (with the branch it is for and, for a payment's entry, the
        loan service's answer): True if booked now, False if it already was."""
        booked = await self.repo.insert_entry(BookedEntry(entry, branch_id, applied))
        if booked:
            log.info("entry_booked", entry_id=entry.id, total=str(entry.total))
        return booked

    async def entry(self, entry_id: str) -> JournalEntry | None:
        booked = await self.repo.get_entry(entry_id)
        return booked.entry if booked is not None else None

    async def booked(self, entry_id: str) -> BookedEntry | None:
        """The entry as booked (with its branch and ``applied``), or None."""
        return await self.repo.get_entry(entry_id)

    async def _entries(
        self,
        institution_id: str,
        *,
        as_of: dt.date | None = None,
        account_code: str | None = None,
    ) -> AsyncIterator[JournalEntry]:
        stream = self.repo.stream_entries(institution_id, as_of=as_of, account_code=account_code)
        async for booked in stream:
            yield booked.entry

    # --- reports -------------------------------------------------------------------------

    async def trial_balance(
        self, chart: ChartOfAccounts, as_of: dt.date | None = None
    ) -> TrialBalance:
        debit = dict.fromkeys(chart.accounts, ZERO)
        credit = dict.fromkeys(chart.accounts, ZERO)
        async for entry in self._entries(chart.institution_id, as_of=as_of):
            chart.check_entry(entry)
            for line in entry.lines:
                debit[line.account_code] += line.debit
                credit[line.account_code] += line.credit
        rows = tuple(
            TrialBalanceRow(code, acc.name, acc.type, debit[code], credit[code])
            for code, acc in sorted(chart.accounts.items())
        )
        tb = TrialBalance(chart.currency, as_of, rows)
        if not tb.is_balanced:  # every entry balances, so this is corruption: say so loudly
            log.error(
                "trial_balance_unbalanced",
                institution=chart.institution_id,
                debit=str(tb.total_debit),
                credit=str(tb.total_credit),
            )
        return tb

    async def general_ledger(self, chart: ChartOfAccounts, account_code: str) -> AccountLedger:
        chart.account(account_code)  # NOT_FOUND for an unknown code
        entries = [e async for e in self._entries(chart.institution_id, account_code=account_code)]
        return ledger.general_ledger(entries, chart, account_code)

    async def loan_booked(self, institution_id: str, loan_id: str) -> list[BookedEntry]:
        """The loan's entries as booked (with the branch each was booked for)."""
        return [b async for b in self.repo.stream_entries(institution_id, loan_id=loan_id)]

    async def loan_entries(self, institution_id: str, loan_id: str) -> list[JournalEntry]:
        return [b.entry for b in await self.loan_booked(institution_id, loan_id)]

    async def loan_statement(self, chart: ChartOfAccounts, loan_id: str) -> LoanStatement:
        entries = await self.loan_entries(chart.institution_id, loan_id)
        return ledger.loan_statement(entries, chart, loan_id)


def _institution(p: Principal) -> str:
    if p.institution_id is None:
        raise NotFound("the platform administrator keeps no books", reason="NO_INSTITUTION")
    return p.institution_id


class LedgerHandlers:
    """The ledger RPCs: permission checks, then the books."""

    def __init__(self, books: Books, repo: AbstractRepository) -> None:
        self.books = books
        self.repo = repo

    async def trial_balance(self, as_of: dt.date | None) -> TrialBalance:
        """Over the entries dated up to `as_of` (every entry when None)."""
        p = context.principal()
        require(p, Permission.LEDGER_READ)
        chart = await self.books.chart(_institution(p), ask_peer=True)
        return await self.books.trial_balance(chart, as_of)

    async def list_accounts(self) -> list[Account]:
        p = context.principal()
        require(p, Permission.LEDGER_READ)
        chart = await self.books.chart(_institution(p), ask_peer=True)
        return sorted(chart.accounts.values(), key=lambda a: a.code)

    async def create_account(self, code: str, name: str, type: str) -> Account:
        p = context.principal()
        require(p, Permission.LEDGER_MANAGE)
        return await self.books.add_account(_institution(p), code, name, type)

    async def general_ledger(
        self, account_code: str, requested_size: int, token: str
    ) -> tuple[AccountLedger, str, str]:
        """One page of the account's ledger (running balances computed over everything
        before it), the next page token, and the books' currency."""
        p = context.principal()
        require(p, Permission.LEDGER_READ)
        if not account_code:
            raise ValidationError.of("account_code", "is required")
        chart = await self.books.chart(_institution(p), ask_peer=True)
        full = await self.books.general_ledger(chart, account_code)
        size = page_size(requested_size)
        after = decode_page_token(token)
        start = 0
        if after:
            try:
                start = int(after)
            except ValueError:
                raise ValidationError.of("page_token", "is not a token this API issued") from None
        rows = full.rows[start : start + size]
        next_token = encode_page_token(str(start + size)) if start + size < len(full.rows) else ""
        page = AccountLedger(full.account, full.start, full.end, full.opening_balance, rows)
        return page, next_token, chart.currency

    async def loan_statement(
        self, loan_id: str
    ) -> tuple[LoanStatement, dict[str, tuple[str, str]]]:
        p = context.principal()
        require(p, Permission.LEDGER_READ)
        if not loan_id:
            raise ValidationError.of("loan_id", "is required")
        institution_id = _institution(p)
        seen = await self.repo.get_loan_seen(loan_id)
        booked = await self.books.loan_booked(institution_id, loan_id)
        entries = [b.entry for b in booked]
        if seen is not None:
            in_scope = p.can_access(seen["institution_id"], seen.get("branch_id") or None)
        else:  # no loan event seen yet: the branch the entries were booked for decides
            branches = {b.branch_id or None for b in booked}
            in_scope = bool(booked) and all(p.can_access(institution_id, b) for b in branches)
        if not in_scope:
            raise NotFound(f"loan {loan_id} not found", reason="LOAN_NOT_FOUND")
        chart = await self.books.chart(institution_id, ask_peer=True)
        statement = ledger.loan_statement(entries, chart, loan_id)
        sources = {e.id: (e.source.kind, e.source.id) for e in entries}
        return statement, sources
