"""The repayment use cases driven through the fakes (``tests/support/payment_fakes.py``): an
in-memory repository subclassing the real abstract one and a fake loan service. No I/O;
the integration tests cover the same flows on the real adapters."""

from __future__ import annotations

import asyncio
import datetime as dt
from decimal import Decimal

import pytest

from kopa.payment.v1 import payment_pb2
from payment_service.adapters import codec
from payment_service.domain.loans import LoanEventData, LoanPosition
from payment_service.domain.payment import Payment, PaymentStatus
from payment_service.service_layer.core import NOT_APPLIED
from payment_service.service_layer.repayments import (
    RepaymentCommand,
    command_from_text,
    payment_id_for,
)
from shared import context
from shared.errors import Aborted, Conflict, IllegalState, NotFound
from shared.permissions import Principal, Role
from tests.support.payment_fakes import BRANCH, INST, LEASE, FakePayments, Unreachable

pytestmark = pytest.mark.unit

TODAY = FakePayments().clock.now.date().isoformat()


class World(FakePayments):
    def payment_id(self, key: str, user_id: str = "usr_agent") -> str:
        return payment_id_for(INST, user_id, key)


@pytest.fixture
def w() -> World:
    return World()


def command(key: str = "k-1", amount: str = "100.00", **kw: str) -> RepaymentCommand:
    values = {"loan_id": "loan_1", "paid_on": TODAY, "channel": "cash", "reference": ""}
    values.update(kw)
    return command_from_text(
        values["loan_id"], amount, values["paid_on"], values["channel"], values["reference"], key
    )


def answer(payment: Payment) -> payment_pb2.Payment:
    """What the servicer sends back for a payment a use case returned."""
    return codec.answered(payment)


# --- PostRepayment -------------------------------------------------------------------------


async def test_a_repayment_is_applied_booked_and_posted_with_its_event(w: World) -> None:
    w.act_as()
    payment, replayed = await w.repayments.post(command(amount="100"))
    assert not replayed
    assert payment.status is PaymentStatus.POSTED
    assert payment.amount == Decimal("100.00") and f"{payment.amount:f}" == "100.00"
    assert payment.allocation is not None and payment.allocation.principal == Decimal("100")
    assert payment.entry_id == f"repayment:{payment.id}"
    assert f"repayment:{payment.id}" in w.repo.entries
    assert w.repo.routing_keys(payment.id) == ["payment.posted"]
    assert w.notified == [payment.id]
    shown = answer(payment)
    assert shown.status == payment_pb2.PAYMENT_STATUS_POSTED
    assert (shown.allocation.principal, shown.outstanding.principal) == ("100.00", "900.00")
    assert w.loans.applications(payment.id) == 1
    # Two writes: the claim (insert) and the posting.
    assert w.repo.writes == 2


async def test_the_same_key_replays_the_first_answer_and_applies_once(w: World) -> None:
    w.act_as()
    first, _ = await w.repayments.post(command())
    again, replayed = await w.repayments.post(command(amount="100.00"))
    assert replayed
    assert answer(again) == answer(first)
    assert w.loans.applications(first.id) == 1
    assert w.repo.routing_keys(first.id) == ["payment.posted"]
    # "100" and "100.00" are the same request.
    _, replayed = await w.repayments.post(command(amount="100"))
    assert replayed


