"""notification_service's storage on the real MongoDB-wire server: queues leased to one
sender at a time, the loans' read model never rolled back, the clock's lease held by one
owner, newest-first pages, and the schedule's guarded writes."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from notification_service.adapters import repository as r
from notification_service.domain.facts import Installment
from notification_service.domain.messages import Notification, Status
from notification_service.domain.positions import LoanPosition
from notification_service.domain.schedule import Schedule

pytestmark = pytest.mark.integration

T0 = datetime(2026, 12, 7, 9, 30, tzinfo=UTC)


@pytest.fixture
async def db(server_urls: dict[str, str]) -> AsyncIterator[AsyncDatabase[Any]]:
    client: AsyncMongoClient[Any] = AsyncMongoClient(server_urls["MONGODB_URL"], tz_aware=True)
    name = f"it{secrets.token_hex(4)}_notification"
    try:
        yield client[name]
    finally:
        await client.drop_database(name)
        await client.close()


def message(n: int, *, due: datetime = T0, borrower: str = "bor_1") -> Notification:
    return Notification(
        id=f"ntf_{n:03d}",
        institution_id="inst_1",
        branch_id="br_1",
        borrower_id=borrower,
        loan_id="loan_1",
        channel="sms",
        recipient="+254712345678",
        template="repayment_received",
        language="en",
        subject="",
        text=f"message {n}",
        event_id=f"evt_{n}",
        status=Status.QUEUED,
        create_time=T0 + timedelta(seconds=n),
        next_attempt_time=due,
    )


async def test_two_senders_never_take_the_same_message(db: AsyncDatabase[Any]) -> None:
    store = r.MongoNotifications(db)
    await store.ensure_indexes()
    for n in range(30):
        assert await store.add(message(n))
    assert not await store.add(message(0))  # the same event again
    await store.add(message(99, due=T0 + timedelta(hours=1)))  # not due yet
    lease = T0 + timedelta(minutes=1)

    async def sender() -> list[str]:
        taken: list[str] = []
        while batch := await store.claim_due(T0, lease, 7):
            taken += [m.id for m in batch]
        return taken

    first, second = await asyncio.gather(sender(), sender())
    assert len(first + second) == len(set(first + second)) == 30
    # Leased: nobody takes them again until the lease ends.
    assert await store.claim_due(T0 + timedelta(seconds=30), lease, 50) == []
    again = await store.claim_due(lease + timedelta(seconds=1), lease + timedelta(minutes=2), 50)
    assert len(again) == 30


async def test_a_saved_message_is_guarded_by_its_version(db: AsyncDatabase[Any]) -> None:
    store = r.MongoNotifications(db)
    n = message(1)
    await store.add(n)
    sent = n.sent("ntf_001", T0)
    assert await store.save(sent)
    assert not await store.save(n.not_sent("late", T0, final=False))  # read before the send
    delivered = sent.reported(1, "", T0)
    assert await store.save(delivered)
    assert (await store.get(n.id)) == delivered


async def test_messages_page_newest_first_within_the_scope(db: AsyncDatabase[Any]) -> None:
    store = r.MongoNotifications(db)
    for n in range(7):
        await store.add(message(n, borrower="bor_1" if n % 2 else "bor_2"))
    seen: list[str] = []
    token = ""
    while True:
        page = await store.page({"institution_id": "inst_1"}, "bor_1", "", 2, token)
        seen += [m.id for m in page.items]
        token = page.next_page_token
        if not token:
            break
    assert seen == ["ntf_005", "ntf_003", "ntf_001"]
    assert (await store.page({"institution_id": "inst_2"}, "", "", 10, "")).items == []


def position(version: int, paid: str = "0") -> LoanPosition:
    return LoanPosition(
        loan_id="loan_1",
        institution_id="inst_1",
        branch_id="br_1",
        borrower_id="bor_1",
        currency="KES",
        status="active",
        version=version,
        outstanding=Decimal("100.00"),
        outstanding_principal=Decimal("90.00"),
        days_past_due=0,
        oldest_unpaid_due_date=None,
        installments=(
            Installment(1, date(2026, 12, 31), Decimal("50.00"), Decimal(paid)),
            Installment(2, date(2027, 1, 31), Decimal("50.00"), Decimal(0)),
        ),
    )


async def test_the_read_model_keeps_the_newest_version(db: AsyncDatabase[Any]) -> None:
    store = r.MongoPositions(db)
    await store.ensure_indexes()
    assert await store.save(position(3))
    assert await store.save(position(5, paid="50.00"))
    assert not await store.save(position(4))
    held = await store.get("loan_1")
    assert held is not None and held.version == 5
    assert await store.due_on("inst_1", date(2026, 12, 31)) == []  # paid
    assert [p.loan_id for p in await store.due_on("inst_1", date(2027, 1, 31))] == ["loan_1"]


async def test_one_owner_holds_the_clock_at_a_time(db: AsyncDatabase[Any]) -> None:
    leases = r.MongoLeases(db)
    until = T0 + timedelta(minutes=5)
    results = await asyncio.gather(
        *(leases.acquire("clock", f"replica-{n}", T0, until) for n in range(5))
    )
    assert results.count(True) == 1
    winner = f"replica-{results.index(True)}"
    assert await leases.acquire("clock", winner, T0 + timedelta(minutes=1), until)
    assert not await leases.acquire("clock", "late", T0 + timedelta(minutes=1), until)
    assert await leases.acquire("clock", "late", until + timedelta(seconds=1), until)
    await leases.release("clock", "late")
    assert await leases.acquire("clock", winner, until + timedelta(seconds=2), until)


async def test_a_schedule_is_made_once_and_its_close_only_moves_forward(
    db: AsyncDatabase[Any],
) -> None:
    store = r.MongoSchedules(db)
    made = await asyncio.gather(
        *(store.add(replace(Schedule("inst_1"), start_date=date(2026, 12, 7))) for _ in range(3))
    )
    assert {m.version for m in made} == {1}
    held = made[0]
    assert await store.save(replace(held, time_zone="Africa/Nairobi"))
    assert not await store.save(replace(held, time_zone="UTC"))  # stale version
    await store.mark_closed("inst_1", date(2026, 12, 8), T0)
    await store.mark_closed("inst_1", date(2026, 12, 7), T0)  # an older close, late
    after = await store.get("inst_1")
    assert after is not None
    assert after.time_zone == "Africa/Nairobi" and after.last_business_date == date(2026, 12, 8)
    assert [s.institution_id for s in await store.enabled()] == ["inst_1"]
