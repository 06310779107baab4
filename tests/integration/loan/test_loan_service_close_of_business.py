"""loan_service over real gRPC: the close of business — ageing each loan once per date,
its completion published once, the hints it visits loans by, and an institution's own
delinquency buckets."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import grpc
import pytest

from kopa.loan.v1 import events_pb2, loan_pb2
from loan_service.adapters.repository import Repository
from shared.dates import from_proto_date
from tests.support.loan_world import TODAY, World, active, create_product, get, institution
from tests.support.rpc import Code, fails
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration


# --- close of business ------------------------------------------------------------------------


async def test_close_of_business_ages_a_loan_once_per_date(world: World) -> None:
    inst = institution(world)
    product = await create_product(inst, late_penalty_flat="50.00")
    disbursed = TODAY - timedelta(days=100)
    loan = await active(inst, product.id, disbursed)
    current = await active(inst, product.id, TODAY - timedelta(days=10))
    # No close of business yet: reads count days past due up to today.
    assert loan.days_past_due == (TODAY - date.fromisoformat(loan.schedule[0].due_date)).days
    assert loan.delinquency_bucket == "61-90"
    assert current.days_past_due == 0 and current.delinquency_bucket == "current"

    earlier = TODAY - timedelta(days=20)
    job = (
        await world.loans.RunCloseOfBusiness(
            loan_pb2.RunCloseOfBusinessRequest(as_of=earlier.isoformat(), wait=True),
            metadata=inst.admin,
        )
    ).job
    assert job.state == "completed" and job.partitions_done == job.partitions_total
    assert job.loans_changed == 1
    aged = await get(inst, loan.id)
    first_due = date.fromisoformat(aged.schedule[0].due_date)
    assert aged.days_past_due == (earlier - first_due).days
    assert aged.delinquency_bucket == "31-60"
    assert aged.oldest_unpaid_due_date == first_due.isoformat()

    job = (
        await world.loans.RunCloseOfBusiness(
            loan_pb2.RunCloseOfBusinessRequest(as_of=TODAY.isoformat(), wait=True),
            metadata=inst.admin,
        )
    ).job
    assert job.state == "completed" and job.as_of == TODAY.isoformat()
    aged = await get(inst, loan.id)
    dpd = (TODAY - first_due).days
    assert aged.days_past_due == dpd and 61 <= dpd <= 90
    assert aged.delinquency_bucket == "61-90"
    overdue = [i for i in aged.schedule if date.fromisoformat(i.due_date) < TODAY]
    assert len(overdue) == 3
    assert [i.penalties for i in overdue] == ["50.00"] * 3  # one charge per installment
    assert aged.outstanding.penalties == "150.00"
    assert overdue[0].days_past_due == dpd
    untouched = await get(inst, current.id)
    assert untouched.version == current.version and untouched.days_past_due == 0

    first, reclassified = await world.wait_for(loan.id, "loan.reclassified", 2)
    assert (first.previous_bucket, first.loan.delinquency_bucket) == ("current", "31-60")
    assert reclassified.previous_bucket == "31-60"
    assert reclassified.loan.delinquency_bucket == "61-90"
    assert from_proto_date(reclassified.business_date) == TODAY
    overdue_events = await world.wait_for(loan.id, "loan.installment_overdue", 2)
    # KES 150.00 in cents; the penalised installments are those the event lists as changed.
    assert overdue_events[-1].loan.outstanding.penalties == 15000
    penalised = [i for i in overdue_events[-1].loan.changed_installments if i.due.penalties]
    assert len(penalised) >= 1 and all(i.due.penalties == 5000 for i in penalised)
    history = (await Repository(world.db).get_loan(loan.id) or {})["classification_history"]
    assert [(h["from"], h["to"]) for h in history] == [("current", "31-60"), ("31-60", "61-90")]
    assert [
        (h.date, h.from_bucket, h.to_bucket, h.days_past_due) for h in aged.classification_history
    ] == [
        (earlier.isoformat(), "current", "31-60", (earlier - first_due).days),
        (TODAY.isoformat(), "31-60", "61-90", dpd),
    ]

    # Again for the same date: nothing changes, nothing is written or published.
    published = len(world.events_of(loan.id))
    again = (
        await world.loans.RunCloseOfBusiness(
            loan_pb2.RunCloseOfBusinessRequest(as_of=TODAY.isoformat(), wait=True),
            metadata=inst.admin,
        )
    ).job
    assert again.id == job.id and again.state == "completed"
    assert (await get(inst, loan.id)).version == aged.version
    await asyncio.sleep(0.3)
    assert len(world.events_of(loan.id)) == published
    status = (
        await world.loans.GetCloseOfBusinessJob(
            loan_pb2.GetCloseOfBusinessJobRequest(as_of=TODAY.isoformat()), metadata=inst.admin
        )
    ).job
    assert status.loans_changed == 1 and status.partitions_done == status.partitions_total

    # The next day only the day count moves: nothing is written, reads count on.
    tomorrow = TODAY + timedelta(days=1)
    await world.loans.RunCloseOfBusiness(
        loan_pb2.RunCloseOfBusinessRequest(as_of=tomorrow.isoformat(), wait=True),
        metadata=inst.admin,
    )
    later = await get(inst, loan.id)
    assert later.version == aged.version
    assert later.days_past_due == dpd + 1 and later.schedule[0].days_past_due == dpd + 1
    assert later.delinquency_bucket == "61-90"

    # A repayment after the close of business is stated as of the business date.
    payoff = (
        await world.loans.GetPayoffQuote(
            loan_pb2.GetPayoffQuoteRequest(loan_id=loan.id, date=TODAY.isoformat()),
            metadata=inst.agent,
        )
    ).payoff
    assert payoff.penalties == "150.00"
    paid = await world.loans.ApplyRepayment(
        loan_pb2.ApplyRepaymentRequest(
            loan_id=loan.id, payment_id="pay_all", amount=payoff.total, paid_on=TODAY.isoformat()
        ),
        metadata=inst.agent,
    )
    assert paid.loan_status == loan_pb2.LOAN_STATUS_CLOSED
    assert paid.allocation.penalties == "150.00"

    # Jobs run only for admins (JOBS_RUN), and for the caller's institution.
    err = await fails(
        world.loans.RunCloseOfBusiness(
            loan_pb2.RunCloseOfBusinessRequest(as_of=TODAY.isoformat(), wait=True),
            metadata=inst.manager,
        )
    )
    assert err.code == Code.PERMISSION_DENIED


async def test_a_completed_close_of_business_is_published_once(world: World) -> None:
    inst = institution(world)
    product = await create_product(inst)
    loans = [await active(inst, product.id, TODAY - timedelta(days=d)) for d in (45, 75, 10)]

    # Two callers (two replicas, or a retry) run the same date at once: both work on the
    # job, both find every partition done, and only one may complete it.
    def run() -> Any:
        return world.loans.RunCloseOfBusiness(
            loan_pb2.RunCloseOfBusinessRequest(as_of=TODAY.isoformat(), wait=True),
            metadata=inst.admin,
        )

    first, second = [r.job for r in await asyncio.gather(run(), run())]
    assert first.id == second.id and first.state == second.state == "completed"
    assert first.loans_changed == 2  # the two loans in arrears; the current one is not due

    await wait_until(lambda: world.events_of_job(first.id))
    ((key, event),) = world.events_of_job(first.id)
    assert key == "close_of_business.completed"
    assert isinstance(event, events_pb2.CloseOfBusinessCompleted)
    assert event.meta.event_type == key and event.meta.institution_id == inst.id
    assert (event.meta.aggregate_id, event.meta.aggregate_version) == (first.id, 1)
    assert event.meta.occurred_at.ToDatetime(UTC) >= datetime.combine(TODAY, time(), UTC)
    assert from_proto_date(event.business_date) == TODAY
    assert (event.loans_processed, event.loans_changed) == (first.loans_processed, 2)
    # Published and taken off the job's outbox (the relay watches the jobs' collection).
    await wait_until(
        lambda: world.db.cob_jobs.count_documents({"_id": first.id, "outbox_count": 0})
    )
    assert {e.meta.aggregate_id for _, e in world.events} >= {loans[0].id, loans[1].id}

    # The date again: the job is done, nothing more is published.
    again = (await run()).job
    assert again.id == first.id and again.state == "completed"
    await asyncio.sleep(0.3)
    assert len(world.events_of_job(first.id)) == 1


async def test_the_close_of_business_hint_is_never_later_than_the_loan(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Writes that move a loan's next close-of-business date later skip lowering its hint;
    one that moves it earlier (a reversal) must still lower it, or the batch skips the loan."""
    inst = institution(world)
    product = await create_product(inst, late_penalty_flat="10.00")
    loan = await active(inst, product.id, TODAY - timedelta(days=70))

    async def hint_and_loan() -> tuple[dict[str, Any], dict[str, Any]]:
        hint = await world.db.loan_cob_hints.find_one({"_id": loan.id})
        doc = await Repository(world.db).get_loan(loan.id)
        assert hint is not None and doc is not None
        return hint, doc

    def pay(payment_id: str, amount: str) -> Any:
        return world.loans.ApplyRepayment(
            loan_pb2.ApplyRepaymentRequest(
                loan_id=loan.id, payment_id=payment_id, amount=amount, paid_on=TODAY.isoformat()
            ),
            metadata=inst.agent,
        )

    hint, doc = await hint_and_loan()
    overdue_from = doc["cob_next_date"]
    await pay("h1", "400.00")
    await pay("h2", "400.00")
    hint, doc = await hint_and_loan()
    assert doc["cob_next_date"] > overdue_from  # paid ahead: the next visit moved later
    assert hint["cob_next_date"] == doc["cob_next_date"] and hint["status"] == "active"

    # The service dies after writing each reversal, before it sets the hint exactly.
    async def crash(*_: Any, **__: Any) -> None:
        raise RuntimeError("killed after the loan write")

    monkeypatch.setattr(Repository, "set_hint", crash)
    for payment_id in ("h2", "h1"):
        with contextlib.suppress(grpc.aio.AioRpcError):  # a write that keeps the hint: no crash
            await world.loans.ReverseRepayment(
                loan_pb2.ReverseRepaymentRequest(
                    loan_id=loan.id, payment_id=payment_id, reason="bounced"
                ),
                metadata=inst.manager,
            )
    hint, doc = await hint_and_loan()
    assert doc["version"] == loan.version + 4  # both reversals were written
    assert doc["cob_next_date"] <= overdue_from  # owed again: due for a visit again
    assert hint["cob_next_date"] <= doc["cob_next_date"]


