"""The interfaces the use cases work through; adapters implement them and the unit tests'
fakes subclass them."""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Generic, TypeVar

from notification_service.domain.alerts import Alert, AlertStatus, Rule, Trigger
from notification_service.domain.messages import Notification
from notification_service.domain.positions import LoanPosition
from notification_service.domain.schedule import Schedule
from notification_service.domain.templates import Channel, Kind
from notification_service.domain.webhooks import Delivery, DeliveryStatus, Endpoint

T = TypeVar("T")

# --- channels ------------------------------------------------------------------------------


class ProviderUnavailable(Exception):
    """The provider could not be reached or failed for now (a Kannel or SMTP outage, a 5xx):
    the message stays queued and is tried again later."""


class ProviderRefused(Exception):
    """The provider refused this message for good (a malformed number, a mailbox that does
    not exist): the message fails without further attempts."""


@dataclass(frozen=True)
class SmsSubmission:
    notification_id: str
    to: str  # E.164
    text: str
    # Where the provider reports delivery (an absolute URL), with the token that proves the
    # report comes from whoever was given this address.
    delivery_report_url: str


class SmsProvider(abc.ABC):
    """An SMS gateway: Kannel's HTTP sendsms locally and at MFIs that run their own, or an
    HTTP aggregator (Africa's Talking, Twilio style) configured by environment."""

    name: str

    @abc.abstractmethod
    async def send(self, sms: SmsSubmission) -> str:
        """Submits one message; returns the provider's id for it. Raises ProviderUnavailable
        or ProviderRefused."""


@dataclass(frozen=True)
class Email:
    notification_id: str
    to: str
    subject: str
    text: str


class EmailSender(abc.ABC):
    @abc.abstractmethod
    async def send(self, email: Email) -> str:
        """Sends one email; returns its Message-ID. Raises ProviderUnavailable or
        ProviderRefused."""


@dataclass(frozen=True)
class WebhookRequest:
    url: str
    # The Standard Webhooks `webhook-id` (the same on every attempt of one delivery).
    delivery_id: str
    # `whsec_` + base64.
    secret: str
    body: bytes
    # Unix seconds; the signature covers it.
    timestamp: int


@dataclass(frozen=True)
class WebhookResponse:
    # 0 when no answer came.
    status: int
    error: str = ""
    duration_ms: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    # The start of the endpoint's answer (a few KB at most), for the delivery log.
    body: str = ""

    @property
    def succeeded(self) -> bool:
        return 200 <= self.status < 300


class UnsafeUrl(Exception):
    """A webhook URL that must not be called: not https where required, resolving to a
    private, loopback or link-local address, or unreachable. The message says which."""


class WebhookSender(abc.ABC):
    @abc.abstractmethod
    async def check_url(self, url: str) -> None:
        """Raises UnsafeUrl unless `url` may be called and accepts a connection."""

    @abc.abstractmethod
    async def send(self, request: WebhookRequest) -> WebhookResponse:
        """One signed POST: no redirects followed, a timeout, the address checked again at
        send time. Never raises for the endpoint's behaviour (a refusal, a timeout, an
        unsafe address): the response says what happened."""


# --- what the service keeps ------------------------------------------------------------------


@dataclass(frozen=True)
class SavedTemplate:
    institution_id: str
    kind: Kind
    channel: Channel
    language: str
    subject: str
    body: str
    update_time: datetime
    updated_by: str


@dataclass(frozen=True)
class Preferences:
    institution_id: str
    borrower_id: str
    sms: bool = True
    email: bool = False
    email_address: str = ""
    language: str = ""
    opted_out: bool = False
    update_time: datetime | None = None
    updated_by: str = ""


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_page_token: str


@dataclass(frozen=True)
class SuspenseItem:
    payment_id: str
    institution_id: str
    amount: Decimal
    currency: str
    received_at: datetime


