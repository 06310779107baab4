"""Domain events over RabbitMQ (aio-pika), relayed from the documents that caused them.

Writing side: a state change and its events are ONE atomic document write: the events go into
the document's `outbox` array (and `outbox_count` is incremented) in the same update. The
`OutboxRelay` then publishes them with publisher confirms and pulls them out; a periodic sweep
finds documents whose events were not yet published (the process died between write and
publish), so no event is lost. Delivery is at least once.

Reading side: `EventConsumer` binds a durable queue (with a dead-letter queue) to routing keys.
Delivery is at least once, so every handler must be idempotent by construction (versioned
upserts, deterministic ids, guarded transitions): a redelivered or replayed event changes
nothing. No ledger of handled event ids is kept: it cost two statements per event and
protected nothing those handlers do not already protect. A handler that fails is retried for
a while, then its event is parked in the dead-letter queue; one that knows the event can
never be handled (it is about a borrower that does not exist) raises `Unprocessable` and the
event is parked at once, with the handler's reason for `dead_letters` to show.
"""

from __future__ import annotations

import asyncio
import contextlib
import zlib
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aio_pika
from aio_pika.abc import AbstractConnection, AbstractIncomingMessage, AbstractRobustConnection
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from opentelemetry import context as otel_context
from opentelemetry import trace
from pymongo import UpdateOne
from pymongo.asynchronous.database import AsyncDatabase
from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    retry_if_not_exception_type,
    stop_after_delay,
    wait_exponential,
)

from kopa.common.v1 import common_pb2
from shared import context as request_context
from shared.ids import new_id
from shared.logging import get_logger
from shared.tracing import extract_context, inject_headers

log = get_logger(__name__)


def exchange_name(namespace: str) -> str:
    return f"{namespace}.events"


def dead_letter_exchange_name(namespace: str) -> str:
    return f"{namespace}.events.dlx"


def event_meta(
    event_type: str,
    *,
    institution_id: str,
    aggregate_id: str,
    aggregate_version: int,
    branch_id: str = "",
) -> common_pb2.EventMeta:
    ctx = request_context.current()
    now = Timestamp()
    now.FromDatetime(datetime.now(UTC))
    return common_pb2.EventMeta(
        event_id=new_id("evt"),
        event_type=event_type,
        institution_id=institution_id,
        branch_id=branch_id,
        aggregate_id=aggregate_id,
        aggregate_version=aggregate_version,
        occurred_at=now,
        request_id=ctx.request_id,
        actor_id=ctx.principal.user_id if ctx.principal else "",
    )


#: The message header naming the aggregate an event is about: a consumer handles one
#: aggregate's events one at a time, in the order they arrive.
AGGREGATE_HEADER = "aggregate_id"


def outbox_entry(event: Message) -> dict[str, Any]:
    """The stored form of an event (any proto message with a `meta` field)."""
    meta: common_pb2.EventMeta = event.meta  # type: ignore[attr-defined]
    headers: dict[str, Any] = {}
    inject_headers(headers)
    return {
        "id": meta.event_id,
        "routing_key": meta.event_type,
        "type": event.DESCRIPTOR.full_name,
        # Compressed: a loan event carries the loan's snapshot (about 3 KB, 1 KB compressed),
        # and every byte in the outbox is written, read and rewritten with the document.
        "zbody": zlib.compress(event.SerializeToString(), 1),
        "headers": {**headers, AGGREGATE_HEADER: meta.aggregate_id},
    }


def outbox_body(entry: dict[str, Any]) -> bytes:
    """The serialized event of an outbox entry (``body`` in entries stored uncompressed)."""
    return zlib.decompress(entry["zbody"]) if "zbody" in entry else bytes(entry["body"])


def outbox_fields(events: Iterable[Message]) -> dict[str, Any]:
    """The outbox fields of a document inserted together with its first events."""
    entries = [outbox_entry(e) for e in events]
    return {"outbox": entries, "outbox_count": len(entries)}


def outbox_update(events: Iterable[Message]) -> dict[str, Any]:
    """The update operators that append `events` to a document's outbox."""
    entries = [outbox_entry(e) for e in events]
    if not entries:
        return {}
    return {"$push": {"outbox": {"$each": entries}}, "$inc": {"outbox_count": len(entries)}}


