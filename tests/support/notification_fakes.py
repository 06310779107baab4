"""In-memory fakes of notification_service's ports, subclassing the same interfaces as the
MongoDB adapters, and a world that wires the use cases over them for unit tests."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

from notification_service.domain.alerts import Alert, AlertStatus, Rule, Trigger
from notification_service.domain.messages import Notification, Status
from notification_service.domain.positions import LoanPosition
from notification_service.domain.schedule import Schedule
from notification_service.domain.templates import Channel, Kind
from notification_service.domain.webhooks import Delivery, DeliveryStatus, Endpoint, EndpointStatus
from notification_service.service_layer import ports
from notification_service.service_layer.alerts import Alerting
from notification_service.service_layer.business_days import BusinessDays
from notification_service.service_layer.dispatch import DeliveryReports, Dispatcher
from notification_service.service_layer.intake import Intake
from notification_service.service_layer.messages import Messenger
from notification_service.service_layer.ports import (
    BorrowerNotFound,
    Email,
    LiveItem,
    Page,
    Person,
    Preferences,
    SavedTemplate,
    SmsSubmission,
    StaffMember,
    SuspenseItem,
    WebhookRequest,
    WebhookResponse,
)
from notification_service.service_layer.templates import TemplateBook
from notification_service.service_layer.webhooks import Webhooks


def _page(items: list[Any], size: int, token: str) -> Page[Any]:
    start = int(token or 0)
    size = size or 50
    end = start + size
    return Page(items[start:end], str(end) if end < len(items) else "")


class FakeSchedules(ports.Schedules):
    def __init__(self) -> None:
        self.held: dict[str, Schedule] = {}

    async def get(self, institution_id: str) -> Schedule | None:
        return self.held.get(institution_id)

    async def add(self, schedule: Schedule) -> Schedule:
        return self.held.setdefault(schedule.institution_id, replace(schedule, version=1))

    async def save(self, schedule: Schedule) -> bool:
        held = self.held[schedule.institution_id]
        if held.version != schedule.version:
            return False
        self.held[schedule.institution_id] = replace(
            schedule,
            last_business_date=held.last_business_date,
            last_run_time=held.last_run_time,
            version=held.version + 1,
        )
        return True

    async def mark_closed(self, institution_id: str, day: date, at: datetime) -> None:
        held = self.held[institution_id]
        if held.last_business_date is None or held.last_business_date < day:
            self.held[institution_id] = replace(held, last_business_date=day, last_run_time=at)

    async def enabled(self) -> list[Schedule]:
        return [s for s in self.held.values() if s.enabled]


class FakeLeases(ports.Leases):
    def __init__(self) -> None:
        self.held: dict[str, tuple[str, datetime]] = {}

    async def acquire(self, name: str, owner: str, now: datetime, until: datetime) -> bool:
        held = self.held.get(name)
        if held and held[0] != owner and held[1] > now:
            return False
        self.held[name] = (owner, until)
        return True

    async def release(self, name: str, owner: str) -> None:
        if self.held.get(name, ("",))[0] == owner:
            del self.held[name]


class FakeTemplates(ports.Templates):
    def __init__(self) -> None:
        self.held: dict[tuple[str, Kind, Channel, str], SavedTemplate] = {}

    async def get(
        self, institution_id: str, kind: Kind, channel: Channel, language: str
    ) -> SavedTemplate | None:
        return self.held.get((institution_id, kind, channel, language))

    async def all(self, institution_id: str) -> list[SavedTemplate]:
        return [t for k, t in self.held.items() if k[0] == institution_id]

    async def put(self, template: SavedTemplate) -> None:
        key = (template.institution_id, template.kind, template.channel, template.language)
        self.held[key] = template

    async def delete(
        self, institution_id: str, kind: Kind, channel: Channel, language: str
    ) -> None:
        self.held.pop((institution_id, kind, channel, language), None)


class FakeNotifications(ports.Notifications):
    def __init__(self) -> None:
        self.held: dict[str, Notification] = {}

    async def add(self, notification: Notification) -> bool:
        if notification.id in self.held:
            return False
        self.held[notification.id] = notification
        return True

    async def get(self, notification_id: str) -> Notification | None:
        return self.held.get(notification_id)

    async def save(self, notification: Notification) -> bool:
        if self.held[notification.id].version != notification.version - 1:
            return False
        self.held[notification.id] = notification
        return True

    async def page(
        self, scope: dict[str, str], borrower_id: str, loan_id: str, page_size: int, page_token: str
    ) -> Page[Notification]:
        items = [
            n
            for n in sorted(self.held.values(), key=lambda n: (n.create_time, n.id), reverse=True)
            if all(getattr(n, k) == v for k, v in scope.items())
            and (not borrower_id or n.borrower_id == borrower_id)
            and (not loan_id or n.loan_id == loan_id)
        ]
        return _page(items, page_size, page_token)

    async def claim_due(
        self, now: datetime, lease_until: datetime, limit: int
    ) -> list[Notification]:
        return [
            n
            for n in self.held.values()
            if n.status is Status.QUEUED and n.next_attempt_time and n.next_attempt_time <= now
        ][:limit]


class FakePreferences(ports.PreferencesStore):
    def __init__(self) -> None:
        self.held: dict[tuple[str, str], Preferences] = {}

    async def get(self, institution_id: str, borrower_id: str) -> Preferences | None:
        return self.held.get((institution_id, borrower_id))

    async def put(self, preferences: Preferences) -> None:
        self.held[(preferences.institution_id, preferences.borrower_id)] = preferences


class FakeEndpoints(ports.Endpoints):
    def __init__(self) -> None:
        self.held: dict[str, Endpoint] = {}

    async def add(self, endpoint: Endpoint) -> None:
        self.held[endpoint.id] = endpoint

    async def get(self, institution_id: str, endpoint_id: str) -> Endpoint | None:
        e = self.held.get(endpoint_id)
        return e if e and e.institution_id == institution_id else None

    async def page(self, institution_id: str, page_size: int, page_token: str) -> Page[Endpoint]:
        items = [e for e in self.held.values() if e.institution_id == institution_id]
        return _page(items, page_size, page_token)

    async def save(self, endpoint: Endpoint) -> None:
        self.held[endpoint.id] = endpoint

    async def delete(self, institution_id: str, endpoint_id: str) -> bool:
        return self.held.pop(endpoint_id, None) is not None

    async def subscribed(self, institution_id: str, event_type: str) -> list[Endpoint]:
        return [
            e
            for e in self.held.values()
            if e.institution_id == institution_id
            and e.status is EndpointStatus.ENABLED
            and event_type in e.event_types
        ]


class FakeDeliveries(ports.Deliveries):
    def __init__(self) -> None:
        self.held: dict[str, Delivery] = {}

    async def add_many(self, deliveries: list[Delivery]) -> list[Delivery]:
        added = [d for d in deliveries if d.id not in self.held]
        self.held.update({d.id: d for d in added})
        return added

    async def get(self, endpoint_id: str, delivery_id: str) -> Delivery | None:
        d = self.held.get(delivery_id)
        return d if d and d.endpoint_id == endpoint_id else None

    async def save(self, delivery: Delivery) -> bool:
        if self.held[delivery.id].version != delivery.version - 1:
            return False
        self.held[delivery.id] = delivery
        return True

    async def page(
        self, endpoint_id: str, status: DeliveryStatus | None, page_size: int, page_token: str
    ) -> Page[Delivery]:
        items = [
            d
            for d in self.held.values()
            if d.endpoint_id == endpoint_id and (status is None or d.status is status)
        ]
        return _page(items, page_size, page_token)

    async def claim_due(self, now: datetime, lease_until: datetime, limit: int) -> list[Delivery]:
        return [
            d
            for d in self.held.values()
            if d.status is DeliveryStatus.PENDING
            and d.next_attempt_time
            and d.next_attempt_time <= now
        ][:limit]


class FakeRules(ports.Rules):
    def __init__(self) -> None:
        self.held: dict[str, Rule] = {}

    async def add(self, rule: Rule) -> None:
        self.held[rule.id] = rule

    async def get(self, institution_id: str, rule_id: str) -> Rule | None:
        r = self.held.get(rule_id)
        return r if r and r.institution_id == institution_id else None

    async def all(self, institution_id: str) -> list[Rule]:
        return [r for r in self.held.values() if r.institution_id == institution_id]

    async def save(self, rule: Rule) -> None:
        self.held[rule.id] = rule

    async def delete(self, institution_id: str, rule_id: str) -> bool:
        return self.held.pop(rule_id, None) is not None

    async def of_trigger(self, trigger: Trigger, institution_id: str | None = None) -> list[Rule]:
        return [
            r
            for r in self.held.values()
            if r.trigger is trigger
            and r.enabled
            and (institution_id is None or r.institution_id == institution_id)
        ]


class FakeAlerts(ports.Alerts):
    def __init__(self) -> None:
        self.held: dict[str, Alert] = {}

    async def add(self, alert: Alert) -> bool:
        if alert.id in self.held:
            return False
        self.held[alert.id] = alert
        return True

    async def get(self, institution_id: str, alert_id: str) -> Alert | None:
        x = self.held.get(alert_id)
        return x if x and x.institution_id == institution_id else None

    async def save(self, alert: Alert) -> bool:
        if self.held[alert.id].version != alert.version - 1:
            return False
        self.held[alert.id] = alert
        return True

    async def page(
        self,
        institution_id: str,
        status: AlertStatus | None,
        branch_id: str,
        assignee_id: str,
        page_size: int,
        page_token: str,
    ) -> Page[Alert]:
        items = [
            x
            for x in self.held.values()
            if x.institution_id == institution_id
            and (status is None or x.status is status)
            and (not branch_id or x.branch_id == branch_id)
            and (not assignee_id or x.assignee_id == assignee_id)
        ]
        return _page(items, page_size, page_token)


class FakePositions(ports.Positions):
    def __init__(self) -> None:
        self.held: dict[str, LoanPosition] = {}

    async def get(self, loan_id: str) -> LoanPosition | None:
        return self.held.get(loan_id)

    async def save(self, position: LoanPosition) -> bool:
        held = self.held.get(position.loan_id)
        if held and held.version >= position.version:
            return False
        self.held[position.loan_id] = position
        return True

    def _of(self, institution_id: str) -> list[LoanPosition]:
        return [
            p
            for p in self.held.values()
            if p.institution_id == institution_id and p.status == "active"
        ]

    async def due_on(self, institution_id: str, day: date) -> list[LoanPosition]:
        return [p for p in self._of(institution_id) if day in p.unpaid_due_dates()]

    async def in_arrears(self, institution_id: str) -> list[LoanPosition]:
        return [p for p in self._of(institution_id) if p.oldest_unpaid_due_date]

    async def active(self, institution_id: str) -> list[LoanPosition]:
        return self._of(institution_id)


class FakeSuspense(ports.SuspenseBook):
    def __init__(self) -> None:
        self.held: dict[str, SuspenseItem] = {}

    async def add(self, item: SuspenseItem) -> None:
        self.held[item.payment_id] = item

    async def remove(self, payment_id: str) -> None:
        self.held.pop(payment_id, None)

    async def older_than(self, institution_id: str, cutoff: datetime) -> list[SuspenseItem]:
        return [
            i
            for i in self.held.values()
            if i.institution_id == institution_id and i.received_at <= cutoff
        ]


class FakeDirectory(ports.Directory):
    def __init__(self) -> None:
        self.people: dict[str, Person] = {}
        self.members: list[StaffMember] = []

    async def borrower(self, institution_id: str, borrower_id: str) -> Person:
        if borrower_id not in self.people:
            raise BorrowerNotFound(institution_id, borrower_id)
        return self.people[borrower_id]

    async def institution_name(self, institution_id: str) -> str:
        return "Umoja Microfinance"

    async def staff(self, institution_id: str, roles: tuple[str, ...]) -> list[StaffMember]:
        return [m for m in self.members if not roles or m.role in roles]


class FakeBooks(ports.Books):
    def __init__(self) -> None:
        self.closed: list[tuple[str, date]] = []

    async def close_business_day(self, institution_id: str, day: date) -> None:
        self.closed.append((institution_id, day))


class FakeLive(ports.Live):
    def __init__(self) -> None:
        self.items: list[LiveItem] = []

    async def publish(self, item: LiveItem) -> None:
        self.items.append(item)


class FakeSms(ports.SmsProvider):
    name = "fake"

    def __init__(self) -> None:
        self.sent: list[SmsSubmission] = []
        self.down = False

    async def send(self, sms: SmsSubmission) -> str:
        if self.down:
            raise ports.ProviderUnavailable("connection refused")
        self.sent.append(sms)
        return sms.notification_id


class FakeEmail(ports.EmailSender):
    def __init__(self) -> None:
        self.sent: list[Email] = []

    async def send(self, email: Email) -> str:
        self.sent.append(email)
        return f"<{email.notification_id}@kopa.test>"


class FakeWebhookSender(ports.WebhookSender):
    def __init__(self) -> None:
        self.sent: list[WebhookRequest] = []
        self.answer = 200

    async def check_url(self, url: str) -> None:
        if "10.0.0." in url:
            raise ports.UnsafeUrl("resolves to a private address")

    async def send(self, request: WebhookRequest) -> WebhookResponse:
        self.sent.append(request)
        return WebhookResponse(self.answer)


@dataclass
class NotificationWorld:
    """The use cases wired over fakes."""

    schedules: FakeSchedules = field(default_factory=FakeSchedules)
    leases: FakeLeases = field(default_factory=FakeLeases)
    templates: FakeTemplates = field(default_factory=FakeTemplates)
    notifications: FakeNotifications = field(default_factory=FakeNotifications)
    preferences: FakePreferences = field(default_factory=FakePreferences)
    endpoints: FakeEndpoints = field(default_factory=FakeEndpoints)
    deliveries: FakeDeliveries = field(default_factory=FakeDeliveries)
    rules: FakeRules = field(default_factory=FakeRules)
    alerts: FakeAlerts = field(default_factory=FakeAlerts)
    positions: FakePositions = field(default_factory=FakePositions)
    suspense: FakeSuspense = field(default_factory=FakeSuspense)
    directory: FakeDirectory = field(default_factory=FakeDirectory)
    books: FakeBooks = field(default_factory=FakeBooks)
    live: FakeLive = field(default_factory=FakeLive)
    sms: FakeSms = field(default_factory=FakeSms)
    email: FakeEmail = field(default_factory=FakeEmail)
    sender: FakeWebhookSender = field(default_factory=FakeWebhookSender)

    def __post_init__(self) -> None:
        self.days = BusinessDays(
            self.schedules, self.leases, self.books, self.positions, enabled_by_default=True
        )
        self.book = TemplateBook(self.templates)
        self.messenger = Messenger(
            self.notifications,
            self.preferences,
            self.directory,
            self.book,
            self.days.schedule_of,
            self.live,
            lambda: None,
        )
        self.days.messenger = self.messenger
        self.dispatcher = Dispatcher(
            self.notifications,
            self.sms,
            self.email,
            DeliveryReports(b"secret", "http://gateway.test/v1/sms/delivery-reports"),
            self.live,
        )
        self.webhooks = Webhooks(
            self.endpoints, self.deliveries, self.sender, lambda: "whsec_dGVzdA=="
        )
        self.alerting = Alerting(
            self.rules,
            self.alerts,
            self.positions,
            self.suspense,
            self.directory,
            self.messenger,
            self.webhooks,
            self.live,
        )
        self.webhooks.on_disabled = self.alerting.on_webhook_disabled
        self.intake = Intake(
            self.positions, self.suspense, self.messenger, self.alerting, self.webhooks, self.days
        )