class Schedules(abc.ABC):
    @abc.abstractmethod
    async def get(self, institution_id: str) -> Schedule | None: ...

    @abc.abstractmethod
    async def add(self, schedule: Schedule) -> Schedule:
        """Stores a new schedule unless one exists; returns the one stored."""

    @abc.abstractmethod
    async def save(self, schedule: Schedule) -> bool:
        """Replaces the settings if the stored version is `schedule.version` (then raised);
        False when it changed meanwhile."""

    @abc.abstractmethod
    async def mark_closed(self, institution_id: str, day: date, at: datetime) -> None:
        """Records `day` as closed unless a later day is already (safe under races)."""

    @abc.abstractmethod
    async def enabled(self) -> list[Schedule]: ...


class Leases(abc.ABC):
    @abc.abstractmethod
    async def acquire(self, name: str, owner: str, now: datetime, until: datetime) -> bool:
        """Takes or renews the named lease when free, expired or held by `owner`."""

    @abc.abstractmethod
    async def release(self, name: str, owner: str) -> None: ...


class Templates(abc.ABC):
    @abc.abstractmethod
    async def get(
        self, institution_id: str, kind: Kind, channel: Channel, language: str
    ) -> SavedTemplate | None: ...

    @abc.abstractmethod
    async def all(self, institution_id: str) -> list[SavedTemplate]: ...

    @abc.abstractmethod
    async def put(self, template: SavedTemplate) -> None: ...

    @abc.abstractmethod
    async def delete(
        self, institution_id: str, kind: Kind, channel: Channel, language: str
    ) -> None: ...


class Notifications(abc.ABC):
    @abc.abstractmethod
    async def add(self, notification: Notification) -> bool:
        """Stores a new message; False when one with its id exists (the event again)."""

    @abc.abstractmethod
    async def get(self, notification_id: str) -> Notification | None: ...

    @abc.abstractmethod
    async def save(self, notification: Notification) -> bool:
        """Version-guarded replace; False when it changed meanwhile."""

    @abc.abstractmethod
    async def page(
        self,
        scope: dict[str, str],
        borrower_id: str,
        loan_id: str,
        page_size: int,
        page_token: str,
    ) -> Page[Notification]:
        """Newest first, within `scope` (institution, and branch for branch staff)."""

    @abc.abstractmethod
    async def claim_due(
        self, now: datetime, lease_until: datetime, limit: int
    ) -> list[Notification]:
        """Queued messages whose time has come, each leased to the caller until
        `lease_until` so that no other sender takes it meanwhile."""


class PreferencesStore(abc.ABC):
    @abc.abstractmethod
    async def get(self, institution_id: str, borrower_id: str) -> Preferences | None: ...

    @abc.abstractmethod
    async def put(self, preferences: Preferences) -> None: ...


class Endpoints(abc.ABC):
    @abc.abstractmethod
    async def add(self, endpoint: Endpoint) -> None: ...

    @abc.abstractmethod
    async def get(self, institution_id: str, endpoint_id: str) -> Endpoint | None: ...

    @abc.abstractmethod
    async def page(
        self, institution_id: str, page_size: int, page_token: str
    ) -> Page[Endpoint]: ...

    @abc.abstractmethod
    async def save(self, endpoint: Endpoint) -> None: ...

    @abc.abstractmethod
    async def delete(self, institution_id: str, endpoint_id: str) -> bool: ...

    @abc.abstractmethod
    async def subscribed(self, institution_id: str, event_type: str) -> list[Endpoint]:
        """The enabled endpoints subscribed to `event_type`."""


class Deliveries(abc.ABC):
    @abc.abstractmethod
    async def add_many(self, deliveries: list[Delivery]) -> list[Delivery]:
        """Stores the new ones (an event fanned out again adds nothing); returns those added."""

    @abc.abstractmethod
    async def get(self, endpoint_id: str, delivery_id: str) -> Delivery | None: ...

    @abc.abstractmethod
    async def save(self, delivery: Delivery) -> bool: ...

    @abc.abstractmethod
    async def page(
        self, endpoint_id: str, status: DeliveryStatus | None, page_size: int, page_token: str
    ) -> Page[Delivery]: ...

    @abc.abstractmethod
    async def claim_due(
        self, now: datetime, lease_until: datetime, limit: int
    ) -> list[Delivery]: ...


