"""The Loan aggregate: transitions, maker-checker, limits, eligibility, events, reschedule."""

from datetime import date
from decimal import Decimal as D

import numpy_financial as npf
import pytest

from loan_service.domain.allocation import replay
from loan_service.domain.errors import (
    ApprovalLimitExceeded,
    Conflict,
    EligibilityFailed,
    IllegalTransition,
    MakerCheckerViolation,
    NotFound,
    OverrideNotPermitted,
    PreconditionFailed,
    ValidationError,
)
from loan_service.domain.lifecycle import Loan, LoanStatus, check_eligibility
from loan_service.domain.products import ScoreBand
from loan_service.domain.state import Repayment
from tests.support.loan_products import make_product

pytestmark = pytest.mark.unit

LIMITS = {"branch_manager": D("500000"), "admin": D("10000000")}
LEVEL = D("8884.88")
DISBURSED = date(2024, 1, 15)


def new_loan(**changes) -> Loan:
    product = changes.pop("product", None) or make_product(
        min_principal=D("1000"), max_principal=D("1000000"), min_term=3, max_term=36
    )
    values = {
        "id": "loan-1",
        "borrower_id": "b-1",
        "product": product,
        "principal": D("100000"),
        "term": 12,
        "created_by": "agent-7",
    }
    values.update(changes)
    return Loan.submit(**values)


def active_loan() -> Loan:
    loan = new_loan()
    loan.approve("manager-2", approver_role="branch_manager", approval_limits=LIMITS)
    loan.disburse(DISBURSED)
    loan.pull_events()
    return loan


def names(loan: Loan) -> list[str]:
    return [e.name for e in loan.events]


def test_happy_path_records_events() -> None:
    loan = new_loan()
    assert loan.status is LoanStatus.SUBMITTED
    loan.approve("manager-2", "looks fine", approver_role="branch_manager", approval_limits=LIMITS)
    schedule = loan.disburse(DISBURSED)
    assert loan.status is LoanStatus.ACTIVE
    assert schedule.installments[0].total == LEVEL
    assert names(loan) == ["loan.submitted", "loan.approved", "loan.disbursed"]
    disbursed = loan.events[-1]
    assert disbursed.disbursed_amount == D("100000")  # type: ignore[attr-defined]
    assert loan.pull_events() and loan.events == []


def test_creator_cannot_approve() -> None:
    loan = new_loan()
    with pytest.raises(MakerCheckerViolation) as info:
        loan.approve("agent-7", approver_role="branch_manager", approval_limits=LIMITS)
    assert info.value.reason == "MAKER_CHECKER_VIOLATION"
    assert loan.status is LoanStatus.SUBMITTED
    assert names(loan) == ["loan.submitted"]


def test_approval_limits_per_role() -> None:
    loan = new_loan(principal=D("500000"))
    loan.approve("m", approver_role="branch_manager", approval_limits=LIMITS)  # at the limit
    loan = new_loan(principal=D("500000.01"))
    with pytest.raises(ApprovalLimitExceeded) as info:
        loan.approve("m", approver_role="branch_manager", approval_limits=LIMITS)
    assert info.value.reason == "APPROVAL_LIMIT_EXCEEDED"
    with pytest.raises(ApprovalLimitExceeded):
        loan.approve("a", approver_role="agent", approval_limits=LIMITS)  # no limit at all
    loan.approve("boss", approver_role="admin", approval_limits=LIMITS)
    assert loan.status is LoanStatus.APPROVED


def test_illegal_transitions_name_the_current_status() -> None:
    loan = new_loan()
    loan.reject("manager-2", "insufficient income")
    with pytest.raises(IllegalTransition) as info:
        loan.approve("manager-2", approver_role="branch_manager", approval_limits=LIMITS)
    assert str(info.value) == "loan is rejected; only submitted loans can be approved"
    assert info.value.reason == "LOAN_NOT_SUBMITTED"
    assert info.value.current_status == "rejected"
    with pytest.raises(IllegalTransition) as info:
        loan.disburse(DISBURSED)
    assert info.value.reason == "LOAN_NOT_APPROVED"
    with pytest.raises(IllegalTransition) as info:
        loan.apply_repayment("r1", D("10"), DISBURSED)
    assert info.value.reason == "LOAN_NOT_ACTIVE"
    with pytest.raises(IllegalTransition):
        loan.reject("manager-2", "again")


def test_reject_needs_a_reason() -> None:
    loan = new_loan()
    with pytest.raises(ValidationError) as info:
        loan.reject("manager-2", "  ")
    assert info.value.field_errors == [("reason", "is required")]


