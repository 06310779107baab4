"""loan_service over real gRPC: a loan's life cycle — created, approved within limits,
scored, disbursed, repaid, reversed, closed, written off, rejected — and its scope by
institution and branch."""

from __future__ import annotations

from datetime import date

import pytest

from kopa.loan.v1 import events_pb2, loan_pb2
from shared.dates import from_proto_date
from tests.support.loan_world import World, active, create_product, get, institution, submitted
from tests.support.rpc import Code, fails

pytestmark = pytest.mark.integration


# --- the life cycle ---------------------------------------------------------------------------


async def test_create_approve_disburse_repay_reverse_close(world: World) -> None:
    inst = institution(world)
    product = await create_product(inst)
    loan = await submitted(inst, product.id)
    assert loan.status == loan_pb2.LOAN_STATUS_SUBMITTED
    assert loan.branch_id == inst.branch and loan.currency == "KES"
    assert loan.principal == "12000.00" and len(loan.schedule) == 6

    # Maker-checker: the agent may not approve at all; a manager may not approve their own.
    err = await fails(
        world.loans.ApproveLoan(loan_pb2.ApproveLoanRequest(loan_id=loan.id), metadata=inst.agent)
    )
    assert err.code == Code.PERMISSION_DENIED
    own = (
        await world.loans.CreateLoan(
            loan_pb2.CreateLoanRequest(
                borrower_id=inst.borrower, product_id=product.id, principal="5000.00", term=6
            ),
            metadata=inst.manager,
        )
    ).loan
    err = await fails(
        world.loans.ApproveLoan(loan_pb2.ApproveLoanRequest(loan_id=own.id), metadata=inst.manager)
    )
    assert (err.code, err.reason) == (Code.PERMISSION_DENIED, "MAKER_CHECKER_VIOLATION")

    approved = (
        await world.loans.ApproveLoan(
            loan_pb2.ApproveLoanRequest(loan_id=loan.id, note="good history"),
            metadata=inst.manager,
        )
    ).loan
    assert approved.status == loan_pb2.LOAN_STATUS_APPROVED
    assert approved.approved_by == "usr_branch_manager_" + inst.id[-6:]

    err = await fails(
        world.loans.DisburseLoan(
            loan_pb2.DisburseLoanRequest(
                loan_id=loan.id, disbursement_date="2025-01-15", first_repayment_date="2025-01-10"
            ),
            metadata=inst.manager,
        )
    )
    assert err.code == Code.INVALID_ARGUMENT
    assert [f for f, _ in err.field_errors] == ["first_repayment_date"]

    disbursed = (
        await world.loans.DisburseLoan(
            loan_pb2.DisburseLoanRequest(
                loan_id=loan.id, disbursement_date="2025-01-15", channel="mobile_money"
            ),
            metadata=inst.manager,
        )
    ).loan
    assert disbursed.status == loan_pb2.LOAN_STATUS_ACTIVE
    assert disbursed.disbursement_date == "2025-01-15"
    assert disbursed.schedule[0].due_date == "2025-02-15"
    assert disbursed.outstanding.principal == "12000.00"
    before = disbursed.outstanding
    (event,) = await world.wait_for(loan.id, "loan.disbursed")
    # Amounts in cents of KES; the schedule travels as the installments the write changed.
    assert (event.principal, event.disbursed_net, event.fees_deducted) == (1200000, 1200000, 0)
    assert event.channel == events_pb2.DISBURSEMENT_CHANNEL_MOBILE_MONEY
    assert from_proto_date(event.disbursement_date) == date(2025, 1, 15)
    assert event.loan.status == loan_pb2.LOAN_STATUS_ACTIVE
    assert event.loan.outstanding.principal == 1200000
    assert event.loan.installment_count == len(disbursed.schedule)
    assert [i.number for i in event.loan.changed_installments] == [
        i.number for i in disbursed.schedule
    ]
    assert from_proto_date(event.loan.changed_installments[0].due_date) == date(2025, 2, 15)

    pay = loan_pb2.ApplyRepaymentRequest(
        loan_id=loan.id, payment_id="pay_1", amount="2142.31", paid_on="2025-02-15"
    )
    first = await world.loans.ApplyRepayment(pay, metadata=inst.agent)
    assert (first.allocation.interest, first.allocation.principal) == ("240.00", "1902.31")
    assert (first.allocation.fees, first.allocation.penalties) == ("0.00", "0.00")
    assert first.outstanding.principal == "10097.69"
    assert first.loan_status == loan_pb2.LOAN_STATUS_ACTIVE
    assert (first.institution_id, first.branch_id, first.currency) == (inst.id, inst.branch, "KES")
    version = (await get(inst, loan.id)).version

    again = await world.loans.ApplyRepayment(pay, metadata=inst.agent)  # a retry
    assert again.allocation == first.allocation
    paid = await get(inst, loan.id)
    assert paid.version == version and len(paid.repayments) == 1
    assert paid.schedule[0].paid and paid.schedule[0].total_paid == "2142.31"
    (applied,) = await world.wait_for(loan.id, "loan.repayment_applied")
    assert applied.payment_id == "pay_1" and applied.allocation.interest == 24000
    assert applied.amount == 214231 and from_proto_date(applied.paid_on) == date(2025, 2, 15)
    assert applied.loan.outstanding.principal == 1009769
    (settled,) = applied.loan.changed_installments
    assert settled.number == 1 and settled.paid.principal == 190231

    reversed_ = (
        await world.loans.ReverseRepayment(
            loan_pb2.ReverseRepaymentRequest(loan_id=loan.id, payment_id="pay_1", reason="bounced"),
            metadata=inst.manager,
        )
    ).loan
    assert reversed_.outstanding == before
    assert reversed_.repayments[0].reversed
    assert not reversed_.schedule[0].paid
    again_reversed = (
        await world.loans.ReverseRepayment(
            loan_pb2.ReverseRepaymentRequest(loan_id=loan.id, payment_id="pay_1", reason="bounced"),
            metadata=inst.manager,
        )
    ).loan
    assert again_reversed.version == reversed_.version
    (rev,) = await world.wait_for(loan.id, "loan.repayment_reversed")
    assert rev.payment_id == "pay_1" and rev.allocation.principal == 190231
    assert rev.reason == "bounced" and rev.loan.outstanding.principal == 1200000

    quote = (
        await world.loans.GetPayoffQuote(
            loan_pb2.GetPayoffQuoteRequest(loan_id=loan.id, date="2025-02-15"),
            metadata=inst.agent,
        )
    ).payoff
    assert quote.principal == "12000.00" and quote.interest == "240.00"
    full = await world.loans.ApplyRepayment(
        loan_pb2.ApplyRepaymentRequest(
            loan_id=loan.id, payment_id="pay_2", amount=quote.total, paid_on="2025-02-15"
        ),
        metadata=inst.agent,
    )
    assert full.loan_status == loan_pb2.LOAN_STATUS_CLOSED
    assert full.outstanding.total == "0.00"
    closed = await get(inst, loan.id)
    assert closed.status == loan_pb2.LOAN_STATUS_CLOSED
    assert [h.status for h in closed.history] == [
        loan_pb2.LOAN_STATUS_SUBMITTED,
        loan_pb2.LOAN_STATUS_APPROVED,
        loan_pb2.LOAN_STATUS_ACTIVE,
        loan_pb2.LOAN_STATUS_CLOSED,
    ]
    await world.wait_for(loan.id, "loan.closed")

    err = await fails(
        world.loans.ApplyRepayment(
            loan_pb2.ApplyRepaymentRequest(
                loan_id=loan.id, payment_id="pay_3", amount="10.00", paid_on="2025-03-01"
            ),
            metadata=inst.agent,
        )
    )
    assert err.code == Code.FAILED_PRECONDITION
    assert err.metadata["current_status"] == "closed" and "closed" in err.message
    # Versions only ever grow, one per change, and events carry them.
    versions = [e.meta.aggregate_version for _, e in world.events_of(loan.id)]
    assert versions == sorted(versions) and versions[-1] == closed.version


