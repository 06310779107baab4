"""Chart of accounts, journal entry invariants, reversals and the ledger reports."""

import datetime as dt
from decimal import Decimal

import pytest

from payment_service.domain.errors import (
    ACCOUNT_CODE_TAKEN,
    ACCOUNT_INVALID,
    ACCOUNT_TYPE_UNKNOWN,
    ACCOUNT_UNKNOWN,
    CURRENCY_MISMATCH,
    LEDGER_LINE_INVALID,
    LEDGER_REVERSAL_INVALID,
    LEDGER_UNBALANCED,
    ConflictError,
    NotFoundError,
)
from payment_service.domain.ledger import (
    DEFAULT_ACCOUNTS,
    AccountRole,
    AccountType,
    ChartOfAccounts,
    IncomeRecognition,
    JournalEntry,
    JournalLine,
    LedgerError,
    Side,
    Source,
    general_ledger,
    loan_statement,
    reverse,
    trial_balance,
)
from shared.errors import ValidationError  # the base of the payment domain's own

pytestmark = pytest.mark.unit

D = Decimal
DAY = dt.date(2026, 3, 2)
AT = dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC)


def entry(
    lines: list[JournalLine],
    *,
    id: str = "e1",
    currency: str = "KES",
    loan_id: str | None = None,
    kind: str = "manual",
    date: dt.date = DAY,
    institution_id: str = "inst-1",
) -> JournalEntry:
    return JournalEntry(
        id=id,
        institution_id=institution_id,
        currency=currency,
        date=date,
        posted_at=AT,
        lines=tuple(lines),
        source=Source(kind, id),
        request_id="req-1",
        loan_id=loan_id,
    )


# --- chart of accounts -----------------------------------------------------------------------


def test_default_chart() -> None:
    chart = ChartOfAccounts.default("inst-1", "KES")
    assert chart.income_recognition is IncomeRecognition.CASH
    expected = {
        "1000": ("Cash", AccountType.ASSET, Side.DEBIT),
        "1010": ("Bank", AccountType.ASSET, Side.DEBIT),
        "1020": ("Mobile money wallet", AccountType.ASSET, Side.DEBIT),
        "1100": ("Loan portfolio", AccountType.ASSET, Side.DEBIT),
        "1110": ("Interest receivable", AccountType.ASSET, Side.DEBIT),
        "1120": ("Penalties receivable", AccountType.ASSET, Side.DEBIT),
        "2100": ("Overpayment liability", AccountType.LIABILITY, Side.CREDIT),
        "2900": ("Suspense", AccountType.LIABILITY, Side.CREDIT),
        "4000": ("Interest income", AccountType.INCOME, Side.CREDIT),
        "4100": ("Fee income", AccountType.INCOME, Side.CREDIT),
        "4200": ("Penalty income", AccountType.INCOME, Side.CREDIT),
        "5000": ("Write-off expense", AccountType.EXPENSE, Side.DEBIT),
    }
    assert {code: (a.name, a.type, a.normal_side) for code, a in chart.accounts.items()} == expected
    assert chart.code_for(AccountRole.MOBILE_MONEY) == "1020"
    assert chart.code_for(AccountRole.SUSPENSE) == "2900"
    assert chart.role_of("4200") is AccountRole.PENALTY_INCOME
    assert len(DEFAULT_ACCOUNTS) == len(AccountRole)


def test_charts_of_two_institutions_are_independent() -> None:
    a = ChartOfAccounts.default("inst-a", "KES")
    b = ChartOfAccounts.default("inst-b", "UGX", IncomeRecognition.ACCRUAL)
    a.add_account("6100", "Staff costs", "expense")
    assert "6100" in a.accounts
    assert "6100" not in b.accounts
    assert b.income_recognition is IncomeRecognition.ACCRUAL


def test_admin_adds_an_account() -> None:
    chart = ChartOfAccounts.default("inst-1", "KES")
    account = chart.add_account("3000", "  Share capital ", "equity")
    assert (account.code, account.name, account.type) == ("3000", "Share capital", "equity")
    assert account.normal_side is Side.CREDIT
    assert account.role is None
    assert chart.account("3000") == account


def test_an_account_code_is_unique() -> None:
    chart = ChartOfAccounts.default("inst-1", "KES")
    with pytest.raises(ConflictError) as info:
        chart.add_account("1000", "Petty cash", AccountType.ASSET)
    assert info.value.reason == ACCOUNT_CODE_TAKEN
    assert info.value.field_errors == [("code", "already exists")]
    assert chart.account("1000").name == "Cash"


