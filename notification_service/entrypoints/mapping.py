"""The domain's objects as kopa.notification.v1 messages and back."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp

from kopa.notification.v1 import notification_pb2 as pb
from notification_service.domain.alerts import Alert, Rule, Trigger
from notification_service.domain.messages import Notification
from notification_service.domain.schedule import Schedule
from notification_service.domain.webhooks import Delivery, Endpoint
from notification_service.service_layer.ports import Preferences
from notification_service.service_layer.templates import TemplateView
from shared.dates import to_proto_date
from shared.errors import ValidationError
from shared.money import from_money, to_money
from shared.wire import enum_prefix, enum_word


def _ts(value: datetime | None) -> Timestamp | None:
    if value is None:
        return None
    stamp = Timestamp()
    stamp.FromDatetime(value)
    return stamp


def _number(enum: Any, word: str) -> int:
    """A word as its number in `enum` (0 for an empty word): `sms` -> CHANNEL_SMS."""
    if not word:
        return 0
    return int(enum.Value(enum_prefix(enum.DESCRIPTOR.name) + word.upper()))


def word(enum: type, number: int, field: str) -> str:
    return enum_word(enum.DESCRIPTOR, number, field)  # type: ignore[attr-defined]


# --- templates, messages, preferences ----------------------------------------------------------


def template_to_proto(v: TemplateView) -> pb.Template:
    return pb.Template(
        kind=pb.TemplateKind.ValueType(_number(pb.TemplateKind, v.kind.value)),
        channel=pb.Channel.ValueType(_number(pb.Channel, v.channel.value)),
        language=v.language,
        subject=v.subject,
        body=v.body,
        default=v.default,
        variables=v.variables,
        update_time=_ts(v.saved.update_time) if v.saved else None,
        updated_by=v.saved.updated_by if v.saved else "",
    )


def template_key(kind: int, channel: int, language: str) -> tuple[str, str, str]:
    """(kind, channel, language) as words, for the use case to judge."""
    return (
        word(pb.TemplateKind, kind, "kind"),
        word(pb.Channel, channel, "channel"),
        language,
    )


def notification_to_proto(n: Notification) -> pb.Notification:
    return pb.Notification(
        id=n.id,
        institution_id=n.institution_id,
        branch_id=n.branch_id,
        borrower_id=n.borrower_id,
        loan_id=n.loan_id,
        channel=pb.Channel.ValueType(_number(pb.Channel, n.channel)),
        recipient=n.recipient,
        template=pb.TemplateKind.ValueType(_number(pb.TemplateKind, n.template)),
        language=n.language,
        subject=n.subject,
        text=n.text,
        status=pb.MessageStatus.ValueType(_number(pb.MessageStatus, n.status.value)),
        attempts=n.attempts,
        provider_id=n.provider_id,
        failure_reason=n.failure_reason,
        event_id=n.event_id,
        create_time=_ts(n.create_time),
        send_time=_ts(n.send_time),
        delivery_time=_ts(n.delivery_time),
        next_attempt_time=_ts(n.next_attempt_time),
    )


def preferences_to_proto(p: Preferences) -> pb.BorrowerPreferences:
    return pb.BorrowerPreferences(
        borrower_id=p.borrower_id,
        sms=p.sms,
        email=p.email,
        email_address=p.email_address,
        language=p.language,
        opted_out=p.opted_out,
        update_time=_ts(p.update_time),
        updated_by=p.updated_by,
    )


def preferences_of(m: pb.BorrowerPreferences) -> Preferences:
    return Preferences(
        institution_id="",
        borrower_id=m.borrower_id,
        sms=m.sms,
        email=m.email,
        email_address=m.email_address,
        language=m.language,
        opted_out=m.opted_out,
    )


# --- webhooks ----------------------------------------------------------------------------------


def endpoint_to_proto(e: Endpoint, *, with_secret: bool = False) -> pb.WebhookEndpoint:
    return pb.WebhookEndpoint(
        id=e.id,
        institution_id=e.institution_id,
        url=e.url,
        event_types=list(e.event_types),
        description=e.description,
        status=pb.WebhookEndpointStatus.ValueType(
            _number(pb.WebhookEndpointStatus, e.status.value)
        ),
        secret=e.secret if with_secret else "",
        disabled_reason=e.disabled_reason,
        create_time=_ts(e.create_time),
        created_by=e.created_by,
    )


def delivery_to_proto(d: Delivery) -> pb.WebhookDelivery:
    return pb.WebhookDelivery(
        id=d.id,
        endpoint_id=d.endpoint_id,
        event_type=d.event_type,
        event_id=d.event_id,
        status=pb.DeliveryStatus.ValueType(_number(pb.DeliveryStatus, d.status.value)),
        attempts=d.attempts,
        response_status=d.response_status,
        create_time=_ts(d.create_time),
        next_attempt_time=_ts(d.next_attempt_time),
        attempt_log=[
            pb.DeliveryAttempt(
                time=_ts(a.time),
                response_status=a.response_status,
                error=a.error,
                duration_ms=a.duration_ms,
            )
            for a in d.attempt_log
        ],
    )


# --- alerts --------------------------------------------------------------------------------------


def rule_to_proto(r: Rule) -> pb.AlertRule:
    return pb.AlertRule(
        id=r.id,
        institution_id=r.institution_id,
        name=r.name,
        trigger=pb.AlertTrigger.ValueType(_number(pb.AlertTrigger, r.trigger.value)),
        days=r.days,
        ratio=r.ratio,
        hours=r.hours,
        amount=to_money(r.amount, r.currency) if r.amount is not None else None,
        roles=list(r.roles),
        branch_ids=list(r.branch_ids),
        channels=[pb.Channel.ValueType(_number(pb.Channel, c)) for c in r.channels],
        enabled=r.enabled,
        create_time=_ts(r.create_time),
        created_by=r.created_by,
    )


def rule_of(m: pb.AlertRule) -> Rule:
    trigger = word(pb.AlertTrigger, m.trigger, "trigger")
    if not trigger:
        raise ValidationError.of("trigger", "name what raises the alert")
    channels = []
    for n, number in enumerate(m.channels):
        channel = word(pb.Channel, number, f"channels[{n}]")
        channels.append(channel)
    amount: Decimal | None = from_money(m.amount, field="amount") if m.HasField("amount") else None
    return Rule(
        id=m.id,
        institution_id="",
        name=m.name,
        trigger=Trigger(trigger),
        days=m.days,
        ratio=m.ratio,
        hours=m.hours,
        amount=amount,
        currency=m.amount.currency_code if amount is not None else "",
        roles=tuple(m.roles),
        branch_ids=tuple(m.branch_ids),
        channels=tuple(dict.fromkeys(channels)),
        enabled=m.enabled,
    )


def alert_to_proto(a: Alert) -> pb.Alert:
    return pb.Alert(
        id=a.id,
        institution_id=a.institution_id,
        branch_id=a.branch_id,
        rule_id=a.rule_id,
        trigger=pb.AlertTrigger.ValueType(_number(pb.AlertTrigger, a.trigger.value)),
        title=a.title,
        detail=a.detail,
        subject_type=a.subject_type,
        subject_id=a.subject_id,
        status=pb.AlertStatus.ValueType(_number(pb.AlertStatus, a.status.value)),
        assignee_id=a.assignee_id,
        history=[
            pb.AlertStep(
                action=s.action,
                actor_id=s.actor_id,
                time=_ts(s.time),
                note=s.note,
                assignee_id=s.assignee_id,
            )
            for s in a.history
        ],
        create_time=_ts(a.create_time),
        update_time=_ts(a.update_time),
        roles=list(a.roles),
    )


# --- the schedule --------------------------------------------------------------------------------


def schedule_to_proto(s: Schedule, now: datetime) -> pb.Schedule:
    last = (
        pb.ScheduleRun(business_date=to_proto_date(s.last_business_date), time=_ts(s.last_run_time))
        if s.last_business_date
        else None
    )
    upcoming = s.next_run(now)
    following = (
        pb.ScheduleRun(business_date=to_proto_date(upcoming[0]), time=_ts(upcoming[1]))
        if upcoming
        else None
    )
    return pb.Schedule(
        institution_id=s.institution_id,
        time_zone=s.time_zone,
        close_of_business_time=s.close_of_business_time,
        reminder_days_before=s.reminder_days_before,
        quiet_hours_start=s.quiet_hours_start,
        quiet_hours_end=s.quiet_hours_end,
        default_language=s.default_language,
        enabled=s.enabled,
        last_run=last,
        next_run=following,
    )


def schedule_of(m: pb.Schedule) -> Schedule:
    return Schedule(
        institution_id=m.institution_id,
        time_zone=m.time_zone,
        close_of_business_time=m.close_of_business_time,
        reminder_days_before=m.reminder_days_before,
        quiet_hours_start=m.quiet_hours_start,
        quiet_hours_end=m.quiet_hours_end,
        default_language=m.default_language,
        enabled=m.enabled,
    )
