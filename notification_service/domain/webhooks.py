"""Webhook deliveries: the retry schedule of the Standard Webhooks specification's reference
implementation, and what a delivery's attempts mean. Pure."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

#: The wait before each attempt: immediately, then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and
#: 10 h: eight attempts over about 27 hours before a delivery fails.
SCHEDULE = (
    timedelta(0),
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=10),
)


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class EndpointStatus(StrEnum):
    ENABLED = "enabled"
    DISABLED = "disabled"


def next_attempt(
    attempts: int, now: datetime, schedule: tuple[timedelta, ...] = SCHEDULE
) -> datetime | None:
    """After `attempts` failed attempts, when to try again; None when the schedule is spent."""
    if attempts >= len(schedule):
        return None
    return now + schedule[attempts]


def delivery_id(endpoint_id: str, event_id: str) -> str:
    """The `webhook-id`: one per endpoint and event, the same on every retry and replay, so
    a receiver that saw it already can ignore it."""
    return "msg_" + hashlib.sha256(f"{endpoint_id}|{event_id}".encode()).hexdigest()[:28]


@dataclass(frozen=True)
class Endpoint:
    id: str
    institution_id: str
    url: str
    event_types: tuple[str, ...]
    description: str
    secret: str
    status: EndpointStatus
    create_time: datetime
    created_by: str = ""
    disabled_reason: str = ""


@dataclass(frozen=True)
class Attempt:
    time: datetime
    response_status: int
    error: str
    duration_ms: int


@dataclass(frozen=True)
class Delivery:
    id: str
    institution_id: str
    endpoint_id: str
    event_type: str
    event_id: str
    body: bytes
    status: DeliveryStatus
    create_time: datetime
    next_attempt_time: datetime | None
    attempts: int = 0
    response_status: int = 0
    attempt_log: tuple[Attempt, ...] = ()
    version: int = 1

    def tried(self, attempt: Attempt, schedule: tuple[timedelta, ...] = SCHEDULE) -> Delivery:
        """After one attempt: succeeded, pending the next attempt, or failed for good."""
        attempts = self.attempts + 1
        ok = 200 <= attempt.response_status < 300
        again = None if ok else next_attempt(attempts, attempt.time, schedule)
        status = (
            DeliveryStatus.SUCCEEDED
            if ok
            else DeliveryStatus.PENDING
            if again
            else DeliveryStatus.FAILED
        )
        return replace(
            self,
            status=status,
            attempts=attempts,
            response_status=attempt.response_status,
            next_attempt_time=again,
            attempt_log=(*self.attempt_log, attempt)[-20:],
            version=self.version + 1,
        )

    def replayed(self, now: datetime) -> Delivery:
        return replace(
            self, status=DeliveryStatus.PENDING, next_attempt_time=now, version=self.version + 1
        )
