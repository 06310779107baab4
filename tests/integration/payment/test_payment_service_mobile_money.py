"""payment_service over real gRPC: signed mobile-money callbacks booked to suspense once,
suspense listed and assigned, and matched receipts posted by payment_service itself (with a
service token) whatever its peers' outages."""

from __future__ import annotations

import datetime as dt
import secrets
import time
from decimal import Decimal
from typing import Any

import pytest

from kopa.payment.v1 import payment_pb2
from payment_service.domain.mobile_money import signature_header
from payment_service.service_layer.ports import SERVICE_NAME
from shared.ids import new_id
from shared.permissions import Role
from shared.service_tokens import ServiceTokens
from tests.support.payment_world import (
    SECRET,
    FakeAuth,
    World,
    books,
    callback,
    entries_for,
    new_active_loan,
    receive,
)
from tests.support.rpc import Code, md, rpc_error
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration


# --- mobile money and suspense ------------------------------------------------------------------


async def test_mobile_money_callbacks_are_verified_booked_to_suspense_once(world: World) -> None:
    w = world
    loan = await new_active_loan(w)
    before = await books(w)
    txn = f"QK{secrets.token_hex(4).upper()}"
    body = callback(txn, f" {loan.id.lower()} ")
    first = await receive(w, body)
    p = first.payment
    assert not first.replayed and p.status == payment_pb2.PAYMENT_STATUS_SUSPENSE
    assert p.provider_transaction_id == txn and p.payer_phone == "+254712345678"
    assert p.amount == "500.00" and p.channel == "mobile_money" and not p.loan_id
    doc = await w.db.payments.find_one({"_id": p.id})
    assert doc["suggested_loan_id"] == loan.id
    after = await books(w)
    assert after["1020"] - before["1020"] == Decimal("500.00")
    assert after["2900"] - before["2900"] == Decimal("500.00")

    # The provider delivers it again (even signed later): the same payment, booked once.
    again = await receive(w, body, at=int(time.time()) + 5)
    assert again.replayed and again.payment.id == p.id
    assert len(await entries_for(w, p.id)) == 1
    assert await books(w) == after
    # Same transaction id, other amount: refused.
    err = await rpc_error(receive(w, callback(txn, loan.id, "501.00")), Code.ALREADY_EXISTS)
    assert err.reason == "IDEMPOTENCY_KEY_REUSED"
    # Bad or missing signature, stale timestamp: 401; an institution without a callback
    # endpoint: 404; nothing stored.
    other_txn = f"QK{secrets.token_hex(4).upper()}"
    for call, code, reason in (
        (
            receive(w, callback(other_txn, loan.id), secret="wrong-secret-0000000"),
            Code.UNAUTHENTICATED,
            "SIGNATURE_INVALID",
        ),
        (
            receive(w, callback(other_txn, loan.id), at=int(time.time()) - 3600),
            Code.UNAUTHENTICATED,
            "REPLAYED",
        ),
        (
            receive(w, callback(other_txn, loan.id), institution_id=new_id("inst")),
            Code.NOT_FOUND,
            "MOBILE_MONEY_NOT_CONFIGURED",
        ),
    ):
        assert (await rpc_error(call, code)).reason == reason
    tampered = await rpc_error(
        w.payments.ReceiveMobileMoney(
            payment_pb2.ReceiveMobileMoneyRequest(
                institution_id=w.inst,
                raw_body=callback(other_txn, loan.id, "9999.00"),
                signature=signature_header(
                    SECRET.encode(), callback(other_txn, loan.id), int(time.time())
                ),
            )
        ),
        Code.UNAUTHENTICATED,
    )
    assert tampered.reason == "SIGNATURE_INVALID"
    assert await w.db.payments.count_documents({"provider_transaction_id": other_txn}) == 0
    # An authentic but invalid body is a 422 naming the fields.
    bad = await rpc_error(receive(w, callback(other_txn, loan.id, "12.345")), Code.INVALID_ARGUMENT)
    assert [f for f, _ in bad.field_errors] == ["amount"]

    async def published() -> bool:
        return any(k == "payment.received" and e.meta.aggregate_id == p.id for k, e in w.events)

    await wait_until(published)


