"""Messages to borrowers: composed from what happened to their loans, kept with their status,
sent by the dispatcher (`dispatch.py`), and listed on the borrower's file."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from decimal import Decimal

from notification_service.domain import templates as t
from notification_service.domain.messages import (
    Notification,
    Status,
    message_id,
)
from notification_service.domain.schedule import Schedule
from notification_service.domain.templates import Channel, Kind
from notification_service.service_layer.clock import now
from notification_service.service_layer.ports import (
    BorrowerNotFound,
    Directory,
    Live,
    LiveItem,
    Notifications,
    Page,
    Person,
    Preferences,
    PreferencesStore,
)
from notification_service.service_layer.templates import TemplateBook
from shared import context
from shared.errors import NotFound, ValidationError
from shared.logging import get_logger
from shared.money import minor_units
from shared.permissions import Permission as P
from shared.permissions import require

log = get_logger(__name__)

_EMAIL_MAX = 254


def money(amount: Decimal, currency: str) -> str:
    """An amount as a borrower reads it: `KES 1,250.00`."""
    places = minor_units(currency)
    return f"{currency} {amount:,.{places}f}"


def live_item(n: Notification) -> LiveItem:
    return LiveItem(
        event="notification",
        id=n.id,
        institution_id=n.institution_id,
        branch_id=n.branch_id,
        roles=(),
        permission=P.NOTIFICATIONS_READ.value,
        data={
            "id": n.id,
            "borrower_id": n.borrower_id,
            "loan_id": n.loan_id,
            "channel": n.channel,
            "template": n.template,
            "status": n.status.value,
        },
    )


class Messenger:
    def __init__(
        self,
        notifications: Notifications,
        preferences: PreferencesStore,
        directory: Directory,
        book: TemplateBook,
        schedule_of: Callable[[str], Awaitable[Schedule]],
        live: Live,
        wake: Callable[[], None],
    ) -> None:
        self.notifications = notifications
        self.preferences = preferences
        self.directory = directory
        self.book = book
        self._schedule_of = schedule_of
        self.live = live
        self._wake = wake

    # --- composing -------------------------------------------------------------------------

    async def compose(
        self,
        *,
        kind: Kind,
        event_id: str,
        institution_id: str,
        borrower_id: str,
        loan_id: str,
        values: Mapping[str, str],
    ) -> list[Notification]:
        """One message per channel the borrower consented to, each stored once per event
        (queued, or suppressed with the reason), then handed to the dispatcher. Raises
        BorrowerNotFound for a borrower user_service does not know."""
        person = await self.directory.borrower(institution_id, borrower_id)
        prefs = await self.preferences.get(institution_id, borrower_id) or Preferences(
            institution_id, borrower_id
        )
        schedule = await self._schedule_of(institution_id)
        language = prefs.language or schedule.default_language
        name = await self.directory.institution_name(institution_id)
        variables = {key: "" for key in t.variables(kind)}
        variables.update(
            first_name=person.first_name,
            last_name=person.last_name,
            full_name=f"{person.first_name} {person.last_name}".strip(),
            institution_name=name,
            loan_id=loan_id,
        )
        variables.update(values)
        stamp = now()
        made = []
        for channel in t.TEMPLATED:
            recipient, reason = _recipient(channel, person, prefs)
            if channel is Channel.EMAIL and not recipient and not reason:
                continue  # no email address: email is simply not a channel for them
            text = await self.book.text(institution_id, kind, channel, language)
            quiet = schedule.quiet_until(stamp)
            n = Notification(
                id=message_id(event_id, kind.value, channel.value, borrower_id),
                institution_id=institution_id,
                branch_id=person.branch_id,
                borrower_id=borrower_id,
                loan_id=loan_id,
                channel=channel.value,
                recipient=recipient,
                template=kind.value,
                language=language,
                subject=t.render(text.subject, variables) if text.subject else "",
                text=t.render(text.body, variables),
                event_id=event_id,
                status=Status.SUPPRESSED if reason else Status.QUEUED,
                failure_reason=reason,
                create_time=stamp,
                next_attempt_time=None if reason else (quiet or stamp),
            )
            if await self.notifications.add(n):
                made.append(n)
                await self.live.publish(live_item(n))
        if made:
            self._wake()
        return made

    async def staff_email(
        self,
        *,
        event_id: str,
        institution_id: str,
        branch_id: str,
        user_id: str,
        email: str,
        subject: str,
        text: str,
    ) -> None:
        """An email to a staff member (an alert): queued like any message, never held for
        the quiet hours (staff alerts are wanted when they happen)."""
        stamp = now()
        n = Notification(
            id=message_id(event_id, "alert", "email", user_id),
            institution_id=institution_id,
            branch_id=branch_id,
            borrower_id="",
            loan_id="",
            channel=Channel.EMAIL.value,
            recipient=email,
            template="",
            language="en",
            subject=subject,
            text=text,
            event_id=event_id,
            status=Status.QUEUED,
            create_time=stamp,
            next_attempt_time=stamp,
            staff_user_id=user_id,
        )
        if await self.notifications.add(n):
            self._wake()

    # --- reading ---------------------------------------------------------------------------

    async def page(
        self, borrower_id: str, loan_id: str, page_size: int, page_token: str
    ) -> Page[Notification]:
        p = context.principal()
        require(p, P.NOTIFICATIONS_READ)
        return await self.notifications.page(
            p.scope_filter(), borrower_id, loan_id, page_size, page_token
        )

    async def get(self, notification_id: str) -> Notification:
        p = context.principal()
        require(p, P.NOTIFICATIONS_READ)
        n = await self.notifications.get(notification_id)
        if n is None or not p.can_access(n.institution_id, n.branch_id):
            raise NotFound(f"No notification {notification_id}.", reason="NOTIFICATION_NOT_FOUND")
        return n

    # --- the borrower's choices ------------------------------------------------------------

    async def preferences_of(self, borrower_id: str) -> Preferences:
        p = context.principal()
        require(p, P.NOTIFICATIONS_READ)
        assert p.institution_id is not None
        await self._visible_borrower(borrower_id)
        return await self.preferences.get(p.institution_id, borrower_id) or Preferences(
            p.institution_id, borrower_id
        )

    async def set_preferences(self, prefs: Preferences) -> Preferences:
        p = context.principal()
        require(p, P.NOTIFICATION_PREFERENCES_UPDATE)
        assert p.institution_id is not None
        await self._visible_borrower(prefs.borrower_id)
        problems = []
        address = prefs.email_address.strip()
        if address and (len(address) > _EMAIL_MAX or "@" not in address or " " in address):
            problems.append(("email_address", "is not an email address"))
        if prefs.email and not address:
            problems.append(("email_address", "is needed to send email"))
        if prefs.language and prefs.language not in t.LANGUAGES:
            problems.append(("language", f"must be one of {', '.join(t.LANGUAGES)}, or empty"))
        if problems:
            raise ValidationError.of_fields(problems)
        stored = replace(
            prefs,
            institution_id=p.institution_id,
            email_address=address,
            update_time=now(),
            updated_by=p.user_id,
        )
        await self.preferences.put(stored)
        return stored

    async def _visible_borrower(self, borrower_id: str) -> Person:
        """The borrower, if the caller may see them (404 otherwise, as for any resource of
        another institution or branch)."""
        p = context.principal()
        assert p.institution_id is not None
        try:
            person = await self.directory.borrower(p.institution_id, borrower_id)
        except BorrowerNotFound:
            person = None
        if person is None or not p.can_access(p.institution_id, person.branch_id):
            raise NotFound(f"No borrower {borrower_id}.", reason="BORROWER_NOT_FOUND")
        return person


def _recipient(channel: Channel, person: Person, prefs: Preferences) -> tuple[str, str]:
    """(address, why not sent): the reason is empty when the message may go."""
    if channel is Channel.SMS:
        if prefs.opted_out:
            return person.phone, "opted_out"
        if not prefs.sms:
            return person.phone, "no_consent"
        if not person.phone:
            return "", "no_phone"
        return person.phone, ""
    if not prefs.email_address:
        return "", ""
    if prefs.opted_out:
        return prefs.email_address, "opted_out"
    if not prefs.email:
        return prefs.email_address, "no_consent"
    return prefs.email_address, ""