async def test_an_institutions_own_delinquency_buckets_classify_its_loans(world: World) -> None:
    inst = institution(world)
    product = await create_product(inst)
    loan = await active(inst, product.id, TODAY - timedelta(days=100))
    yesterday = TODAY - timedelta(days=1)
    await world.loans.RunCloseOfBusiness(
        loan_pb2.RunCloseOfBusinessRequest(as_of=yesterday.isoformat(), wait=True),
        metadata=inst.admin,
    )
    assert (await get(inst, loan.id)).delinquency_bucket == "61-90"  # the default buckets
    hint = await world.db.loan_cob_hints.find_one({"_id": loan.id})
    assert hint is not None and hint["cob_next_date"] > TODAY.isoformat()

    buckets = [
        loan_pb2.DelinquencyBucket(name="current", min_days=0, max_days=0),
        loan_pb2.DelinquencyBucket(name="watch", min_days=1, max_days=45),
        loan_pb2.DelinquencyBucket(name="substandard", min_days=46, open_ended=True),
    ]
    gap = [buckets[0], loan_pb2.DelinquencyBucket(name="late", min_days=5, open_ended=True)]
    err = await fails(
        world.loans.UpdateLoanSettings(
            loan_pb2.UpdateLoanSettingsRequest(
                institution_id=inst.id, set_delinquency_buckets=True, delinquency_buckets=gap
            ),
            metadata=inst.admin,
        )
    )
    assert err.code == Code.INVALID_ARGUMENT
    assert [f for f, _ in err.field_errors] == ["delinquency_buckets[1].min_days"]
    await world.loans.UpdateLoanSettings(
        loan_pb2.UpdateLoanSettingsRequest(
            institution_id=inst.id, set_delinquency_buckets=True, delinquency_buckets=buckets
        ),
        metadata=inst.admin,
    )
    read = (
        await world.loans.GetLoanSettings(
            loan_pb2.GetLoanSettingsRequest(institution_id=inst.id), metadata=inst.manager
        )
    ).settings
    assert [(b.name, b.min_days, b.open_ended) for b in read.delinquency_buckets] == [
        ("current", 0, False),
        ("watch", 1, False),
        ("substandard", 46, True),
    ]
    # New buckets: the next close of business visits every active loan and reclassifies it.
    hint = await world.db.loan_cob_hints.find_one({"_id": loan.id})
    assert hint is not None and hint["cob_next_date"] <= TODAY.isoformat()
    await world.loans.RunCloseOfBusiness(
        loan_pb2.RunCloseOfBusinessRequest(as_of=TODAY.isoformat(), wait=True),
        metadata=inst.admin,
    )
    aged = await get(inst, loan.id)
    first_due = date.fromisoformat(aged.schedule[0].due_date)
    assert aged.days_past_due == (TODAY - first_due).days > 45
    assert aged.delinquency_bucket == "substandard"
    reclassified = await world.wait_for(loan.id, "loan.reclassified", 2)
    assert [(e.previous_bucket, e.loan.delinquency_bucket) for e in reclassified] == [
        ("current", "61-90"),
        ("61-90", "substandard"),
    ]