async def test_suspense_is_listed_and_assigned_to_a_loan(world: World) -> None:
    w = world
    loan = await new_active_loan(w)
    before = await books(w)
    unmatched = (
        await receive(w, callback(f"QK{secrets.token_hex(4)}", "NO-SUCH-LOAN", "60.00"))
    ).payment
    assert unmatched.status == payment_pb2.PAYMENT_STATUS_SUSPENSE
    agent = w.token(Role.AGENT)
    listed = await w.payments.ListSuspense(
        payment_pb2.ListSuspenseRequest(page_size=200), metadata=md(agent)
    )
    assert unmatched.id in {p.id for p in listed.payments}
    outsider = w.token(Role.ADMIN, institution_id=new_id("inst"))
    outside = await w.payments.ListSuspense(
        payment_pb2.ListSuspenseRequest(), metadata=md(outsider)
    )
    assert list(outside.payments) == []

    assign = payment_pb2.AssignSuspenseRequest(payment_id=unmatched.id, loan_id=loan.id)
    await rpc_error(
        w.payments.AssignSuspense(
            payment_pb2.AssignSuspenseRequest(payment_id=unmatched.id), metadata=md(agent)
        ),
        Code.INVALID_ARGUMENT,
    )
    await rpc_error(w.payments.AssignSuspense(assign, metadata=md(outsider)), Code.NOT_FOUND)
    await rpc_error(
        w.payments.AssignSuspense(assign, metadata=md(w.token(Role.AUDITOR))),
        Code.PERMISSION_DENIED,
    )
    assigned = (await w.payments.AssignSuspense(assign, metadata=md(agent))).payment
    assert assigned.status == payment_pb2.PAYMENT_STATUS_POSTED
    assert assigned.loan_id == loan.id and assigned.branch_id == w.branch
    assert assigned.allocation.interest == "60.00"
    assert w.loans.applications(loan.id) == 1
    after = await books(w)
    assert after["2900"] == before["2900"]  # in and out of suspense
    assert after["1020"] - before["1020"] == Decimal("60.00")
    assert after["4000"] - before["4000"] == Decimal("60.00")
    assert sorted(e["_id"] for e in await entries_for(w, unmatched.id)) == [
        f"suspense_assignment:{unmatched.id}",
        f"unidentified_receipt:{unmatched.id}",
    ]
    again = (await w.payments.AssignSuspense(assign, metadata=md(agent))).payment
    assert again.status == payment_pb2.PAYMENT_STATUS_POSTED
    assert w.loans.applications(loan.id) == 1
    listed = await w.payments.ListSuspense(
        payment_pb2.ListSuspenseRequest(page_size=200), metadata=md(agent)
    )
    assert unmatched.id not in {p.id for p in listed.payments}
    # The matched suggestion is used when no loan is named.
    matched = (await receive(w, callback(f"QK{secrets.token_hex(4)}", loan.id, "5.00"))).payment
    by_suggestion = await w.payments.AssignSuspense(
        payment_pb2.AssignSuspenseRequest(payment_id=matched.id), metadata=md(agent)
    )
    assert by_suggestion.payment.loan_id == loan.id
    repayments = await w.payments.ListRepayments(
        payment_pb2.ListRepaymentsRequest(loan_id=loan.id), metadata=md(agent)
    )
    assert {p.id for p in repayments.payments} == {unmatched.id, matched.id}

    async def published() -> bool:
        keys = {(k, e.meta.aggregate_id) for k, e in w.events}
        return {("payment.unmatched", unmatched.id), ("payment.assigned", unmatched.id)} <= keys

    await wait_until(published)


# --- matched receipts posted by payment_service itself ------------------------------------------


@pytest.fixture
def auth(world: World) -> Any:
    """payment_service with a service identity (as the fleet runs it) for one test."""
    fake = FakeAuth(world.keyset)
    mobile_money = world.wiring.servicer.mobile_money
    mobile_money.service_tokens = ServiceTokens(fake, "the-service-secret", service=SERVICE_NAME)
    yield fake
    mobile_money.service_tokens = None


def status_of(doc: dict[str, Any]) -> str:
    return str(doc["status"])