async def connect_broker(url: str, name: str) -> AbstractRobustConnection:
    """A self-healing broker connection, waiting up to a minute for the broker to come up."""
    async for attempt in _broker_attempts(60):
        with attempt:
            return await aio_pika.connect_robust(url, client_properties={"connection_name": name})
    raise AssertionError("unreachable: tenacity re-raises the last error")


def _broker_attempts(
    seconds: float, retry_on: tuple[type[BaseException], ...] = (ConnectionError, OSError)
) -> AsyncRetrying:
    return AsyncRetrying(
        stop=stop_after_delay(seconds),
        wait=wait_exponential(max=5),
        retry=retry_if_exception_type(retry_on),
        reraise=True,
    )


class EventPublisher:
    """Publishes with confirms to the durable topic exchange; reconnects on its own."""

    def __init__(self, amqp_url: str, service: str, namespace: str) -> None:
        self._url = amqp_url
        self._service = service
        self._namespace = namespace
        self._connection: AbstractRobustConnection | None = None
        self._exchange: aio_pika.abc.AbstractExchange | None = None
        self._lock = asyncio.Lock()

    async def connect(self) -> None:
        async with self._lock:
            if self._exchange is not None:
                return
            self._connection = await connect_broker(self._url, self._service)
            channel = await self._connection.channel(publisher_confirms=True)
            self._exchange = await channel.declare_exchange(
                exchange_name(self._namespace), aio_pika.ExchangeType.TOPIC, durable=True
            )

    async def publish(self, entry: dict[str, Any]) -> None:
        if self._exchange is None:
            await self.connect()
        assert self._exchange is not None
        message = aio_pika.Message(
            body=outbox_body(entry),
            message_id=entry["id"],
            type=entry["type"],
            content_type="application/x-protobuf",
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            headers={**entry.get("headers", {}), "producer": self._service},
            app_id=self._service,
        )
        # Returns once the broker has confirmed the (persistent) message.
        await self._exchange.publish(message, routing_key=entry["routing_key"], mandatory=False)

    async def close(self) -> None:
        if self._connection is not None:
            await self._connection.close()
        self._connection = self._exchange = None


