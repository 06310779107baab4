"""SMS providers: Kannel's HTTP sendsms interface, and an HTTP aggregator in Africa's Talking's
style. Both over httpx; each owns one connection pool, closed with `aclose()`."""

from __future__ import annotations

from typing import Protocol

import gsm0338  # noqa: F401  registers the "gsm03.38" codec
import httpx

from notification_service.service_layer.ports import (
    ProviderRefused,
    ProviderUnavailable,
    SmsProvider,
    SmsSubmission,
)

# Kannel's sendsms `coding`: 0 is the GSM 7-bit alphabet (160 characters a part), 2 is UCS-2
# (70 a part). Kannel never chooses: a text sent as 7-bit loses what GSM cannot write ("?").
GSM_7BIT, UCS2 = "0", "2"
# Every delivery report Kannel can give: 1 delivered to the phone, 2 not delivered to the
# phone, 4 queued on the SMSC, 8 accepted by the SMSC, 16 refused by the SMSC.
DLR_MASK = "31"
# Appended to the dlr-url: Kannel replaces %d with the report's type and %A with the SMSC's
# reply text, each URL-encoded.
DLR_ESCAPES = "dlr_type=%d&reply=%A"


def sms_coding(text: str) -> str:
    """The cheapest coding that carries `text` unchanged."""
    try:
        text.encode("gsm03.38")
    except UnicodeEncodeError:
        return UCS2
    return GSM_7BIT


def kannel_dlr_url(delivery_report_url: str) -> str:
    """The dlr-url Kannel is given: our callback with the report's type and reply appended.
    Kannel reads every % in it as an escape code, so the callback's own (percent-encoded
    characters of its token) are doubled, which Kannel turns back into one."""
    separator = "&" if "?" in delivery_report_url else "?"
    return delivery_report_url.replace("%", "%%") + separator + DLR_ESCAPES


class KannelSms(SmsProvider):
    """Kannel's `GET /cgi-bin/sendsms`: 202 with "0: Accepted for delivery" or "3: Queued for
    later delivery" when taken. Kannel answers no id of its own, so the provider id is our
    notification id, which is also in the dlr-url each delivery report comes back to."""

    name = "kannel"

    def __init__(
        self,
        sendsms_url: str,
        username: str,
        password: str,
        *,
        sender: str = "",
        timeout: float = 10.0,
    ) -> None:
        self._url = sendsms_url
        self._credentials = {"username": username, "password": password}
        # empty: the sendsms-user's default-sender in Kannel's configuration
        self._sender = sender
        self._http = httpx.AsyncClient(timeout=timeout)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def send(self, sms: SmsSubmission) -> str:
        params = {
            **self._credentials,
            "to": sms.to,
            "text": sms.text,
            "charset": "UTF-8",
            "coding": sms_coding(sms.text),
            "dlr-mask": DLR_MASK,
            "dlr-url": kannel_dlr_url(sms.delivery_report_url),
        }
        if self._sender:
            params["from"] = self._sender
        try:
            response = await self._http.get(self._url, params=params)
        except httpx.TransportError as exc:
            raise ProviderUnavailable(f"Kannel at {self._url} not reachable: {exc!r}") from exc
        answer = response.text.strip()
        if response.is_success:
            return sms.notification_id
        # A wrong account refuses every message alike: fixing the configuration must let the
        # queued ones go, so it is an outage, not this message's refusal.
        if response.is_server_error or answer.startswith("Authorization failed"):
            raise ProviderUnavailable(f"Kannel answered {response.status_code}: {answer}")
        raise ProviderRefused(f"Kannel refused the message ({response.status_code}): {answer}")


# Africa's Talking's per-recipient status codes that mean "taken" (processed, sent, queued),
# and those that are the account's or the gateway's trouble rather than the number's:
# insufficient balance, internal error, gateway error.
AGGREGATOR_ACCEPTED = frozenset({100, 101, 102})
AGGREGATOR_TRANSIENT = frozenset({405, 500, 501})


