"""Refunding a loan's credit balance (money paid beyond everything owed): the domain rules
and how the stored figures show the credit left."""

from datetime import date
from decimal import Decimal as D

import pytest

from loan_service.adapters.serialization import loan_from_doc, loan_to_doc
from loan_service.domain.errors import Conflict, IllegalTransition, PreconditionFailed
from loan_service.domain.errors import ValidationError as DomainValidationError
from loan_service.domain.lifecycle import CreditRefunded, Loan, LoanStatus, Refund
from loan_service.service_layer import views
from tests.support.loan_products import make_product

pytestmark = pytest.mark.unit

LIMITS = {"branch_manager": D("500000")}
DISBURSED = date(2024, 1, 15)
REFUND_DAY = date(2024, 3, 20)


def active_loan() -> Loan:
    loan = Loan.submit(
        id="loan-1",
        borrower_id="b-1",
        product=make_product(),
        principal=D("100000"),
        term=12,
        created_by="agent-7",
    )
    loan.approve("manager-2", approver_role="branch_manager", approval_limits=LIMITS)
    loan.disburse(DISBURSED)
    loan.pull_events()
    return loan


def overpaid_loan() -> tuple[Loan, D]:
    """A loan paid off with money to spare: closed, with a credit balance."""
    loan = active_loan()
    loan.apply_repayment("p1", D("50000"), date(2024, 2, 15))
    loan.apply_repayment("p2", D("70000"), date(2024, 3, 15))
    loan.pull_events()
    credit = loan.credit_balance()
    assert loan.status is LoanStatus.CLOSED and credit > 0
    return loan, credit


def test_a_partial_then_a_full_refund_empty_the_credit_balance() -> None:
    loan, credit = overpaid_loan()

    left = loan.refund_credit("r1", D("1000"), REFUND_DAY)
    assert left == credit - D("1000") == loan.credit_balance()
    assert loan.pull_events() == [CreditRefunded("loan-1", "r1", D("1000"), REFUND_DAY)]

    assert loan.refund_credit("r2", left, REFUND_DAY) == 0
    assert loan.credit_balance() == 0
    assert loan.refunds == [
        Refund("r1", D("1000"), REFUND_DAY),
        Refund("r2", left, REFUND_DAY),
    ]
    # Refunds are not replayed: the replay's overpayment is what was overpaid.
    assert loan.state().overpayment == credit
    assert loan.status is LoanStatus.CLOSED


def test_a_refund_above_the_credit_balance_is_refused_naming_what_is_available() -> None:
    loan, credit = overpaid_loan()
    loan.refund_credit("r1", D("1000"), REFUND_DAY)
    loan.pull_events()

    with pytest.raises(DomainValidationError) as caught:
        loan.refund_credit("r2", credit, REFUND_DAY)

    assert caught.value.reason == "CREDIT_EXCEEDED"
    assert caught.value.fields == ["amount"]
    assert str(credit - D("1000")) in caught.value.message
    assert loan.credit_balance() == credit - D("1000")
    assert loan.events == []


def test_a_loan_without_credit_refunds_nothing() -> None:
    loan = active_loan()  # active: allowed, but there is no credit to refund
    loan.apply_repayment("p1", D("5000"), date(2024, 2, 15))

    with pytest.raises(DomainValidationError) as caught:
        loan.refund_credit("r1", D("0.01"), REFUND_DAY)

    assert caught.value.reason == "CREDIT_EXCEEDED"


@pytest.mark.parametrize(
    ("amount", "field"),
    [(D("0"), "amount"), (D("-5"), "amount"), (D("1.001"), "amount"), (D("NaN"), "amount")],
)
def test_a_refund_amount_must_be_positive_in_minor_units(amount: D, field: str) -> None:
    loan, _ = overpaid_loan()
    with pytest.raises(DomainValidationError) as caught:
        loan.refund_credit("r1", amount, REFUND_DAY)
    assert caught.value.fields == [field]


def test_a_refund_is_not_dated_before_the_disbursement() -> None:
    loan, _ = overpaid_loan()
    with pytest.raises(DomainValidationError) as caught:
        loan.refund_credit("r1", D("1"), date(2024, 1, 1))
    assert caught.value.fields == ["refunded_on"]


def test_a_refund_id_is_recorded_once() -> None:
    loan, _ = overpaid_loan()
    loan.refund_credit("r1", D("1"), REFUND_DAY)
    with pytest.raises(Conflict):
        loan.refund_credit("r1", D("1"), REFUND_DAY)


@pytest.mark.parametrize("status", ["submitted", "approved", "written_off"])
def test_only_active_or_closed_loans_refund_credit(status: str) -> None:
    loan = Loan.submit(
        id="loan-1",
        borrower_id="b-1",
        product=make_product(),
        principal=D("100000"),
        term=12,
        created_by="agent-7",
    )
    if status != "submitted":
        loan.approve("manager-2", approver_role="branch_manager", approval_limits=LIMITS)
    if status == "written_off":
        loan.disburse(DISBURSED)
        loan.write_off(date(2024, 6, 1), by="manager-2", reason="fraud")

    with pytest.raises(IllegalTransition) as caught:
        loan.refund_credit("r1", D("1"), REFUND_DAY)

    assert caught.value.current_status == status
    assert status in caught.value.message


def test_a_reversal_that_would_take_back_refunded_credit_is_refused() -> None:
    loan, credit = overpaid_loan()
    loan.refund_credit("r1", D("1000"), REFUND_DAY)
    loan.pull_events()

    with pytest.raises(PreconditionFailed) as caught:
        loan.reverse_repayment("p2", "cheque bounced")

    assert caught.value.reason == "CREDIT_ALREADY_REFUNDED"
    assert "1000" in caught.value.message
    assert caught.value.metadata["refunded"] == "1000"
    # Nothing changed.
    assert not any(r.reversed for r in loan.repayments)
    assert loan.status is LoanStatus.CLOSED
    assert loan.credit_balance() == credit - D("1000")
    assert loan.events == []


def test_a_reversal_that_leaves_the_refunded_credit_covered_goes_through() -> None:
    loan = active_loan()
    loan.apply_repayment("p0", D("1000"), date(2024, 2, 1))
    loan.apply_repayment("p1", D("50000"), date(2024, 2, 15))
    loan.apply_repayment("p2", D("70000"), date(2024, 3, 15))
    credit = loan.credit_balance()
    loan.refund_credit("r1", D("1000"), REFUND_DAY)

    loan.reverse_repayment("p0", "duplicate receipt")

    assert loan.status is LoanStatus.CLOSED
    assert 0 <= loan.credit_balance() < credit - D("1000")


def test_refunds_are_stored_and_the_view_shows_the_credit_left() -> None:
    loan, credit = overpaid_loan()
    loan.refund_credit("r1", D("1000"), REFUND_DAY)
    doc = {"_id": loan.id, **loan_to_doc(loan, {})}

    again = loan_from_doc(doc)

    assert again.refunds == loan.refunds
    assert again.credit_balance() == credit - D("1000")
    view = views.derive(loan, REFUND_DAY, fallback=DISBURSED).fields["view"]
    assert D(view["overpayment"]) == credit - D("1000")


def test_a_document_without_refunds_reads_as_none() -> None:
    loan, credit = overpaid_loan()
    doc = {"_id": loan.id, **loan_to_doc(loan, {})}
    del doc["refunds"]

    again = loan_from_doc(doc)

    assert again.refunds == []
    assert again.credit_balance() == credit
