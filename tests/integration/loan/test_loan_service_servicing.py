"""loan_service over real gRPC: servicing an active loan — concurrent repayments,
rescheduling, and refunding an overpaid loan's credit balance."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

import pytest
from google.type import date_pb2

from kopa.loan.v1 import loan_pb2
from kopa.loan.v2 import repayments_pb2
from shared.dates import from_proto_date
from shared.permissions import Role
from tests.support.loan_world import D, World, active, create_product, get, institution
from tests.support.rpc import Code, fails

pytestmark = pytest.mark.integration


async def test_concurrent_repayments_on_one_loan_are_all_kept_once(world: World) -> None:
    inst = institution(world)
    product = await create_product(inst)
    loan = await active(inst, product.id, date(2025, 1, 15))

    def pay(payment_id: str) -> Any:
        return world.loans.ApplyRepayment(
            loan_pb2.ApplyRepaymentRequest(
                loan_id=loan.id, payment_id=payment_id, amount="100.00", paid_on="2025-02-15"
            ),
            metadata=inst.agent,
        )

    # Five different payments and three retries of one, all at once: each different payment
    # is applied exactly once (a lost race is retried on the fresh loan, never overwritten).
    replies = await asyncio.gather(
        *(pay(f"p{n}") for n in range(5)), *(pay("p0") for _ in range(3))
    )
    assert all(r.loan_status == loan_pb2.LOAN_STATUS_ACTIVE for r in replies)
    stored = await get(inst, loan.id)
    assert sorted(r.payment_id for r in stored.repayments) == [f"p{n}" for n in range(5)]
    assert stored.schedule[0].total_paid == "500.00"
    assert stored.version == loan.version + 5
    applied = await world.wait_for(loan.id, "loan.repayment_applied", 5)
    assert len({e.payment_id for e in applied}) == 5


async def test_reschedule_keeps_the_old_schedule(world: World) -> None:
    inst = institution(world)
    product = await create_product(inst)
    loan = await active(inst, product.id, date(2025, 1, 15))
    await world.loans.ApplyRepayment(
        loan_pb2.ApplyRepaymentRequest(
            loan_id=loan.id, payment_id="r1", amount="2142.31", paid_on="2025-02-15"
        ),
        metadata=inst.agent,
    )
    rescheduled = (
        await world.loans.RescheduleLoan(
            loan_pb2.RescheduleLoanRequest(
                loan_id=loan.id, new_term=10, reason="harvest failed", date="2025-03-01"
            ),
            metadata=inst.manager,
        )
    ).loan
    assert rescheduled.rescheduled and len(rescheduled.schedule) == 10
    assert rescheduled.schedule[0].due_date == "2025-04-01"
    (old,) = rescheduled.schedule_history
    assert old.reason == "harvest failed" and len(old.schedule) == 6
    assert old.schedule[0].due_date == "2025-02-15"
    assert rescheduled.outstanding.principal == "10097.69"
    (event,) = await world.wait_for(loan.id, "loan.rescheduled")
    # The new schedule travels whole (a read model replaces the old one from it).
    assert event.loan.rescheduled and (event.old_term, event.new_term) == (6, 10)
    assert event.loan.installment_count == 10
    assert [i.number for i in event.loan.changed_installments] == list(range(1, 11))
    assert from_proto_date(event.rescheduled_on) == date(2025, 3, 1)
    err = await fails(
        world.loans.ApplyRepayment(
            loan_pb2.ApplyRepaymentRequest(
                loan_id=loan.id, payment_id="r0", amount="10.00", paid_on="2025-02-20"
            ),
            metadata=inst.agent,
        )
    )
    assert (err.code, err.reason) == (Code.FAILED_PRECONDITION, "REPAYMENT_BEFORE_RESCHEDULE")


async def test_an_overpaid_loan_refunds_its_credit_balance_once(world: World) -> None:
    inst = institution(world)
    product = await create_product(inst)
    loan = await active(inst, product.id, date(2025, 1, 15))
    quote = (
        await world.loans.GetPayoffQuote(
            loan_pb2.GetPayoffQuoteRequest(loan_id=loan.id, date="2025-02-15"),
            metadata=inst.agent,
        )
    ).payoff
    overpaid = await world.loans.ApplyRepayment(
        loan_pb2.ApplyRepaymentRequest(
            loan_id=loan.id,
            payment_id="pay_over",
            amount=str(D(quote.total) + D("500.00")),
            paid_on="2025-02-15",
        ),
        metadata=inst.agent,
    )
    assert overpaid.loan_status == loan_pb2.LOAN_STATUS_CLOSED
    assert overpaid.allocation.overpayment == "500.00"
    assert (await get(inst, loan.id)).credit_balance == "500.00"

    refund = loan_pb2.RefundCreditRequest(
        loan_id=loan.id, refund_id="rf_1", amount="200.00", refunded_on="2025-02-20"
    )
    # Money leaves the institution: neither an agent nor a service principal may refund.
    for who in (inst.agent, world.who(Role.SERVICE, inst.id)):
        err = await fails(world.loans.RefundCredit(refund, metadata=who))
        assert err.code == Code.PERMISSION_DENIED

    first = await world.loans.RefundCredit(refund, metadata=inst.manager)
    assert (first.amount, first.credit_balance) == ("200.00", "300.00")
    assert first.loan_status == loan_pb2.LOAN_STATUS_CLOSED
    assert (first.institution_id, first.branch_id, first.currency) == (inst.id, inst.branch, "KES")
    refunded = await get(inst, loan.id)
    assert refunded.credit_balance == "300.00"

    again = await world.loans.RefundCredit(refund, metadata=inst.manager)  # a retry
    assert again == first
    assert (await get(inst, loan.id)).version == refunded.version

    (event,) = await world.wait_for(loan.id, "loan.credit_refunded")
    assert event.refund_id == "rf_1" and event.amount == 20000  # cents of KES
    assert from_proto_date(event.refunded_on) == date(2025, 2, 20)
    assert event.loan.credit_balance == 30000

    err = await fails(
        world.loans.RefundCredit(
            loan_pb2.RefundCreditRequest(
                loan_id=loan.id, refund_id="rf_2", amount="300.01", refunded_on="2025-02-20"
            ),
            metadata=inst.manager,
        )
    )
    assert err.code == Code.INVALID_ARGUMENT and err.reason == "CREDIT_EXCEEDED"
    assert [f for f, _ in err.field_errors] == ["amount"] and "300.00" in err.message

    # Undoing the overpaying repayment would take back credit already refunded.
    err = await fails(
        world.loans.ReverseRepayment(
            loan_pb2.ReverseRepaymentRequest(
                loan_id=loan.id, payment_id="pay_over", reason="bounced"
            ),
            metadata=inst.manager,
        )
    )
    assert err.code == Code.FAILED_PRECONDITION and err.reason == "CREDIT_ALREADY_REFUNDED"
    assert (await get(inst, loan.id)).version == refunded.version


async def test_the_typed_money_path_applies_minor_units_and_answers_the_position(
    world: World,
) -> None:
    inst = institution(world)
    product = await create_product(inst)
    loan = await active(inst, product.id, date(2025, 1, 15))
    feb15 = date_pb2.Date(year=2025, month=2, day=15)

    refused = await fails(
        world.money.ApplyRepayment(
            repayments_pb2.ApplyRepaymentRequest(
                loan_id=loan.id,
                payment_id="t0",
                amount=214231,
                paid_on=date_pb2.Date(year=2025, month=13, day=1),
            ),
            metadata=inst.agent,
        )
    )
    assert refused.code == Code.INVALID_ARGUMENT
    assert [f for f, _ in refused.field_errors] == ["currency", "paid_on"]
    wrong = await fails(
        world.money.ApplyRepayment(
            repayments_pb2.ApplyRepaymentRequest(
                loan_id=loan.id, payment_id="t0", amount=214231, currency="UGX", paid_on=feb15
            ),
            metadata=inst.agent,
        )
    )
    assert wrong.field_errors == [("currency", "must be the loan's currency, KES")]
    assert (await get(inst, loan.id)).version == loan.version  # nothing written

    answer = await world.money.ApplyRepayment(
        repayments_pb2.ApplyRepaymentRequest(
            loan_id=loan.id, payment_id="t1", amount=214231, currency="KES", paid_on=feb15
        ),
        metadata=inst.agent,
    )
    assert (answer.allocation.interest, answer.allocation.principal) == (24000, 190231)
    assert answer.position.outstanding.principal == 1009769
    assert answer.position.status == loan_pb2.LOAN_STATUS_ACTIVE
    assert (answer.position.loan_id, answer.position.currency) == (loan.id, "KES")
    # The v1 view of the same loan reads the same figures as decimal strings.
    assert (await get(inst, loan.id)).outstanding.principal == "10097.69"
