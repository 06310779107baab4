"""payment_service over real gRPC: a repayment cut short by a crash — before or after
loan_service applied it, or after the entry — is healed by the loan event, the lease and the
recovery, and applied once."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from kopa.payment.v1 import payment_pb2
from payment_service.service_layer.repayments import payment_id_for
from shared.permissions import Role
from shared.tokens import decode_access_token
from tests.support.payment_world import World, books, entries_for, new_active_loan, post
from tests.support.rpc import Code, md, rpc_error

pytestmark = pytest.mark.integration


# --- faults and healing ---------------------------------------------------------------------


async def crashed_post(
    w: World, agent: str, loan_id: str, amount: str, key: str, *, at: str
) -> str:
    """Posts a repayment whose request crashes once at the payment core's fault hook `at`
    (the caller gets INTERNAL); returns the payment's id."""

    async def crash(step: str, doc: dict[str, Any]) -> None:
        if step == at:
            w.wiring.core.fault_hook = None
            raise RuntimeError(f"simulated crash at {at}")

    w.wiring.core.fault_hook = crash
    await rpc_error(post(w, agent, loan_id, amount, key=key), Code.INTERNAL)
    principal = decode_access_token(agent, w.keyset).principal
    return payment_id_for(w.inst, principal.user_id, key)


async def test_a_crash_after_apply_is_healed_by_the_loan_event(world: World) -> None:
    w = world
    loan = await new_active_loan(w)
    agent = w.token(Role.AGENT)
    before = await books(w)

    payment_id = await crashed_post(w, agent, loan.id, "120.00", "crash", at="after_apply")
    doc = await w.db.payments.find_one({"_id": payment_id})
    assert doc["status"] == "pending"
    assert w.loans.applications(loan.id) == 1
    assert await entries_for(w, payment_id) == []
    assert await books(w) == before

    # loan_service published what it did; the consumer books it and posts the payment.
    _, applied, _ = w.loans.applied[payment_id]
    await w.loan_event(
        "loan.repayment_applied", loan, payment_id=payment_id, allocation=applied.allocation
    )
    doc = await w.db.payments.find_one({"_id": payment_id})
    assert doc["status"] == "posted"
    assert doc["allocation"]["interest"] == "100.00" and doc["allocation"]["principal"] == "20.00"
    assert len(await entries_for(w, payment_id)) == 1
    # The same event again changes nothing; the client's retry replays the posted payment.
    await w.loan_event(
        "loan.repayment_applied", loan, payment_id=payment_id, allocation=applied.allocation
    )
    retry = await post(w, agent, loan.id, "120.00", key="crash")
    assert retry.replayed and retry.payment.status == payment_pb2.PAYMENT_STATUS_POSTED
    assert retry.payment.allocation.principal == "20.00"
    assert w.loans.applications(loan.id) == 1
    assert len(await entries_for(w, payment_id)) == 1
    after = await books(w)
    assert after["1000"] - before["1000"] == Decimal("120.00")


async def test_a_crash_before_apply_fails_after_the_lease_and_a_retry_re_drives_it(
    world: World,
) -> None:
    w = world
    loan = await new_active_loan(w)
    agent = w.token(Role.AGENT)

    payment_id = await crashed_post(w, agent, loan.id, "25.00", "abandoned", at="before_apply")
    assert (await w.db.payments.find_one({"_id": payment_id}))["status"] == "pending"
    # Within the lease a retry waits, then answers 409 in progress (the wait is bounded).
    w.wiring.core.config.idempotency_wait_seconds = 0.2
    try:
        err = await rpc_error(
            post(w, agent, loan.id, "25.00", key="abandoned"), Code.ALREADY_EXISTS
        )
    finally:
        w.wiring.core.config.idempotency_wait_seconds = 5.0
    assert err.reason == "IDEMPOTENCY_REQUEST_IN_PROGRESS"

    moved = await w.wiring.recovery.run_once(dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1))
    assert moved.get("pending", 0) >= 1
    got = await w.payments.GetPayment(
        payment_pb2.GetPaymentRequest(payment_id=payment_id), metadata=md(agent)
    )
    assert got.payment.status == payment_pb2.PAYMENT_STATUS_FAILED
    assert "retry with the same" in got.payment.failure_reason
    assert w.loans.applications(loan.id) == 0

    retry = await post(w, agent, loan.id, "25.00", key="abandoned")
    assert not retry.replayed
    assert retry.payment.id == payment_id
    assert retry.payment.status == payment_pb2.PAYMENT_STATUS_POSTED
    assert w.loans.applications(loan.id) == 1
    assert len(await entries_for(w, payment_id)) == 1
    assert (await post(w, agent, loan.id, "25.00", key="abandoned")).replayed


async def test_a_crash_after_the_entry_is_completed_by_the_recovery(world: World) -> None:
    w = world
    loan = await new_active_loan(w)
    agent = w.token(Role.AGENT)

    payment_id = await crashed_post(w, agent, loan.id, "30.00", "half", at="after_entry")
    assert (await w.db.payments.find_one({"_id": payment_id}))["status"] == "pending"
    assert len(await entries_for(w, payment_id)) == 1
    await books(w)  # the entry alone balances
    await w.wiring.recovery.run_once(dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1))
    doc = await w.db.payments.find_one({"_id": payment_id})
    assert doc["status"] == "posted" and doc["outstanding"]["principal"] == "1000.00"
    assert len(await entries_for(w, payment_id)) == 1
    assert (await post(w, agent, loan.id, "30.00", key="half")).replayed
    assert w.loans.applications(loan.id) == 1