def test_eligibility_rules_are_named() -> None:
    product = make_product(
        min_principal=D("1000"),
        max_principal=D("50000"),
        min_term=3,
        max_term=12,
        min_score_band=ScoreBand.B,
    )
    failures = check_eligibility(
        product, D("60000"), 24, open_loans=3, max_open_loans=2, score_band=ScoreBand.C
    )
    assert [f.rule for f in failures] == [
        "principal_within_limits",
        "term_within_limits",
        "max_open_loans",
        "minimum_score_band",
    ]
    assert (
        check_eligibility(
            product, D("50000"), 12, open_loans=1, max_open_loans=2, score_band=ScoreBand.A
        )
        == []
    )
    assert [f.rule for f in check_eligibility(product, D("5000"), 6)] == ["minimum_score_band"]
    # The limit counts this loan: with 2 allowed, a borrower holding 2 is refused a third.
    at_limit = check_eligibility(
        product, D("5000"), 6, open_loans=2, max_open_loans=2, score_band=ScoreBand.A
    )
    assert [f.rule for f in at_limit] == ["max_open_loans"]


def test_failed_eligibility_blocks_approval_until_a_branch_manager_overrides() -> None:
    loan = new_loan(principal=D("2000000"))  # above the product's maximum
    assert [f.rule for f in loan.eligibility_failures] == ["principal_within_limits"]
    limits = {"branch_manager": D("5000000")}
    with pytest.raises(EligibilityFailed) as info:
        loan.approve("manager-2", approver_role="branch_manager", approval_limits=limits)
    assert info.value.reason == "NOT_ELIGIBLE"
    with pytest.raises(OverrideNotPermitted):
        loan.override_eligibility(by="agent-9", role="agent", reason="trust me")
    with pytest.raises(ValidationError):
        loan.override_eligibility(by="manager-2", role="branch_manager", reason="")
    loan.override_eligibility(by="manager-2", role="branch_manager", reason="long-time client")
    assert loan.eligibility_override is not None
    assert loan.eligibility_override.reason == "long-time client"
    loan.approve("manager-3", approver_role="branch_manager", approval_limits=limits)
    assert names(loan) == ["loan.submitted", "loan.eligibility_overridden", "loan.approved"]


def test_malformed_applications_are_refused() -> None:
    with pytest.raises(ValidationError) as info:
        new_loan(principal=D("-1"), term=0, borrower_id="")
    assert {f for f, _ in info.value.field_errors} == {"principal", "term", "borrower_id"}


def test_repaying_in_full_closes_and_a_reversal_reopens() -> None:
    loan = active_loan()
    allocation = loan.apply_repayment("r1", LEVEL, date(2024, 2, 15))
    assert (allocation.interest, allocation.principal) == (D("1000.00"), D("7884.88"))
    quote = loan.payoff_quote(date(2024, 3, 15))
    assert quote.total == D("92115.12") + D("921.15")
    loan.apply_repayment("r2", quote.total, date(2024, 3, 15))
    assert loan.status is LoanStatus.CLOSED
    assert loan.closed_on == date(2024, 3, 15)
    assert names(loan)[-2:] == ["loan.repayment_applied", "loan.closed"]
    with pytest.raises(IllegalTransition) as info:
        loan.apply_repayment("r3", D("1"), date(2024, 3, 16))
    assert info.value.reason == "LOAN_NOT_ACTIVE"

    state = loan.reverse_repayment("r2", "bounced cheque")
    assert loan.status is LoanStatus.ACTIVE
    assert names(loan)[-2:] == ["loan.repayment_reversed", "loan.reopened"]
    # As if r2 had never been paid.
    assert loan.schedule is not None
    only_r1 = replay(loan.schedule, [Repayment("r1", LEVEL, date(2024, 2, 15))], loan.product)
    assert state == only_r1
    assert state.principal_outstanding == D("92115.12")


def test_repayment_errors() -> None:
    loan = active_loan()
    loan.apply_repayment("r1", D("100"), date(2024, 2, 1))
    with pytest.raises(Conflict) as info:
        loan.apply_repayment("r1", D("100"), date(2024, 2, 2))
    assert info.value.reason == "DUPLICATE_REPAYMENT"
    with pytest.raises(ValidationError) as v:
        loan.apply_repayment("r2", D("0"), date(2024, 1, 1))
    assert {f for f, _ in v.value.field_errors} == {"amount", "paid_on"}
    with pytest.raises(NotFound):
        loan.reverse_repayment("nope", "x")
    loan.reverse_repayment("r1", "keyed twice")
    with pytest.raises(Conflict) as info:
        loan.reverse_repayment("r1", "again")
    assert info.value.reason == "ALREADY_REVERSED"


