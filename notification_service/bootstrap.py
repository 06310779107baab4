"""Wires notification_service: repositories, channels, peers, use cases, consumer, workers,
servicers.

Configuration (environment only, on top of the shared ``ServiceSettings``):

- ``KOPA_SERVICE_SECRET`` (required): the internal credential for the service's own tokens
  (it reads borrowers and staff and runs the close of business on the institution's clock).
- ``SMS_PROVIDER``: ``kannel`` (default) or ``http`` (an HTTP aggregator, see
  ``adapters/sms.py``); ``KANNEL_SENDSMS_URL``, ``KANNEL_USERNAME``, ``KANNEL_PASSWORD``;
  for ``http``: ``SMS_HTTP_URL`` and ``SMS_HTTP_API_KEY`` (required), ``SMS_HTTP_USERNAME``,
  ``SMS_HTTP_SENDER``, and ``SMS_HTTP_CALLBACK_FIELD`` when the aggregator takes a
  delivery-report URL per message.
- ``SMS_DELIVERY_REPORT_URL``: where the SMS gateway reports delivery (the gateway's
  ``/v1/sms/delivery-reports``, as the SMS gateway reaches it).
- ``SMTP_URL`` (``smtp://host:port``, ``smtp+starttls://`` or ``smtps://``, with
  ``user:password@`` when the relay wants it) and ``SMTP_FROM``.
- ``WEBHOOKS_ALLOW_PRIVATE`` / ``WEBHOOKS_ALLOW_HTTP``: let webhooks reach private addresses
  and plain http (default: outside production only).
- ``WEBHOOK_RETRY_SECONDS``: the retry schedule as comma-separated waits (default: the
  Standard Webhooks one, about 27 hours); for tests and drills.
- ``CLOCK_TICK_SECONDS`` (30): how often the clock looks for a business day to close; 0
  leaves it to a scheduler outside (the Kubernetes CronJob runs ``python -m
  notification_service.entrypoints.clock_tick``).
- ``CLOCK_DEFAULT_ENABLED`` (true): whether a new institution's close of business runs on
  its own from the start.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import grpc
from pydantic import Field

from kopa.auth.v1 import auth_pb2_grpc
from kopa.notification.v1 import notification_pb2 as pb
from kopa.notification.v1 import notification_pb2_grpc as pb_grpc
from notification_service.adapters import repository as r
from notification_service.adapters.email import SmtpEmail
from notification_service.adapters.live import RedisLive
from notification_service.adapters.peers import PeerBooks, PeerDirectory, TokenFor
from notification_service.adapters.sms import sms_provider
from notification_service.adapters.webhooks import HttpWebhooks, new_secret
from notification_service.domain import webhooks as w
from notification_service.entrypoints.events import BINDINGS, EventHandler
from notification_service.entrypoints.grpc_servicer import (
    AlertServicer,
    NotificationServicer,
    ScheduleServicer,
    WebhookServicer,
)
from notification_service.entrypoints.workers import Loop
from notification_service.service_layer.alerts import Alerting
from notification_service.service_layer.business_days import BusinessDays
from notification_service.service_layer.dispatch import DeliveryReports, Dispatcher
from notification_service.service_layer.intake import Intake
from notification_service.service_layer.messages import Messenger
from notification_service.service_layer.templates import TemplateBook
from notification_service.service_layer.webhooks import Webhooks
from shared.config import ServiceCredentialSettings, ServiceSettings
from shared.service import Runtime
from shared.service_tokens import ServiceTokens

SERVICE_NAME = "notification_service"


class Settings(ServiceSettings, ServiceCredentialSettings):
    sms_provider: str = Field("kannel", pattern="^(kannel|http)$")
    kannel_sendsms_url: str = "http://127.0.0.1:13013/cgi-bin/sendsms"
    kannel_username: str = "kopa"
    kannel_password: str = ""
    sms_http_url: str = ""
    sms_http_api_key: str = ""
    sms_http_username: str = ""
    sms_http_sender: str = ""
    sms_http_callback_field: str = ""
    sms_delivery_report_url: str = "http://127.0.0.1:8000/v1/sms/delivery-reports"
    smtp_url: str = "smtp://127.0.0.1:2525"
    smtp_from: str = "Kopa <no-reply@kopa.local>"
    webhooks_allow_private: bool | None = None
    webhooks_allow_http: bool | None = None
    webhook_retry_seconds: str = ""
    clock_tick_seconds: float = Field(30.0, ge=0)
    clock_default_enabled: bool = True

    @classmethod
    def service_name(cls) -> str:
        return "notification"

    def retry_schedule(self) -> tuple[timedelta, ...]:
        if not self.webhook_retry_seconds:
            return w.SCHEDULE
        return tuple(
            timedelta(seconds=float(s)) for s in self.webhook_retry_seconds.split(",") if s
        )

    def allow_private(self) -> bool:
        return (
            self.webhooks_allow_private
            if self.webhooks_allow_private is not None
            else not self.production
        )

    def allow_http(self) -> bool:
        return (
            self.webhooks_allow_http
            if self.webhooks_allow_http is not None
            else not self.production
        )


@dataclass
class Wiring:
    intake: Intake
    days: BusinessDays
    dispatcher: Dispatcher
    webhooks: Webhooks
    alerting: Alerting
    loops: list[Loop]
    register: Callable[[grpc.aio.Server], list[str]]
    repositories: list[Any]


def wire(settings: Settings, runtime: Runtime) -> Wiring:
    db = runtime.db
    assert runtime.redis is not None and settings.kopa_service_secret is not None
    secret = settings.kopa_service_secret.get_secret_value()
    tokens = ServiceTokens(
        auth_pb2_grpc.AuthServiceStub(runtime.channel("auth")), secret, service=SERVICE_NAME
    )
    token: TokenFor = tokens.token
    directory = PeerDirectory(runtime.channel("user"), runtime.channel("auth"), token)
    live = RedisLive(runtime.redis, settings.kopa_namespace)

    notifications = r.MongoNotifications(db)
    positions = r.MongoPositions(db)
    endpoints = r.MongoEndpoints(db)
    deliveries = r.MongoDeliveries(db)
    alerts = r.MongoAlerts(db)

    days = BusinessDays(
        r.MongoSchedules(db),
        r.MongoLeases(db),
        PeerBooks(runtime.channel("loan"), token),
        positions,
        enabled_by_default=settings.clock_default_enabled,
    )
    book = TemplateBook(r.MongoTemplates(db))
    send_loop = Loop("send messages", lambda: dispatcher.send_due(), 1.0)
    messenger = Messenger(
        notifications,
        r.MongoPreferences(db),
        directory,
        book,
        days.schedule_of,
        live,
        send_loop.wake,
    )
    days.messenger = messenger
    reports = DeliveryReports(
        hashlib.sha256(b"kopa delivery reports|" + secret.encode()).digest(),
        settings.sms_delivery_report_url,
    )
    dispatcher = Dispatcher(
        notifications,
        sms_provider(settings),
        SmtpEmail(settings.smtp_url, settings.smtp_from),
        reports,
        live,
    )
    sender = HttpWebhooks(allow_private=settings.allow_private(), allow_http=settings.allow_http())
    runtime.on_close(sender.aclose)
    webhooks = Webhooks(
        endpoints,
        deliveries,
        sender,
        new_secret,
        schedule=settings.retry_schedule(),
    )
    webhook_loop = Loop("deliver webhooks", webhooks.deliver_due, 1.0)
    webhooks.wake = webhook_loop.wake
    alerting = Alerting(
        r.MongoRules(db),
        alerts,
        positions,
        r.MongoSuspense(db),
        directory,
        messenger,
        webhooks,
        live,
    )
    webhooks.on_disabled = alerting.on_webhook_disabled
    intake = Intake(positions, r.MongoSuspense(db), messenger, alerting, webhooks, days)
    loops = [send_loop, webhook_loop, Loop("suspense check", alerting.check_suspense, 60.0)]
    if settings.clock_tick_seconds:
        loops.append(Loop("clock", days.tick, settings.clock_tick_seconds))

    def register(server: grpc.aio.Server) -> list[str]:
        pb_grpc.add_NotificationServiceServicer_to_server(
            NotificationServicer(book, messenger, dispatcher), server
        )
        pb_grpc.add_WebhookServiceServicer_to_server(WebhookServicer(webhooks), server)
        pb_grpc.add_AlertServiceServicer_to_server(AlertServicer(alerting), server)
        pb_grpc.add_ScheduleServiceServicer_to_server(ScheduleServicer(days), server)
        return [
            pb.DESCRIPTOR.services_by_name[name].full_name
            for name in ("NotificationService", "WebhookService", "AlertService", "ScheduleService")
        ]

    return Wiring(
        intake=intake,
        days=days,
        dispatcher=dispatcher,
        webhooks=webhooks,
        alerting=alerting,
        loops=loops,
        register=register,
        repositories=[notifications, positions, endpoints, deliveries, alerts],
    )


async def setup(runtime: Runtime) -> Callable[[grpc.aio.Server], list[str]]:
    settings = runtime.settings
    assert isinstance(settings, Settings)
    wiring = wire(settings, runtime)
    for repository in wiring.repositories:
        await repository.ensure_indexes()
    runtime.consume(BINDINGS, EventHandler(wiring.intake))
    for loop in wiring.loops:
        loop.start()
        runtime.on_close(loop.stop)
    return wiring.register