def test_an_unknown_account_type_is_refused() -> None:
    chart = ChartOfAccounts.default("inst-1", "KES")
    with pytest.raises(ValidationError) as info:
        chart.add_account("7000", "Other", "revenue")
    assert info.value.reason == ACCOUNT_TYPE_UNKNOWN
    assert [f for f, _ in info.value.field_errors] == ["type"]


def test_every_bad_field_is_named() -> None:
    chart = ChartOfAccounts.default("inst-1", "KES")
    with pytest.raises(ValidationError) as info:
        chart.add_account("12", " ", "revenue")
    assert info.value.reason == ACCOUNT_INVALID
    assert [f for f, _ in info.value.field_errors] == ["code", "name", "type"]


def test_an_unknown_account_is_not_found() -> None:
    with pytest.raises(NotFoundError) as info:
        ChartOfAccounts.default("inst-1", "KES").account("9999")
    assert info.value.reason == ACCOUNT_UNKNOWN


def test_a_chart_needs_every_system_role() -> None:
    accounts = {a.code: a for a in DEFAULT_ACCOUNTS if a.role is not AccountRole.SUSPENSE}
    with pytest.raises(ValidationError, match="suspense"):
        ChartOfAccounts("inst-1", "KES", accounts)


# --- journal entries -------------------------------------------------------------------------


def test_a_balanced_entry_is_accepted_and_quantized() -> None:
    e = entry([JournalLine.dr("1100", D("1000.5")), JournalLine.cr("1000", D("1000.500"))])
    assert e.total == D("1000.50")
    assert [str(ln.amount) for ln in e.lines] == ["1000.50", "1000.50"]
    assert [ln.side for ln in e.lines] == [Side.DEBIT, Side.CREDIT]


def test_an_unbalanced_entry_is_refused() -> None:
    with pytest.raises(LedgerError) as info:
        entry([JournalLine.dr("1100", D("1000.00")), JournalLine.cr("1000", D("999.99"))])
    assert info.value.reason == LEDGER_UNBALANCED
    assert isinstance(info.value, ValidationError)


def test_an_empty_entry_is_refused() -> None:
    with pytest.raises(LedgerError) as info:
        entry([])
    assert info.value.reason == LEDGER_UNBALANCED


@pytest.mark.parametrize(
    "make",
    [
        lambda: JournalLine("1000", D("5"), D("5")),  # two-sided
        lambda: JournalLine("1000", D("0"), D("0")),  # empty
        lambda: JournalLine("1000", D("-5"), D("0")),  # negative
        lambda: JournalLine.cr("1000", D("-5")),
        lambda: JournalLine.dr("1000", D("NaN")),
        lambda: JournalLine.dr("1000", 5.0),  # type: ignore[arg-type]  # a float
        lambda: JournalLine.dr("", D("5")),
    ],
)
def test_a_line_is_one_sided_and_positive(make: object) -> None:
    with pytest.raises(LedgerError) as info:
        make()  # type: ignore[operator]
    assert info.value.reason == LEDGER_LINE_INVALID


@pytest.mark.parametrize(
    ("currency", "amount"), [("KES", "10.005"), ("UGX", "10.5"), ("KWD", "0.0001")]
)
def test_amounts_have_at_most_the_currencys_decimals(currency: str, amount: str) -> None:
    with pytest.raises(LedgerError) as info:
        entry(
            [JournalLine.dr("1100", D(amount)), JournalLine.cr("1000", D(amount))],
            currency=currency,
        )
    assert info.value.reason == LEDGER_LINE_INVALID


def test_entry_fields_are_checked() -> None:
    lines = (JournalLine.dr("1100", D("5")), JournalLine.cr("1000", D("5")))
    base = {
        "id": "e1",
        "institution_id": "inst-1",
        "currency": "KES",
        "date": DAY,
        "posted_at": AT,
        "lines": lines,
        "source": Source("manual", "x"),
        "request_id": "req-1",
    }
    JournalEntry(**base)  # type: ignore[arg-type]
    for change in (
        {"posted_at": dt.datetime(2026, 3, 2, 8, 0)},  # naive
        {"date": AT},  # a datetime is not a business date
        {"id": ""},
        {"request_id": ""},
        {"reverses": "e1"},
        {"currency": "XYZ"},
    ):
        with pytest.raises(ValidationError):
            JournalEntry(**{**base, **change})  # type: ignore[arg-type]


def test_posted_at_is_normalised_to_utc() -> None:
    nairobi = dt.timezone(dt.timedelta(hours=3))
    e = JournalEntry(
        id="e1",
        institution_id="inst-1",
        currency="KES",
        date=DAY,
        posted_at=dt.datetime(2026, 3, 2, 11, 0, tzinfo=nairobi),
        lines=(JournalLine.dr("1100", D("5")), JournalLine.cr("1000", D("5"))),
        source=Source("manual", "x"),
        request_id="r",
    )
    assert e.posted_at == AT
    assert e.posted_at.tzinfo == dt.UTC


