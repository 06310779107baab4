"""The outbox relay and consumers against real MongoDB-wire and RabbitMQ servers."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aio_pika
import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from kopa.common.v1 import common_pb2
from kopa.user.v1 import events_pb2, user_pb2
from shared.events import (
    PARKED_HEADER,
    EventConsumer,
    EventPublisher,
    OutboxRelay,
    Unprocessable,
    dead_letters,
    outbox_body,
    outbox_entry,
    outbox_fields,
    outbox_update,
    replay_dead_letters,
)
from shared.statement_counts import StatementCounter
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration


@dataclass(frozen=True)
class Store:
    """A fresh namespace and its database, dropped after the test."""

    namespace: str
    db: AsyncDatabase[Any]


@pytest.fixture
async def store(server_urls: dict[str, str]) -> AsyncIterator[Store]:
    namespace = f"it{secrets.token_hex(4)}"
    client: AsyncMongoClient[Any] = AsyncMongoClient(server_urls["MONGODB_URL"])
    try:
        yield Store(namespace, client[f"{namespace}_events"])
    finally:
        await client.drop_database(f"{namespace}_events")
        await client.close()


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


async def test_events_written_with_the_document_reach_a_consumer_in_order(
    server_urls: dict[str, str], store: Store
) -> None:
    namespace, db = store.namespace, store.db
    received: list[tuple[str, int]] = []

    async def handler(key: str, body: bytes, headers: dict[str, Any]) -> None:
        event = events_pb2.BorrowerEvent.FromString(body)
        received.append((key, event.borrower.version))

    consumer = EventConsumer(
        server_urls["AMQP_URL"],
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

        async def cleared() -> bool:  # the clearing write may land after the delivery
            doc = await db.docs.find_one({"_id": "a"})
            return doc is not None and doc["outbox"] == [] and doc["outbox_count"] == 0

        await wait_until(cleared, limit=10)
        assert received == [
            ("borrower.updated", 1),
            ("borrower.updated", 2),
            ("borrower.updated", 3),
        ]
        # The same event published again (at-least-once delivery) reaches the handler again,
        # in order: the consumer keeps no ledger of handled ids, every handler is idempotent
        # by construction (versioned upserts, deterministic ids, guarded transitions).
        await publisher.publish(outbox_fields([borrower_event(2, "a")])["outbox"][0])
        await publisher.publish(outbox_fields([borrower_event(4, "a")])["outbox"][0])
        await wait_until(lambda: len(received) >= 5)
        await asyncio.sleep(0.3)
        assert [v for _, v in received] == [1, 2, 3, 2, 4]
    finally:
        await relay.stop()
        await consumer.stop()
        await publisher.close()


@dataclass
class CountedRelay:
    """A relay over a client that counts its statements, and what a consumer received of it
    (aggregate id, version), in order."""

    db: AsyncDatabase[Any]
    counter: StatementCounter
    relay: OutboxRelay
    received: list[tuple[str, int]]


@pytest.fixture
async def counted(
    server_urls: dict[str, str], store: Store, tmp_path: Path
) -> AsyncIterator[CountedRelay]:
    namespace = store.namespace
    counter = StatementCounter(tmp_path / "statements.json")
    client: AsyncMongoClient[Any] = AsyncMongoClient(
        server_urls["MONGODB_URL"], event_listeners=[counter]
    )
    received: list[tuple[str, int]] = []

    async def handler(key: str, body: bytes, headers: dict[str, Any]) -> None:
        event = events_pb2.BorrowerEvent.FromString(body)
        received.append((event.meta.aggregate_id, event.borrower.version))

    consumer = EventConsumer(
        server_urls["AMQP_URL"], f"{namespace}.test", ["borrower.*"], handler, namespace=namespace
    )
    publisher = EventPublisher(server_urls["AMQP_URL"], "test", namespace)
    db = client[store.db.name]
    try:
        await consumer.start()
        yield CountedRelay(
            db, counter, OutboxRelay(db, publisher, ["docs"], sweep_interval=30), received
        )
    finally:
        await consumer.stop()
        await publisher.close()
        await client.close()


async def test_a_relay_told_what_was_written_publishes_it_without_reading_and_keeps_order(
    counted: CountedRelay,
) -> None:
    """The writer hands the relay the outbox it wrote (one read less per write); a second
    write before the flush hands nothing, and the relay then reads the whole outbox."""
    db, counter, relay, received = counted.db, counted.counter, counted.relay, counted.received
    first = outbox_fields([borrower_event(1, "told")])
    await db.docs.insert_one({"_id": "told", **first})
    counter.counts.clear()
    relay.notify("docs", "told", first["outbox"])
    assert await relay.flush("docs", "told") == 1
    assert counter.counts["find docs"] == 0 and counter.counts["update docs"] == 1

    # Two writes before one flush: the second hands nothing, so the whole outbox is read.
    second = outbox_update([borrower_event(2, "told")])
    await db.docs.update_one({"_id": "told"}, second)
    relay.notify("docs", "told", second["$push"]["outbox"]["$each"])
    await db.docs.update_one({"_id": "told"}, outbox_update([borrower_event(3, "told")]))
    relay.notify("docs", "told")
    assert await relay.flush("docs", "told") == 2
    assert counter.counts["find docs"] == 1
    doc = await db.docs.find_one({"_id": "told"})
    assert doc is not None and doc["outbox"] == [] and doc["outbox_count"] == 0
    await wait_until(lambda: len(received) >= 3)
    assert received == [("told", 1), ("told", 2), ("told", 3)]


async def test_a_batch_of_documents_costs_one_read_and_one_write(counted: CountedRelay) -> None:
    """Documents waiting together are flushed together: the outboxes not handed over are read
    in one statement and every outbox is cleared in one bulk write, each in its order."""
    db, counter, relay, received = counted.db, counted.counter, counted.relay, counted.received
    ids = ["a", "b", "c", "d"]
    for doc_id in ids:
        fields = outbox_fields([borrower_event(n, doc_id) for n in (1, 2)])
        await db.docs.insert_one({"_id": doc_id, **fields})
        # The writer hands over a and b's outboxes; c and d's must be read.
        relay.notify("docs", doc_id, fields["outbox"] if doc_id in "ab" else None)
    counter.counts.clear()

    assert await relay.flush_many("docs", ids) == 8

    assert (counter.counts["find docs"], counter.counts["update docs"]) == (1, 1)
    assert await db.docs.find({"outbox_count": {"$ne": 0}}).to_list(None) == []
    await wait_until(lambda: len(received) >= 8)
    for doc_id in ids:
        assert [v for a, v in received if a == doc_id] == [1, 2]


async def test_two_relays_racing_publish_each_event_and_pop_nothing_twice(
    server_urls: dict[str, str], store: Store
) -> None:
    namespace, db = store.namespace, store.db
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


async def test_events_appended_while_the_relay_publishes_are_kept_and_each_doc_stays_in_order(
    server_urls: dict[str, str], store: Store
) -> None:
    namespace, db = store.namespace, store.db
    received: dict[str, list[int]] = {}

    async def handler(key: str, body: bytes, headers: dict[str, Any]) -> None:
        event = events_pb2.BorrowerEvent.FromString(body)
        received.setdefault(event.meta.aggregate_id, []).append(event.borrower.version)

    consumer = EventConsumer(
        server_urls["AMQP_URL"],
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

        async def outboxes_empty() -> bool:
            # An event can reach the consumer before the relay's clearing write lands.
            left = await db.docs.count_documents({"outbox_count": {"$ne": 0}})
            return left == 0 and await db.docs.count_documents({"outbox": {"$ne": []}}) == 0

        await wait_until(outboxes_empty, limit=10)
    finally:
        await relay.stop()
        await consumer.stop()
        await publisher.close()


class BrokerLink:
    """A TCP proxy in front of the broker that drops every connection at once, as a broker
    crash does to its clients (open connections reset, new ones refused), and comes back."""

    def __init__(self, amqp_url: str) -> None:
        self._parts = urlsplit(amqp_url)
        self._target = (self._parts.hostname or "127.0.0.1", self._parts.port or 5672)
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()
        self.port = 0
        #: When set, each new connection is reset this many seconds after it opened, as by
        #: a broker still starting (or failing again) while clients reconnect.
        self.reset_after: float | None = None

    @property
    def url(self) -> str:
        credentials = self._parts.netloc.rpartition("@")[0]
        netloc = f"{credentials}@127.0.0.1:{self.port}" if credentials else f"127.0.0.1:{self.port}"
        return urlunsplit(self._parts._replace(netloc=netloc))

    async def up(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._open):
            writer.transport.abort()
        self._open.clear()
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self._target)
        except OSError:
            writer.transport.abort()
            return
        self._open |= {writer, up_writer}
        if self.reset_after is not None:
            loop = asyncio.get_running_loop()
            loop.call_later(self.reset_after, writer.transport.abort)
            loop.call_later(self.reset_after, up_writer.transport.abort)

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.transport.abort()

        try:
            await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        finally:
            self._open -= {writer, up_writer}


async def test_publisher_relay_and_consumer_heal_when_the_broker_connection_drops_mid_publish(
    server_urls: dict[str, str], store: Store
) -> None:
    """Every broker connection reset while events are being written and published, then
    refused for a while: the connections come back on their own, the relay re-sends what was
    not confirmed, the consumer handles every event and the outboxes empty."""
    namespace, db = store.namespace, store.db
    link = BrokerLink(server_urls["AMQP_URL"])
    await link.up()
    received: list[tuple[str, int]] = []

    async def handler(key: str, body: bytes, headers: dict[str, Any]) -> None:
        event = events_pb2.BorrowerEvent.FromString(body)
        received.append((event.meta.aggregate_id, event.borrower.version))

    consumer = EventConsumer(
        link.url, f"{namespace}.test", ["borrower.*"], handler, namespace=namespace
    )
    publisher = EventPublisher(link.url, "test", namespace)
    relay = OutboxRelay(db, publisher, ["docs"], sweep_interval=0.2, workers=4)
    docs = [f"h{n}" for n in range(6)]
    written: list[tuple[str, int]] = []

    async def write(events: int) -> None:
        """Appends `events` more events across the documents, each write notified."""
        for _ in range(events):
            doc_id = docs[len(written) % len(docs)]
            version = sum(1 for d, _ in written if d == doc_id) + 1
            await db.docs.update_one(
                {"_id": doc_id}, outbox_update([borrower_event(version, doc_id)])
            )
            written.append((doc_id, version))
            relay.notify("docs", doc_id)

    try:
        await consumer.start()
        await publisher.connect()
        await db.docs.insert_many([{"_id": d, **outbox_fields([])} for d in docs])
        relay.start()
        writing = asyncio.create_task(write(60))
        await wait_until(lambda: len(received) >= 6)
        await link.cut()  # while events are being written, published and consumed
        await writing
        await write(30)  # written while the broker is unreachable
        await link.up()
        await write(30)
        await wait_until(lambda: set(received) >= set(written), limit=30)
        assert set(received) == set(written) and len(written) == 120

        # The relay takes an event off its outbox once the broker confirmed it, which can be
        # after a consumer already has it (a confirm lost in the reset is re-sent first).
        async def emptied() -> bool:
            left = await db.docs.count_documents({"outbox_count": {"$ne": 0}})
            return left == 0 and await db.docs.count_documents({"outbox": {"$ne": []}}) == 0

        await wait_until(emptied, limit=30)
    finally:
        await relay.stop()
        await consumer.stop()
        await publisher.close()
        await link.cut()


async def test_a_failing_handler_is_retried_and_only_a_poison_event_is_dead_lettered(
    server_urls: dict[str, str], store: Store
) -> None:
    namespace = store.namespace
    attempts: dict[str, int] = {}
    handled: list[str] = []
    fixed: list[bool] = []  # the bug behind the poison event, fixed

    async def handler(key: str, body: bytes, headers: dict[str, Any]) -> None:
        event = events_pb2.BorrowerEvent.FromString(body)
        aggregate = event.meta.aggregate_id
        attempts[aggregate] = attempts.get(aggregate, 0) + 1
        if (aggregate == "poison" and not fixed) or attempts[aggregate] <= 2:  # e.g. a restart
            raise ConnectionError("the database is restarting")
        handled.append(aggregate)

    queue = f"{namespace}.retry"
    consumer = EventConsumer(
        server_urls["AMQP_URL"],
        queue,
        ["borrower.*"],
        handler,
        namespace=namespace,
        retry_seconds=2.0,
    )
    publisher = EventPublisher(server_urls["AMQP_URL"], "test", namespace)
    connection = await aio_pika.connect_robust(server_urls["AMQP_URL"])
    try:
        await consumer.start()
        for aggregate in ("flaky", "poison"):
            await publisher.publish(outbox_fields([borrower_event(1, aggregate)])["outbox"][0])
        channel = await connection.channel()
        dlq = await channel.declare_queue(f"{queue}.dlq", durable=True)

        async def dead_lettered() -> list[str]:
            found = []
            while (message := await dlq.get(no_ack=True, fail=False)) is not None:
                found.append(events_pb2.BorrowerEvent.FromString(message.body).meta.aggregate_id)
            return found

        await wait_until(lambda: handled == ["flaky"] and attempts.get("poison", 0) >= 3)
        parked: list[str] = []
        deadline = asyncio.get_running_loop().time() + 10
        while not parked and asyncio.get_running_loop().time() < deadline:
            parked = await dead_lettered()
            await asyncio.sleep(0.2)
        assert parked == ["poison"]  # the flaky one was handled, not parked
        assert attempts["flaky"] == 3 and handled == ["flaky"]

        # Parked again, then listed and, once "fixed", replayed: handled once, DLQ empty.
        await publisher.publish(outbox_fields([borrower_event(2, "poison")])["outbox"][0])
        await wait_until(lambda: attempts["poison"] >= 6)
        listed: list[Any] = []
        deadline = asyncio.get_running_loop().time() + 10
        while not listed and asyncio.get_running_loop().time() < deadline:
            listed = await dead_letters(server_urls["AMQP_URL"], queue)
            await asyncio.sleep(0.2)
        assert [(d.event_id, d.routing_key, d.reason) for d in listed] == [
            ("evt_poison_2", "borrower.updated", "rejected")
        ]
        assert len(await dead_letters(server_urls["AMQP_URL"], queue)) == 1  # listing kept it
        fixed.append(True)
        seen: list[str] = []
        count = await replay_dead_letters(
            server_urls["AMQP_URL"], namespace, queue, progress=lambda d: seen.append(d.event_id)
        )
        assert count == 1 and seen == ["evt_poison_2"]
        await wait_until(lambda: handled == ["flaky", "poison"])
        assert await dead_letters(server_urls["AMQP_URL"], queue) == []
    finally:
        await consumer.stop()
        await publisher.close()
        await connection.close()
        async with await aio_pika.connect(server_urls["AMQP_URL"]) as cleanup:
            channel = await cleanup.channel()
            for name in (queue, f"{queue}.dlq"):
                await channel.queue_delete(name)


async def test_an_unprocessable_event_is_parked_at_once_with_its_reason(
    server_urls: dict[str, str], store: Store
) -> None:
    """A handler that knows an event can never be handled (a borrower that does not exist)
    parks it at once, not after `retry_seconds`; the reason is listed with it, and a replay
    sends it to the consumers again as it was published, without the reason."""
    namespace = store.namespace
    borrowers: set[str] = set()  # the borrowers the consumer knows
    attempts: dict[str, int] = {}
    handled: list[tuple[str, dict[str, Any]]] = []

    async def handler(key: str, body: bytes, headers: dict[str, Any]) -> None:
        aggregate = events_pb2.BorrowerEvent.FromString(body).meta.aggregate_id
        attempts[aggregate] = attempts.get(aggregate, 0) + 1
        if aggregate not in borrowers:
            raise Unprocessable(f"borrower {aggregate} does not exist")
        handled.append((aggregate, headers))

    queue = f"{namespace}.unprocessable"
    consumer = EventConsumer(
        server_urls["AMQP_URL"],
        queue,
        ["borrower.*"],
        handler,
        namespace=namespace,
        retry_seconds=60.0,  # a retried event would still be retrying when the test ends
    )
    publisher = EventPublisher(server_urls["AMQP_URL"], "test", namespace)
    try:
        await consumer.start()
        published = outbox_fields([borrower_event(1, "bor_ghost")])["outbox"][0]
        await publisher.publish(published)

        listed: list[Any] = []

        async def parked() -> bool:
            listed[:] = await dead_letters(server_urls["AMQP_URL"], queue)
            return bool(listed)

        await wait_until(parked, limit=10)
        assert attempts == {"bor_ghost": 1}  # not retried
        (letter,) = listed
        assert (letter.event_id, letter.routing_key, letter.type) == (
            "evt_bor_ghost_1",
            "borrower.updated",
            "kopa.user.v1.BorrowerEvent",
        )
        assert letter.reason == "borrower bor_ghost does not exist" and letter.died_at
        # The parked copy kept what was published: body, id, type and headers.
        async with await aio_pika.connect(server_urls["AMQP_URL"]) as connection:
            channel = await connection.channel()
            dlq = await channel.declare_queue(f"{queue}.dlq", durable=True)
            copy = await dlq.get(no_ack=False)
            assert copy.body == outbox_body(published)
            assert (copy.message_id, copy.type) == ("evt_bor_ghost_1", "kopa.user.v1.BorrowerEvent")
            assert (copy.headers or {})["aggregate_id"] == "bor_ghost"
            assert (copy.headers or {})["producer"] == "test"
            await copy.nack(requeue=True)

        # The borrower arrives (the cause is fixed): the replayed event is handled, once,
        # as it was published, without the reason it was parked for.
        borrowers.add("bor_ghost")
        count = await replay_dead_letters(
            server_urls["AMQP_URL"], namespace, queue, progress=lambda _: None
        )
        assert count == 1
        await wait_until(lambda: handled)
        ((aggregate, headers),) = handled
        assert aggregate == "bor_ghost" and attempts == {"bor_ghost": 2}
        assert PARKED_HEADER not in headers and "x-death" not in headers
        assert headers["replayed_from"] == f"{queue}.dlq"
        assert await dead_letters(server_urls["AMQP_URL"], queue) == []
    finally:
        await consumer.stop()
        await publisher.close()
        async with await aio_pika.connect(server_urls["AMQP_URL"]) as cleanup:
            channel = await cleanup.channel()
            for name in (queue, f"{queue}.dlq"):
                await channel.queue_delete(name)


async def test_a_consumer_consumes_again_after_the_broker_dropped_it_mid_handling(
    server_urls: dict[str, str], store: Store
) -> None:
    """The broker goes while events are being handled (their acknowledgements can no longer
    reach it), then for a while accepts connections and drops them mid-set-up, as one
    restarting does: once it is steady, the consumer handles every event again."""
    namespace = store.namespace
    link = BrokerLink(server_urls["AMQP_URL"])
    await link.up()
    received: list[int] = []

    async def handler(key: str, body: bytes, headers: dict[str, Any]) -> None:
        event = events_pb2.BorrowerEvent.FromString(body)
        if event.borrower.version <= 6:
            await asyncio.sleep(1)  # still handling these when the connection goes
        received.append(event.borrower.version)

    consumer = EventConsumer(
        link.url, f"{namespace}.test", ["borrower.*"], handler, namespace=namespace
    )
    publisher = EventPublisher(server_urls["AMQP_URL"], "test", namespace)  # not through the link
    try:
        await consumer.start()
        await publisher.connect()
        for version in range(1, 7):  # one aggregate each: handled concurrently
            await publisher.publish(outbox_entry(borrower_event(version, f"b{version}")))
        await asyncio.sleep(0.5)
        await link.cut()
        for reset_after in (0.005, 0.02, 0.05, 0.1):
            link.reset_after = reset_after
            await link.up()
            await asyncio.sleep(1.5)
            await link.cut()
        link.reset_after = None
        await link.up()

        for version in range(7, 17):
            await publisher.publish(outbox_entry(borrower_event(version, f"b{version}")))
        await wait_until(lambda: set(received) == set(range(1, 17)), limit=60)
    finally:
        await consumer.stop()
        await publisher.close()
        await link.cut()
