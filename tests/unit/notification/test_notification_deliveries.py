"""Messages and webhook deliveries: retries, giving up, delivery reports out of order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from notification_service.domain import messages as msg
from notification_service.domain import webhooks as w
from notification_service.domain.messages import Notification, Status

pytestmark = pytest.mark.unit

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def queued() -> Notification:
    return Notification(
        id="ntf_1",
        institution_id="i",
        branch_id="b",
        borrower_id="bor",
        loan_id="l",
        channel="sms",
        recipient="+254712345678",
        template="repayment_received",
        language="en",
        subject="",
        text="hi",
        event_id="evt_1",
        status=Status.QUEUED,
        create_time=T0,
        next_attempt_time=T0,
    )


def test_an_outage_queues_the_message_again_until_a_day_has_passed() -> None:
    n = queued().not_sent("unavailable", T0, final=False)
    assert n.status is Status.QUEUED and n.next_attempt_time == T0 + msg.BACKOFF[0]
    late = n.not_sent("unavailable", T0 + msg.GIVE_UP_AFTER, final=False)
    assert late.status is Status.FAILED and late.next_attempt_time is None
    refused = queued().not_sent("refused", T0, final=True)
    assert refused.status is Status.FAILED and refused.attempts == 1


@pytest.mark.parametrize(
    ("reports", "final"),
    [
        ([msg.DLR_SMSC_SUBMIT, msg.DLR_DELIVERED], Status.DELIVERED),
        ([msg.DLR_DELIVERED, msg.DLR_SMSC_SUBMIT], Status.DELIVERED),  # late intermediate
        ([msg.DLR_BUFFERED, msg.DLR_FAILED, msg.DLR_DELIVERED], Status.FAILED),
        ([msg.DLR_SMSC_REJECT], Status.FAILED),
        ([msg.DLR_BUFFERED], Status.SENT),
    ],
)
def test_delivery_reports_in_any_order_end_final(reports: list[int], final: Status) -> None:
    n = queued().sent("ntf_1", T0)
    for dlr in reports:
        n = n.reported(dlr, "reply", T0)
    assert n.status is final


def test_one_message_per_event_template_channel_and_recipient() -> None:
    one = msg.message_id("evt_1", "repayment_received", "sms", "bor_1")
    assert one == msg.message_id("evt_1", "repayment_received", "sms", "bor_1")
    assert one != msg.message_id("evt_1", "repayment_received", "email", "bor_1")


def test_a_delivery_follows_the_schedule_for_about_27_hours_then_fails() -> None:
    total = sum(w.SCHEDULE, timedelta())
    assert timedelta(hours=24) < total < timedelta(hours=28)
    d = w.Delivery(
        id="msg_1",
        institution_id="i",
        endpoint_id="e",
        event_type="loan.disbursed",
        event_id="evt_1",
        body=b"{}",
        status=w.DeliveryStatus.PENDING,
        create_time=T0,
        next_attempt_time=T0,
    )
    now = T0
    for _ in range(len(w.SCHEDULE) - 1):
        d = d.tried(w.Attempt(now, 503, "", 5))
        assert d.status is w.DeliveryStatus.PENDING and d.next_attempt_time
        now = d.next_attempt_time
    d = d.tried(w.Attempt(now, 0, "timed out", 10_000))
    assert d.status is w.DeliveryStatus.FAILED and d.attempts == len(w.SCHEDULE)
    ok = d.replayed(now).tried(w.Attempt(now, 204, "", 3))
    assert ok.status is w.DeliveryStatus.SUCCEEDED and ok.response_status == 204