async def test_write_off_records_what_was_owed(world: World) -> None:
    inst = institution(world)
    product = await create_product(inst)
    loan = await active(inst, product.id, date(2025, 1, 15))
    written = (
        await world.loans.WriteOffLoan(
            loan_pb2.WriteOffLoanRequest(loan_id=loan.id, reason="absconded", date="2025-06-30"),
            metadata=inst.manager,
        )
    ).loan
    assert written.status == loan_pb2.LOAN_STATUS_WRITTEN_OFF
    assert written.written_off_principal == "12000.00"
    (event,) = await world.wait_for(loan.id, "loan.written_off")
    assert from_proto_date(event.written_off_on) == date(2025, 6, 30)
    assert event.written_off.principal == 1200000 and event.reason == "absconded"
    assert event.loan.status == loan_pb2.LOAN_STATUS_WRITTEN_OFF


async def test_disbursing_a_rejected_loan_states_its_status(world: World) -> None:
    inst = institution(world)
    product = await create_product(inst)
    loan = await submitted(inst, product.id)
    rejected = (
        await world.loans.RejectLoan(
            loan_pb2.RejectLoanRequest(loan_id=loan.id, reason="no cash flow"),
            metadata=inst.manager,
        )
    ).loan
    assert rejected.status == loan_pb2.LOAN_STATUS_REJECTED
    err = await fails(
        world.loans.DisburseLoan(
            loan_pb2.DisburseLoanRequest(loan_id=loan.id, disbursement_date="2025-01-15"),
            metadata=inst.manager,
        )
    )
    assert err.code == Code.FAILED_PRECONDITION
    assert err.reason == "LOAN_NOT_APPROVED"
    assert err.metadata["current_status"] == "rejected"
    assert "rejected" in err.message
    await world.wait_for(loan.id, "loan.rejected")


