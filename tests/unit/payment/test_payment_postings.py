"""The entry each money movement books, on cash and on accrual basis (hand-computed)."""

import datetime as dt
from decimal import Decimal

import pytest

from payment_service.domain import postings
from payment_service.domain.errors import (
    ALLOCATION_INVALID,
    AMOUNT_INVALID,
    CHANNEL_UNKNOWN,
)
from payment_service.domain.ledger import (
    ChartOfAccounts,
    IncomeRecognition,
    JournalEntry,
    loan_statement,
    reverse,
    trial_balance,
)
from payment_service.domain.postings import Allocation, Channel, PostingContext
from shared.errors import ValidationError  # the base of the payment domain's own

pytestmark = pytest.mark.unit

D = Decimal
AT = dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC)


def ctx(basis: str = "cash", currency: str = "KES") -> PostingContext:
    chart = ChartOfAccounts.default("inst-1", currency, IncomeRecognition(basis))
    return PostingContext(chart, AT.date(), AT, "req-1")


def lines(entry: JournalEntry | None) -> set[tuple[str, str, str]]:
    """The entry as {(account, "Dr"/"Cr", amount)}."""
    assert entry is not None
    return {
        (ln.account_code, "Dr" if ln.debit else "Cr", str(ln.debit or ln.credit))
        for ln in entry.lines
    }


@pytest.mark.parametrize("basis", ["cash", "accrual"])
def test_disbursement_with_deducted_and_financed_fees(basis: str) -> None:
    e = postings.disbursement(
        ctx(basis),
        loan_id="L1",
        principal=D("10000"),
        channel=Channel.MOBILE_MONEY,
        deducted_fees=D("300"),
        financed_fees=D("200"),
    )
    assert lines(e) == {
        ("1100", "Dr", "10200.00"),  # principal + financed fee
        ("1020", "Cr", "9700.00"),  # net paid out to the wallet
        ("4100", "Cr", "500.00"),  # deducted + financed fees
    }
    assert (e.id, e.source.kind, e.source.id, e.loan_id) == (
        "disbursement:L1",
        "disbursement",
        "L1",
        "L1",
    )
    assert (e.institution_id, e.currency, e.request_id, e.date) == (
        "inst-1",
        "KES",
        "req-1",
        AT.date(),
    )


def test_disbursement_without_fees_in_cash() -> None:
    e = postings.disbursement(ctx(), loan_id="L1", principal=D("5000"), channel=Channel.CASH)
    assert lines(e) == {("1100", "Dr", "5000.00"), ("1000", "Cr", "5000.00")}


def test_disbursement_checks_its_amounts() -> None:
    with pytest.raises(ValidationError) as info:
        postings.disbursement(
            ctx(), loan_id="L1", principal=D("300"), channel="bank", deducted_fees=D("300")
        )
    assert info.value.field_errors[0][0] == "deducted_fees"
    with pytest.raises(ValidationError) as info:
        postings.disbursement(ctx("cash", "UGX"), loan_id="L1", principal=D("10.5"), channel="bank")
    assert (info.value.reason, info.value.field_errors[0][0]) == (AMOUNT_INVALID, "principal")
    with pytest.raises(ValidationError) as info:
        postings.disbursement(ctx(), loan_id="L1", principal=D("100"), channel="cheque")  # type: ignore[arg-type]
    assert info.value.reason == CHANNEL_UNKNOWN


ALLOCATION = Allocation(
    principal=D("800"), interest=D("150"), fees=D("20"), penalties=D("30"), overpayment=D("5")
)


@pytest.mark.parametrize(
    ("channel", "account"), [("cash", "1000"), ("mobile_money", "1020"), ("bank", "1010")]
)
def test_repayment_on_cash_basis(channel: str, account: str) -> None:
    e = postings.repayment(
        ctx(), payment_id="p1", loan_id="L1", channel=Channel(channel), allocation=ALLOCATION
    )
    assert lines(e) == {
        (account, "Dr", "1005.00"),
        ("1100", "Cr", "800.00"),
        ("4000", "Cr", "150.00"),
        ("4100", "Cr", "20.00"),
        ("4200", "Cr", "30.00"),
        ("2100", "Cr", "5.00"),
    }
    assert (e.id, e.loan_id) == ("repayment:p1", "L1")


