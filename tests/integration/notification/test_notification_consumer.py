"""notification_service's consumer on the real broker: loan events it can act on make their
message, and an event for a borrower that does not exist is parked at once with the reason,
not retried; once the borrower is known, a replay makes the message, once."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from kopa.common.v1 import common_pb2
from kopa.loan.v1 import events_pb2 as ev
from kopa.loan.v1 import loan_pb2
from notification_service.entrypoints.events import BINDINGS, EventHandler
from notification_service.service_layer.ports import Person
from shared.events import (
    EventConsumer,
    EventPublisher,
    dead_letters,
    outbox_fields,
    replay_dead_letters,
)
from tests.support.broker import remove_broker_namespace
from tests.support.notification_fakes import NotificationWorld
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration


def approved(borrower_id: str, version: int) -> ev.LoanApproved:
    stamp = Timestamp()
    stamp.FromDatetime(datetime(2026, 12, 7, 9, 0, tzinfo=UTC))
    return ev.LoanApproved(
        meta=common_pb2.EventMeta(
            event_id=f"evt_{borrower_id}_{version}",
            event_type="loan.approved",
            institution_id="inst_1",
            branch_id="br_1",
            aggregate_id=f"loan_{borrower_id}",
            aggregate_version=version,
            occurred_at=stamp,
        ),
        loan=ev.LoanPosition(
            loan_id=f"loan_{borrower_id}",
            institution_id="inst_1",
            branch_id="br_1",
            borrower_id=borrower_id,
            currency="KES",
            status=loan_pb2.LOAN_STATUS_APPROVED,
        ),
    )


async def test_an_event_for_an_unknown_borrower_is_parked_with_the_reason(
    server_urls: dict[str, str],
) -> None:
    namespace = f"it{secrets.token_hex(4)}"
    queue = f"{namespace}.notification"
    world = NotificationWorld()
    world.directory.people["bor_known"] = Person(
        "bor_known", "br_1", "Achieng", "Otieno", "+254712345678"
    )
    consumer = EventConsumer(
        server_urls["AMQP_URL"],
        queue,
        BINDINGS,
        EventHandler(world.intake),
        namespace=namespace,
        retry_seconds=60.0,  # a retried event would still be retrying when the test ends
    )
    publisher = EventPublisher(server_urls["AMQP_URL"], "loan", namespace)
    try:
        await consumer.start()
        for event in (approved("bor_known", 2), approved("bor_ghost", 2)):
            await publisher.publish(outbox_fields([event])["outbox"][0])

        listed: list[Any] = []

        async def parked() -> bool:
            listed[:] = await dead_letters(server_urls["AMQP_URL"], queue)
            return bool(listed)

        await wait_until(parked, limit=15)
        (letter,) = listed
        assert letter.event_id == "evt_bor_ghost_2" and letter.routing_key == "loan.approved"
        assert "borrower bor_ghost" in letter.reason and "does not exist" in letter.reason
        texts = [n.text for n in world.notifications.held.values()]
        assert texts and all("Achieng" in t for t in texts)

        # The borrower is registered after all: the replayed event makes its message, once.
        world.directory.people["bor_ghost"] = Person(
            "bor_ghost", "br_1", "Wanjiru", "Kamau", "+254722000000"
        )
        replayed = await replay_dead_letters(
            server_urls["AMQP_URL"], namespace, queue, progress=lambda _: None
        )
        assert replayed == 1

        def for_ghost() -> list[str]:
            return [n.id for n in world.notifications.held.values() if n.borrower_id == "bor_ghost"]

        await wait_until(for_ghost, limit=15)
        assert len(for_ghost()) == 1
        assert await dead_letters(server_urls["AMQP_URL"], queue) == []
    finally:
        await consumer.stop()
        await publisher.close()
        await remove_broker_namespace(server_urls["AMQP_URL"], namespace, ["notification"])
