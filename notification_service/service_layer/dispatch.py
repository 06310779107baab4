"""Sending queued messages through their channel, and what providers report afterwards.

Each message is leased to one sender while it is tried (any replica may run a dispatcher),
so a message is submitted once unless a sender dies between the provider's acceptance and
the write that records it: then, after the lease, it is submitted again (at least once).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from datetime import timedelta
from urllib.parse import urlencode

from notification_service.domain.messages import Notification
from notification_service.service_layer.clock import now
from notification_service.service_layer.messages import live_item
from notification_service.service_layer.ports import (
    Email,
    EmailSender,
    Live,
    Notifications,
    ProviderRefused,
    ProviderUnavailable,
    SmsProvider,
    SmsSubmission,
)
from shared.errors import Aborted, Unauthenticated
from shared.logging import get_logger

log = get_logger(__name__)

LEASE = timedelta(seconds=60)
BATCH_ROUNDS = 4


class DeliveryReports:
    """The token in a delivery-report address: an HMAC of the message id, so a report can
    only come from someone given that address (the SMS gateway)."""

    def __init__(self, secret: bytes, base_url: str) -> None:
        self._secret = secret
        self._base_url = base_url

    def token(self, notification_id: str) -> str:
        return hmac.new(self._secret, notification_id.encode(), hashlib.sha256).hexdigest()[:32]

    def url(self, notification_id: str) -> str:
        query = urlencode(
            {"notification_id": notification_id, "token": self.token(notification_id)}
        )
        return f"{self._base_url}?{query}"

    def verify(self, notification_id: str, token: str) -> None:
        # As bytes: compare_digest refuses text that is not ASCII (a forged token may be any).
        if not hmac.compare_digest(self.token(notification_id).encode(), token.encode()):
            raise Unauthenticated(
                "The delivery report's token does not match its message.",
                reason="DELIVERY_REPORT_TOKEN_INVALID",
            )


class Dispatcher:
    def __init__(
        self,
        notifications: Notifications,
        sms: SmsProvider,
        email: EmailSender,
        reports: DeliveryReports,
        live: Live,
        *,
        concurrency: int = 16,
    ) -> None:
        self.notifications = notifications
        self.sms = sms
        self.email = email
        self.reports = reports
        self.live = live
        self._limit = asyncio.Semaphore(concurrency)
        # Claimed at once: a few rounds of `concurrency` submissions, so that the claim (three
        # statements) is paid per batch, not per 16 messages. Four rounds of submissions cut
        # off at the provider's timeout (10 s) stay within LEASE.
        self._batch = BATCH_ROUNDS * concurrency

    async def send_due(self) -> int:
        """Sends every message whose time has come (in batches); returns how many were
        tried."""
        tried = 0
        while True:
            stamp = now()
            batch = await self.notifications.claim_due(stamp, stamp + LEASE, self._batch)
            if not batch:
                return tried
            await asyncio.gather(*(self._send(n) for n in batch))
            tried += len(batch)

    async def _send(self, n: Notification) -> None:
        async with self._limit:
            try:
                if n.channel == "sms":
                    provider_id = await self.sms.send(
                        SmsSubmission(n.id, n.recipient, n.text, self.reports.url(n.id))
                    )
                else:
                    provider_id = await self.email.send(Email(n.id, n.recipient, n.subject, n.text))
                after = n.sent(provider_id, now())
            except ProviderRefused as exc:
                after = n.not_sent(f"refused: {exc}", now(), final=True)
            except ProviderUnavailable as exc:
                after = n.not_sent(f"provider unavailable: {exc}", now(), final=False)
            except Exception as exc:  # a bug in an adapter must not stop the queue
                log.exception("notification_send_crashed", notification_id=n.id)
                after = n.not_sent(f"error: {type(exc).__name__}", now(), final=False)
            after = await self._record(n, after)
            log.info(
                "notification_attempted",
                notification_id=n.id,
                channel=n.channel,
                status=after.status.value,
                attempts=after.attempts,
            )

    async def _record(self, n: Notification, after: Notification) -> Notification:
        """Saves an attempt's outcome. When a delivery report was saved first, the attempt is
        applied again to the message as the report left it, so neither is lost."""
        for _ in range(3):
            if await self.notifications.save(after):
                await self.live.publish(live_item(after))
                return after
            fresh = await self.notifications.get(n.id)
            if fresh is None or not after.send_time:
                break
            after = fresh.sent(after.provider_id, after.send_time)
        log.warning("notification_attempt_not_recorded", notification_id=n.id)
        return after

    async def report(
        self, notification_id: str, token: str, dlr_type: int, reply: str
    ) -> Notification:
        """A provider's delivery report. Idempotent; a late or repeated one changes nothing."""
        self.reports.verify(notification_id, token)
        for _ in range(5):
            n = await self.notifications.get(notification_id)
            if n is None:
                raise Unauthenticated(
                    "The delivery report names no message.", reason="DELIVERY_REPORT_UNKNOWN"
                )
            after = n.reported(dlr_type, reply[:200], now())
            if after is n or after.status is n.status:
                return n
            if await self.notifications.save(after):
                await self.live.publish(live_item(after))
                return after
        raise Aborted("The message kept changing; the provider may report again.")