class Rules(abc.ABC):
    @abc.abstractmethod
    async def add(self, rule: Rule) -> None: ...

    @abc.abstractmethod
    async def get(self, institution_id: str, rule_id: str) -> Rule | None: ...

    @abc.abstractmethod
    async def all(self, institution_id: str) -> list[Rule]: ...

    @abc.abstractmethod
    async def save(self, rule: Rule) -> None: ...

    @abc.abstractmethod
    async def delete(self, institution_id: str, rule_id: str) -> bool: ...

    @abc.abstractmethod
    async def of_trigger(self, trigger: Trigger, institution_id: str | None = None) -> list[Rule]:
        """The enabled rules with `trigger` (of one institution, or of all)."""


class Alerts(abc.ABC):
    @abc.abstractmethod
    async def add(self, alert: Alert) -> bool:
        """False when the alert exists already (the same rule, subject and occurrence)."""

    @abc.abstractmethod
    async def get(self, institution_id: str, alert_id: str) -> Alert | None: ...

    @abc.abstractmethod
    async def save(self, alert: Alert) -> bool:
        """Version-guarded; False when it changed meanwhile."""

    @abc.abstractmethod
    async def page(
        self,
        institution_id: str,
        status: AlertStatus | None,
        branch_id: str,
        assignee_id: str,
        page_size: int,
        page_token: str,
    ) -> Page[Alert]:
        """Newest first; the caller filters what the principal may see."""


class Positions(abc.ABC):
    @abc.abstractmethod
    async def get(self, loan_id: str) -> LoanPosition | None: ...

    @abc.abstractmethod
    async def save(self, position: LoanPosition) -> bool:
        """Stores it unless a newer version is held; False when one is."""

    @abc.abstractmethod
    async def due_on(self, institution_id: str, day: date) -> list[LoanPosition]:
        """Active loans with an installment due on `day` not fully paid."""

    @abc.abstractmethod
    async def in_arrears(self, institution_id: str) -> list[LoanPosition]:
        """Active loans with something past due."""

    @abc.abstractmethod
    async def active(self, institution_id: str) -> list[LoanPosition]: ...


class SuspenseBook(abc.ABC):
    @abc.abstractmethod
    async def add(self, item: SuspenseItem) -> None: ...

    @abc.abstractmethod
    async def remove(self, payment_id: str) -> None: ...

    @abc.abstractmethod
    async def older_than(self, institution_id: str, cutoff: datetime) -> list[SuspenseItem]: ...


# --- peers -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    borrower_id: str
    branch_id: str
    first_name: str
    last_name: str
    phone: str


@dataclass(frozen=True)
class StaffMember:
    user_id: str
    email: str
    role: str
    branch_id: str


class BorrowerNotFound(Exception):
    """The event names a borrower user_service does not know: nothing can be sent."""

    def __init__(self, institution_id: str, borrower_id: str) -> None:
        super().__init__(f"borrower {borrower_id} of institution {institution_id} does not exist")


class Directory(abc.ABC):
    """Who the messages are for: borrowers, staff and the institution (user and auth
    services, acting as this service for the institution)."""

    @abc.abstractmethod
    async def borrower(self, institution_id: str, borrower_id: str) -> Person:
        """Raises BorrowerNotFound."""

    @abc.abstractmethod
    async def institution_name(self, institution_id: str) -> str: ...

    @abc.abstractmethod
    async def staff(self, institution_id: str, roles: tuple[str, ...]) -> list[StaffMember]: ...


class Books(abc.ABC):
    """loan_service's close of business."""

    @abc.abstractmethod
    async def close_business_day(self, institution_id: str, day: date) -> None:
        """Runs the close of business of `day` to its end (idempotent per date)."""


@dataclass(frozen=True)
class LiveItem:
    """Something the console shows as it happens (over the gateway's event stream)."""

    event: str  # notification | alert
    id: str
    institution_id: str
    branch_id: str
    roles: tuple[str, ...]
    permission: str
    data: dict[str, Any]


class Live(abc.ABC):
    @abc.abstractmethod
    async def publish(self, item: LiveItem) -> None:
        """Best effort: a console not connected just misses it (the lists have it)."""