def test_repayment_on_accrual_basis_clears_the_receivables() -> None:
    e = postings.repayment(
        ctx("accrual"), payment_id="p1", loan_id="L1", channel=Channel.CASH, allocation=ALLOCATION
    )
    assert lines(e) == {
        ("1000", "Dr", "1005.00"),
        ("1100", "Cr", "800.00"),
        ("1110", "Cr", "150.00"),  # interest receivable, not income
        ("4100", "Cr", "20.00"),  # fees are never accrued
        ("1120", "Cr", "30.00"),  # penalties receivable
        ("2100", "Cr", "5.00"),
    }


def test_accrual_repayment_beyond_what_was_accrued_goes_to_income() -> None:
    e = postings.repayment(
        ctx("accrual"),
        payment_id="p1",
        loan_id="L1",
        channel=Channel.CASH,
        allocation=ALLOCATION,
        interest_receivable=D("100"),
        penalties_receivable=D("0"),
    )
    assert lines(e) == {
        ("1000", "Dr", "1005.00"),
        ("1100", "Cr", "800.00"),
        ("1110", "Cr", "100.00"),
        ("4000", "Cr", "50.00"),
        ("4100", "Cr", "20.00"),
        ("4200", "Cr", "30.00"),
        ("2100", "Cr", "5.00"),
    }


def test_the_receivable_is_ignored_on_cash_basis() -> None:
    e = postings.repayment(
        ctx(),
        payment_id="p1",
        loan_id="L1",
        channel=Channel.CASH,
        allocation=Allocation(interest=D("150")),
        interest_receivable=D("100"),
    )
    assert lines(e) == {("1000", "Dr", "150.00"), ("4000", "Cr", "150.00")}


def test_allocation_rules() -> None:
    with pytest.raises(ValidationError) as info:
        Allocation()
    assert info.value.reason == ALLOCATION_INVALID
    with pytest.raises(ValidationError) as info:
        Allocation(principal=D("-1"), interest=D("5"), fees=1.5)  # type: ignore[arg-type]
    assert [f for f, _ in info.value.field_errors] == ["principal", "fees"]
    with pytest.raises(ValidationError) as info:
        postings.repayment(
            ctx(),
            payment_id="p1",
            loan_id="L1",
            channel=Channel.CASH,
            allocation=Allocation(interest=D("1.005")),
        )
    assert (info.value.reason, info.value.field_errors[0][0]) == (AMOUNT_INVALID, "interest")
    assert Allocation(principal=D("1"), penalties=D("2.5")).total == D("3.5")


def test_interest_accrual_only_on_accrual_basis() -> None:
    assert (
        postings.interest_accrual(
            ctx(), loan_id="L1", accrual_id="L1:2026-03-02", amount=D("12.34")
        )
        is None
    )
    e = postings.interest_accrual(
        ctx("accrual"), loan_id="L1", accrual_id="L1:2026-03-02", amount=D("12.34")
    )
    assert lines(e) == {("1110", "Dr", "12.34"), ("4000", "Cr", "12.34")}
    assert e is not None
    assert e.id == "interest_accrual:L1:2026-03-02"


def test_penalty_charge_only_on_accrual_basis() -> None:
    assert postings.penalty_charge(ctx(), loan_id="L1", penalty_id="L1:3", amount=D("50")) is None
    e = postings.penalty_charge(ctx("accrual"), loan_id="L1", penalty_id="L1:3", amount=D("50"))
    assert lines(e) == {("1120", "Dr", "50.00"), ("4200", "Cr", "50.00")}


def test_write_off_on_cash_basis() -> None:
    e = postings.write_off(ctx(), loan_id="L1", principal=D("9400"))
    assert lines(e) == {("5000", "Dr", "9400.00"), ("1100", "Cr", "9400.00")}
    assert e.id == "write_off:L1"
    with pytest.raises(ValidationError) as info:
        postings.write_off(ctx(), loan_id="L1", principal=D("9400"), accrued_interest=D("1"))
    assert info.value.field_errors == [("accrued_interest", "must be zero on cash basis")]


def test_write_off_on_accrual_basis_reverses_unpaid_accruals() -> None:
    e = postings.write_off(
        ctx("accrual"),
        loan_id="L1",
        principal=D("9400"),
        accrued_interest=D("50"),
        accrued_penalties=D("30"),
    )
    assert lines(e) == {
        ("5000", "Dr", "9400.00"),
        ("1100", "Cr", "9400.00"),
        ("4000", "Dr", "50.00"),
        ("1110", "Cr", "50.00"),
        ("4200", "Dr", "30.00"),
        ("1120", "Cr", "30.00"),
    }


