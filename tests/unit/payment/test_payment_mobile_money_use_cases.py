"""Mobile-money receipts, suspense and its assignment, driven through the fakes
(``tests/support/payment_fakes.py``). No I/O."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest

from payment_service.domain.mobile_money import signature_header
from payment_service.domain.payment import Payment, PaymentKind, PaymentStatus
from shared.errors import Conflict, IllegalState
from shared.permissions import Role
from tests.support.payment_fakes import (
    INST,
    LEASE,
    MOBILE_MONEY_SECRET,
    FakeLoan,
    FakePayments,
    Unreachable,
)

pytestmark = pytest.mark.unit


@pytest.fixture
async def w() -> FakePayments:
    world = FakePayments()
    await world.loan_seen(world.loan)
    return world


def callback(w: FakePayments, transaction_id: str, reference: str, amount: str = "300.00") -> bytes:
    return json.dumps(
        {
            "transaction_id": transaction_id,
            "account_reference": reference,
            "msisdn": "+254712345678",
            "amount": amount,
            "currency": "KES",
            "transacted_at": w.clock.now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
    ).encode()


async def receive(w: FakePayments, body: bytes) -> tuple[Payment, bool]:
    w.no_caller()
    header = signature_header(MOBILE_MONEY_SECRET, body, int(w.clock.now.timestamp()))
    return await w.mobile_money.receive(INST, body, header)


async def test_a_matched_receipt_is_posted_by_payment_service_itself(w: FakePayments) -> None:
    body = callback(w, "QK1", " loan_1 ")
    receipt, replayed = await receive(w, body)
    assert not replayed and receipt.kind is PaymentKind.MOBILE_MONEY
    assert receipt.status is PaymentStatus.POSTED and receipt.loan_id == "loan_1"
    assert receipt.assign is not None and receipt.assign.auto
    assert w.repo.routing_keys(receipt.id) == ["payment.received", "payment.posted"]
    assert sorted(e for e in w.repo.entries if receipt.id in e) == [
        f"suspense_assignment:{receipt.id}",
        f"unidentified_receipt:{receipt.id}",
    ]
    assert w.loans.tokens == [f"svc-token-{INST}"]
    assert w.loan.principal_due == Decimal("700.00")
    # Redelivered: the same receipt, applied once.
    again, replayed = await receive(w, body)
    assert replayed and again.status is PaymentStatus.POSTED
    assert w.loans.applications(receipt.id) == 1
    # The same transaction id with other details is a conflict.
    with pytest.raises(Conflict) as info:
        await receive(w, callback(w, "QK1", "loan_1", "301.00"))
    assert info.value.reason == "IDEMPOTENCY_KEY_REUSED"


async def test_an_unmatched_receipt_waits_in_suspense_for_a_person(w: FakePayments) -> None:
    receipt, _ = await receive(w, callback(w, "QK2", "NO-SUCH-LOAN"))
    assert receipt.status is PaymentStatus.SUSPENSE and receipt.lease_until is None
    assert receipt.match is not None and receipt.match["result"] == "unmatched"
    assert w.repo.routing_keys(receipt.id) == ["payment.unmatched"]
    w.act_as()
    listed, _ = await w.mobile_money.list_suspense(10, "")
    assert [p.id for p in listed] == [receipt.id]
    assigned = await w.mobile_money.assign(receipt.id, "loan_1")
    assert assigned.status is PaymentStatus.POSTED and assigned.loan_id == "loan_1"
    assert assigned.assign is not None and not assigned.assign.auto
    assert w.repo.routing_keys(receipt.id) == ["payment.unmatched", "payment.assigned"]
    # Assigning it again to the same loan is a retry; to another loan, too late.
    assert (await w.mobile_money.assign(receipt.id, "loan_1")).status is PaymentStatus.POSTED
    w.loans.add(FakeLoan("loan_2", INST, "br_1"))
    with pytest.raises(IllegalState) as info:
        await w.mobile_money.assign(receipt.id, "loan_2")
    assert info.value.reason == "PAYMENT_NOT_IN_SUSPENSE"
    assert w.loans.applications(receipt.id) == 1


async def test_an_assignment_the_loan_service_refuses_goes_back_to_suspense(
    w: FakePayments,
) -> None:
    receipt, _ = await receive(w, callback(w, "QK3", "NO-SUCH-LOAN"))
    w.act_as()
    w.loans.refusal = IllegalState("the loan is closed", reason="LOAN_NOT_ACTIVE")
    with pytest.raises(IllegalState):
        await w.mobile_money.assign(receipt.id, "loan_1")
    back = await w.stored(receipt.id)
    assert back.status is PaymentStatus.SUSPENSE
    assert back.assign is None and back.lease_until is None
    assert back.attempt == 2  # the claim counted as an attempt


@pytest.mark.parametrize("outage", ["before", "after"])
async def test_a_matched_receipt_waits_while_the_loan_service_is_down_and_posts_once(
    w: FakePayments, outage: str
) -> None:
    w.loans.outage = outage
    receipt, _ = await receive(w, callback(w, "QK4", "loan_1"))
    assert receipt.status is PaymentStatus.ASSIGNING  # the outcome is unknown: lease run out
    assert receipt.lease_until == w.clock.now
    # Still down: the recovery gives it back to suspense, leased to be tried again.
    w.clock.advance(dt.timedelta(seconds=1))
    await w.recovery.run_once()
    held = await w.stored(receipt.id)
    assert held.status is PaymentStatus.SUSPENSE and held.lease_until is not None
    w.loans.outage = ""
    w.clock.advance(LEASE + dt.timedelta(seconds=1))
    assert await w.recovery.run_once() == {"suspense": 1}
    posted = await w.stored(receipt.id)
    assert posted.status is PaymentStatus.POSTED and posted.loan_id == "loan_1"
    assert len(w.loans.applied) == 1
    assert w.loan.principal_due == Decimal("700.00")
    assert w.repo.routing_keys(receipt.id) == ["payment.received", "payment.posted"]


async def test_a_matched_receipt_waits_while_auth_service_is_down(w: FakePayments) -> None:
    w.tokens.down = True
    receipt, _ = await receive(w, callback(w, "QK5", "loan_1"))
    assert receipt.status is PaymentStatus.SUSPENSE and receipt.lease_until is not None
    assert w.loans.calls == []
    w.tokens.down = False
    w.clock.advance(LEASE + dt.timedelta(seconds=1))
    await w.recovery.run_once()
    assert (await w.stored(receipt.id)).status is PaymentStatus.POSTED


async def test_a_receipt_not_yet_in_suspense_is_booked_by_the_recovery(
    w: FakePayments, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def dies(receipt: Payment) -> Payment:
        raise Unreachable("stopped before booking the receipt")

    with monkeypatch.context() as patch:
        patch.setattr(w.mobile_money, "book_receipt", dies)
        with pytest.raises(Unreachable):
            await receive(w, callback(w, "QK6", "NO-SUCH-LOAN"))
    stored = next(iter(w.repo.payments.values()))
    assert stored.status is PaymentStatus.RECEIVED
    w.clock.advance(LEASE + dt.timedelta(seconds=1))
    assert await w.recovery.run_once() == {"received": 1}
    booked = await w.stored(stored.id)
    assert booked.status is PaymentStatus.SUSPENSE
    assert booked.receipt_entry_id == f"unidentified_receipt:{stored.id}"
    assert w.repo.routing_keys(stored.id) == ["payment.unmatched"]


async def test_a_person_takes_precedence_over_an_auto_posting_left_behind(
    w: FakePayments,
) -> None:
    w.loans.outage = "before"
    receipt, _ = await receive(w, callback(w, "QK7", "loan_1"))
    assert receipt.status is PaymentStatus.ASSIGNING and receipt.is_auto_posting
    w.loans.outage = ""
    w.act_as(Role.BRANCH_MANAGER, "usr_manager")
    assigned = await w.mobile_money.assign(receipt.id, "loan_1")
    assert assigned.status is PaymentStatus.POSTED
    assert assigned.assign is not None and assigned.assign.by == "usr_manager"
    assert w.repo.routing_keys(receipt.id) == ["payment.received", "payment.assigned"]
