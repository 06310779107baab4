"""Property tests: any sequence of postings keeps the books straight.

A hypothesis state machine posts disbursements, repayments with random allocations, accruals
and penalties, write-offs, unidentified receipts and their assignment, refunds and reversals
of any of these, and keeps an independent model: what every account should hold and, per
loan, the principal disbursed, repaid and written off and the total paid. After every step the
trial balance must balance, every account must hold the model's figure, and each loan's
statement must show principal outstanding = disbursed - repaid - written off.
"""

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from payment_service.domain import postings
from payment_service.domain.errors import ValidationError
from payment_service.domain.ledger import (
    ChartOfAccounts,
    IncomeRecognition,
    JournalEntry,
    JournalLine,
    LedgerError,
    Source,
    general_ledger,
    loan_statement,
    reverse,
    trial_balance,
)
from payment_service.domain.postings import Allocation, Channel, PostingContext
from shared import money

pytestmark = pytest.mark.unit

ZERO = Decimal(0)
START = dt.datetime(2026, 1, 1, 9, 0, tzinfo=dt.UTC)
CHANNEL_CODE = {Channel.CASH: "1000", Channel.BANK: "1010", Channel.MOBILE_MONEY: "1020"}
channels = st.sampled_from(list(Channel))


@dataclass
class LoanModel:
    disbursed: Decimal = ZERO
    repaid: Decimal = ZERO
    written_off: Decimal = ZERO
    paid: Decimal = ZERO
    interest_receivable: Decimal = ZERO
    penalties_receivable: Decimal = ZERO
    write_offs: Decimal = ZERO  # 1 while written off (a reversal brings it back to 0)

    @property
    def outstanding(self) -> Decimal:
        return self.disbursed - self.repaid - self.written_off

    @property
    def active(self) -> bool:
        return self.write_offs == 0


@dataclass
class Effect:
    """What an entry does to the model; a reversal applies it negated."""

    accounts: dict[str, Decimal]  # debit-positive change per account
    loan_id: str | None = None
    loan: dict[str, Decimal] | None = None
    receipt_id: str | None = None
    suspense_left: Decimal = ZERO  # change of the receipt's unassigned amount