def test_the_chart_refuses_foreign_entries() -> None:
    chart = ChartOfAccounts.default("inst-1", "KES")
    good = [JournalLine.dr("1100", D("5")), JournalLine.cr("1000", D("5"))]
    with pytest.raises(LedgerError) as info:
        chart.check_entry(entry([JournalLine.dr("1999", D("5")), JournalLine.cr("1000", D("5"))]))
    assert info.value.reason == ACCOUNT_UNKNOWN
    with pytest.raises(LedgerError) as info:
        chart.check_entry(entry(good, currency="UGX"))
    assert info.value.reason == CURRENCY_MISMATCH
    with pytest.raises(LedgerError):
        chart.check_entry(entry(good, institution_id="inst-2"))


# --- reversal --------------------------------------------------------------------------------


def test_a_reversal_swaps_debits_and_credits() -> None:
    original = entry(
        [
            JournalLine.dr("1000", D("1000.00")),
            JournalLine.cr("1100", D("800.00")),
            JournalLine.cr("4000", D("200.00")),
        ],
        id="repayment:p1",
        kind="repayment",
        loan_id="L1",
    )
    later = dt.date(2026, 3, 5)
    rev = reverse(original, date=later, posted_at=AT + dt.timedelta(days=3), request_id="req-9")
    assert rev.id == "reversal:repayment:p1"
    assert rev.reverses == "repayment:p1"
    assert rev.source == Source("reversal", "repayment:p1")
    assert (rev.date, rev.loan_id, rev.request_id) == (later, "L1", "req-9")
    assert [(ln.account_code, ln.debit, ln.credit) for ln in rev.lines] == [
        ("1000", D("0"), D("1000.00")),
        ("1100", D("800.00"), D("0")),
        ("4000", D("200.00"), D("0")),
    ]
    chart = ChartOfAccounts.default("inst-1", "KES")
    tb = trial_balance([original, rev], chart)
    assert all(row.net == 0 for row in tb.rows)
    assert tb.row("1000").debit == D("1000.00")
    assert tb.row("1000").credit == D("1000.00")


def test_a_reversal_cannot_be_reversed_nor_predate_its_original() -> None:
    original = entry([JournalLine.dr("1000", D("5")), JournalLine.cr("4100", D("5"))])
    rev = reverse(original, date=DAY, posted_at=AT, request_id="r")
    with pytest.raises(LedgerError) as info:
        reverse(rev, date=DAY, posted_at=AT, request_id="r")
    assert info.value.reason == LEDGER_REVERSAL_INVALID
    with pytest.raises(LedgerError) as info:
        reverse(original, date=DAY - dt.timedelta(days=1), posted_at=AT, request_id="r")
    assert info.value.reason == LEDGER_REVERSAL_INVALID


# --- reports ---------------------------------------------------------------------------------


def sample_books() -> tuple[ChartOfAccounts, list[JournalEntry]]:
    """A disbursement, two repayments (one reversed), on three dates."""
    chart = ChartOfAccounts.default("inst-1", "KES")
    d1, d2, d3 = dt.date(2026, 3, 1), dt.date(2026, 3, 8), dt.date(2026, 3, 15)
    disb = entry(
        [
            JournalLine.dr("1100", D("10000.00")),
            JournalLine.cr("1000", D("9700.00")),
            JournalLine.cr("4100", D("300.00")),
        ],
        id="disbursement:L1",
        kind="disbursement",
        loan_id="L1",
        date=d1,
    )
    pay1 = entry(
        [
            JournalLine.dr("1000", D("1150.00")),
            JournalLine.cr("1100", D("1000.00")),
            JournalLine.cr("4000", D("150.00")),
        ],
        id="repayment:p1",
        kind="repayment",
        loan_id="L1",
        date=d2,
    )
    pay2 = entry(
        [
            JournalLine.dr("1000", D("600.00")),
            JournalLine.cr("1100", D("500.00")),
            JournalLine.cr("4000", D("80.00")),
            JournalLine.cr("4200", D("20.00")),
        ],
        id="repayment:p2",
        kind="repayment",
        loan_id="L1",
        date=d3,
    )
    rev1 = reverse(pay1, date=d3, posted_at=AT + dt.timedelta(days=14), request_id="r")
    other = entry(
        [JournalLine.dr("1100", D("2000.00")), JournalLine.cr("1000", D("2000.00"))],
        id="disbursement:L2",
        kind="disbursement",
        loan_id="L2",
        date=d2,
    )
    return chart, [pay2, rev1, disb, pay1, other]  # any order


