"""The pure parts of the channel adapters: which addresses a webhook may reach, which URLs are
acceptable in form, the signing secret's format, an SMS's coding and Kannel's dlr-url."""

from __future__ import annotations

import base64
import ipaddress
import re
from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st
from standardwebhooks import Webhook

from notification_service.adapters.email import SmtpEmail
from notification_service.adapters.sms import (
    GSM_7BIT,
    UCS2,
    HttpAggregatorSms,
    KannelSms,
    kannel_dlr_url,
    sms_coding,
    sms_provider,
)
from notification_service.adapters.webhooks import address_kind, new_secret, parse_url
from notification_service.service_layer.ports import Email, UnsafeUrl

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("127.255.0.9", "loopback"),
        ("::1", "loopback"),
        ("10.0.0.1", "private"),
        ("172.16.4.4", "private"),
        ("192.168.1.1", "private"),
        ("fd00::1", "private"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("240.0.0.1", "reserved"),
        ("100.64.0.1", "non-public"),
        ("::ffff:127.0.0.1", "loopback (IPv4 127.0.0.1 inside IPv6)"),
        ("::ffff:10.1.2.3", "private (IPv4 10.1.2.3 inside IPv6)"),
        ("2002:a00:1::", "private (IPv4 10.0.0.1 inside IPv6)"),  # 6to4
        ("8.8.8.8", None),
        ("2a00:1450:4001:80b::200e", None),
        ("::ffff:8.8.8.8", None),
    ],
)
def test_addresses_are_classified(address: str, kind: str | None) -> None:
    assert address_kind(ipaddress.ip_address(address)) == kind


@pytest.mark.parametrize(
    ("url", "allow_http", "refusal"),
    [
        ("http://hooks.example.com/x", False, "must use https"),
        ("ftp://hooks.example.com/x", True, "must use https"),
        ("file:///etc/passwd", False, "must use https"),
        ("https:///no-host", False, "no host"),
        ("https://[::1/", False, "not a valid URL"),
        ("https://hooks.example.com:99999/", False, "no valid port"),
    ],
)
def test_urls_of_the_wrong_form_are_refused(url: str, allow_http: bool, refusal: str) -> None:
    with pytest.raises(UnsafeUrl, match=refusal):
        parse_url(url, allow_http=allow_http)


def test_urls_of_the_right_form_pass() -> None:
    assert parse_url("https://hooks.example.com:8443/k?a=1", allow_http=False).port == 8443
    assert parse_url("http://hooks.example.com/k", allow_http=True).host == "hooks.example.com"


def test_a_new_secret_is_whsec_and_32_random_bytes() -> None:
    secret = new_secret()
    assert re.fullmatch(r"whsec_[A-Za-z0-9+/]{43}=", secret)
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 32
    assert new_secret() != secret
    Webhook(secret)  # the reference library takes it


@pytest.mark.parametrize(
    ("text", "coding"),
    [
        ("Habari Achieng, umelipa KES 1,000.00", GSM_7BIT),
        ("Ada: €5 {ref} [ok] ~ ^ | \\ ü é Ñ", GSM_7BIT),  # the extension table, accents GSM has
        ("Selam ሰላም", UCS2),
        ("Asante 😀", UCS2),
        ("Tafadhali lipa \u2018leo\u2019", UCS2),  # typographic quotes are not GSM
    ],
)
def test_an_sms_goes_in_the_cheapest_coding_that_keeps_it(text: str, coding: str) -> None:
    assert sms_coding(text) == coding


@given(st.text(alphabet=st.characters(codec="ascii", exclude_characters="\x00"), max_size=80))
def test_kannel_gives_the_callback_back_unchanged_with_the_report_appended(path: str) -> None:
    callback = "https://kopa.test/sms/reports/n1?token=" + path
    dlr_url = kannel_dlr_url(callback)
    # Kannel turns %% into % and %d, %A into the report's values (urltrans.c)
    expanded = re.sub(r"%(.)", lambda m: {"%": "%", "d": "1", "A": "ACK"}.get(m[1], m[0]), dlr_url)
    assert expanded == callback + "&dlr_type=1&reply=ACK"


def test_the_dlr_url_starts_a_query_when_the_callback_has_none() -> None:
    assert kannel_dlr_url("https://kopa.test/r/n1") == (
        "https://kopa.test/r/n1?dlr_type=%d&reply=%A"
    )


def test_an_email_is_utf8_plain_text_with_a_message_id_of_our_domain() -> None:
    sender = SmtpEmail("smtp+starttls://relay.kopa.test", "Kopa <no-reply@kopa.test>")
    message = sender.message(Email("ntf_1", "a@b.test", "Malipo ✓ KES 1,000.00", "Habari ✓"))
    assert message["Message-ID"].endswith("@kopa.test>") and "ntf_1" in message["Message-ID"]
    assert message.get_content_charset() == "utf-8"
    assert message.get_content() == "Habari ✓\n"


@pytest.mark.parametrize("url", ["http://relay", "smtp://", "relay.kopa.test:25"])
def test_an_smtp_url_of_another_form_is_refused_when_configured(url: str) -> None:
    with pytest.raises(ValueError, match="SMTP URL"):
        SmtpEmail(url, "no-reply@kopa.test")


@dataclass
class SmsConfig:
    sms_provider: str = "kannel"
    kannel_sendsms_url: str = "http://127.0.0.1:13013/cgi-bin/sendsms"
    kannel_username: str = "kopa"
    kannel_password: str = "secret"
    sms_http_url: str = ""
    sms_http_api_key: str = ""
    sms_http_username: str = ""
    sms_http_sender: str = ""
    sms_http_callback_field: str = ""


async def test_the_settings_choose_the_sms_provider() -> None:
    kannel = sms_provider(SmsConfig())
    aggregator = sms_provider(
        SmsConfig(sms_provider="http", sms_http_url="https://sms.test/send", sms_http_api_key="k")
    )
    assert isinstance(kannel, KannelSms) and isinstance(aggregator, HttpAggregatorSms)
    await kannel.aclose()
    await aggregator.aclose()
    with pytest.raises(ValueError, match="SMS_HTTP_URL and SMS_HTTP_API_KEY"):
        sms_provider(SmsConfig(sms_provider="http"))
