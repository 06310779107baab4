"""The outbox relay and consumers against real MongoDB-wire and RabbitMQ servers."""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from kopa.common.v1 import common_pb2
from kopa.user.v1 import events_pb2, user_pb2
from shared.events import EventConsumer, EventPublisher, OutboxRelay, outbox_fields, outbox_update

pytestmark = pytest.mark.integration


def borrower_event(n: int, aggregate: str) -> events_pb2.BorrowerEvent:
    return events_pb2.BorrowerEvent(
        meta=common_pb2.EventMeta(
            event_id=f"evt_{aggregate}_{n}",
            event_type="borrower.updated",
            institution_id="inst",
            aggregate_id=aggregate,
            aggregate_version=n,
        ),
        borrower=user_pb2.Borrower(id=aggregate, first_name=f"v{n}", version=n),
    )


async def wait_until(predicate: Any, limit: float = 15.0) -> None:
    deadline = asyncio.get_running_loop().time() + limit
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


async def test_events_written_with_the_document_reach_a_consumer_once_and_in_order(
    server_urls: dict[str, str],
) -> None:
    namespace = f"it{secrets.token_hex(4)}"
    client: AsyncMongoClient[Any] = AsyncMongoClient(server_urls["MONGODB_URL"])
    db = client[f"{namespace}_events"]
    received: list[tuple[str, int]] = []

    async def handler(key: str, body: bytes, headers: dict[str, Any]) -> None:
        event = events_pb2.BorrowerEvent.FromString(body)
        received.append((key, event.borrower.version))

    consumer = EventConsumer(
        server_urls["AMQP_URL"],
        db,
        f"{namespace}.test",
        ["borrower.*"],
        handler,
        namespace=namespace,
    )
    publisher = EventPublisher(server_urls["AMQP_URL"], "test", namespace)
    relay = OutboxRelay(db, publisher, ["docs"], sweep_interval=0.2)
    try:
        await consumer.start()
        await relay.ensure_indexes()
        # A document inserted with its first event, then two updates each carrying one:
        await db.docs.insert_one({"_id": "a", **outbox_fields([borrower_event(1, "a")])})
        await db.docs.update_one({"_id": "a"}, outbox_update([borrower_event(2, "a")]))
        await db.docs.update_one({"_id": "a"}, outbox_update([borrower_event(3, "a")]))
        # No prompt notification: the sweep alone must find them (a crash after the write).
        relay.start()
        await wait_until(lambda: len(received) >= 3)
        doc = await db.docs.find_one({"_id": "a"})
        assert doc is not None and doc["outbox"] == [] and doc["outbox_count"] == 0
        assert received == [
            ("borrower.updated", 1),
            ("borrower.updated", 2),
            ("borrower.updated", 3),
        ]
        # The same event published again (at-least-once delivery) is handled only once.
        await publisher.publish(outbox_fields([borrower_event(2, "a")])["outbox"][0])
        await publisher.publish(outbox_fields([borrower_event(4, "a")])["outbox"][0])
        await wait_until(lambda: len(received) >= 4)
        await asyncio.sleep(0.3)
        assert [v for _, v in received] == [1, 2, 3, 4]
    finally:
        await relay.stop()
        await consumer.stop()
        await publisher.close()
        await client.drop_database(f"{namespace}_events")
        await client.close()


async def test_two_relays_racing_publish_each_event_and_pop_nothing_twice(
    server_urls: dict[str, str],
) -> None:
    namespace = f"it{secrets.token_hex(4)}"
    client: AsyncMongoClient[Any] = AsyncMongoClient(server_urls["MONGODB_URL"])
    db = client[f"{namespace}_events"]
    publisher = EventPublisher(server_urls["AMQP_URL"], "test", namespace)
    try:
        events = [borrower_event(n, "b") for n in range(1, 6)]
        await db.docs.insert_one({"_id": "b", **outbox_fields(events)})
        one, two = (OutboxRelay(db, publisher, ["docs"]) for _ in range(2))
        counts = await asyncio.gather(one.flush("docs", "b"), two.flush("docs", "b"))
        doc = await db.docs.find_one({"_id": "b"})
        assert doc is not None and doc["outbox"] == [] and doc["outbox_count"] == 0
        assert sum(counts) == 5
    finally:
        await publisher.close()
        await client.drop_database(f"{namespace}_events")
        await client.close()


async def test_events_appended_while_the_relay_publishes_are_kept_and_each_doc_stays_in_order(
    server_urls: dict[str, str],
) -> None:
    namespace = f"it{secrets.token_hex(4)}"
    client: AsyncMongoClient[Any] = AsyncMongoClient(server_urls["MONGODB_URL"])
    db = client[f"{namespace}_events"]
    received: dict[str, list[int]] = {}

    async def handler(key: str, body: bytes, headers: dict[str, Any]) -> None:
        event = events_pb2.BorrowerEvent.FromString(body)
        received.setdefault(event.meta.aggregate_id, []).append(event.borrower.version)

    consumer = EventConsumer(
        server_urls["AMQP_URL"],
        db,
        f"{namespace}.test",
        ["borrower.*"],
        handler,
        namespace=namespace,
    )
    publisher = EventPublisher(server_urls["AMQP_URL"], "test", namespace)
    writes: list[Any] = []

    class WriterDuringPublish(EventPublisher):
        """The real publisher; a writer appends to "c" while its first event is in flight."""

        async def publish(self, entry: dict[str, Any]) -> None:
            if entry["id"] == "evt_c_1" and not writes:
                writes.append(
                    await db.docs.update_one({"_id": "c"}, outbox_update([borrower_event(3, "c")]))
                )
            await publisher.publish(entry)

    relay = OutboxRelay(
        db, WriterDuringPublish(server_urls["AMQP_URL"], "test", namespace), ["docs"], workers=4
    )
    docs = [f"d{n}" for n in range(12)]
    try:
        await consumer.start()
        await db.docs.insert_one(
            {"_id": "c", **outbox_fields([borrower_event(1, "c"), borrower_event(2, "c")])}
        )
        for doc_id in docs:
            await db.docs.insert_one({"_id": doc_id, **outbox_fields([borrower_event(1, doc_id)])})
        relay.start()
        relay.notify("docs", "c")
        for doc_id in docs:
            relay.notify("docs", doc_id)
            await db.docs.update_one({"_id": doc_id}, outbox_update([borrower_event(2, doc_id)]))
            relay.notify("docs", doc_id)  # a second write while the first may be in flight
        await wait_until(
            lambda: (
                len(received.get("c", [])) >= 3 and all(len(received.get(d, [])) >= 2 for d in docs)
            )
        )
        assert writes and received["c"] == [1, 2, 3]  # the event appended mid-flush came last
        assert all(received[d] == [1, 2] for d in docs)
        left = await db.docs.find({"outbox_count": {"$ne": 0}}).to_list(None)
        assert left == [] and await db.docs.count_documents({"outbox": {"$ne": []}}) == 0
    finally:
        await relay.stop()
        await consumer.stop()
        await publisher.close()
        await client.drop_database(f"{namespace}_events")
        await client.close()