class OutboxRelay:
    """Moves events from documents' outboxes to the broker, in order, at least once.

    A notified document is flushed at once by one of ``workers`` tasks; one document is
    flushed by one worker at a time, so its events keep their order. Few workers, so that
    under load the documents notified while a worker publishes wait for it as one batch.
    A relay that falls behind lets outboxes grow, and every read of a document then decodes
    its unpublished events too, so the relay must keep up with the writers: each worker
    takes every document waiting (up to ``batch``) at once, reads the outboxes the writers
    did not hand over in one statement and takes the published events off them in one bulk
    write.
    """

    def __init__(
        self,
        db: AsyncDatabase[Any],
        publisher: EventPublisher,
        collections: Iterable[str],
        *,
        sweep_interval: float = 1.0,
        workers: int = 2,
        batch: int = 64,
    ) -> None:
        self._db = db
        self._publisher = publisher
        self._collections = list(collections)
        self._interval = sweep_interval
        self._workers = workers
        self._batch = batch
        self._pending: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self._busy: set[tuple[str, Any]] = set()
        self._again: set[tuple[str, Any]] = set()
        # Outbox entries known from the write that caused them (see `notify`), by document.
        self._written: dict[tuple[str, Any], list[dict[str, Any]]] = {}
        self._last_notified = 0.0
        self._tasks: list[asyncio.Task[None]] = []

    async def ensure_indexes(self) -> None:
        for name in self._collections:
            await self._db[name].create_index("outbox_count")

    @property
    def backlog(self) -> int:
        """Documents notified and not flushed yet."""
        return self._pending.qsize() + len(self._busy)

    def notify(
        self, collection: str, doc_id: Any, written: list[dict[str, Any]] | None = None
    ) -> None:
        """Asks for a prompt publish of a document just written (the sweep is the safety net).

        `written`: the outbox entries the write stored, when the writer knows they are the
        whole outbox (it was empty before): the relay then publishes them without reading
        the document back, one statement less per write. The clearing write stays guarded,
        so a stale list only costs a read later."""
        self._last_notified = asyncio.get_running_loop().time()
        key = (collection, doc_id)
        if written:
            self._written[key] = list(written)
        else:
            self._written.pop(key, None)
        self._pending.put_nowait(key)

    async def flush(self, collection: str, doc_id: Any) -> int:
        """Publishes one document's outbox and takes the published events off; returns how
        many it took off."""
        return await self.flush_many(collection, [doc_id])

    async def flush_many(self, collection: str, doc_ids: Sequence[Any]) -> int:
        """`flush` for several documents of one collection: their outboxes read in one
        statement (those the writers did not hand over) and cleared in one bulk write, so a
        relay under load costs a statement per batch, not per document."""
        coll = self._db[collection]
        outboxes: dict[Any, list[dict[str, Any]]] = {}
        unknown = []
        for doc_id in doc_ids:
            entries = self._written.pop((collection, doc_id), None)
            if entries is None:
                unknown.append(doc_id)
            elif entries:
                outboxes[doc_id] = entries
        if unknown:
            async for doc in coll.find({"_id": {"$in": unknown}}, {"outbox": 1}):
                if doc.get("outbox"):
                    outboxes[doc["_id"]] = doc["outbox"]
        if not outboxes:
            return 0

        async def publish(entries: list[dict[str, Any]]) -> None:
            for entry in entries:  # one document's in order; documents side by side
                await self._publisher.publish(entry)

        await asyncio.gather(*(publish(entries) for entries in outboxes.values()))
        # Each outbox off in one write, unless events were appended (or taken off by another
        # relay) meanwhile: the count and the first id no longer match.
        cleared = await coll.bulk_write(
            [
                UpdateOne(
                    {"_id": doc_id, "outbox_count": len(entries), "outbox.0.id": entries[0]["id"]},
                    {"$set": {"outbox": [], "outbox_count": 0}},
                )
                for doc_id, entries in outboxes.items()
            ],
            ordered=False,
        )
        published = sum(len(entries) for entries in outboxes.values())
        if cleared.modified_count == len(outboxes):
            return published
        # Some outbox changed meanwhile (the result does not say which): take the published
        # events off one by one. Events are appended at the end, so a published one is at the
        # front; the guard on its id pops nothing twice (another relay, the sweep, or the
        # bulk clear above), and only element-wise $pop and positional filters are portable
        # to FerretDB here.
        # (The count then leaves out what the bulk clear did take off: it is a statistic.)
        taken_off = 0
        for doc_id, entries in outboxes.items():
            for entry in entries:
                popped = await coll.update_one(
                    {"_id": doc_id, "outbox.0.id": entry["id"]},
                    {"$pop": {"outbox": -1}, "$inc": {"outbox_count": -1}},
                )
                if not popped.modified_count:
                    break
                taken_off += 1
        return taken_off

    async def sweep(self) -> int:
        published = 0
        for name in self._collections:
            cursor = self._db[name].find({"outbox_count": {"$gt": 0}}, {"_id": 1}).limit(500)
            ids = [doc["_id"] async for doc in cursor]
            for start in range(0, len(ids), self._batch):
                published += await self.flush_many(name, ids[start : start + self._batch])
        return published

    async def _work(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = [await self._pending.get()]
            while len(batch) < self._batch and not self._pending.empty():
                batch.append(self._pending.get_nowait())  # what else is waiting, as one batch
            mine: list[tuple[str, Any]] = []
            for key in batch:
                if key in self._busy:
                    self._again.add(key)  # its worker flushes it once more when done
                elif key not in mine:
                    self._busy.add(key)
                    mine.append(key)
            todo = mine
            try:
                while todo:
                    self._again.difference_update(todo)
                    for collection in {c for c, _ in todo}:
                        await self.flush_many(collection, [i for c, i in todo if c == collection])
                    todo = [key for key in todo if key in self._again]
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("outbox_relay_failed", documents=len(todo))
                for key in todo:
                    loop.call_later(self._interval, self._pending.put_nowait, key)
            finally:
                self._busy.difference_update(mine)

    async def _sweep_when_idle(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self._interval)
            if loop.time() - self._last_notified < self._interval or self.backlog:
                # Busy writers notify, and notified documents are still being flushed: the
                # sweep only catches what a crash left (on FerretDB it reads every document).
                continue
            try:
                await self.sweep()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("outbox_sweep_failed")

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._work(), name=f"outbox-relay-{n}")
            for n in range(self._workers)
        ]
        self._tasks.append(asyncio.create_task(self._sweep_when_idle(), name="outbox-sweep"))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []


