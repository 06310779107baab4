"""The interfaces the use cases work through; adapters implement them and the unit tests'
fakes subclass them."""

from __future__ import annotations

import abc
from dataclasses import dataclass, field


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