def test_trial_balance_hand_computed() -> None:
    chart, entries = sample_books()
    tb = trial_balance(entries, chart)
    assert tb.is_balanced
    # cash: debits 1150 + 600 + (reversal credit) ; credits 9700 + 2000 + 1150
    assert (tb.row("1000").debit, tb.row("1000").credit) == (D("1750.00"), D("12850.00"))
    assert tb.balance("1000") == D("-11100.00")
    # portfolio: 10000 + 2000 + 1000 (reversal) - 1000 - 500
    assert tb.balance("1100") == D("11500.00")
    assert tb.balance("4000") == D("80.00")
    assert tb.balance("4100") == D("300.00")
    assert tb.balance("4200") == D("20.00")
    assert tb.balance("5000") == D("0")
    assert tb.total_debit == tb.total_credit == D("14900.00")
    assert sum(r.net for r in tb.rows) == 0
    assert [r.account_code for r in tb.rows] == sorted(chart.accounts)


def test_trial_balance_as_of_a_date() -> None:
    chart, entries = sample_books()
    tb = trial_balance(entries, chart, as_of=dt.date(2026, 3, 8))
    assert tb.balance("1100") == D("11000.00")  # 10000 + 2000 - 1000
    assert tb.balance("4000") == D("150.00")
    assert tb.is_balanced


def test_an_entry_cannot_count_twice() -> None:
    chart, entries = sample_books()
    with pytest.raises(LedgerError):
        trial_balance([*entries, entries[0]], chart)


def test_general_ledger_running_balance() -> None:
    chart, entries = sample_books()
    gl = general_ledger(entries, chart, "1100")
    assert [(r.entry_id, r.debit, r.credit, r.balance) for r in gl.rows] == [
        ("disbursement:L1", D("10000.00"), D("0"), D("10000.00")),
        ("disbursement:L2", D("2000.00"), D("0"), D("12000.00")),
        ("repayment:p1", D("0"), D("1000.00"), D("11000.00")),
        ("repayment:p2", D("0"), D("500.00"), D("10500.00")),
        ("reversal:repayment:p1", D("1000.00"), D("0"), D("11500.00")),
    ]
    assert gl.closing_balance == D("11500.00")
    assert gl.opening_balance == 0


def test_general_ledger_of_a_credit_account_with_a_period() -> None:
    chart, entries = sample_books()
    gl = general_ledger(entries, chart, "4000", start=dt.date(2026, 3, 9))
    assert gl.opening_balance == D("150.00")
    assert [(r.entry_id, r.balance) for r in gl.rows] == [
        ("repayment:p2", D("230.00")),
        ("reversal:repayment:p1", D("80.00")),
    ]
    assert gl.closing_balance == D("80.00")
    early = general_ledger(entries, chart, "4000", end=dt.date(2026, 3, 1))
    assert early.rows == ()
    assert early.closing_balance == 0


def test_loan_statement_hand_computed() -> None:
    chart, entries = sample_books()
    st = loan_statement(entries, chart, "L1")
    assert [(ln.entry_id, ln.principal_outstanding, ln.paid, ln.total_paid) for ln in st.lines] == [
        ("disbursement:L1", D("10000.00"), D("0"), D("0")),
        ("repayment:p1", D("9000.00"), D("1150.00"), D("1150.00")),
        ("repayment:p2", D("8500.00"), D("600.00"), D("1750.00")),
        ("reversal:repayment:p1", D("9500.00"), D("-1150.00"), D("600.00")),
    ]
    assert st.principal_disbursed == D("10000.00")
    assert st.principal_repaid == D("500.00")
    assert st.principal_written_off == 0
    assert st.principal_outstanding == D("9500.00")
    assert st.interest_paid == D("80.00")
    assert st.penalties_paid == D("20.00")
    assert st.fees_paid == 0  # fees deducted at disbursement are not payments
    assert st.total_paid == D("600.00")
    rev = st.lines[-1]
    assert (rev.kind, rev.reverses, rev.principal_repaid) == (
        "reversal",
        "repayment:p1",
        D("-1000.00"),
    )


def test_a_reversal_needs_its_original_in_the_statement() -> None:
    chart, entries = sample_books()
    without_original = [e for e in entries if e.id != "repayment:p1"]
    with pytest.raises(LedgerError) as info:
        loan_statement(without_original, chart, "L1")
    assert info.value.reason == LEDGER_REVERSAL_INVALID


def test_statement_of_a_loan_without_entries() -> None:
    chart, entries = sample_books()
    st = loan_statement(entries, chart, "L404")
    assert st.lines == ()
    assert st.principal_outstanding == 0
    assert st.total_paid == 0
