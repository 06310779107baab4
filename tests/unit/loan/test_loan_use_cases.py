"""loan_service's use cases driven through in-memory fakes of their ports (`fakes`): no
servers, no proto. The figures are computed by hand:

100,000 KES over 12 months at 12% a year, declining balance, 30/360, monthly from
2024-01-15: the level installment is 100,000 x 0.01 / (1 - 1.01^-12) = 8,884.88, due on the
15th from 2024-02-15. The first one is 1,000.00 interest (1% of 100,000) and 7,884.88
principal, leaving 92,115.12; the second is 921.15 interest (1% of 92,115.12) and 7,963.73
principal, leaving 84,151.39.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from decimal import Decimal as D

import pytest

from kopa.loan.v1 import events_pb2, loan_pb2
from loan_service.adapters.event_codec import loan_events
from loan_service.domain.errors import ApprovalLimitExceeded, IllegalTransition
from loan_service.service_layer import (
    applications,
    disbursement,
    loan_settings,
    products,
    queries,
    repayments,
    servicing,
)
from loan_service.service_layer.commands import (
    ApplyRepayment,
    ApproveLoan,
    CreateLoan,
    CreateProduct,
    DisburseLoan,
    QuoteLoan,
    RefundCredit,
    RejectLoan,
    ReverseRepayment,
    ScoreLoan,
    UpdateLoanSettings,
    WriteOffLoan,
)
from loan_service.service_layer.loan_settings import ReadingSettings
from loan_service.service_layer.ports import ScoreResult
from loan_service.service_layer.unit_of_work import MAX_ATTEMPTS
from shared import context
from shared.errors import Aborted, Conflict, NotFound, ValidationError
from shared.permissions import Role
from tests.support.loan_fakes import INSTITUTION, LEVEL, FakeScorer, World, act_as

pytestmark = pytest.mark.unit


@pytest.fixture
def world() -> Iterator[World]:
    yield World()
    context.set_current(context.RequestContext())


async def test_a_loan_from_application_to_payoff(world: World) -> None:
    created = await world.application()
    loan_id = created["_id"]
    assert created["status"] == "submitted" and D(created["principal"]) == D("100000")

    act_as(Role.BRANCH_MANAGER)
    approved = await applications.approve(world.uow, ApproveLoan(loan_id, note="ok"))
    assert (approved["status"], approved["approved_by"]) == ("approved", "usr_branch_manager")

    active = await disbursement.disburse(
        world.uow, world.users, DisburseLoan(loan_id, "2024-01-15", channel="mobile_money")
    )
    assert active["status"] == "active"
    assert active["disbursement_channel"] == "mobile_money"
    assert D(active["outstanding_principal"]) == D("100000")

    after, allocation = await world.pay(loan_id, "pay_1", LEVEL, "2024-02-15")
    assert D(allocation["principal"]) == D("7884.88")
    assert D(allocation["interest"]) == D("1000.00")
    assert D(allocation["overpayment"]) == 0
    assert D(after["outstanding_principal"]) == D("92115.12")

    act_as(Role.BRANCH_MANAGER)
    reversed_ = await repayments.reverse_repayment(
        world.uow, ReverseRepayment(loan_id, "pay_1", reason="bounced")
    )
    assert D(reversed_["outstanding_principal"]) == D("100000")

    # Owed on the first due date with nothing paid: all the principal and that month's 1%.
    quote, currency = await repayments.payoff(world.uow, loan_id, "2024-02-15")
    assert currency == "KES"
    assert quote == {
        "principal": "100000.00",
        "interest": "1000.00",
        "fees": "0.00",
        "penalties": "0.00",
        "total": "101000.00",
    }
    closed, _ = await world.pay(loan_id, "pay_2", quote["total"], "2024-02-15")
    assert closed["status"] == "closed"
    assert D(closed["outstanding_principal"]) == 0

    assert world.repo.event_keys(loan_id) == [
        "loan.submitted",
        "loan.approved",
        "loan.disbursed",
        "loan.repayment_applied",
        "loan.repayment_reversed",
        "loan.repayment_applied",
        "loan.closed",
    ]
    stored = world.repo.loans[loan_id]
    assert [h["status"] for h in stored["history"]] == ["submitted", "approved", "active", "closed"]
    assert stored["version"] == 1 + 5  # approve, disburse, pay, reverse, pay
    assert set(world.notified) == {loan_id}


async def test_a_repeated_payment_answers_the_first_allocation_and_writes_nothing(
    world: World,
) -> None:
    loan_id = await world.active_loan()
    _, first = await world.pay(loan_id, "pay_1", LEVEL, "2024-02-15")
    saves, version = world.repo.saves, world.repo.loans[loan_id]["version"]

    doc, again = await world.pay(loan_id, "pay_1", LEVEL, "2024-02-15")

    assert again == first
    assert (world.repo.saves, doc["version"]) == (saves, version)
    assert world.repo.event_keys(loan_id).count("loan.repayment_applied") == 1


@pytest.mark.parametrize(
    ("amount", "currency", "field", "why"),
    [
        (D("100"), "UGX", "currency", "must be the loan's currency, KES"),
        (D("100.005"), "", "amount", "KES allows at most 2 decimals"),
        (D("0"), "KES", "amount", "must be greater than zero"),
        (D("-5"), "KES", "amount", "must be greater than zero"),
    ],
)
async def test_a_payment_is_checked_against_the_loan_and_a_refused_one_writes_nothing(
    world: World, amount: D, currency: str, field: str, why: str
) -> None:
    loan_id = await world.active_loan()
    saves = world.repo.saves
    act_as(Role.AGENT)

    with pytest.raises(ValidationError) as refused:
        await repayments.apply_repayment(
            world.uow, ApplyRepayment(loan_id, "pay_1", amount, date(2024, 2, 15), currency)
        )

    assert refused.value.field_errors == [(field, why)]
    assert world.repo.saves == saves
    assert "loan.repayment_applied" not in world.repo.event_keys(loan_id)


async def test_a_rejected_application_is_closed_to_approval(world: World) -> None:
    loan_id = (await world.application())["_id"]
    act_as(Role.BRANCH_MANAGER)

    rejected = await applications.reject(world.uow, RejectLoan(loan_id, "  income too low "))

    assert rejected["status"] == "rejected"
    assert rejected["history"][-1]["note"] == "income too low"
    with pytest.raises(IllegalTransition):
        await applications.approve(world.uow, ApproveLoan(loan_id))
    assert world.repo.event_keys(loan_id) == ["loan.submitted", "loan.rejected"]


async def test_a_write_off_records_the_principal_left(world: World) -> None:
    loan_id = await world.active_loan()
    await world.pay(loan_id, "pay_1", LEVEL, "2024-02-15")
    act_as(Role.BRANCH_MANAGER)

    written_off = await servicing.write_off(
        world.uow, WriteOffLoan(loan_id, reason="borrower emigrated", date="2024-03-01")
    )

    assert written_off["status"] == "written_off"
    assert written_off["written_off_amounts"]["principal"] == "92115.12"
    assert world.repo.event_keys(loan_id)[-1] == "loan.written_off"
    with pytest.raises(ValidationError):  # dated before the disbursement
        await servicing.write_off(world.uow, WriteOffLoan(loan_id, date="2023-12-31"))


async def test_a_write_lost_to_a_concurrent_one_is_redone_on_the_fresh_loan(
    world: World,
) -> None:
    loan_id = await world.active_loan()

    async def concurrent_payment() -> None:
        await world.pay(loan_id, "pay_1", LEVEL, "2024-02-15")
        act_as(Role.AGENT)

    world.repo.before_next_save = concurrent_payment
    saves = world.repo.saves

    after, allocation = await world.pay(loan_id, "pay_2", LEVEL, "2024-03-15")

    assert world.repo.saves == saves + 3  # pay_2 lost, pay_1 won, pay_2 again
    assert D(allocation["interest"]) == D("921.15")
    assert D(allocation["principal"]) == D("7963.73")
    assert D(after["outstanding_principal"]) == D("84151.39")
    assert world.repo.event_keys(loan_id).count("loan.repayment_applied") == 2


async def test_a_loan_that_keeps_changing_gives_up_with_aborted(world: World) -> None:
    loan_id = await world.active_loan()

    async def another_writer() -> None:
        world.repo.loans[loan_id]["version"] += 1
        world.repo.before_next_save = another_writer

    world.repo.before_next_save = another_writer
    saves = world.repo.saves

    with pytest.raises(Aborted) as raised:
        await world.pay(loan_id, "pay_1", LEVEL, "2024-02-15")

    assert raised.value.reason == "CONCURRENT_MODIFICATION"
    assert world.repo.saves == saves + MAX_ATTEMPTS
    assert "loan.repayment_applied" not in world.repo.event_keys(loan_id)


async def test_an_application_is_idempotent_on_its_request_id(world: World) -> None:
    first = await world.application(request_id="req-42")
    again = await world.application(request_id="req-42")
    assert again["_id"] == first["_id"] and len(world.repo.loans) == 1

    act_as(Role.AGENT)
    with pytest.raises(Conflict):
        await applications.create_loan(
            world.uow,
            world.users,
            CreateLoan("bor_1", world.product_id, "90000", 12, request_id="req-42"),
        )


async def test_another_branch_does_not_see_the_loan(world: World) -> None:
    loan_id = await world.active_loan()
    act_as(Role.BRANCH_MANAGER, branch="br_2")
    with pytest.raises(NotFound):
        await queries.get_loan(world.uow, loan_id)
    with pytest.raises(NotFound):
        await servicing.write_off(world.uow, WriteOffLoan(loan_id, date="2024-03-01"))


async def test_the_codec_encodes_a_repayment_as_what_happened_and_the_position_after_it(
    world: World,
) -> None:
    loan_id = await world.active_loan()
    before = dict(world.repo.loans[loan_id])
    await world.pay(loan_id, "pay_1", LEVEL, "2024-02-15")
    after = world.repo.loans[loan_id]
    applied = [e for e in world.repo.outbox[loan_id] if e.key == "loan.repayment_applied"]

    (event,) = loan_events(before, after, applied)

    assert isinstance(event, events_pb2.RepaymentApplied)
    assert event.meta.event_type == "loan.repayment_applied"
    assert (event.meta.aggregate_id, event.meta.institution_id) == (loan_id, INSTITUTION)
    assert event.meta.aggregate_version == before["version"] + 1
    assert event.payment_id == "pay_1"
    assert (event.paid_on.year, event.paid_on.month, event.paid_on.day) == (2024, 2, 15)
    # KES 8,884.88 = 7,884.88 principal + 1,000.00 interest, in cents.
    assert event.amount == 888488
    assert (event.allocation.principal, event.allocation.interest) == (788488, 100000)
    position = event.loan
    assert (position.loan_id, position.currency) == (loan_id, "KES")
    assert position.status == loan_pb2.LOAN_STATUS_ACTIVE
    assert position.outstanding.principal == 10000000 - 788488
    # Only the installment the payment settled changed; the schedule has 12.
    assert position.installment_count == 12
    (first,) = position.changed_installments
    assert first.number == 1 and first.paid.principal == 788488 and first.paid.interest == 100000
    assert first.due.principal == 788488


async def test_an_overpaid_loan_refunds_its_credit_once(world: World) -> None:
    loan_id = await world.active_loan()
    closed, allocation = await world.pay(loan_id, "pay_1", "101500.00", "2024-02-15")
    assert closed["status"] == "closed"
    assert D(allocation["overpayment"]) == D("500.00")  # 101,500 paid, 101,000 owed
    act_as(Role.BRANCH_MANAGER)

    after, refunded = await repayments.refund_credit(
        world.uow, RefundCredit(loan_id, "ref_1", D(200), date(2024, 2, 20))
    )
    again, repeated = await repayments.refund_credit(
        world.uow, RefundCredit(loan_id, "ref_1", D(200), date(2024, 2, 20))
    )

    assert refunded == repeated == D("200")
    assert D(after["view"]["overpayment"]) == D("300.00")
    assert again["version"] == after["version"]  # the repeat wrote nothing
    assert world.repo.event_keys(loan_id).count("loan.credit_refunded") == 1
    with pytest.raises(ValidationError):  # more than the 300.00 left
        await repayments.refund_credit(
            world.uow, RefundCredit(loan_id, "ref_2", D("300.01"), date(2024, 2, 20))
        )


async def test_a_score_is_taken_from_the_application_and_stored(world: World) -> None:
    loan_id = (await world.application())["_id"]
    scorer = FakeScorer(ScoreResult(640, "B", "sc_1", 3, [("income", 40, "30000")]))
    act_as(Role.BRANCH_MANAGER)

    scored = await applications.score(world.uow, world.users, scorer, ScoreLoan(loan_id))

    ((subject, applicant),) = scorer.asked
    assert subject == loan_id
    assert json.loads(applicant)["loan"] == {
        "principal": "100000.00",
        "term": 12,
        "installment_amount": LEVEL,
        "purpose": None,
    }
    assert (scored["score"]["score"], scored["score"]["band"]) == (640, "B")
    assert world.repo.event_keys(loan_id) == ["loan.submitted", "loan.scored"]


async def test_an_approval_above_the_institutions_limit_is_refused(world: World) -> None:
    loan_id = (await world.application())["_id"]
    act_as(Role.ADMIN)
    settings = await loan_settings.update_loan_settings(
        world.repo,
        world.users,
        ReadingSettings(world.repo),
        UpdateLoanSettings(INSTITUTION, approval_limits={"branch_manager": "50000"}),
    )
    assert settings.approval_limits["branch_manager"] == D("50000")

    act_as(Role.BRANCH_MANAGER)
    with pytest.raises(ApprovalLimitExceeded):
        await applications.approve(world.uow, ApproveLoan(loan_id))
    act_as(Role.ADMIN)
    approved = await applications.approve(world.uow, ApproveLoan(loan_id))
    assert approved["status"] == "approved"


async def test_the_collection_sheet_lists_the_installment_due(world: World) -> None:
    loan_id = await world.active_loan()
    act_as(Role.BRANCH_MANAGER)

    sheet = await queries.collection_sheet(world.repo, world.users, "2024-02-15", "", "")

    assert sheet.currency == "KES"
    assert [(i.due.loan_id, i.due.number, i.due.amount_due) for i in sheet.items] == [
        (loan_id, 1, D(LEVEL))
    ]
    assert sheet.items[0].borrower is not None and sheet.items[0].borrower.name == "Achieng"


async def test_a_quote_gives_the_level_installment(world: World) -> None:
    product_id = await world.product()
    act_as(Role.AGENT)

    schedule, pricing, currency = await products.quote(
        world.repo, QuoteLoan(product_id, "100000", 12, "2024-01-15")
    )

    assert currency == "KES" and len(schedule.installments) == 12
    first = schedule.installments[0]
    assert (first.due_date.isoformat(), first.principal, first.interest) == (
        "2024-02-15",
        D("7884.88"),
        D("1000.00"),
    )
    assert D(pricing["total_repayment"]) == sum(i.total for i in schedule.installments)


async def test_a_product_with_bad_terms_names_every_bad_field(world: World) -> None:
    act_as(Role.ADMIN)
    with pytest.raises(ValidationError) as raised:
        await products.create_product(
            world.repo,
            world.users,
            CreateProduct(name="Bad", annual_interest_rate="twelve", min_term=0, max_term=12),
        )
    fields = {f for f, _ in raised.value.field_errors}
    assert {"annual_interest_rate", "min_term"} <= fields
    assert world.repo.products == {}
