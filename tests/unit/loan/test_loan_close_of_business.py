"""The close of business and the loan listings driven through the in-memory fakes
(`tests.support.loan_fakes`): no servers. The loan is the use-case tests' one: 100,000 KES
over 12 months from 2024-01-15, an installment of 8,884.88 due on the 15th from 2024-02-15.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest

from kopa.loan.v1 import events_pb2
from loan_service.adapters.event_codec import job_events
from loan_service.service_layer import loan_settings, products, queries
from loan_service.service_layer.cob import CloseOfBusiness
from shared import context, loan_events
from shared.dates import from_proto_date
from shared.errors import NotFound
from shared.permissions import Role
from tests.support.loan_fakes import INSTITUTION, LEVEL, World, act_as

pytestmark = pytest.mark.unit


@pytest.fixture
def world() -> Iterator[World]:
    yield World()
    context.set_current(context.RequestContext())


def close_of_business(world: World) -> CloseOfBusiness:
    return CloseOfBusiness(world.repo, world.notified.append, world.notified_jobs.append, workers=1)


async def test_a_missed_installment_makes_the_loan_overdue_once_per_date(world: World) -> None:
    late = await world.active_loan()
    paid = await world.active_loan()
    await world.pay(paid, "pay_1", LEVEL, "2024-02-15")
    versions = {i: world.repo.loans[i]["version"] for i in (late, paid)}
    cob = close_of_business(world)

    job = await cob.start(INSTITUTION, date(2024, 2, 20), wait=True)

    assert job["state"] == "completed"
    loan = world.repo.loans[late]
    assert (loan["days_past_due"], loan["oldest_unpaid_due_date"]) == (5, "2024-02-15")
    assert loan["delinquency_bucket"] == "1-30"
    assert world.repo.event_keys(late)[-2:] == ["loan.installment_overdue", "loan.reclassified"]
    assert late in world.notified
    # Paid on time: nothing to record, not even read into a write.
    assert world.repo.loans[paid]["version"] == versions[paid]
    assert world.repo.stored_settings[INSTITUTION]["business_date"] == "2024-02-20"

    # The job's completion is one event in the job's own outbox, handed to the relay.
    (completed,) = world.repo.outbox[job["_id"]]
    assert completed.key == "close_of_business.completed"
    assert completed.fields == {
        "business_date": "2024-02-20",
        "loans_processed": 1,  # the paid loan has nothing due: not even read
        "loans_changed": 1,
    }
    assert world.notified_jobs == [job["_id"]]

    saves = world.repo.saves
    again = await cob.start(INSTITUTION, date(2024, 2, 20), wait=True)
    assert again["state"] == "completed" and world.repo.saves == saves
    assert len(world.repo.outbox[job["_id"]]) == 1 and world.notified_jobs == [job["_id"]]


async def test_a_job_completed_by_two_workers_at_once_is_announced_once(world: World) -> None:
    await world.active_loan()
    mine, theirs = close_of_business(world), close_of_business(world)
    as_of = date(2024, 2, 20)

    async def theirs_completes_first() -> None:
        # Another replica, finding the job running with every partition done, completes it.
        await theirs.start(INSTITUTION, as_of, wait=True)

    world.repo.before_next_complete = theirs_completes_first
    job = await mine.start(INSTITUTION, as_of, wait=True)

    assert job["state"] == "completed"
    assert [e.key for e in world.repo.outbox[job["_id"]]] == ["close_of_business.completed"]
    assert world.notified_jobs == [job["_id"]]
    assert world.repo.stored_settings[INSTITUTION]["business_date"] == "2024-02-20"


async def test_only_a_change_of_bucket_or_a_new_due_date_is_written(world: World) -> None:
    late = await world.active_loan()
    cob = close_of_business(world)
    await cob.start(INSTITUTION, date(2024, 2, 20), wait=True)
    version = world.repo.loans[late]["version"]

    # The next day only the day count moves: readers add the days, nothing is written.
    await cob.start(INSTITUTION, date(2024, 2, 21), wait=True)
    assert world.repo.loans[late]["version"] == version

    # A month on, the second installment is due too and the loan is past 30 days.
    await cob.start(INSTITUTION, date(2024, 3, 20), wait=True)
    loan = world.repo.loans[late]
    assert loan["version"] == version + 1
    assert (loan["days_past_due"], loan["delinquency_bucket"]) == (34, "31-60")
    history = loan["classification_history"]
    assert [(h["from"], h["to"]) for h in history][-2:] == [("current", "1-30"), ("1-30", "31-60")]


async def test_the_codec_encodes_a_completed_job_as_an_event_about_the_job(
    world: World,
) -> None:
    await world.active_loan()
    job = await close_of_business(world).start(INSTITUTION, date(2024, 2, 20), wait=True)

    (event,) = job_events(job, world.repo.outbox[job["_id"]])

    assert isinstance(event, events_pb2.CloseOfBusinessCompleted)
    meta = event.meta
    assert (meta.event_type, meta.institution_id) == ("close_of_business.completed", INSTITUTION)
    assert (meta.aggregate_id, meta.aggregate_version) == (job["_id"], 1)
    assert meta.event_id and meta.occurred_at.seconds > 0
    assert from_proto_date(event.business_date) == date(2024, 2, 20)
    assert (event.loans_processed, event.loans_changed) == (1, 1)
    # Consumers decode it from its own table: it has no loan position to read as a loan event.
    body = event.SerializeToString()
    assert loan_events.decode_job("close_of_business.completed", body) == event
    assert loan_events.decode("close_of_business.completed", body) is None
    assert loan_events.decode_job("close_of_business.reverted", body) is None


async def test_a_repayment_racing_the_batch_wins_and_the_loan_is_redone(world: World) -> None:
    late = await world.active_loan()

    async def paid_meanwhile() -> None:
        await world.pay(late, "pay_race", LEVEL, "2024-02-18")

    world.repo.before_next_save = paid_meanwhile
    await close_of_business(world).start(INSTITUTION, date(2024, 2, 20), wait=True)

    loan = world.repo.loans[late]
    # Paid before the batch could write: not overdue, the next installment the oldest unpaid.
    assert (loan["days_past_due"], loan["oldest_unpaid_due_date"]) == (0, "2024-03-15")
    keys = world.repo.event_keys(late)
    assert "loan.repayment_applied" in keys and "loan.installment_overdue" not in keys


async def test_loans_and_products_are_listed_in_the_callers_scope(world: World) -> None:
    mine = await world.active_loan()
    act_as(Role.AGENT, branch="br_other")
    assert (await queries.list_loans(world.repo, "", "", 50, ""))[0] == []
    act_as(Role.AGENT)
    listed, _ = await queries.list_loans(world.repo, "bor_1", "active", 50, "")
    assert [loan["_id"] for loan in listed] == [mine]
    assert (await queries.list_loans(world.repo, "", "closed", 50, ""))[0] == []
    (product,), _ = await products.list_products(world.repo, 50, "")
    assert product["_id"] == world.product_id
    act_as(Role.AGENT, institution="inst_other")
    assert (await products.list_products(world.repo, 50, ""))[0] == []


async def test_an_institutions_lending_settings_are_read_by_its_own_staff(world: World) -> None:
    act_as(Role.ADMIN)
    held = await loan_settings.loan_settings(world.repo, INSTITUTION)
    assert [b.name for b in held.buckets][:2] == ["current", "1-30"]
    act_as(Role.ADMIN, institution="inst_other")
    with pytest.raises(NotFound):
        await loan_settings.loan_settings(world.repo, INSTITUTION)
