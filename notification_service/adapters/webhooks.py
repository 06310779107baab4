"""Webhooks to an institution's own systems, signed per the Standard Webhooks specification
(with its reference library, `standardwebhooks`), and guarded against server-side request
forgery: the host is resolved, every address it resolves to must be public (unless
`allow_private`), and the request goes to the address that was checked, so that a DNS answer
changed between the check and the connection (rebinding) cannot point it elsewhere."""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import secrets
import socket
import ssl
import time
from collections import OrderedDict
from datetime import UTC, datetime

import httpx
from standardwebhooks import Webhook

from notification_service.service_layer.ports import (
    UnsafeUrl,
    WebhookRequest,
    WebhookResponse,
    WebhookSender,
)

USER_AGENT = "Kopa-Webhooks/1"
# what is kept of an endpoint's answer for the delivery log
MAX_RESPONSE_BYTES = 4096
#: Hosts whose connections are kept; the least recently used beyond are closed.
MAX_CLIENTS = 256

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def new_secret() -> str:
    """A signing secret as the specification writes it: `whsec_` + base64 of 32 random
    bytes (the HMAC-SHA256 key)."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def address_kind(address: IPAddress) -> str | None:
    """Why `address` must not be called from inside the platform ("loopback", "private", ...),
    or None for a public address. An IPv6 address that carries an IPv4 one (mapped, 6to4,
    Teredo) is judged by the IPv4 address it reaches."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour or (address.teredo or (None, None))[1]
        if embedded is not None:
            kind = address_kind(embedded)
            return f"{kind} (IPv4 {embedded} inside IPv6)" if kind else None
    for kind in ("loopback", "link_local", "multicast", "unspecified", "reserved", "private"):
        if getattr(address, f"is_{kind}"):
            return kind.replace("_", "-")
    # shared address space (carrier-grade NAT, 100.64.0.0/10) and the like
    return None if address.is_global else "non-public"


