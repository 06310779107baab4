"""Outbox entries: the event a relay publishes is the event that was written."""

from __future__ import annotations

import pytest

from kopa.common.v1 import common_pb2
from kopa.user.v1 import events_pb2, user_pb2
from shared.events import outbox_body, outbox_entry

pytestmark = pytest.mark.unit


def test_an_entry_gives_back_the_serialized_event_and_stores_it_smaller() -> None:
    event = events_pb2.BorrowerEvent(
        meta=common_pb2.EventMeta(
            event_id="evt_1", event_type="borrower.created", aggregate_id="b1"
        ),
        borrower=user_pb2.Borrower(id="b1", first_name="Amina " * 200, version=3),
    )
    entry = outbox_entry(event)
    assert outbox_body(entry) == event.SerializeToString()
    assert len(entry["zbody"]) < len(event.SerializeToString()) // 4
    assert (entry["id"], entry["routing_key"], entry["headers"]["aggregate_id"]) == (
        "evt_1",
        "borrower.created",
        "b1",
    )


def test_an_entry_stored_uncompressed_still_reads() -> None:
    assert outbox_body({"id": "evt_1", "body": b"\x0a\x03abc"}) == b"\x0a\x03abc"
