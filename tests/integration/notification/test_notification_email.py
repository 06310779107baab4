"""Email through the real local SMTP server (aiosmtpd into a Maildir, deploy/local), read back
from the Maildir; and, against SMTP servers started here with aiosmtpd, a refused and a
deferred recipient, and STARTTLS."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from notification_service.adapters.email import SmtpEmail
from notification_service.service_layer.ports import Email, ProviderRefused, ProviderUnavailable
from shared.ids import new_id
from tests.support.channels import Tls, channel_env, closed_port, mail_to, self_signed
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration

SENDER = "Kopa Microfinance <no-reply@kopa.test>"


@pytest.fixture(scope="module")
def env() -> dict[str, str]:
    return channel_env()


async def test_a_utf8_message_lands_in_the_mailbox(env: dict[str, str]) -> None:
    notification_id = new_id("ntf")
    to = f"achieng.{notification_id}@borrowers.kopa.test"
    text = "Habari Achieng, umelipa KES 1,000.00. Asante!\nSalio: KES 4,500.00"
    email = Email(notification_id, to, "Malipo yamepokelewa ✓ KES 1,000.00", text)

    message_id = await SmtpEmail(env["SMTP_URL"], SENDER).send(email)

    await wait_until(lambda: mail_to(env["KOPA_SMTP_MAILDIR"], to), limit=10)
    [received] = mail_to(env["KOPA_SMTP_MAILDIR"], to)
    assert received["Subject"] == "Malipo yamepokelewa ✓ KES 1,000.00"
    assert received["To"] == to
    assert received["From"] == SENDER
    assert received["Message-ID"] == message_id
    assert message_id.endswith("@kopa.test>") and notification_id in message_id
    assert received.get_content_type() == "text/plain"
    assert received.get_content_charset() == "utf-8"
    assert received.get_content().rstrip("\n") == text


async def test_no_server_is_an_outage() -> None:
    sender = SmtpEmail(f"smtp://127.0.0.1:{closed_port()}", SENDER, timeout=5)
    with pytest.raises(ProviderUnavailable, match=r"127\.0\.0\.1"):
        await sender.send(Email(new_id("ntf"), "a@kopa.test", "s", "t"))


class Picky:
    """Refuses one mailbox for good (550) and defers another (451), as a relay does."""

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list
    ) -> str:
        if address.startswith("nobody@"):
            return "550 5.1.1 mailbox unavailable"
        if address.startswith("later@"):
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        return "250 OK"


@pytest.fixture
def picky() -> Iterator[int]:
    port = closed_port()
    controller = Controller(Picky(), hostname="127.0.0.1", port=port)
    controller.start()
    yield port
    controller.stop()


async def test_a_refused_recipient_is_refused_for_good_and_a_deferred_one_is_not(
    picky: int,
) -> None:
    sender = SmtpEmail(f"smtp://127.0.0.1:{picky}", SENDER)
    with pytest.raises(ProviderRefused, match="550"):
        await sender.send(Email(new_id("ntf"), "nobody@kopa.test", "s", "t"))
    with pytest.raises(ProviderUnavailable, match="451"):
        await sender.send(Email(new_id("ntf"), "later@kopa.test", "s", "t"))
    assert await sender.send(Email(new_id("ntf"), "someone@kopa.test", "s", "t"))


@pytest.fixture(scope="module")
def tls() -> Tls:
    return self_signed("localhost")


class Recording:
    """Keeps each message's recipients and whether it came over TLS."""

    def __init__(self) -> None:
        self.received: list[tuple[list[str], bool]] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.received.append((list(envelope.rcpt_tos), session.ssl is not None))
        return "250 OK"


@pytest.fixture
def starttls_server(tls: Tls) -> Iterator[tuple[int, Recording]]:
    port, handler = closed_port(), Recording()
    controller = Controller(
        handler, hostname="127.0.0.1", port=port, tls_context=tls.server, require_starttls=True
    )
    controller.start()
    yield port, handler
    controller.stop()


async def test_starttls_is_used_on_smtp_starttls_urls(
    starttls_server: tuple[int, Recording], tls: Tls
) -> None:
    port, server = starttls_server
    email = Email(new_id("ntf"), "a@kopa.test", "s", "t")
    secure = SmtpEmail(f"smtp+starttls://127.0.0.1:{port}", SENDER, tls_context=tls.client)
    assert await secure.send(email)
    assert server.received == [(["a@kopa.test"], True)]
    # the server requires STARTTLS: a plain smtp:// URL does not upgrade, and is refused
    plain = SmtpEmail(f"smtp://127.0.0.1:{port}", SENDER)
    with pytest.raises(ProviderUnavailable, match="530"):
        await plain.send(email)
