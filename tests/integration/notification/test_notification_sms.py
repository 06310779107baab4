"""SMS through the real Kannel (bearerbox + smsbox, deploy/local) to its fake SMSC: the message
reaches fakesmsc, and Kannel calls the delivery-report URL back with each report's type. And
the HTTP aggregator adapter against a real local listener."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import pytest

from notification_service.adapters.sms import HttpAggregatorSms, KannelSms
from notification_service.service_layer.ports import (
    ProviderRefused,
    ProviderUnavailable,
    SmsSubmission,
)
from shared.ids import new_id
from tests.support.channels import Answer, Listener, channel_env, closed_port, sms_to
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def env() -> dict[str, str]:
    return channel_env()


@pytest.fixture
async def kannel(env: dict[str, str]) -> AsyncIterator[KannelSms]:
    sms = KannelSms(env["KANNEL_SENDSMS_URL"], env["KANNEL_USERNAME"], env["KANNEL_PASSWORD"])
    yield sms
    await sms.aclose()


def new_number() -> str:
    return "+2547" + "".join(secrets.choice("0123456789") for _ in range(8))


async def test_a_message_reaches_the_smsc_and_its_delivery_reports_come_back(
    kannel: KannelSms, env: dict[str, str]
) -> None:
    to, notification_id = new_number(), new_id("ntf")
    text = f"Habari Achieng, umelipa KES 1,000.00. Ref {notification_id}"
    with Listener() as callbacks:
        # a token with percent-encoded characters, which Kannel must not take for escapes
        report_url = f"{callbacks.url}/sms/reports/{notification_id}?token=a%2Fb%3D"
        provider_id = await kannel.send(SmsSubmission(notification_id, to, text, report_url))

        assert provider_id == notification_id
        await wait_until(lambda: sms_to(env["KOPA_FAKESMSC_LOG"], to), limit=15)
        [received] = sms_to(env["KOPA_FAKESMSC_LOG"], to)
        assert (received.text, received.coding, received.sender) == (text, "text", "Kopa")

        # the fake SMSC reports "delivered to SMSC" (8) and "delivered to phone" (1); smsbox
        # calls back for each on connections of their own, so they may arrive in any order
        await wait_until(lambda: len(callbacks.requests) >= 2, limit=15)
        reports = {r.query["dlr_type"][0]: r for r in callbacks.requests}
        assert sorted(reports) == ["1", "8"] and len(callbacks.requests) == 2
        assert {r.path for r in reports.values()} == {f"/sms/reports/{notification_id}"}
        assert all(r.query["token"] == ["a/b="] for r in reports.values())
        assert reports["8"].query["reply"] == ["ACK/"]


async def test_a_text_gsm_cannot_write_goes_as_ucs2_unchanged(
    kannel: KannelSms, env: dict[str, str]
) -> None:
    to, notification_id = new_number(), new_id("ntf")
    text = f"Selam ሰላም 😀 {notification_id}"
    with Listener() as callbacks:
        await kannel.send(SmsSubmission(notification_id, to, text, f"{callbacks.url}/r"))
        await wait_until(lambda: sms_to(env["KOPA_FAKESMSC_LOG"], to), limit=15)
    [received] = sms_to(env["KOPA_FAKESMSC_LOG"], to)
    assert (received.coding, received.text) == ("ucs-2", text)


async def test_a_number_kannel_cannot_take_is_refused_for_good(kannel: KannelSms) -> None:
    with pytest.raises(ProviderRefused, match="400"):
        await kannel.send(SmsSubmission(new_id("ntf"), "not-a-number", "x", "http://127.0.0.1/r"))


async def test_a_wrong_account_is_an_outage_not_the_messages_fault(env: dict[str, str]) -> None:
    sms = KannelSms(env["KANNEL_SENDSMS_URL"], env["KANNEL_USERNAME"], "wrong")
    try:
        with pytest.raises(ProviderUnavailable, match="Authorization failed"):
            await sms.send(SmsSubmission(new_id("ntf"), new_number(), "x", "http://127.0.0.1/r"))
    finally:
        await sms.aclose()


async def test_kannel_down_is_unavailable() -> None:
    sms = KannelSms(f"http://127.0.0.1:{closed_port()}/cgi-bin/sendsms", "kopa", "kopa")
    try:
        with pytest.raises(ProviderUnavailable, match="not reachable"):
            await sms.send(SmsSubmission(new_id("ntf"), new_number(), "x", "http://127.0.0.1/r"))
    finally:
        await sms.aclose()


# --- HTTP aggregator -----------------------------------------------------------------------


def recipients(code: int, status: str, message_id: str = "") -> Answer:
    entry = {"statusCode": code, "number": "+254700000001", "status": status}
    if message_id:
        entry["messageId"] = message_id
    return Answer.json(201, {"SMSMessageData": {"Message": "Sent to 1/1", "Recipients": [entry]}})


async def aggregator_send(listener: Listener, sender: str = "", callback_field: str = "") -> str:
    sms = HttpAggregatorSms(
        f"{listener.url}/version1/messaging",
        "key-123",
        username="kopa",
        sender=sender,
        callback_field=callback_field,
    )
    try:
        return await sms.send(
            SmsSubmission("n-1", "+254700000001", "Habari", "https://kopa.test/r/n-1")
        )
    finally:
        await sms.aclose()


async def test_the_aggregator_is_posted_a_form_with_its_key_and_answers_an_id() -> None:
    with Listener(recipients(101, "Success", "ATPid_1")) as aggregator:
        assert await aggregator_send(aggregator, sender="KOPA", callback_field="callbackUrl")
    [request] = aggregator.requests
    assert (request.method, request.path) == ("POST", "/version1/messaging")
    assert request.headers["apikey"] == "key-123"
    assert request.form() == {
        "username": "kopa",
        "to": "+254700000001",
        "message": "Habari",
        "from": "KOPA",
        "callbackUrl": "https://kopa.test/r/n-1",
    }


async def test_the_aggregators_answers_are_told_apart() -> None:
    with Listener(recipients(101, "Success", "ATPid_1")) as aggregator:
        assert await aggregator_send(aggregator) == "ATPid_1"
        aggregator.answer = recipients(403, "InvalidPhoneNumber")
        with pytest.raises(ProviderRefused, match="InvalidPhoneNumber"):
            await aggregator_send(aggregator)
        aggregator.answer = recipients(405, "InsufficientBalance")
        with pytest.raises(ProviderUnavailable, match="InsufficientBalance"):
            await aggregator_send(aggregator)
        aggregator.answer = Answer(401, b"bad key")
        with pytest.raises(ProviderUnavailable, match="401"):
            await aggregator_send(aggregator)
        aggregator.answer = Answer(400, b"missing to")
        with pytest.raises(ProviderRefused, match="400"):
            await aggregator_send(aggregator)
        aggregator.answer = Answer(502, b"gateway down")
        with pytest.raises(ProviderUnavailable, match="502"):
            await aggregator_send(aggregator)
