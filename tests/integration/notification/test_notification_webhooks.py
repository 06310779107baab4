"""Webhooks to real HTTP(S) listeners: the Standard Webhooks signature checked with the
specification's own library and computed here independently, no redirect followed, a slow
endpoint cut off, the connection pinned to the checked address with the host name kept for
Host and TLS, and private, loopback and link-local addresses refused."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import pytest
from standardwebhooks import Webhook

from notification_service.adapters.webhooks import HttpWebhooks, new_secret
from notification_service.service_layer.ports import UnsafeUrl, WebhookRequest
from shared.ids import new_id
from tests.support.channels import Answer, Listener, closed_port, self_signed

pytestmark = pytest.mark.integration

# what tests on this machine call: listeners on 127.0.0.1 over plain http
LOCAL = HttpWebhooks(allow_private=True, allow_http=True)


def delivery(url: str, secret: str) -> WebhookRequest:
    body = json.dumps(
        {"type": "repayment.received", "data": {"borrower": "Achieng", "amount": "1000.00"}},
        ensure_ascii=False,
    ).encode()
    return WebhookRequest(url, new_id("whd"), secret, body, int(time.time()))


async def test_a_delivery_is_signed_per_the_specification() -> None:
    secret = new_secret()
    with Listener(Answer(204, b"")) as endpoint:
        request = delivery(f"{endpoint.url}/hooks/kopa?tenant=1", secret)
        response = await LOCAL.send(request)

    assert (response.status, response.error, response.succeeded) == (204, "", True)
    [received] = endpoint.requests
    assert (received.method, received.path, received.body) == ("POST", "/hooks/kopa", request.body)
    headers = received.headers
    assert headers["content-type"] == "application/json"
    assert headers["user-agent"] == "Kopa-Webhooks/1"
    assert headers["webhook-id"] == request.delivery_id
    assert headers["webhook-timestamp"] == str(request.timestamp)

    # the reference library accepts it (and returns the parsed body)
    assert Webhook(secret).verify(received.body, headers)["data"]["borrower"] == "Achieng"
    # and so does the specification's algorithm, written out
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{request.delivery_id}.{request.timestamp}.".encode() + received.body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    assert headers["webhook-signature"] == f"v1,{expected}"
    # a tampered body is not
    with pytest.raises(Exception, match="signature"):
        Webhook(secret).verify(received.body.replace(b"1000", b"9000"), headers)


async def test_a_redirect_is_reported_not_followed() -> None:
    with Listener() as elsewhere, Listener(Answer(302, b"moved")) as endpoint:
        endpoint.answer.headers["Location"] = f"{elsewhere.url}/stolen"
        response = await LOCAL.send(delivery(f"{endpoint.url}/hook", new_secret()))

    assert (response.status, response.succeeded) == (302, False)
    assert response.headers["location"] == f"{elsewhere.url}/stolen"
    assert response.body == "moved"
    assert len(endpoint.requests) == 1
    assert elsewhere.requests == []


async def test_an_endpoint_that_does_not_answer_in_time_is_cut_off() -> None:
    impatient = HttpWebhooks(allow_private=True, allow_http=True, total_timeout=1.0)
    with Listener(Answer(200, delay=30)) as endpoint:
        started = time.monotonic()
        response = await impatient.send(delivery(f"{endpoint.url}/hook", new_secret()))

    assert response.status == 0 and response.error
    assert time.monotonic() - started < 5
    assert 900 <= response.duration_ms < 5000


async def test_only_the_first_few_kilobytes_of_an_answer_are_kept() -> None:
    with Listener(Answer(500, b"x" * 1_000_000)) as endpoint:
        response = await LOCAL.send(delivery(f"{endpoint.url}/hook", new_secret()))
    assert response.status == 500
    assert len(response.body) == 4096


async def test_the_connection_goes_to_the_checked_address_with_the_host_name_kept() -> None:
    """https://localhost:PORT is resolved and checked, then connected to by address: the
    Host header and the TLS server name (against which the certificate is verified) stay
    `localhost`."""
    tls = self_signed("localhost")
    sender = HttpWebhooks(allow_private=True, verify=tls.client)
    with Listener(tls=tls.server) as endpoint:
        url = f"https://localhost:{endpoint.port}/hook"
        await sender.check_url(url)
        response = await sender.send(delivery(url, new_secret()))

    assert (response.status, response.error) == (200, "")
    assert endpoint.requests[0].headers["host"] == f"localhost:{endpoint.port}"


async def test_a_certificate_for_another_name_is_refused() -> None:
    tls = self_signed("bank.kopa.test")
    sender = HttpWebhooks(allow_private=True, verify=tls.client)
    with Listener(tls=tls.server) as endpoint:
        response = await sender.send(
            delivery(f"https://localhost:{endpoint.port}/hook", new_secret())
        )
    assert response.status == 0 and "certificate" in response.error.lower()
    assert endpoint.requests == []


@pytest.mark.parametrize(
    ("host", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("10.0.0.1", "private"),
        ("192.168.1.20", "private"),
        ("169.254.169.254", "link-local"),
        ("[::1]", "loopback"),
        ("[::ffff:127.0.0.1]", "loopback"),
        ("localhost", "loopback"),
        ("0.0.0.0", "unspecified"),
    ],
)
async def test_private_addresses_are_refused(host: str, kind: str) -> None:
    guarded = HttpWebhooks()
    url = f"https://{host}/hook"
    with pytest.raises(UnsafeUrl, match=f"is an? {kind} .*address; refused"):
        await guarded.check_url(url)
    response = await guarded.send(delivery(url, new_secret()))
    assert response.status == 0 and f" {kind} " in response.error


async def test_a_refused_address_is_refused_at_send_time_too() -> None:
    """An endpoint checked when it was saved is checked again on every delivery (its name
    may resolve elsewhere by then): nothing reaches a loopback listener."""
    with Listener() as endpoint:
        response = await HttpWebhooks(allow_http=True).send(
            delivery(f"http://localhost:{endpoint.port}/hook", new_secret())
        )
    assert response.status == 0 and "loopback" in response.error
    assert endpoint.requests == []


async def test_plain_http_is_refused_unless_allowed() -> None:
    with pytest.raises(UnsafeUrl, match="must use https"):
        await HttpWebhooks(allow_private=True).check_url("http://127.0.0.1:8080/hook")
    with Listener() as endpoint:
        await HttpWebhooks(allow_private=True, allow_http=True).check_url(endpoint.url)


async def test_an_unreachable_or_unknown_endpoint_is_refused() -> None:
    with pytest.raises(UnsafeUrl, match="unreachable"):
        await LOCAL.check_url(f"http://127.0.0.1:{closed_port()}/hook")
    with pytest.raises(UnsafeUrl, match="does not resolve"):
        await LOCAL.check_url("https://no-such-host.invalid/hook")
