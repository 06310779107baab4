"""A test's own view of a namespace's events, and the removal of what the namespace made on
the broker: shared by the service worlds (loan, payment, scoring)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterable

import aio_pika

from shared.events import EventConsumer, Handler


@contextlib.asynccontextmanager
async def observing(
    amqp_url: str, namespace: str, queue: str, bindings: Iterable[str], handle: Handler
) -> AsyncIterator[None]:
    """A consumer of the namespace's events on `bindings`, in a queue of the test's own
    (`<namespace>.<queue>`), started before the block and stopped after it."""
    queue_name = f"{namespace}.{queue}"
    consumer = EventConsumer(amqp_url, queue_name, bindings, handle, namespace=namespace)
    await consumer.start()
    try:
        yield
    finally:
        await consumer.stop()


async def remove_broker_namespace(amqp_url: str, namespace: str, queues: Iterable[str]) -> None:
    """Deletes the namespace's exchanges and the `queues` (with their dead-letter queues);
    what is already gone is skipped."""
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        for queue in queues:
            for name in (f"{namespace}.{queue}", f"{namespace}.{queue}.dlq"):
                with contextlib.suppress(Exception):
                    await channel.queue_delete(name)
        for exchange in (f"{namespace}.events", f"{namespace}.events.dlx"):
            with contextlib.suppress(Exception):
                await channel.exchange_delete(exchange)