def test_nothing_to_write_off_is_refused() -> None:
    with pytest.raises(ValidationError):
        postings.write_off(ctx(), loan_id="L1", principal=D("0"))


def test_unidentified_receipt_then_assignment() -> None:
    c = ctx()
    receipt = postings.unidentified_receipt(c, receipt_id="QK7Y2ZX1", amount=D("500"))
    assert lines(receipt) == {("1020", "Dr", "500.00"), ("2900", "Cr", "500.00")}
    assert (receipt.id, receipt.loan_id) == ("unidentified_receipt:QK7Y2ZX1", None)
    assigned = postings.suspense_assignment(
        c,
        assignment_id="QK7Y2ZX1",
        loan_id="L1",
        allocation=Allocation(principal=D("400"), interest=D("100")),
    )
    assert lines(assigned) == {
        ("2900", "Dr", "500.00"),
        ("1100", "Cr", "400.00"),
        ("4000", "Cr", "100.00"),
    }
    tb = trial_balance([receipt, assigned], c.chart)
    assert tb.balance("2900") == 0
    assert tb.balance("1020") == D("500.00")
    st = loan_statement([receipt, assigned], c.chart, "L1")
    assert (st.principal_repaid, st.interest_paid, st.total_paid) == (
        D("400.00"),
        D("100.00"),
        D("500.00"),
    )


def test_assignment_on_accrual_basis_clears_the_receivable() -> None:
    e = postings.suspense_assignment(
        ctx("accrual"),
        assignment_id="a1",
        loan_id="L1",
        allocation=Allocation(principal=D("400"), interest=D("100")),
        interest_receivable=D("60"),
    )
    assert lines(e) == {
        ("2900", "Dr", "500.00"),
        ("1100", "Cr", "400.00"),
        ("1110", "Cr", "60.00"),
        ("4000", "Cr", "40.00"),
    }


def test_suspense_return_and_overpayment_refund() -> None:
    back = postings.suspense_return(ctx(), return_id="r1", amount=D("70"))
    assert lines(back) == {("2900", "Dr", "70.00"), ("1020", "Cr", "70.00")}
    refund = postings.overpayment_refund(
        ctx(), refund_id="f1", amount=D("5"), channel=Channel.BANK, loan_id="L1"
    )
    assert lines(refund) == {("2100", "Dr", "5.00"), ("1010", "Cr", "5.00")}
    assert refund.id == "overpayment_refund:f1"


def test_a_full_loan_life_on_cash_basis() -> None:
    """Disburse 10,000 (300 deducted), repay twice (the last overpays), refund, reverse."""
    c = ctx()
    disb = postings.disbursement(
        c, loan_id="L1", principal=D("10000"), channel="mobile_money", deducted_fees=D("300")
    )
    p1 = postings.repayment(
        c,
        payment_id="p1",
        loan_id="L1",
        channel=Channel.MOBILE_MONEY,
        allocation=Allocation(principal=D("6000"), interest=D("900"), penalties=D("100")),
    )
    p2 = postings.repayment(
        c,
        payment_id="p2",
        loan_id="L1",
        channel=Channel.CASH,
        allocation=Allocation(principal=D("4000"), interest=D("600"), overpayment=D("50")),
    )
    refund = postings.overpayment_refund(
        c, refund_id="f1", amount=D("50"), channel=Channel.CASH, loan_id="L1"
    )
    books = [disb, p1, p2, refund]
    tb = trial_balance(books, c.chart)
    assert tb.is_balanced
    assert tb.balance("1020") == D("-2700.00")  # -9700 + 7000
    assert tb.balance("1000") == D("4600.00")  # 4650 - 50
    assert tb.balance("1100") == 0
    assert tb.balance("4000") == D("1500.00")
    assert tb.balance("4100") == D("300.00")
    assert tb.balance("4200") == D("100.00")
    assert tb.balance("2100") == 0
    st = loan_statement(books, c.chart, "L1")
    assert (st.principal_outstanding, st.total_paid, st.overpaid, st.refunded) == (
        0,
        D("11650.00"),
        D("50.00"),
        D("50.00"),
    )
    rev = reverse(p2, date=c.date, posted_at=AT, request_id="req-2")
    st = loan_statement([*books, rev], c.chart, "L1")
    assert (st.principal_outstanding, st.total_paid) == (D("4000.00"), D("7000.00"))
    tb = trial_balance([*books, rev], c.chart)
    assert tb.balance("1000") == D("-50.00")
    assert tb.balance("2100") == D("-50.00")  # the refund now exceeds what was overpaid
