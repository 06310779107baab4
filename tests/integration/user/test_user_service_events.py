"""user_service's institution events over the real broker: a new institution is announced
(``institution.created``) from its own document's outbox, relayed like the borrower events."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from kopa.user.v1 import events_pb2, user_pb2
from tests.support.auth_fleet import Fleet, running_fleet
from tests.support.broker import observing, remove_broker_namespace
from tests.support.rpc import md
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def fleet(server_urls: dict[str, str]) -> AsyncIterator[Fleet]:
    async with running_fleet(server_urls) as started:
        yield started
    await remove_broker_namespace(server_urls["AMQP_URL"], started.ns, ["observer", "user"])


async def test_a_new_institution_is_announced_once_from_its_outbox(fleet: Fleet) -> None:
    seen: list[tuple[str, events_pb2.InstitutionEvent]] = []

    async def observe(key: str, body: bytes, headers: dict[str, Any]) -> None:
        seen.append((key, events_pb2.InstitutionEvent.FromString(body)))

    root = await fleet.login(fleet.root_email, fleet.root_password)
    async with observing(fleet.urls["AMQP_URL"], fleet.ns, "observer", ["institution.*"], observe):
        created = (
            await fleet.users.CreateInstitution(
                user_pb2.CreateInstitutionRequest(name="Tumaini MFI", currency="UGX"),
                metadata=md(root.access_token),
            )
        ).institution

        def announced() -> list[events_pb2.InstitutionEvent]:
            return [e for _, e in seen if e.meta.aggregate_id == created.id]

        await wait_until(announced)
        users_db = fleet.db.client[f"{fleet.ns}_user"]
        # Published, then taken off the institution's outbox.
        await wait_until(
            lambda: users_db.institutions.count_documents({"_id": created.id, "outbox_count": 0})
        )

    ((key, event),) = [(k, e) for k, e in seen if e.meta.aggregate_id == created.id]
    assert key == "institution.created" and event.meta.event_type == key
    assert event.meta.institution_id == created.id and event.meta.aggregate_version == 1
    assert event.meta.event_id and event.meta.occurred_at.seconds > 0
    me = await fleet.me(root.access_token)
    assert event.meta.actor_id == me.id
    assert event.institution == created  # as the caller was answered, create time included