async def test_a_matched_receipt_is_posted_by_payment_service_itself(
    world: World, auth: FakeAuth
) -> None:
    w = world
    loan = await new_active_loan(w)
    before = await books(w)
    body = callback(f"QK{secrets.token_hex(4)}", f" {loan.id.lower()} ", "500.00")
    first = await receive(w, body)
    p = first.payment
    assert p.status == payment_pb2.PAYMENT_STATUS_POSTED and p.loan_id == loan.id
    assert (p.allocation.interest, p.allocation.principal) == ("100.00", "400.00")
    assert p.outstanding.principal == "600.00" and loan.principal_due == Decimal("600")
    assert w.loans.appliers[p.id] == "svc:payment_service"
    after = await books(w)  # asserts that the trial balance nets to zero
    assert after["1020"] - before["1020"] == Decimal("500.00")
    assert after["2900"] == before["2900"]  # in and out of suspense
    assert after["4000"] - before["4000"] == Decimal("100.00")
    assert before["1100"] - after["1100"] == Decimal("400.00")
    assert sorted(e["_id"] for e in await entries_for(w, p.id)) == [
        f"suspense_assignment:{p.id}",
        f"unidentified_receipt:{p.id}",
    ]
    # Redelivered: the same payment, applied once.
    again = await receive(w, body, at=int(time.time()) + 5)
    assert again.replayed and again.payment.status == payment_pb2.PAYMENT_STATUS_POSTED
    assert w.loans.applications(loan.id) == 1

    # Unmatched: in suspense, and the recovery has nothing to do with it.
    stray = (await receive(w, callback(f"QK{secrets.token_hex(4)}", "NO-SUCH-LOAN"))).payment
    assert stray.status == payment_pb2.PAYMENT_STATUS_SUSPENSE
    assert (await w.db.payments.find_one({"_id": stray.id}))["lease_until"] is None
    assert auth.issued == 1  # one token served both receipts

    async def published() -> bool:
        keys = {(k, e.meta.aggregate_id) for k, e in w.events}
        return {("payment.received", p.id), ("payment.posted", p.id)} <= keys

    await wait_until(published)
    assert ("payment.assigned", p.id) not in {(k, e.meta.aggregate_id) for k, e in w.events}


@pytest.mark.parametrize("outage", ["before", "after"])
async def test_a_matched_receipt_waits_while_loan_service_is_down_and_posts_once(
    world: World, auth: FakeAuth, outage: str
) -> None:
    w = world
    loan = await new_active_loan(w)
    before = await books(w)
    w.loans.outage = outage
    p = (await receive(w, callback(f"QK{secrets.token_hex(4)}", loan.id, "300.00"))).payment
    assert p.status != payment_pb2.PAYMENT_STATUS_POSTED
    held = await books(w)
    assert held["2900"] - before["2900"] == Decimal("300.00")  # the money is in suspense
    recovery = w.wiring.recovery
    # Still down: the recovery puts it back in suspense and tries again; nothing is lost.
    later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1)
    await recovery.run_once(later)
    await recovery.run_once(later + dt.timedelta(minutes=1))
    doc = await w.db.payments.find_one({"_id": p.id})
    assert status_of(doc) in ("suspense", "assigning") and doc["lease_until"] is not None
    w.loans.outage = ""
    for step in range(2, 5):
        await recovery.run_once(later + dt.timedelta(minutes=step))
    doc = await w.db.payments.find_one({"_id": p.id})
    assert status_of(doc) == "posted" and doc["loan_id"] == loan.id
    assert w.loans.applications(loan.id) == 1  # applied once, however often it was tried
    after = await books(w)
    assert after["2900"] == before["2900"]
    assert after["1020"] - before["1020"] == Decimal("300.00")
    assert len(await entries_for(w, p.id)) == 2


async def test_a_matched_receipt_waits_while_auth_service_refuses(
    world: World, auth: FakeAuth
) -> None:
    w = world
    loan = await new_active_loan(w)
    auth.down = True
    p = (await receive(w, callback(f"QK{secrets.token_hex(4)}", loan.id, "20.00"))).payment
    assert p.status == payment_pb2.PAYMENT_STATUS_SUSPENSE and not w.loans.calls[p.id]
    auth.down = False
    await w.wiring.recovery.run_once(dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1))
    doc = await w.db.payments.find_one({"_id": p.id})
    assert status_of(doc) == "posted" and w.loans.applications(loan.id) == 1