def test_back_dated_repayment_is_allocated_in_date_order() -> None:
    loan = active_loan()
    loan.apply_repayment("late", D("1000"), date(2024, 3, 20))
    back = loan.apply_repayment("early", LEVEL, date(2024, 2, 15))
    assert (back.interest, back.principal) == (D("1000.00"), D("7884.88"))
    # The Mar 20 payment now goes to installment 2's interest (921.15) then principal.
    later = loan.state().allocation_of("late")
    assert later is not None
    assert (later.interest, later.principal) == (D("921.15"), D("78.85"))


def test_write_off_records_what_was_outstanding() -> None:
    loan = active_loan()
    loan.apply_repayment("r1", LEVEL, date(2024, 2, 15))
    outstanding = loan.write_off(date(2024, 6, 30), by="admin-1", reason="absconded")
    assert loan.status is LoanStatus.WRITTEN_OFF
    assert outstanding.principal == D("92115.12")
    # Installments 2-5 (Mar-Jun 15) are due: 921.15 + 841.51 + 761.08 + 679.84 interest;
    # plus 15 of the 30 days of installment 6's 597.79 = 298.895 -> 298.90 (half-even).
    assert outstanding.interest == D("921.15") + D("841.51") + D("761.08") + D("679.84") + D(
        "298.90"
    )
    assert names(loan)[-1] == "loan.written_off"
    with pytest.raises(IllegalTransition) as info:
        loan.write_off(date(2024, 7, 1), by="admin-1", reason="twice")
    assert info.value.reason == "LOAN_NOT_ACTIVE"


def test_days_past_due_of_an_active_loan() -> None:
    loan = active_loan()
    assert loan.days_past_due(date(2024, 3, 1)) == 15


def test_reschedule_keeps_history_and_freezes_earlier_repayments() -> None:
    loan = active_loan()
    loan.apply_repayment("r1", LEVEL, date(2024, 2, 15))
    loan.apply_repayment("r2", LEVEL, date(2024, 3, 15))
    old = loan.schedule
    schedule = loan.reschedule(
        date(2024, 3, 15),
        by="manager-2",
        reason="harvest failed",
        new_term=24,
        new_annual_rate=D("6"),
        grace_on_principal=2,
    )
    assert loan.schedule_history[0].schedule == old
    assert loan.is_restructured
    # Balance after two textbook installments: 84,151.39; nothing earned yet on Mar 15.
    assert schedule.principal == D("84151.39")
    assert schedule.installments[0].principal == 0 and schedule.installments[1].principal == 0
    assert schedule.installments[0].interest == D("420.76")  # 84,151.39 x 0.5%
    level = -npf.pmt(0.005, 22, 84151.39)
    assert abs(float(schedule.installments[2].total) - level) <= 0.005
    assert schedule.installments[0].due_date == date(2024, 4, 15)
    event = loan.events[-1]
    assert event.name == "loan.rescheduled"
    assert event.carried.total == 0  # type: ignore[attr-defined]

    with pytest.raises(PreconditionFailed) as frozen:
        loan.apply_repayment("r3", D("100"), date(2024, 3, 1))
    assert frozen.value.reason == "REPAYMENT_BEFORE_RESCHEDULE"
    assert frozen.value.kind == "failed_precondition"
    with pytest.raises(PreconditionFailed):
        loan.reverse_repayment("r1", "too late")
    loan.apply_repayment("r3", D("420.76"), date(2024, 4, 15))
    assert loan.state().installments[0].is_paid
    assert [r.repayment.id for r in loan.repayments] == ["r1", "r2", "r3"]


def test_reschedule_carries_interest_earned_to_date() -> None:
    loan = active_loan()
    loan.apply_repayment("r1", LEVEL, date(2024, 2, 15))
    schedule = loan.reschedule(date(2024, 3, 1), by="m", reason="hardship", new_term=12)
    # 15 of 29 days of installment 2's 921.15 interest are carried into the new first one.
    state = loan.state()
    assert state.installments[0].interest == schedule.installments[0].interest + D("476.46")
    quote = loan.payoff_quote(date(2024, 3, 1))
    assert quote.total == D("92115.12") + D("476.46")