class Books(RuleBasedStateMachine):
    basis = IncomeRecognition.CASH
    currency = "KES"

    def __init__(self) -> None:
        super().__init__()
        self.chart = ChartOfAccounts.default("inst-1", self.currency, self.basis)
        self.entries: list[JournalEntry] = []
        self.effects: dict[str, Effect] = {}
        self.reversed: set[str] = set()
        self.accounts: dict[str, Decimal] = defaultdict(lambda: ZERO)
        self.loans: dict[str, LoanModel] = {}
        self.receipts: dict[str, Decimal] = {}
        self.step = 0

    # -- helpers ------------------------------------------------------------------------------

    @property
    def accrual(self) -> bool:
        return self.basis is IncomeRecognition.ACCRUAL

    def ctx(self) -> PostingContext:
        self.step += 1
        at = START + dt.timedelta(days=self.step // 3, minutes=self.step)
        return PostingContext(self.chart, at.date(), at, f"req-{self.step}")

    def amount(self, data: st.DataObject, low: int = 1, high: int = 5_000_000) -> Decimal:
        units = data.draw(st.integers(min_value=low, max_value=high))
        return money.from_minor(units, self.currency)

    def units(self, value: Decimal) -> int:
        return money.to_minor(value, self.currency)

    def split(self, data: st.DataObject, total: Decimal, max_principal: Decimal) -> Allocation:
        """A random allocation of ``total`` with principal <= ``max_principal``."""
        left = self.units(total)
        parts = []
        for cap in (min(left, max(0, self.units(max_principal))), None, None, None):
            part = data.draw(st.integers(0, left if cap is None else cap))
            parts.append(part)
            left -= part
        principal, interest, fees, penalties = (money.from_minor(p, self.currency) for p in parts)
        overpayment = money.from_minor(left, self.currency)
        return Allocation(principal, interest, fees, penalties, overpayment)

    def record(self, entry: JournalEntry, effect: Effect) -> None:
        self.entries.append(entry)
        self.effects[entry.id] = effect
        self.apply(effect, 1)

    def apply(self, effect: Effect, sign: int) -> None:
        for code, change in effect.accounts.items():
            self.accounts[code] += sign * change
        if effect.loan_id is not None and effect.loan:
            loan = self.loans[effect.loan_id]
            for name, change in effect.loan.items():
                setattr(loan, name, getattr(loan, name) + sign * change)
        if effect.receipt_id is not None:
            self.receipts[effect.receipt_id] += sign * effect.suspense_left

    def active_loans(self) -> list[str]:
        return sorted(lid for lid, loan in self.loans.items() if loan.active)

    def allocation_effect(
        self, loan: LoanModel, a: Allocation
    ) -> tuple[dict[str, Decimal], dict[str, Decimal]]:
        """Model of the credits of a payment (independent of postings._allocation_credits)."""
        acc: dict[str, Decimal] = defaultdict(lambda: ZERO)
        acc["1100"] -= a.principal
        acc["4100"] -= a.fees
        acc["2100"] -= a.overpayment
        change = {"repaid": a.principal, "paid": a.total}
        if self.accrual:
            interest_cleared = min(a.interest, max(ZERO, loan.interest_receivable))
            penalties_cleared = min(a.penalties, max(ZERO, loan.penalties_receivable))
            acc["1110"] -= interest_cleared
            acc["4000"] -= a.interest - interest_cleared
            acc["1120"] -= penalties_cleared
            acc["4200"] -= a.penalties - penalties_cleared
            change["interest_receivable"] = -interest_cleared
            change["penalties_receivable"] = -penalties_cleared
        else:
            acc["4000"] -= a.interest
            acc["4200"] -= a.penalties
        return dict(acc), change

    def receivables(self, loan: LoanModel) -> tuple[Decimal | None, Decimal | None]:
        """What the caller passes as the loan's receivable balances (None on cash basis)."""
        if not self.accrual:
            return None, None
        return max(ZERO, loan.interest_receivable), max(ZERO, loan.penalties_receivable)

    # -- rules --------------------------------------------------------------------------------

    @rule(data=st.data(), channel=channels)
    def disburse(self, data: st.DataObject, channel: Channel) -> None:
        loan_id = f"L{len(self.loans) + 1}"
        principal = self.amount(data, 100)
        deducted = self.amount(data, 0, self.units(principal) - 1)
        financed = self.amount(data, 0, 100_000)
        entry = postings.disbursement(
            self.ctx(),
            loan_id=loan_id,
            principal=principal,
            channel=channel,
            deducted_fees=deducted,
            financed_fees=financed,
        )
        self.loans[loan_id] = LoanModel()
        self.record(
            entry,
            Effect(
                accounts={
                    "1100": principal + financed,
                    CHANNEL_CODE[channel]: -(principal - deducted),
                    "4100": -(deducted + financed),
                },
                loan_id=loan_id,
                loan={"disbursed": principal + financed},
            ),
        )

    @precondition(lambda self: bool(self.active_loans()))
    @rule(data=st.data(), channel=channels)
    def repay(self, data: st.DataObject, channel: Channel) -> None:
        loan_id = data.draw(st.sampled_from(self.active_loans()))
        loan = self.loans[loan_id]
        allocation = self.split(data, self.amount(data), loan.outstanding)
        entry = postings.repayment(
            self.ctx(),
            payment_id=f"pay-{self.step}",
            loan_id=loan_id,
            channel=channel,
            allocation=allocation,
            interest_receivable=self.receivables(loan)[0],
            penalties_receivable=self.receivables(loan)[1],
        )
        accounts, change = self.allocation_effect(loan, allocation)
        accounts[CHANNEL_CODE[channel]] = allocation.total
        self.record(entry, Effect(accounts, loan_id, change))

    @precondition(lambda self: bool(self.active_loans()))
    @rule(data=st.data())
    def accrue_interest(self, data: st.DataObject) -> None:
        loan_id = data.draw(st.sampled_from(self.active_loans()))
        amount = self.amount(data, 1, 100_000)
        entry = postings.interest_accrual(
            self.ctx(), loan_id=loan_id, accrual_id=f"{loan_id}:{self.step}", amount=amount
        )
        if not self.accrual:
            assert entry is None
            return
        assert entry is not None
        self.record(
            entry,
            Effect({"1110": amount, "4000": -amount}, loan_id, {"interest_receivable": amount}),
        )

    @precondition(lambda self: bool(self.active_loans()))
    @rule(data=st.data())
    def charge_penalty(self, data: st.DataObject) -> None:
        loan_id = data.draw(st.sampled_from(self.active_loans()))
        amount = self.amount(data, 1, 100_000)
        entry = postings.penalty_charge(
            self.ctx(), loan_id=loan_id, penalty_id=f"{loan_id}:{self.step}", amount=amount
        )
        if not self.accrual:
            assert entry is None
            return
        assert entry is not None
        self.record(
            entry,
            Effect({"1120": amount, "4200": -amount}, loan_id, {"penalties_receivable": amount}),
        )

    @precondition(lambda self: bool(self.active_loans()))
    @rule(data=st.data())
    def write_off(self, data: st.DataObject) -> None:
        loan_id = data.draw(st.sampled_from(self.active_loans()))
        loan = self.loans[loan_id]
        principal = max(ZERO, loan.outstanding)
        interest, penalties = (r or ZERO for r in self.receivables(loan))
        kwargs = {
            "loan_id": loan_id,
            "principal": principal,
            "accrued_interest": interest,
            "accrued_penalties": penalties,
            "entry_id": f"write_off:{loan_id}:{self.step + 1}",
        }
        if principal == interest == penalties == 0:
            with pytest.raises(ValidationError):
                postings.write_off(self.ctx(), **kwargs)  # type: ignore[arg-type]
            return
        entry = postings.write_off(self.ctx(), **kwargs)  # type: ignore[arg-type]
        self.record(
            entry,
            Effect(
                {
                    "5000": principal,
                    "1100": -principal,
                    "4000": interest,
                    "1110": -interest,
                    "4200": penalties,
                    "1120": -penalties,
                },
                loan_id,
                {
                    "written_off": principal,
                    "interest_receivable": -interest,
                    "penalties_receivable": -penalties,
                    "write_offs": Decimal(1),
                },
            ),
        )

    @rule(data=st.data(), channel=channels)
    def receive_unidentified(self, data: st.DataObject, channel: Channel) -> None:
        amount = self.amount(data)
        receipt_id = f"TX{self.step + 1}"
        entry = postings.unidentified_receipt(
            self.ctx(), receipt_id=receipt_id, amount=amount, channel=channel
        )
        self.receipts[receipt_id] = ZERO
        self.record(
            entry,
            Effect(
                {CHANNEL_CODE[channel]: amount, "2900": -amount},
                receipt_id=receipt_id,
                suspense_left=amount,
            ),
        )

    @precondition(
        lambda self: bool(self.active_loans()) and any(v > 0 for v in self.receipts.values())
    )
    @rule(data=st.data())
    def assign_suspense(self, data: st.DataObject) -> None:
        receipt_id = data.draw(
            st.sampled_from(sorted(k for k, v in self.receipts.items() if v > 0))
        )
        loan_id = data.draw(st.sampled_from(self.active_loans()))
        loan = self.loans[loan_id]
        total = self.amount(data, 1, self.units(self.receipts[receipt_id]))
        allocation = self.split(data, total, loan.outstanding)
        entry = postings.suspense_assignment(
            self.ctx(),
            assignment_id=f"{receipt_id}:{self.step + 1}",
            loan_id=loan_id,
            allocation=allocation,
            interest_receivable=self.receivables(loan)[0],
            penalties_receivable=self.receivables(loan)[1],
        )
        accounts, change = self.allocation_effect(loan, allocation)
        accounts["2900"] = total
        self.record(entry, Effect(accounts, loan_id, change, receipt_id, -total))

    @precondition(lambda self: self.accounts["2100"] < 0)
    @rule(data=st.data(), channel=channels)
    def refund_overpayment(self, data: st.DataObject, channel: Channel) -> None:
        amount = self.amount(data, 1, self.units(-self.accounts["2100"]))
        entry = postings.overpayment_refund(
            self.ctx(), refund_id=f"rf{self.step + 1}", amount=amount, channel=channel
        )
        self.record(entry, Effect({"2100": amount, CHANNEL_CODE[channel]: -amount}))

    @precondition(
        lambda self: any(e.reverses is None and e.id not in self.reversed for e in self.entries)
    )
    @rule(data=st.data())
    def reverse_one(self, data: st.DataObject) -> None:
        candidates = [e for e in self.entries if e.reverses is None and e.id not in self.reversed]
        original = data.draw(st.sampled_from(candidates))
        ctx = self.ctx()
        rev = reverse(original, date=ctx.date, posted_at=ctx.posted_at, request_id=ctx.request_id)
        # Reversal restores the balances exactly: books + reversal == books without the original.
        after = trial_balance([*self.entries, rev], self.chart)
        without = trial_balance([e for e in self.entries if e is not original], self.chart)
        assert [r.net for r in after.rows] == [r.net for r in without.rows]
        self.entries.append(rev)
        self.reversed.add(original.id)
        self.apply(self.effects[original.id], -1)

    # -- invariants ---------------------------------------------------------------------------

    @invariant()
    def trial_balance_is_zero_and_matches_the_model(self) -> None:
        tb = trial_balance(self.entries, self.chart)
        assert tb.total_debit == tb.total_credit
        assert sum((r.net for r in tb.rows), ZERO) == 0
        assert tb.is_balanced
        for row in tb.rows:
            assert row.net == self.accounts[row.account_code], row.account_code

    @invariant()
    def loan_statements_match_the_model(self) -> None:
        for loan_id, loan in self.loans.items():
            st_ = loan_statement(self.entries, self.chart, loan_id)
            assert st_.principal_outstanding == loan.disbursed - loan.repaid - loan.written_off
            assert st_.principal_disbursed == loan.disbursed
            assert st_.principal_repaid == loan.repaid
            assert st_.principal_written_off == loan.written_off
            assert st_.principal_adjusted == 0
            assert st_.total_paid == loan.paid

    @invariant()
    def general_ledgers_close_at_the_trial_balance(self) -> None:
        tb = trial_balance(self.entries, self.chart)
        for row in tb.rows:
            gl = general_ledger(self.entries, self.chart, row.account_code)
            assert gl.closing_balance == row.balance
            assert (gl.total_debit, gl.total_credit) == (row.debit, row.credit)

    @invariant()
    def entries_are_balanced_and_exact(self) -> None:
        q = money.quantum(self.currency)
        for e in self.entries[-2:]:
            assert sum(ln.debit for ln in e.lines) == sum(ln.credit for ln in e.lines) > 0
            assert all(ln.amount == ln.amount.quantize(q) for ln in e.lines)


MACHINE_SETTINGS = settings(
    max_examples=40, stateful_step_count=30, deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)  # fmt: skip


class CashBooksKES(Books):
    basis = IncomeRecognition.CASH
    currency = "KES"


class AccrualBooksKES(Books):
    basis = IncomeRecognition.ACCRUAL
    currency = "KES"


class AccrualBooksUGX(Books):
    basis = IncomeRecognition.ACCRUAL
    currency = "UGX"


class CashBooksKWD(Books):
    basis = IncomeRecognition.CASH
    currency = "KWD"


for _machine in (CashBooksKES, AccrualBooksKES, AccrualBooksUGX, CashBooksKWD):
    _machine.TestCase.settings = MACHINE_SETTINGS
del _machine

TestCashBooksKES = CashBooksKES.TestCase
TestAccrualBooksKES = AccrualBooksKES.TestCase
TestAccrualBooksUGX = AccrualBooksUGX.TestCase
TestCashBooksKWD = CashBooksKWD.TestCase


# --- plain properties ------------------------------------------------------------------------

codes = st.sampled_from(["1000", "1010", "1020", "1100", "4000", "4100"])
cents = st.integers(min_value=1, max_value=10**9).map(lambda u: money.from_minor(u, "KES"))
sides = st.lists(st.tuples(codes, st.booleans(), cents), min_size=0, max_size=6)


def make_entry(lines: list[JournalLine]) -> JournalEntry:
    return JournalEntry(
        id="e1",
        institution_id="inst-1",
        currency="KES",
        date=START.date(),
        posted_at=START,
        lines=tuple(lines),
        source=Source("manual", "e1"),
        request_id="r",
    )


@given(sides)
def test_an_entry_is_accepted_exactly_when_it_balances(
    raw: list[tuple[str, bool, Decimal]],
) -> None:
    lines = [JournalLine.dr(c, a) if is_debit else JournalLine.cr(c, a) for c, is_debit, a in raw]
    debits = sum((a for _, is_debit, a in raw if is_debit), ZERO)
    credits = sum((a for _, is_debit, a in raw if not is_debit), ZERO)
    if debits == credits and debits > 0:
        assert make_entry(lines).total == debits
    else:
        with pytest.raises(LedgerError):
            make_entry(lines)


@given(sides.filter(lambda raw: raw and len({d for _, d, _ in raw}) == 2), st.data())
def test_balancing_an_entry_then_reversing_it_nets_to_zero(
    raw: list[tuple[str, bool, Decimal]], data: st.DataObject
) -> None:
    lines = [JournalLine.dr(c, a) if is_debit else JournalLine.cr(c, a) for c, is_debit, a in raw]
    gap = sum((ln.net for ln in lines), ZERO)
    plug = data.draw(codes)
    if gap > 0:
        lines.append(JournalLine.cr(plug, gap))
    elif gap < 0:
        lines.append(JournalLine.dr(plug, -gap))
    original = make_entry(lines)
    rev = reverse(original, date=START.date(), posted_at=START, request_id="r")
    chart = ChartOfAccounts.default("inst-1", "KES")
    tb = trial_balance([original, rev], chart)
    assert all(row.net == 0 for row in tb.rows)
    assert tb.total_debit == 2 * original.total