def parse_url(url: str, *, allow_http: bool) -> httpx.URL:
    """The URL if its form may be called (https, or http when allowed; a host), else
    UnsafeUrl saying why."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise UnsafeUrl(f"url {url!r} is not a valid URL: {exc}") from exc
    allowed = ("https", "http") if allow_http else ("https",)
    if parsed.scheme not in allowed:
        raise UnsafeUrl(f"url {url!r} must use https")
    if not parsed.host:
        raise UnsafeUrl(f"url {url!r} has no host")
    if not 0 < port_of(parsed) < 65536:
        raise UnsafeUrl(f"url {url!r} has no valid port")
    return parsed


def port_of(url: httpx.URL) -> int:
    return url.port or (443 if url.scheme == "https" else 80)


class HttpWebhooks(WebhookSender):
    """`allow_private` lets URLs reach loopback and private networks (local development and
    tests); `allow_http` lets them be plain http. Both off in production."""

    def __init__(
        self,
        *,
        allow_private: bool = False,
        allow_http: bool = False,
        connect_timeout: float = 5.0,
        total_timeout: float = 10.0,
        verify: ssl.SSLContext | None = None,
    ) -> None:
        self._allow_private = allow_private
        self._allow_http = allow_http
        self._connect_timeout = connect_timeout
        self._total_timeout = total_timeout
        # built once: loading the certificate authorities costs milliseconds a client
        self._tls = verify or ssl.create_default_context()
        # One client per scheme, host name and port, so that its pooled connections (keyed by
        # the pinned address) only ever carry requests for that host name (its SNI): a new
        # connection per delivery cost a TCP (and TLS) handshake each, a third of a delivery.
        self._clients: OrderedDict[tuple[str, str, int], httpx.AsyncClient] = OrderedDict()

    async def _client_for(self, url: httpx.URL) -> httpx.AsyncClient:
        key = (url.scheme, url.host, port_of(url))
        client = self._clients.pop(key, None)
        if client is None:
            client = httpx.AsyncClient(
                verify=self._tls,
                follow_redirects=False,
                timeout=httpx.Timeout(self._total_timeout, connect=self._connect_timeout),
                limits=httpx.Limits(max_connections=64, keepalive_expiry=30.0),
            )
        self._clients[key] = client
        while len(self._clients) > MAX_CLIENTS:
            _, oldest = self._clients.popitem(last=False)
            await oldest.aclose()
        return client

    async def aclose(self) -> None:
        while self._clients:
            _, client = self._clients.popitem()
            await client.aclose()

    async def addresses(self, url: httpx.URL) -> list[IPAddress]:
        """Every address the URL's host resolves to, each checked; UnsafeUrl when it does not
        resolve or any address is not public (a host with one public and one private address
        could be steered to the private one)."""
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                url.host, port_of(url), type=socket.SOCK_STREAM
            )
        except socket.gaierror as exc:
            raise UnsafeUrl(f"url's host {url.host} does not resolve: {exc.strerror}") from exc
        addresses = list(dict.fromkeys(ipaddress.ip_address(info[4][0]) for info in infos))
        if not self._allow_private:
            for address in addresses:
                kind = address_kind(address)
                if kind:
                    shown = url.host if str(address) == url.host else f"{url.host} ({address})"
                    article = "an" if kind[0] in "aeiou" else "a"
                    raise UnsafeUrl(f"url's host {shown} is {article} {kind} address; refused")
        return addresses

    async def check_url(self, url: str) -> None:
        parsed = parse_url(url, allow_http=self._allow_http)
        failures = []
        for address in await self.addresses(parsed):
            try:
                async with asyncio.timeout(self._connect_timeout):
                    _, writer = await asyncio.open_connection(str(address), port_of(parsed))
            except (OSError, TimeoutError) as exc:
                failures.append(f"{address}: {exc or type(exc).__name__}")
                continue
            writer.close()
            await writer.wait_closed()
            return
        raise UnsafeUrl(f"url {url!r} is unreachable ({'; '.join(failures)})")

    def signed_headers(self, request: WebhookRequest) -> dict[str, str]:
        signature = Webhook(request.secret).sign(
            msg_id=request.delivery_id,
            timestamp=datetime.fromtimestamp(request.timestamp, tz=UTC),
            data=request.body.decode("utf-8"),
        )
        return {
            "webhook-id": request.delivery_id,
            "webhook-timestamp": str(request.timestamp),
            "webhook-signature": signature,
            "content-type": "application/json",
            "user-agent": USER_AGENT,
        }

    async def send(self, request: WebhookRequest) -> WebhookResponse:
        started = time.monotonic()
        status, error, body = 0, "", ""
        headers: dict[str, str] = {}
        try:
            async with asyncio.timeout(self._total_timeout):
                status, headers, body = await self._deliver(request)
        except UnsafeUrl as exc:
            error = str(exc)
        except TimeoutError:
            error = f"no answer within {self._total_timeout:g} s"
        except httpx.TimeoutException as exc:
            error = f"timed out ({type(exc).__name__})"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
        return WebhookResponse(
            status=status,
            error=error,
            duration_ms=int((time.monotonic() - started) * 1000),
            headers=headers,
            body=body,
        )

    async def _deliver(self, request: WebhookRequest) -> tuple[int, dict[str, str], str]:
        url = parse_url(request.url, allow_http=self._allow_http)
        headers = {
            **self.signed_headers(request),
            "host": url.netloc.decode("ascii"),
            # the body is kept as sent: no decompression (a small gzip can inflate to gigabytes)
            "accept-encoding": "identity",
        }
        failures = []
        for address in await self.addresses(url):
            try:
                return await self._post(url, address, headers, request.body)
            except httpx.ConnectError as exc:
                # the host's next address, as a browser would
                failures.append(f"{address}: {exc}")
        raise httpx.ConnectError(f"connection failed: {'; '.join(failures)}")

    async def _post(
        self, url: httpx.URL, address: IPAddress, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], str]:
        # Connect to the checked address itself; the Host header and, for https, the TLS
        # server name (SNI, which the certificate is also verified against) stay the URL's.
        pinned = url.copy_with(host=str(address))
        extensions = {"sni_hostname": url.host} if url.scheme == "https" else {}
        client = await self._client_for(url)
        sent = client.build_request(
            "POST", pinned, headers=headers, content=body, extensions=extensions
        )
        response = await client.send(sent, stream=True)
        kept = bytearray()
        try:
            async for chunk in response.aiter_raw():
                kept += chunk
                if len(kept) >= MAX_RESPONSE_BYTES:
                    break
        finally:
            await response.aclose()
        text = bytes(kept[:MAX_RESPONSE_BYTES]).decode("utf-8", errors="replace")
        return response.status_code, dict(response.headers), text
