"""Email over SMTP with aiosmtplib: one connection per message (reminders are few and far
between per institution; a relay that drops idle connections costs nothing this way)."""

from __future__ import annotations

import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from urllib.parse import unquote, urlsplit

import aiosmtplib

from notification_service.service_layer.ports import (
    Email,
    EmailSender,
    ProviderRefused,
    ProviderUnavailable,
)

DEFAULT_PORTS = {"smtp": 25, "smtp+starttls": 587, "smtps": 465}


class SmtpEmail(EmailSender):
    """Plain UTF-8 text from a configured address. `url` is `smtp://`, `smtp+starttls://`
    (STARTTLS, as is any URL on port 587) or `smtps://` (TLS from the first byte), with
    `user:password@` when the relay wants a login. `tls_context` replaces the system's
    certificate authorities (a relay with a private CA)."""

    def __init__(
        self,
        url: str,
        from_address: str,
        *,
        timeout: float = 10.0,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
            raise ValueError(
                f"SMTP URL {url!r}: expected smtp://, smtp+starttls:// or smtps://host[:port]"
            )
        self._host = parts.hostname
        self._port = parts.port or DEFAULT_PORTS[parts.scheme]
        self._username = unquote(parts.username) if parts.username else None
        self._password = unquote(parts.password) if parts.password else None
        self._use_tls = parts.scheme == "smtps"
        self._start_tls = parts.scheme == "smtp+starttls" or (
            self._port == 587 and not self._use_tls
        )
        self._from = from_address
        # Message-IDs name our sending domain, not this machine's host name
        self._domain = from_address.rpartition("@")[2] or "localhost"
        self._timeout = timeout
        self._tls_context = tls_context

    def message(self, email: Email) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self._from
        message["To"] = email.to
        message["Subject"] = email.subject
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = make_msgid(idstring=email.notification_id, domain=self._domain)
        message.set_content(email.text, charset="utf-8")
        return message

    async def send(self, email: Email) -> str:
        message = self.message(email)
        try:
            await aiosmtplib.send(
                message,
                hostname=self._host,
                port=self._port,
                username=self._username,
                password=self._password,
                use_tls=self._use_tls,
                # False, not None: aiosmtplib's None upgrades whenever the server offers it,
                # and a plain smtp:// URL means the operator chose no TLS
                start_tls=self._start_tls,
                tls_context=self._tls_context,
                timeout=self._timeout,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [refused.code for refused in exc.recipients]
            detail = "; ".join(f"{r.code} {r.message}" for r in exc.recipients)
            if all(code >= 500 for code in codes):
                raise ProviderRefused(f"recipient refused: {detail}") from exc
            raise ProviderUnavailable(f"recipient deferred: {detail}") from exc
        except aiosmtplib.SMTPDataError as exc:
            # the message itself (its content) refused for good, or deferred
            if exc.code >= 500:
                raise ProviderRefused(f"message refused: {exc.code} {exc.message}") from exc
            raise ProviderUnavailable(f"message deferred: {exc.code} {exc.message}") from exc
        except (aiosmtplib.SMTPException, OSError) as exc:
            # connection refused or lost, timeouts, TLS failures, a login or sender refused:
            # the relay or our configuration, never this message
            raise ProviderUnavailable(
                f"SMTP relay {self._host}:{self._port}: {type(exc).__name__}: {exc}"
            ) from exc
        return str(message["Message-ID"])
