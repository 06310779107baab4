"""kopa.payment.v2.RepaymentService over real gRPC: amounts as google.type.Money and dates as
google.type.Date, read once and checked against the loan's currency; a replay answers the
first answer (stored in the v1 form) identically; v1 and v2 show the same payment.

The world is tests.support.payment_world's (see this folder's conftest)."""

from __future__ import annotations

import datetime as dt
import secrets

import pytest
from google.type import date_pb2, money_pb2

from kopa.loan.v1 import loan_pb2
from kopa.payment.v1 import payment_pb2
from kopa.payment.v2 import repayments_pb2 as v2
from shared.permissions import Role
from tests.support.payment_world import TODAY, World, books, new_active_loan, post
from tests.support.rpc import Code, md, rpc_error

pytestmark = pytest.mark.integration

DAY = dt.date.fromisoformat(TODAY)


def kes(units: int, nanos: int = 0, currency: str = "") -> money_pb2.Money:
    return money_pb2.Money(currency_code=currency, units=units, nanos=nanos)


def request(loan_id: str, amount: money_pb2.Money, **kw: object) -> v2.PostRepaymentRequest:
    values: dict[str, object] = {
        "loan_id": loan_id,
        "amount": amount,
        "paid_on": date_pb2.Date(year=DAY.year, month=DAY.month, day=DAY.day),
        "channel": v2.PAYMENT_CHANNEL_CASH,
        "idempotency_key": secrets.token_hex(8),
    }
    values.update(kw)
    return v2.PostRepaymentRequest(**values)  # type: ignore[arg-type]


async def test_a_typed_repayment_posts_and_its_replay_is_the_same_answer(world: World) -> None:
    w = world
    loan = await new_active_loan(w)
    agent = w.token(Role.AGENT)
    ask = request(loan.id, kes(150, 500_000_000), reference="rcpt 9")

    first = await w.repayments.PostRepayment(ask, metadata=md(agent))
    again = await w.repayments.PostRepayment(ask, metadata=md(agent))

    p = first.payment
    assert p.status == payment_pb2.PAYMENT_STATUS_POSTED and not first.replayed
    assert p.amount == kes(150, 500_000_000, "KES")
    assert (p.paid_on.year, p.paid_on.month, p.paid_on.day) == (DAY.year, DAY.month, DAY.day)
    assert p.allocation.interest == kes(100, 0, "KES")
    assert p.allocation.principal == kes(50, 500_000_000, "KES")
    assert p.outstanding.total == kes(949, 500_000_000, "KES")
    assert p.channel == v2.PAYMENT_CHANNEL_CASH and p.kind == v2.PAYMENT_KIND_REPAYMENT
    assert p.loan_status == loan_pb2.LOAN_STATUS_ACTIVE
    # The replay comes from the answer stored in the v1 form: it reads the same.
    assert again.replayed and again.payment == p
    assert w.loans.applications(loan.id) == 1


async def test_v1_and_v2_show_the_same_payment(world: World) -> None:
    w = world
    loan = await new_active_loan(w)
    agent = w.token(Role.AGENT)
    posted = (await post(w, agent, loan.id, "120.00", reference="r1")).payment

    typed = await w.repayments.GetPayment(
        v2.GetPaymentRequest(payment_id=posted.id), metadata=md(agent)
    )

    assert typed.payment.amount == kes(120, 0, "KES")
    assert typed.payment.allocation.interest == kes(100, 0, "KES")
    assert typed.payment.outstanding.principal == kes(980, 0, "KES")
    assert typed.payment.reference == posted.reference == "r1"
    assert typed.payment.status == posted.status


@pytest.mark.parametrize(
    ("amount", "why", "reason"),
    [
        (kes(1, 5_000_000), "KES allows at most 2 decimals", "AMOUNT_INVALID"),
        (kes(100, 0, "UGX"), "must be in the loan's currency, KES", "CURRENCY_MISMATCH"),
        (kes(0), "must be greater than zero", "AMOUNT_INVALID"),
        (kes(-5), "must be greater than zero", "AMOUNT_INVALID"),
    ],
)
async def test_an_amount_the_loan_cannot_take_is_refused_and_nothing_is_written(
    world: World, amount: money_pb2.Money, why: str, reason: str
) -> None:
    w = world
    loan = await new_active_loan(w)
    before = await books(w)
    ask = request(loan.id, amount)

    refused = await rpc_error(
        w.repayments.PostRepayment(ask, metadata=md(w.token(Role.AGENT))), Code.INVALID_ARGUMENT
    )

    assert (refused.field_errors, refused.reason) == ([("amount", why)], reason)
    assert await w.db.payments.count_documents({"loan_id": loan.id}) == 0
    assert w.loans.applications(loan.id) == 0 and await books(w) == before


async def test_unreadable_money_and_dates_are_named_together(world: World) -> None:
    w = world
    loan = await new_active_loan(w)
    ask = request(loan.id, kes(1, -5), paid_on=date_pb2.Date(year=2026, month=13, day=1), channel=9)

    refused = await rpc_error(
        w.repayments.PostRepayment(ask, metadata=md(w.token(Role.AGENT))), Code.INVALID_ARGUMENT
    )

    assert [f for f, _ in refused.field_errors] == ["amount", "paid_on", "channel"]
    assert await w.db.payments.count_documents({"loan_id": loan.id}) == 0