async def test_approval_limits_and_eligibility_override(world: World) -> None:
    inst = institution(world)
    product = await create_product(inst, min_score_band="B")
    big = await submitted(inst, product.id, principal="2000000.00")
    # No limit until the institution sets one; then a branch manager's stops at it.
    limits = loan_pb2.UpdateLoanSettingsRequest(
        institution_id=inst.id,
        set_approval_limits=True,
        approval_limits=[loan_pb2.ApprovalLimit(role="branch_manager", amount="1000000")],
    )
    err = await fails(world.loans.UpdateLoanSettings(limits, metadata=inst.manager))
    assert err.code == Code.PERMISSION_DENIED
    other = institution(world)
    err = await fails(world.loans.UpdateLoanSettings(limits, metadata=other.admin))
    assert err.code == Code.NOT_FOUND
    bad = loan_pb2.UpdateLoanSettingsRequest(
        institution_id=inst.id,
        set_approval_limits=True,
        approval_limits=[
            loan_pb2.ApprovalLimit(role="agent", amount="10"),
            loan_pb2.ApprovalLimit(role="admin", amount="-5"),
        ],
    )
    err = await fails(world.loans.UpdateLoanSettings(bad, metadata=inst.admin))
    assert err.code == Code.INVALID_ARGUMENT
    assert sorted(f for f, _ in err.field_errors) == [
        "approval_limits.admin",
        "approval_limits.agent",
    ]
    settings = (await world.loans.UpdateLoanSettings(limits, metadata=inst.admin)).settings
    assert [(lim.role, lim.amount) for lim in settings.approval_limits] == [
        ("admin", ""),
        ("branch_manager", "1000000.00"),
    ]
    err = await fails(
        world.loans.ApproveLoan(loan_pb2.ApproveLoanRequest(loan_id=big.id), metadata=inst.manager)
    )
    assert (err.code, err.reason) == (Code.PERMISSION_DENIED, "APPROVAL_LIMIT_EXCEEDED")

    loan = await submitted(inst, product.id)  # not scored: the minimum band fails
    err = await fails(
        world.loans.ApproveLoan(loan_pb2.ApproveLoanRequest(loan_id=loan.id), metadata=inst.manager)
    )
    assert (err.code, err.reason) == (Code.FAILED_PRECONDITION, "NOT_ELIGIBLE")
    assert [f for f, _ in err.field_errors] == ["minimum_score_band"]
    # An admin may not override (only a branch manager, in writing).
    err = await fails(
        world.loans.ApproveLoan(
            loan_pb2.ApproveLoanRequest(loan_id=loan.id, override_reason="I say so"),
            metadata=inst.admin,
        )
    )
    assert (err.code, err.reason) == (Code.PERMISSION_DENIED, "OVERRIDE_NOT_PERMITTED")
    approved = (
        await world.loans.ApproveLoan(
            loan_pb2.ApproveLoanRequest(
                loan_id=loan.id, override_reason="ten years of on-time repayments"
            ),
            metadata=inst.manager,
        )
    ).loan
    assert approved.status == loan_pb2.LOAN_STATUS_APPROVED
    assert approved.override_reason == "ten years of on-time repayments"
    assert "ten years" in approved.history[-1].note
    (overridden,) = await world.wait_for(loan.id, "loan.eligibility_overridden")
    assert overridden.reason == "ten years of on-time repayments" and overridden.rules
    (event,) = await world.wait_for(loan.id, "loan.approved")
    assert event.loan.status == loan_pb2.LOAN_STATUS_APPROVED and event.approver_id

    # A loan scored at or above the minimum band needs no override.
    scored = await submitted(inst, product.id)
    world.users.borrowers[inst.borrower].monthly_income = "15000.00"
    score = (
        await world.loans.ScoreLoan(
            loan_pb2.ScoreLoanRequest(loan_id=scored.id), metadata=inst.manager
        )
    ).score
    assert (score.score, score.band, score.scorecard_version) == (750, "A", 3)
    ok = (
        await world.loans.ApproveLoan(
            loan_pb2.ApproveLoanRequest(loan_id=scored.id), metadata=inst.manager
        )
    ).loan
    assert ok.status == loan_pb2.LOAN_STATUS_APPROVED and ok.score.band == "A"