Handler = Callable[[str, bytes, dict[str, Any]], Awaitable[None]]


class Unprocessable(Exception):
    """Raised by a handler for an event that no retry can make it handle (an event about a
    borrower that does not exist): the consumer parks the event in its dead-letter queue at
    once, with `reason` (what `dead_letters` shows), instead of retrying it for
    ``retry_seconds``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


#: The header of an event a consumer parked itself (`Unprocessable`): a table of the handler's
#: ``reason``, the event's own ``routing_key`` (the parked copy travels under the queue's
#: name) and the ``time`` it was parked. The broker's ``x-death`` says as much of the events
#: it dead-letters, but only the broker may write that one.
PARKED_HEADER = "parked"


class EventConsumer:
    """A durable queue bound to routing keys, with a dead-letter queue. Handlers must be
    idempotent (see the module docstring)."""

    def __init__(
        self,
        amqp_url: str,
        queue: str,
        bindings: Iterable[str],
        handler: Handler,
        *,
        namespace: str,
        prefetch: int = 64,
        retry_seconds: float = 30.0,
    ) -> None:
        self._namespace = namespace
        self._retry_seconds = retry_seconds
        self._url = amqp_url
        self._queue_name = queue
        self._bindings = list(bindings)
        self._handler = handler
        self._prefetch = prefetch
        self._connection: AbstractConnection | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._lost = asyncio.Event()
        self._tracer = trace.get_tracer(__name__)
        # Up to `prefetch` deliveries are handled at once, but one aggregate's one at a time:
        # (lock, how many deliveries hold or wait for it) per aggregate id.
        self._aggregates: dict[str, tuple[asyncio.Lock, int]] = {}

    async def start(self) -> None:
        """Declares the queues and starts consuming (waiting up to a minute for the broker),
        then keeps consuming across broker restarts."""
        connection = await self._consume(first=True)
        self._supervisor = asyncio.create_task(
            self._supervise(connection), name=f"consumer {self._queue_name}"
        )

    async def _supervise(self, connection: AbstractConnection) -> None:
        """Reconnects and consumes again whenever the connection or its channel is lost.

        Why not aio-pika's robust connection: after a broker crash it sometimes restores the
        connection but not the consumer (mosquito/aio-pika#231, still open with aio-pika
        10.2), and the queue then fills with nobody reading it (seen in
        tests/e2e/test_faults.py: scoring's queue held 33 events after the broker came back).
        A plain connection per attempt, declared and consumed from scratch, has no such state.
        """
        while True:
            await self._lost.wait()
            log.warning("event_consumer_disconnected", queue=self._queue_name)
            with contextlib.suppress(Exception):
                await connection.close()
            connection = await self._consume(first=False)
            log.info("event_consumer_reconnected", queue=self._queue_name)

    async def _consume(self, *, first: bool) -> AbstractConnection:
        """A new connection consuming the queue. The first attempt gives up after a minute
        on a broker that is down, and at once on any other error (a misdeclared queue);
        later ones, after a broker restart, retry whatever the error, forever (the broker
        may be up but not ready yet)."""
        attempts = _broker_attempts(60)
        if not first:
            attempts = _broker_attempts(float("inf"), retry_on=(Exception,))
            attempts.before_sleep = lambda state: log.warning(
                "event_consumer_reconnect_failed",
                queue=self._queue_name,
                attempt=state.attempt_number,
                error=repr(state.outcome.exception() if state.outcome else None),
            )
        async for attempt in attempts:
            with attempt:
                lost = asyncio.Event()
                connection = await aio_pika.connect(
                    self._url, client_properties={"connection_name": self._queue_name}
                )
                try:
                    await self._declare_and_consume(connection, lost)
                except BaseException:
                    with contextlib.suppress(Exception):
                        await connection.close()
                    raise
                self._connection, self._lost = connection, lost
                return connection
        raise AssertionError("unreachable: tenacity re-raises the last error")

    async def _declare_and_consume(
        self, connection: AbstractConnection, lost: asyncio.Event
    ) -> None:
        connection.close_callbacks.add(lambda *_: lost.set())
        channel = await connection.channel()
        channel.close_callbacks.add(lambda *_: lost.set())
        await channel.set_qos(prefetch_count=self._prefetch)
        exchange = await channel.declare_exchange(
            exchange_name(self._namespace), aio_pika.ExchangeType.TOPIC, durable=True
        )
        dlx = await channel.declare_exchange(
            dead_letter_exchange_name(self._namespace), aio_pika.ExchangeType.DIRECT, durable=True
        )
        dlq = await channel.declare_queue(f"{self._queue_name}.dlq", durable=True)
        await dlq.bind(dlx, routing_key=self._queue_name)
        queue = await channel.declare_queue(
            self._queue_name,
            durable=True,
            arguments={
                "x-dead-letter-exchange": dead_letter_exchange_name(self._namespace),
                "x-dead-letter-routing-key": self._queue_name,
            },
        )
        for key in self._bindings:
            await queue.bind(exchange, routing_key=key)
        # The channel confirms publishes (aio-pika's default): an event parked on it is
        # acknowledged only once the broker holds the parked copy.
        await queue.consume(lambda message: self._on_message(message, dlx))

    async def _on_message(
        self, message: AbstractIncomingMessage, dlx: aio_pika.abc.AbstractExchange
    ) -> None:
        # Taken before the first await, so one aggregate's deliveries queue in arrival order.
        aggregate = str((message.headers or {}).get(AGGREGATE_HEADER) or "")
        if not aggregate:
            await self._process(message, dlx)
            return
        lock, users = self._aggregates.get(aggregate, (asyncio.Lock(), 0))
        self._aggregates[aggregate] = (lock, users + 1)
        try:
            async with lock:
                await self._process(message, dlx)
        finally:
            lock, users = self._aggregates[aggregate]
            if users == 1:
                del self._aggregates[aggregate]
            else:
                self._aggregates[aggregate] = (lock, users - 1)

    async def _process(
        self, message: AbstractIncomingMessage, dlx: aio_pika.abc.AbstractExchange
    ) -> None:
        event_id = message.message_id or ""
        routing_key = message.routing_key or ""
        token = otel_context.attach(extract_context(message.headers))
        try:
            with self._tracer.start_as_current_span(f"consume {routing_key}"):
                try:
                    await self._handle(routing_key, message)
                except Unprocessable as exc:
                    log.warning(
                        "event_unprocessable", event_id=event_id, key=routing_key, reason=exc.reason
                    )
                    await self._park(message, dlx, exc.reason)
                    return
                except Exception:
                    # Still failing after the retries: a poison event, parked in the DLQ for a
                    # person (not requeued: it would come straight back, forever).
                    log.exception("event_dead_lettered", event_id=event_id, key=routing_key)
                    await message.nack(requeue=False)
                    return
                await message.ack()
        finally:
            otel_context.detach(token)

    async def _park(
        self, message: AbstractIncomingMessage, dlx: aio_pika.abc.AbstractExchange, reason: str
    ) -> None:
        """Parks `message` in the dead-letter queue as the queue's own dead-lettering would
        (the dead-letter exchange, the queue's name as routing key), with its id, type and
        headers and `reason` in `PARKED_HEADER`, then acknowledges it."""
        parked: aio_pika.abc.HeadersType = {
            "reason": reason,
            "routing_key": message.routing_key or "",
            "time": datetime.now(UTC),
        }
        await dlx.publish(
            aio_pika.Message(
                body=message.body,
                message_id=message.message_id,
                type=message.type,
                content_type=message.content_type,
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                headers={**(message.headers or {}), PARKED_HEADER: parked},
                app_id=message.app_id,
            ),
            routing_key=self._queue_name,
        )
        await message.ack()

    async def _handle(self, routing_key: str, message: AbstractIncomingMessage) -> None:
        """The handler, retried with back-off for ``retry_seconds``: a database or peer that
        restarts for a few seconds delays an event, it does not dead-letter it; `Unprocessable`
        is not retried. (The broker's redelivered flag says nothing here: after a broker
        crash every unacknowledged message comes back flagged.)"""
        async for attempt in AsyncRetrying(
            stop=stop_after_delay(self._retry_seconds),
            wait=wait_exponential(multiplier=0.2, max=5),
            retry=retry_if_not_exception_type(Unprocessable),
            reraise=True,
        ):
            with attempt:
                try:
                    await self._handler(routing_key, message.body, dict(message.headers or {}))
                except Unprocessable:
                    raise
                except Exception:
                    log.warning(
                        "event_handler_failed",
                        event_id=message.message_id or "",
                        key=routing_key,
                        attempt=attempt.retry_state.attempt_number,
                        exc_info=True,
                    )
                    raise

    async def stop(self) -> None:
        if self._supervisor is not None:
            self._supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._supervisor
        if self._connection is not None:
            await self._connection.close()


@dataclass(frozen=True)
class DeadLetter:
    event_id: str
    routing_key: str
    type: str
    reason: str
    died_at: str


def _dead_letter(message: AbstractIncomingMessage) -> DeadLetter:
    parked: Any = (message.headers or {}).get(PARKED_HEADER)
    if isinstance(parked, dict):
        return DeadLetter(
            event_id=message.message_id or "",
            routing_key=str(parked.get("routing_key", "")),
            type=message.type or "",
            reason=str(parked.get("reason", "")),
            died_at=str(parked.get("time", "")),
        )
    deaths: Any = (message.headers or {}).get("x-death")
    death: dict[str, Any] = dict(deaths[0]) if isinstance(deaths, list) and deaths else {}
    keys = death.get("routing-keys") or [message.routing_key or ""]
    return DeadLetter(
        event_id=message.message_id or "",
        routing_key=str(keys[0]),
        type=message.type or "",
        reason=str(death.get("reason", "")),
        died_at=str(death.get("time", "")),
    )


async def dead_letters(amqp_url: str, queue: str) -> list[DeadLetter]:
    """The events parked in ``queue``'s dead-letter queue, left where they are."""
    async with await aio_pika.connect(amqp_url) as connection:
        channel = await connection.channel()
        dlq = await channel.declare_queue(f"{queue}.dlq", durable=True)
        held = []
        while (message := await dlq.get(no_ack=False, fail=False)) is not None:
            held.append(message)
        for message in held:
            await message.nack(requeue=True)
        return [_dead_letter(m) for m in held]


async def replay_dead_letters(
    amqp_url: str, namespace: str, queue: str, *, progress: Callable[[DeadLetter], None]
) -> int:
    """Publishes every event parked in ``queue``'s dead-letter queue again, with its own
    routing key and id, then takes it off the DLQ (once the broker confirmed the publish).
    Other consumers bound to the key receive it again too and skip it (processed ids)."""
    replayed = 0
    async with await aio_pika.connect(amqp_url) as connection:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.declare_exchange(
            exchange_name(namespace), aio_pika.ExchangeType.TOPIC, durable=True
        )
        dlq = await channel.declare_queue(f"{queue}.dlq", durable=True)
        while (message := await dlq.get(no_ack=False, fail=False)) is not None:
            letter = _dead_letter(message)
            # What the broker or the consumer wrote when it parked the event goes: parked
            # again, the event is parked afresh.
            headers = {
                k: v
                for k, v in (message.headers or {}).items()
                if k not in ("x-death", PARKED_HEADER)
            }
            await exchange.publish(
                aio_pika.Message(
                    body=message.body,
                    message_id=message.message_id,
                    type=message.type,
                    content_type=message.content_type,
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                    headers={**headers, "replayed_from": f"{queue}.dlq"},
                    app_id=message.app_id,
                ),
                routing_key=letter.routing_key,
            )
            await message.ack()
            replayed += 1
            progress(letter)
    return replayed
