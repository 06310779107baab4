"""A message to a person: its life from queued to delivered or failed, and when to try
again. Pure."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum


class Status(StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"
    SUPPRESSED = "suppressed"


#: How often a channel outage is retried: quickly at first (a provider restarting), then
#: every half hour; a message still unsent after a day fails (a reminder is stale by then).
BACKOFF = (
    timedelta(seconds=10),
    timedelta(seconds=30),
    timedelta(minutes=2),
    timedelta(minutes=10),
    timedelta(minutes=30),
)
GIVE_UP_AFTER = timedelta(hours=24)


def retry_at(attempts: int, now: datetime, created: datetime) -> datetime | None:
    """When to try a message again after `attempts` failed attempts, or None to give up."""
    if now - created >= GIVE_UP_AFTER:
        return None
    return now + BACKOFF[min(attempts, len(BACKOFF)) - 1]


def message_id(event_id: str, template: str, channel: str, recipient_key: str) -> str:
    """The same event never makes the same message twice: the id is derived from what
    makes it (the event, the template, the channel and to whom)."""
    digest = hashlib.sha256(f"{event_id}|{template}|{channel}|{recipient_key}".encode())
    return "ntf_" + digest.hexdigest()[:28]


# Kannel's delivery-report types (dlr-mask bits): what each means for the message.
DLR_DELIVERED = 1
DLR_FAILED = 2
DLR_BUFFERED = 4
DLR_SMSC_SUBMIT = 8
DLR_SMSC_REJECT = 16


def status_after_report(current: Status, dlr_type: int) -> Status:
    """The status a delivery report leaves: final reports win over intermediate ones and a
    final status never changes again (reports may arrive out of order)."""
    if current in (Status.DELIVERED, Status.FAILED, Status.SUPPRESSED):
        return current
    if dlr_type == DLR_DELIVERED:
        return Status.DELIVERED
    if dlr_type in (DLR_FAILED, DLR_SMSC_REJECT):
        return Status.FAILED
    return Status.SENT


@dataclass(frozen=True)
class Notification:
    """One message to one recipient: a borrower (SMS, email) or a staff member (an alert by
    email, `borrower_id` empty)."""

    id: str
    institution_id: str
    branch_id: str
    borrower_id: str
    loan_id: str
    channel: str  # sms | email
    recipient: str
    template: str  # a templates.Kind value; empty for an alert to staff
    language: str
    subject: str
    text: str
    event_id: str
    status: Status
    create_time: datetime
    next_attempt_time: datetime | None = None
    attempts: int = 0
    provider_id: str = ""
    failure_reason: str = ""
    send_time: datetime | None = None
    delivery_time: datetime | None = None
    staff_user_id: str = ""
    version: int = 1

    def sent(self, provider_id: str, now: datetime) -> Notification:
        """After the provider accepted it. A delivery report that arrived first (the SMS
        gateway can report before the sender records the submission) keeps its status."""
        return replace(
            self,
            status=Status.SENT if self.status is Status.QUEUED else self.status,
            provider_id=provider_id,
            attempts=self.attempts + 1,
            send_time=now,
            next_attempt_time=None,
            failure_reason="",
            version=self.version + 1,
        )

    def not_sent(self, reason: str, now: datetime, *, final: bool) -> Notification:
        """After a failed attempt: queued again after the back-off, or failed for good."""
        attempts = self.attempts + 1
        again = None if final else retry_at(attempts, now, self.create_time)
        return replace(
            self,
            status=Status.QUEUED if again else Status.FAILED,
            attempts=attempts,
            next_attempt_time=again,
            failure_reason=reason,
            version=self.version + 1,
        )

    def reported(self, dlr_type: int, reply: str, now: datetime) -> Notification:
        status = status_after_report(self.status, dlr_type)
        if status is self.status:
            return self
        return replace(
            self,
            status=status,
            delivery_time=now if status is Status.DELIVERED else self.delivery_time,
            failure_reason=reply if status is Status.FAILED else self.failure_reason,
            version=self.version + 1,
        )
