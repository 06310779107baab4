"""payment_service over real gRPC: posting repayments (once, whatever the retries and
concurrency), refusing bad ones, refunding a credit balance, scope, listing, and reversals.

The world (payment_service in-process on the real servers, with fake peers) is
tests.support.payment_world's, started once per module by this folder's conftest.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import secrets
from decimal import Decimal
from typing import Any

import pytest

from kopa.payment.v1 import payment_pb2
from payment_service.service_layer.repayments import payment_id_for
from shared.ids import new_id
from shared.permissions import Role
from shared.tokens import decode_access_token
from tests.support.payment_world import (
    ACTIVE,
    CLOSED,
    TODAY,
    ZERO,
    World,
    books,
    entries_for,
    new_active_loan,
    post,
)
from tests.support.rpc import Code, md, rpc_error
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration


# --- repayments -----------------------------------------------------------------------------


async def test_a_repayment_posts_once_and_a_retry_replays_it(world: World) -> None:
    w = world
    loan = await new_active_loan(w)
    agent = w.token(Role.AGENT)
    before = await books(w)
    first = await post(w, agent, loan.id, "150.00", key="key-1", reference="rcpt 7")
    p = first.payment
    assert not first.replayed
    assert p.status == payment_pb2.PAYMENT_STATUS_POSTED
    assert (p.allocation.interest, p.allocation.principal) == ("100.00", "50.00")
    assert p.allocation.fees == p.allocation.penalties == p.allocation.overpayment == "0.00"
    assert p.outstanding.principal == "950.00" and p.outstanding.total == "950.00"
    assert p.loan_status == ACTIVE and p.amount == "150.00" and p.currency == "KES"
    assert p.branch_id == w.branch and p.institution_id == w.inst

    again = await post(w, agent, loan.id, "150.00", key="key-1", reference="rcpt 7")
    assert again.replayed and again.payment == p
    # "150" is the same amount as "150.00": still the same request.
    assert (await post(w, agent, loan.id, "150", key="key-1", reference="rcpt 7")).replayed
    assert w.loans.applications(loan.id) == 1
    entries = await entries_for(w, p.id)
    assert [e["_id"] for e in entries] == [f"repayment:{p.id}"]
    after = await books(w)
    assert after["1000"] - before["1000"] == Decimal("150.00")  # cash in
    assert before["1100"] - after["1100"] == Decimal("50.00")  # portfolio down
    assert after["4000"] - before["4000"] == Decimal("100.00")  # interest income

    got = await w.payments.GetPayment(
        payment_pb2.GetPaymentRequest(payment_id=p.id), metadata=md(agent)
    )
    assert got.payment.status == payment_pb2.PAYMENT_STATUS_POSTED
    listed = await w.payments.ListRepayments(
        payment_pb2.ListRepaymentsRequest(loan_id=loan.id), metadata=md(agent)
    )
    assert [x.id for x in listed.payments] == [p.id]

    def published() -> Any:
        return next(
            (e for k, e in w.events if k == "payment.posted" and e.meta.aggregate_id == p.id),
            None,
        )

    await wait_until(lambda: published() is not None)
    event = published()  # what happened, typed: not a snapshot of the payment
    assert (event.amount.currency_code, event.amount.units) == ("KES", 150)
    assert (event.allocation.interest.units, event.allocation.principal.units) == (100, 50)
    assert event.outstanding.total.units == 950 and event.loan_id == loan.id
    assert event.entry_id == f"repayment:{p.id}" and event.loan_status == ACTIVE


async def test_the_same_key_with_another_body_is_refused(world: World) -> None:
    w = world
    loan = await new_active_loan(w)
    agent = w.token(Role.AGENT)
    await post(w, agent, loan.id, "10.00", key="dup")
    for changed in (
        {"amount": "11.00"},
        {"paid_on": (dt.date.fromisoformat(TODAY) - dt.timedelta(days=1)).isoformat()},
        {"channel": "bank"},
        {"reference": "other"},
    ):
        err = await rpc_error(
            post(w, agent, loan.id, key="dup", **{"amount": "10.00", **changed}),
            Code.ALREADY_EXISTS,
        )
        assert err.reason == "IDEMPOTENCY_KEY_REUSED"
    assert w.loans.applications(loan.id) == 1
    # The key is the caller's: another agent may use the same one for their own payment.
    other = await post(w, w.token(Role.AGENT), loan.id, "11.00", key="dup")
    assert not other.replayed
    assert w.loans.applications(loan.id) == 2


async def test_twenty_concurrent_identical_requests_apply_once(world: World) -> None:
    w = world
    loan = await new_active_loan(w)
    agent = w.token(Role.AGENT)
    w.loans.delay = 0.3  # the first request is still applying while the others arrive
    replies = await asyncio.gather(
        *(post(w, agent, loan.id, "40.00", key="burst") for _ in range(20))
    )
    ids = {r.payment.id for r in replies}
    assert len(ids) == 1
    payment_id = ids.pop()
    assert sum(not r.replayed for r in replies) == 1
    assert all(r.payment.status == payment_pb2.PAYMENT_STATUS_POSTED for r in replies)
    assert w.loans.calls[payment_id] == 1
    assert w.loans.applications(loan.id) == 1
    assert len(await entries_for(w, payment_id)) == 1
    await books(w)


@pytest.mark.parametrize(
    ("amount", "currency", "message"),
    [
        ("0", "KES", "greater than zero"),
        ("0.00", "KES", "greater than zero"),
        ("-1", "KES", "greater than zero"),
        ("1e3", "KES", "decimal string"),
        ("12.345", "KES", "at most 2 decimals"),
        ("100.5", "UGX", "no decimals"),
        ("", "KES", "required"),
        (" 5", "KES", "decimal string"),
    ],
)
async def test_bad_amounts_are_refused_naming_amount_and_store_nothing(
    world: World, amount: str, currency: str, message: str
) -> None:
    w = world
    loan = w.loans.add(w.inst, w.branch, currency=currency)
    agent = w.token(Role.AGENT)
    key = secrets.token_hex(8)
    err = await rpc_error(post(w, agent, loan.id, amount, key=key), Code.INVALID_ARGUMENT)
    assert [f for f, _ in err.field_errors] == ["amount"]
    assert message in err.field_errors[0][1]
    principal = decode_access_token(agent, w.keyset).principal
    assert (
        await w.db.payments.find_one({"_id": payment_id_for(w.inst, principal.user_id, key)})
        is None
    )
    assert w.loans.applications(loan.id) == 0


async def test_other_bad_input_names_each_field(world: World) -> None:
    w = world
    loan = await new_active_loan(w)
    agent = w.token(Role.AGENT)
    err = await rpc_error(post(w, agent, loan.id, key=""), Code.INVALID_ARGUMENT)
    assert [f for f, _ in err.field_errors] == ["Idempotency-Key"]
    future = (dt.date.fromisoformat(TODAY) + dt.timedelta(days=3)).isoformat()
    err = await rpc_error(
        post(w, agent, loan.id, "-5", paid_on=future, channel="cheque"), Code.INVALID_ARGUMENT
    )
    assert sorted(f for f, _ in err.field_errors) == ["amount", "channel", "paid_on"]
    err = await rpc_error(post(w, agent, loan.id, paid_on="31/03/2026"), Code.INVALID_ARGUMENT)
    assert [f for f, _ in err.field_errors] == ["paid_on"]
    # Back-office entry: a past date is fine.
    past = (dt.date.fromisoformat(TODAY) - dt.timedelta(days=40)).isoformat()
    assert (await post(w, agent, loan.id, paid_on=past)).payment.paid_on == past
    # Permissions and scope.
    await rpc_error(post(w, w.token(Role.AUDITOR), loan.id), Code.PERMISSION_DENIED)
    await rpc_error(post(w, w.token(Role.AGENT, branch=w.other_branch), loan.id), Code.NOT_FOUND)
    await rpc_error(post(w, agent, "loan_missing"), Code.NOT_FOUND)


async def test_a_loan_known_from_its_events_is_scoped_without_asking_the_loan_service(
    world: World,
) -> None:
    w = world
    loan = await new_active_loan(w)  # its loan.disbursed event fills the read model
    outsiders = [
        w.token(Role.AGENT, branch=w.other_branch),
        w.token(Role.BRANCH_MANAGER, branch=w.other_branch),
        w.token(Role.AGENT, institution_id=new_id("inst"), branch=w.branch),
        w.token(Role.ADMIN, institution_id=new_id("inst")),
    ]
    for outsider in outsiders:
        key = secrets.token_hex(8)
        await rpc_error(post(w, outsider, loan.id, key=key), Code.NOT_FOUND)
        assert await w.db.payments.count_documents({"idempotency.key": key}) == 0
    posted = await post(w, w.token(Role.AGENT), loan.id)
    assert posted.payment.status == payment_pb2.PAYMENT_STATUS_POSTED
    assert w.loans.reads[loan.id] == 0

    unseen = w.loans.add(w.inst, w.branch)  # no event yet: the loan service is asked
    await rpc_error(post(w, w.token(Role.AGENT, branch=w.other_branch), unseen.id), Code.NOT_FOUND)
    assert (await post(w, w.token(Role.AGENT), unseen.id)).payment.loan_id == unseen.id
    assert w.loans.reads[unseen.id] == 2


async def test_a_credit_balance_is_refunded_once_and_booked_as_money_out(world: World) -> None:
    w = world
    loan = await new_active_loan(w)  # owes 1000 principal + 100 interest
    before = await books(w)
    await post(w, w.token(Role.AGENT), loan.id, "1300.00")  # 200.00 overpaid
    manager = w.token(Role.BRANCH_MANAGER)

    def refund(token: str, amount: str, key: str) -> Any:
        return w.payments.RefundCredit(
            payment_pb2.RefundCreditRequest(
                loan_id=loan.id,
                amount=amount,
                paid_on=TODAY,
                channel="cash",
                idempotency_key=key,
            ),
            metadata=md(token),
        )

    first = await refund(manager, "150.00", "refund-1")
    assert first.payment.kind == "refund" and not first.replayed
    assert first.payment.status == payment_pb2.PAYMENT_STATUS_POSTED
    assert first.payment.allocation.overpayment == "150.00"
    again = await refund(manager, "150.00", "refund-1")
    assert again.replayed and again.payment.id == first.payment.id
    assert w.loans.calls[first.payment.id] == 1 and loan.credit == Decimal("50.00")
    after = await books(w)
    assert after["2100"] - before.get("2100", ZERO) == Decimal("50.00")  # 200 in, 150 out
    assert after["1000"] - before.get("1000", ZERO) == Decimal("1150.00")  # 1300 in, 150 out
    entries = await entries_for(w, first.payment.id)
    assert [e["source"]["kind"] for e in entries] == ["overpayment_refund"]

    err = await rpc_error(refund(manager, "60.00", "refund-2"), Code.INVALID_ARGUMENT)
    assert [f for f, _ in err.field_errors] == ["amount"] and loan.credit == Decimal("50.00")
    await rpc_error(refund(w.token(Role.AGENT), "10.00", "refund-3"), Code.PERMISSION_DENIED)
    await rpc_error(
        refund(w.token(Role.BRANCH_MANAGER, branch=w.other_branch), "10.00", "refund-4"),
        Code.NOT_FOUND,
    )
    assert await books(w) == after  # refused refunds book nothing

    listed = await w.payments.ListRepayments(
        payment_pb2.ListRepaymentsRequest(loan_id=loan.id), metadata=md(manager)
    )
    assert [p.kind for p in listed.payments] == ["repayment"]  # money in only
    refused = await rpc_error(
        w.payments.ReverseRepayment(
            payment_pb2.ReverseRepaymentRequest(payment_id=first.payment.id, reason="oops"),
            metadata=md(manager),
        ),
        Code.FAILED_PRECONDITION,
    )
    assert refused.reason == "REFUND_NOT_REVERSIBLE"


async def test_a_loan_that_is_not_active_fails_and_the_same_key_replays_the_error(
    world: World,
) -> None:
    w = world
    loan = await new_active_loan(w)
    loan.status = CLOSED
    agent = w.token(Role.AGENT)
    err = await rpc_error(post(w, agent, loan.id, key="closed"), Code.FAILED_PRECONDITION)
    assert err.reason == "LOAN_NOT_ACTIVE"
    again = await rpc_error(post(w, agent, loan.id, key="closed"), Code.FAILED_PRECONDITION)
    assert (again.reason, again.message, again.metadata) == (err.reason, err.message, err.metadata)
    principal = decode_access_token(agent, w.keyset).principal
    payment_id = payment_id_for(w.inst, principal.user_id, "closed")
    assert w.loans.calls[payment_id] == 1  # the replay did not ask the loan service again
    got = await w.payments.GetPayment(
        payment_pb2.GetPaymentRequest(payment_id=payment_id), metadata=md(agent)
    )
    assert got.payment.status == payment_pb2.PAYMENT_STATUS_FAILED
    assert "not active" in got.payment.failure_reason
    assert await entries_for(w, payment_id) == []


async def test_payments_of_another_institution_or_branch_are_not_found(world: World) -> None:
    w = world
    loan = await new_active_loan(w)
    posted = (await post(w, w.token(Role.AGENT), loan.id)).payment
    request = payment_pb2.GetPaymentRequest(payment_id=posted.id)
    for outsider, may_reverse in (
        (w.token(Role.ADMIN, institution_id=new_id("inst")), True),
        (w.token(Role.AGENT, branch=w.other_branch), False),
        (w.token(Role.BRANCH_MANAGER, branch=w.other_branch), True),
    ):
        await rpc_error(w.payments.GetPayment(request, metadata=md(outsider)), Code.NOT_FOUND)
        # Their list is not empty: the loan itself is not found for them.
        await rpc_error(
            w.payments.ListRepayments(
                payment_pb2.ListRepaymentsRequest(loan_id=loan.id), metadata=md(outsider)
            ),
            Code.NOT_FOUND,
        )
        await rpc_error(
            w.payments.ReverseRepayment(
                payment_pb2.ReverseRepaymentRequest(payment_id=posted.id, reason="x"),
                metadata=md(outsider),
            ),
            Code.NOT_FOUND if may_reverse else Code.PERMISSION_DENIED,
        )
    # The auditor and the admin of the institution see it.
    for insider in (w.token(Role.AUDITOR), w.token(Role.ADMIN)):
        await w.payments.GetPayment(request, metadata=md(insider))
    await rpc_error(
        w.payments.GetPayment(request, metadata=md("not-a-token")), Code.UNAUTHENTICATED
    )


async def test_listing_a_loans_repayments_pages_in_order(world: World) -> None:
    w = world
    loan = await new_active_loan(w)
    agent = w.token(Role.AGENT)
    ids = [(await post(w, agent, loan.id, "1.00")).payment.id for _ in range(5)]
    seen: list[str] = []
    token = ""
    while True:
        page = await w.payments.ListRepayments(
            payment_pb2.ListRepaymentsRequest(loan_id=loan.id, page_size=2, page_token=token),
            metadata=md(agent),
        )
        seen += [p.id for p in page.payments]
        token = page.next_page_token
        if not token:
            break
    assert seen == ids


# --- reversal -------------------------------------------------------------------------------


async def test_a_reversal_books_the_compensating_entry_and_the_books_stay_balanced(
    world: World,
) -> None:
    w = world
    start = await books(w)
    loan = await new_active_loan(w)
    disbursed = await books(w)
    assert disbursed["1100"] - start["1100"] == Decimal("1000.00")
    posted = (await post(w, w.token(Role.AGENT), loan.id, "300.00")).payment
    paid = await books(w)
    reverse = payment_pb2.ReverseRepaymentRequest(payment_id=posted.id, reason="cheque bounced")
    await rpc_error(
        w.payments.ReverseRepayment(reverse, metadata=md(w.token(Role.AGENT))),
        Code.PERMISSION_DENIED,
    )
    manager = w.token(Role.BRANCH_MANAGER)
    err = await rpc_error(
        w.payments.ReverseRepayment(
            payment_pb2.ReverseRepaymentRequest(payment_id=posted.id, reason="  "),
            metadata=md(manager),
        ),
        Code.INVALID_ARGUMENT,
    )
    assert [f for f, _ in err.field_errors] == ["reason"]
    reversed_ = (await w.payments.ReverseRepayment(reverse, metadata=md(manager))).payment
    assert reversed_.status == payment_pb2.PAYMENT_STATUS_REVERSED
    assert reversed_.reversal_reason == "cheque bounced"
    assert posted.id in w.loans.reversed
    after = await books(w)
    assert after == disbursed  # every account back where it was before the payment
    assert paid != disbursed
    ids = sorted(e["_id"] for e in await entries_for(w, posted.id))
    assert ids == [f"repayment:{posted.id}"]
    reversal = await w.db.journal_entries.find_one({"_id": f"reversal:repayment:{posted.id}"})
    assert reversal is not None and reversal["reverses"] == f"repayment:{posted.id}"
    # Idempotent, never deleted; a replay of the original request still answers the original.
    again = (await w.payments.ReverseRepayment(reverse, metadata=md(manager))).payment
    assert again.status == payment_pb2.PAYMENT_STATUS_REVERSED
    assert await w.db.journal_entries.count_documents({"reverses": f"repayment:{posted.id}"}) == 1
    assert await books(w) == disbursed

    statement = await w.payments.GetLoanStatement(
        payment_pb2.GetLoanStatementRequest(loan_id=loan.id), metadata=md(w.token(Role.AUDITOR))
    )
    assert [ln.source_kind for ln in statement.lines] == ["disbursement", "repayment", "reversal"]
    assert [ln.running_balance for ln in statement.lines] == ["1000.00", "800.00", "1000.00"]

    async def published() -> bool:
        return any(
            k == "payment.reversed" and e.meta.aggregate_id == posted.id for k, e in w.events
        )

    await wait_until(published)