async def test_a_replay_answers_as_stored_even_when_the_loan_can_no_longer_be_looked_up(
    w: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A key is claimed by inserting, after the loan is looked up: a replay whose look-up
    fails (the loan service unreachable) must still answer from the stored record."""
    w.act_as()
    first, _ = await w.repayments.post(command())

    async def unreachable(loan_id: str) -> None:
        raise Unreachable("loan_service is unreachable")

    monkeypatch.setattr(w.loans, "get", unreachable)
    again, replayed = await w.repayments.post(command())
    assert replayed and answer(again) == answer(first)
    w.core.loan_moved(w.loan.id)  # as in a replica that has not placed the loan yet
    with pytest.raises(Unreachable):  # a new key cannot be checked: refused, nothing stored
        await w.repayments.post(command("k-2"))
    assert await w.repo.get(w.payment_id("k-2")) is None


async def test_the_same_key_with_another_body_is_a_conflict(w: World) -> None:
    w.act_as()
    await w.repayments.post(command())
    with pytest.raises(Conflict) as info:
        await w.repayments.post(command(amount="150.00"))
    assert info.value.reason == "IDEMPOTENCY_KEY_REUSED"
    assert len(w.repo.payments) == 1


async def test_a_refusal_of_the_loan_service_fails_for_good_and_replays(w: World) -> None:
    w.act_as()
    w.loans.refusal = IllegalState("the loan is closed", reason="LOAN_NOT_ACTIVE")
    with pytest.raises(IllegalState) as info:
        await w.repayments.post(command())
    assert info.value.reason == "LOAN_NOT_ACTIVE"
    payment = await w.stored(w.payment_id("k-1"))
    assert payment.status is PaymentStatus.FAILED
    assert payment.failure is not None and not payment.failure.retryable
    assert payment.lease_until is None and payment.entry_id is None
    assert answer(payment).failure_reason == "the loan is closed"
    # The loan service would accept it now, but the key replays the refusal.
    w.loans.refusal = None
    with pytest.raises(IllegalState) as again:
        await w.repayments.post(command())
    assert (again.value.reason, again.value.message) == ("LOAN_NOT_ACTIVE", "the loan is closed")
    assert w.loans.applications(payment.id) == 1
    assert w.repo.entries.keys() == set()  # nothing booked
    assert w.repo.published == []


async def test_a_transient_refusal_fails_retryably_and_a_retry_re_drives_it(w: World) -> None:
    w.act_as()
    w.loans.refusal = Aborted("busy, retry")
    with pytest.raises(Aborted):
        await w.repayments.post(command())
    payment = await w.stored(w.payment_id("k-1"))
    assert payment.status is PaymentStatus.FAILED and payment.retryable
    w.loans.refusal = None
    retried, replayed = await w.repayments.post(command())
    assert not replayed and retried.status is PaymentStatus.POSTED
    assert retried.attempt == 2 and retried.taken_over_by == "usr_agent"
    assert retried.failure is None


@pytest.mark.parametrize("outage", ["before", "after"])
async def test_an_unreachable_loan_service_expires_the_lease_and_a_retry_takes_over(
    w: World, outage: str
) -> None:
    w.act_as()
    w.loans.outage = outage
    with pytest.raises(Unreachable):
        await w.repayments.post(command())
    payment = await w.stored(w.payment_id("k-1"))
    assert payment.status is PaymentStatus.PENDING
    assert payment.lease_until == w.clock.now  # run out: the next attempt may act at once
    w.loans.outage = ""
    w.clock.advance(dt.timedelta(seconds=1))
    taken, replayed = await w.repayments.post(command())
    assert not replayed
    assert taken.status is PaymentStatus.POSTED and taken.attempt == 2
    assert w.loans.applications(taken.id) == 2
    assert len(w.loans.applied) == 1  # applied once: ApplyRepayment is idempotent
    assert taken.allocation is not None and taken.allocation.principal == Decimal("100.00")
    assert w.loan.principal_due == Decimal("900.00")
    assert w.repo.routing_keys(taken.id) == ["payment.posted"]


async def test_a_request_within_the_lease_of_another_attempt_is_told_to_wait(w: World) -> None:
    w.act_as()

    async def crash(step: str, payment: Payment) -> None:
        if step == "before_apply":
            raise RuntimeError("simulated crash after claiming the key")

    w.core.fault_hook = crash
    with pytest.raises(RuntimeError):
        await w.repayments.post(command())
    w.core.fault_hook = None
    with pytest.raises(Conflict) as info:
        await w.repayments.post(command())
    assert info.value.reason == "IDEMPOTENCY_REQUEST_IN_PROGRESS"
    # The recovery gives up on it after the lease: failed, retryable, not applied.
    w.clock.advance(LEASE + dt.timedelta(seconds=1))
    assert await w.recovery.run_once() == {"pending": 1}
    payment = await w.stored(w.payment_id("k-1"))
    assert payment.status is PaymentStatus.FAILED
    assert payment.failure is not None and payment.failure.reason == NOT_APPLIED
    retried, _ = await w.repayments.post(command())
    assert retried.status is PaymentStatus.POSTED
    assert w.loans.applications(retried.id) == 1


async def test_a_crash_after_the_entry_is_completed_by_the_recovery(w: World) -> None:
    w.act_as()

    async def crash(step: str, payment: Payment) -> None:
        if step == "after_entry":
            w.core.fault_hook = None
            raise RuntimeError("simulated crash after booking")

    w.core.fault_hook = crash
    with pytest.raises(RuntimeError):
        await w.repayments.post(command())
    payment_id = w.payment_id("k-1")
    assert (await w.stored(payment_id)).status is PaymentStatus.PENDING
    assert f"repayment:{payment_id}" in w.repo.entries
    w.clock.advance(LEASE + dt.timedelta(seconds=1))
    await w.recovery.run_once()
    posted = await w.stored(payment_id)
    assert posted.status is PaymentStatus.POSTED
    assert posted.outstanding is not None and posted.outstanding["principal"] == Decimal("900.00")
    _, replayed = await w.repayments.post(command())
    assert replayed and w.loans.applications(payment_id) == 1


def repayment_applied(w: World, payment_id: str) -> LoanEventData:
    """The loan service's ``loan.repayment_applied`` of a payment it applied."""
    return LoanEventData(
        routing_key="loan.repayment_applied",
        institution_id=INST,
        branch_id=BRANCH,
        aggregate_version=2,
        occurred_at_ms=0,
        loan=LoanPosition("loan_1", INST, BRANCH, "bor_1", "active", "KES"),
        payment_id=payment_id,
        applied=w.loans.applied[payment_id],
    )


async def test_the_loan_event_arriving_while_its_request_books_it_waits_and_reads_nothing(
    w: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The usual order under load: the loan's event overtakes the request's own posting."""
    w.act_as()
    handling: list[asyncio.Task[None]] = []

    async def event_meanwhile(step: str, payment: Payment) -> None:
        if step == "after_apply":
            w.core.fault_hook = None
            handling.append(asyncio.create_task(w.events.handle(repayment_applied(w, payment.id))))
            await asyncio.sleep(0.01)
            assert not handling[0].done()  # it waits for this request

    reads: list[str] = []
    read = w.repo.get

    async def counted_read(payment_id: str) -> Payment | None:
        reads.append(payment_id)
        return await read(payment_id)

    monkeypatch.setattr(w.repo, "get", counted_read)
    w.core.fault_hook = event_meanwhile
    payment, _ = await w.repayments.post(command())
    await handling[0]
    assert reads == []
    assert w.repo.writes == 2  # the claim and the posting: the event wrote nothing
    assert [e for e in w.repo.entries if payment.id in e] == [f"repayment:{payment.id}"]
    assert (await w.stored(payment.id)).status is PaymentStatus.POSTED


async def test_a_crash_after_apply_is_healed_by_the_loan_event(w: World) -> None:
    w.act_as()

    async def crash(step: str, payment: Payment) -> None:
        if step == "after_apply":
            w.core.fault_hook = None
            raise RuntimeError("simulated crash after ApplyRepayment")

    w.core.fault_hook = crash
    with pytest.raises(RuntimeError):
        await w.repayments.post(command(amount="120.00"))
    payment_id = w.payment_id("k-1")
    event = repayment_applied(w, payment_id)
    await w.events.handle(event)
    await w.events.handle(event)  # redelivered: changes nothing
    posted = await w.stored(payment_id)
    assert posted.status is PaymentStatus.POSTED
    assert w.repo.routing_keys(payment_id) == ["payment.posted"]
    # A repayment changes nothing the loans read model keeps: no write for it.
    assert "loan_1" not in w.repo.loans_seen
    retry, replayed = await w.repayments.post(command(amount="120.00"))
    assert replayed and answer(retry).allocation.principal == "120.00"
    assert w.loans.applications(payment_id) == 1


# --- reading -------------------------------------------------------------------------------


async def test_payments_are_read_and_listed_in_scope(w: World) -> None:
    w.act_as()
    first, _ = await w.repayments.post(command("k-1"))
    second, _ = await w.repayments.post(command("k-2", amount="50.00"))
    assert (await w.repayments.get(first.id)).id == first.id
    listed, token = await w.repayments.list_for_loan("loan_1", 1, "")
    assert [p.id for p in listed] == [first.id] and token
    listed, token = await w.repayments.list_for_loan("loan_1", 1, token)
    assert [p.id for p in listed] == [second.id] and not token
    context.set_current(
        context.RequestContext(principal=Principal("usr_x", Role.AGENT, INST, "br_other", "s"))
    )
    with pytest.raises(NotFound):
        await w.repayments.get(first.id)
    assert (await w.repayments.list_for_loan("loan_1", 10, ""))[0] == []


# --- ReverseRepayment ----------------------------------------------------------------------


async def test_a_posted_repayment_is_reversed_once(w: World) -> None:
    w.act_as()
    posted, _ = await w.repayments.post(command())
    w.act_as(Role.BRANCH_MANAGER, "usr_manager")
    reversed_ = await w.repayments.reverse(posted.id, " keyed twice ")
    assert reversed_.status is PaymentStatus.REVERSED
    assert reversed_.reversal_reason == "keyed twice"
    assert reversed_.reversal_entry_id == f"reversal:repayment:{posted.id}"
    assert reversed_.reversal_entry_id in w.repo.entries
    assert w.loans.reversed == {posted.id: "keyed twice"}
    assert w.loan.principal_due == Decimal("1000.00")
    assert w.repo.routing_keys(posted.id) == ["payment.posted", "payment.reversed"]
    # ReverseRepayment shows the payment as it now is (the servicer: ``payment_message``).
    assert codec.payment_message(reversed_).status == payment_pb2.PAYMENT_STATUS_REVERSED
    # Again: the same payment, nothing booked or published twice.
    again = await w.repayments.reverse(posted.id, "another reason")
    assert again.status is PaymentStatus.REVERSED and again.reversal_reason == "keyed twice"
    assert w.repo.routing_keys(posted.id) == ["payment.posted", "payment.reversed"]
    # The key still replays the answer it gave (posted), as before the reversal.
    w.act_as()
    replay, replayed = await w.repayments.post(command())
    assert replayed and answer(replay).status == payment_pb2.PAYMENT_STATUS_POSTED


async def test_a_reversal_the_loan_service_refuses_goes_back_to_posted(w: World) -> None:
    w.act_as()
    posted, _ = await w.repayments.post(command())
    w.act_as(Role.BRANCH_MANAGER, "usr_manager")
    w.loans.refusal = IllegalState("the loan is written off", reason="LOAN_NOT_ACTIVE")
    with pytest.raises(IllegalState):
        await w.repayments.reverse(posted.id, "keyed twice")
    back = await w.stored(posted.id)
    assert back.status is PaymentStatus.POSTED and back.lease_until is None
    assert back.reversal is not None and back.reversal.reason == "keyed twice"


async def test_only_a_posted_payment_is_reversed(w: World) -> None:
    w.act_as()
    w.loans.refusal = IllegalState("the loan is closed", reason="LOAN_NOT_ACTIVE")
    with pytest.raises(IllegalState):
        await w.repayments.post(command())
    w.act_as(Role.BRANCH_MANAGER, "usr_manager")
    with pytest.raises(IllegalState) as info:
        await w.repayments.reverse(w.payment_id("k-1"), "keyed twice")
    assert info.value.reason == "PAYMENT_NOT_POSTED"
    assert info.value.metadata == {"current_status": "failed"}


async def test_a_reversal_left_half_done_goes_back_to_posted_after_the_lease(w: World) -> None:
    w.act_as()
    posted, _ = await w.repayments.post(command())
    w.act_as(Role.BRANCH_MANAGER, "usr_manager")

    async def start_only(payment_id: str) -> None:
        await w.core.transition(
            payment_id,
            lambda p: p.start_reversal(
                reason="r", by="usr_manager", now=w.clock.now, lease=w.clock.now + LEASE
            ),
        )

    await start_only(posted.id)
    assert (await w.stored(posted.id)).status is PaymentStatus.REVERSING
    w.clock.advance(LEASE + dt.timedelta(seconds=1))
    assert await w.recovery.run_once() == {"reversing": 1}
    assert (await w.stored(posted.id)).status is PaymentStatus.POSTED


# --- RefundCredit --------------------------------------------------------------------------


async def test_a_refund_is_posted_and_cannot_be_reversed(w: World) -> None:
    w.act_as(Role.BRANCH_MANAGER, "usr_manager")
    refund, replayed = await w.repayments.refund(command("r-1", amount="20.00"))
    assert not replayed and refund.status is PaymentStatus.POSTED
    assert refund.entry_id == f"overpayment_refund:{refund.id}"
    assert w.repo.routing_keys(refund.id) == ["payment.refunded"]
    assert (await w.repayments.list_for_loan("loan_1", 10, ""))[0] == []
    with pytest.raises(IllegalState) as info:
        await w.repayments.reverse(refund.id, "oops")
    assert info.value.reason == "REFUND_NOT_REVERSIBLE"