async def test_scoring_sends_the_applicant_and_stores_the_result(world: World) -> None:
    inst = institution(world)
    product = await create_product(inst)
    await active(inst, product.id, date(2025, 1, 15))  # history: one open loan
    loan = await submitted(inst, product.id)
    await world.loans.ScoreLoan(loan_pb2.ScoreLoanRequest(loan_id=loan.id), metadata=inst.manager)
    applicant = world.scoring.applicants[loan.id]
    assert applicant["borrower"]["monthly_income"] == "15000.00"
    assert applicant["borrower"]["household_size"] == 4
    assert 30 <= applicant["borrower"]["age"] <= 40
    assert applicant["loan"] == {
        "principal": "12000.00",
        "term": 6,
        "installment_amount": "2142.31",
        "purpose": "working_capital",
    }
    assert applicant["history"]["open_loans"] == 1
    assert applicant["group"] == {"size": None, "is_member": False}
    stored = await get(inst, loan.id)
    assert stored.score.score == 750 and stored.score.contributions[0].rule == "income"
    (event,) = await world.wait_for(loan.id, "loan.scored")
    assert event.score.band == "A" and event.score.score == 750


async def test_scope_other_institution_and_other_branch_are_not_found(world: World) -> None:
    inst = institution(world)
    product = await create_product(inst)
    loan = await submitted(inst, product.id)
    stranger = institution(world)
    err = await fails(
        world.loans.GetLoan(loan_pb2.GetLoanRequest(loan_id=loan.id), metadata=stranger.admin)
    )
    assert err.code == Code.NOT_FOUND
    err = await fails(
        world.loans.ApproveLoan(
            loan_pb2.ApproveLoanRequest(loan_id=loan.id), metadata=stranger.admin
        )
    )
    assert err.code == Code.NOT_FOUND
    # A borrower of another institution, and one of another branch for an agent: 404.
    err = await fails(
        world.loans.CreateLoan(
            loan_pb2.CreateLoanRequest(
                borrower_id=stranger.borrower, product_id=product.id, principal="5000.00", term=6
            ),
            metadata=inst.agent,
        )
    )
    assert err.code == Code.NOT_FOUND and stranger.borrower in err.message
    err = await fails(
        world.loans.CreateLoan(
            loan_pb2.CreateLoanRequest(
                borrower_id=inst.other_borrower, product_id=product.id, principal="5000.00", term=6
            ),
            metadata=inst.agent,
        )
    )
    assert err.code == Code.NOT_FOUND and inst.other_borrower in err.message
    err = await fails(
        world.loans.CreateLoan(
            loan_pb2.CreateLoanRequest(
                borrower_id=inst.borrower, product_id="lprod_nope", principal="5000.00", term=6
            ),
            metadata=inst.agent,
        )
    )
    assert err.code == Code.NOT_FOUND and "lprod_nope" in err.message
    # Lists are scoped too; request ids make creation idempotent.
    mine = await world.loans.ListLoans(
        loan_pb2.ListLoansRequest(borrower_id=inst.borrower), metadata=inst.agent
    )
    assert [x.id for x in mine.loans] == [loan.id]
    theirs = await world.loans.ListLoans(loan_pb2.ListLoansRequest(), metadata=stranger.admin)
    assert list(theirs.loans) == []
    once = await submitted(inst, product.id, request_id="req-1")
    twice = await submitted(inst, product.id, request_id="req-1")
    assert once.id == twice.id
    err = await fails(submitted(inst, product.id, principal="9000.00", request_id="req-1"))
    assert (err.code, err.reason) == (Code.ALREADY_EXISTS, "REQUEST_ID_REUSED")