class HttpAggregatorSms(SmsProvider):
    """An HTTP aggregator with Africa's Talking's messaging API, which several African
    aggregators copy: a form POST (`username`, `to`, `message`, optionally `from`) with the API
    key in a header, answered with JSON
    `{"SMSMessageData": {"Recipients": [{"statusCode": 101, "messageId": "..."}]}}`.

    Delivery reports: where the aggregator takes a callback per message, name its form field
    in `callback_field`; otherwise the callback is set once in the aggregator's dashboard and
    reports are matched by the returned message id."""

    name = "aggregator"

    def __init__(
        self,
        url: str,
        api_key: str,
        *,
        username: str = "",
        sender: str = "",
        api_key_header: str = "apiKey",
        callback_field: str = "",
        timeout: float = 10.0,
    ) -> None:
        self._url = url
        self._username = username
        self._sender = sender
        self._callback_field = callback_field
        self._http = httpx.AsyncClient(
            timeout=timeout, headers={api_key_header: api_key, "Accept": "application/json"}
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def send(self, sms: SmsSubmission) -> str:
        form = {"to": sms.to, "message": sms.text}
        if self._username:
            form["username"] = self._username
        if self._sender:
            form["from"] = self._sender
        if self._callback_field:
            form[self._callback_field] = sms.delivery_report_url
        try:
            response = await self._http.post(self._url, data=form)
        except httpx.TransportError as exc:
            raise ProviderUnavailable(f"SMS aggregator not reachable: {exc!r}") from exc
        if response.is_server_error or response.status_code in (401, 403, 429):
            # down, throttling, or a wrong key: every message alike, so not this one's fault
            raise ProviderUnavailable(
                f"SMS aggregator answered {response.status_code}: {response.text[:200]}"
            )
        if not response.is_success:
            raise ProviderRefused(
                f"SMS aggregator refused the message ({response.status_code}): "
                f"{response.text[:200]}"
            )
        try:
            recipient = response.json()["SMSMessageData"]["Recipients"][0]
            code, message_id = int(recipient["statusCode"]), str(recipient.get("messageId", ""))
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise ProviderUnavailable(
                f"SMS aggregator's answer not understood: {response.text[:200]}"
            ) from exc
        status = recipient.get("status", "")
        if code in AGGREGATOR_ACCEPTED:
            return message_id or sms.notification_id
        if code in AGGREGATOR_TRANSIENT:
            raise ProviderUnavailable(f"SMS aggregator: {code} {status}")
        raise ProviderRefused(f"SMS aggregator refused the message: {code} {status}")


class SmsSettings(Protocol):
    """What `sms_provider` reads of the service's settings (SMS_PROVIDER, KANNEL_*, SMS_HTTP_*
    in the environment)."""

    sms_provider: str  # kannel | http
    kannel_sendsms_url: str
    kannel_username: str
    kannel_password: str
    sms_http_url: str
    sms_http_api_key: str
    sms_http_username: str
    sms_http_sender: str
    sms_http_callback_field: str


def sms_provider(settings: SmsSettings) -> KannelSms | HttpAggregatorSms:
    """The SMS provider the settings name; an aggregator without its URL or key stops
    start-up naming them."""
    if settings.sms_provider != "http":
        return KannelSms(
            settings.kannel_sendsms_url, settings.kannel_username, settings.kannel_password
        )
    missing = [
        name
        for name, value in (
            ("SMS_HTTP_URL", settings.sms_http_url),
            ("SMS_HTTP_API_KEY", settings.sms_http_api_key),
        )
        if not value
    ]
    if missing:
        raise ValueError(f"SMS_PROVIDER=http needs {' and '.join(missing)}")
    return HttpAggregatorSms(
        settings.sms_http_url,
        settings.sms_http_api_key,
        username=settings.sms_http_username,
        sender=settings.sms_http_sender,
        callback_field=settings.sms_http_callback_field,
    )
