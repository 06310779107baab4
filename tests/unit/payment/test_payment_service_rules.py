"""The service layer's pure rules: request validation, idempotency scope and fingerprints,
stored failures, settings. No I/O."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from pydantic import ValidationError as SettingsError

from kopa.payment.v1 import payment_pb2
from payment_service.adapters.codec import STATUS_TO_PROTO, payment_to_proto
from payment_service.adapters.serialization import failure_from_doc, failure_to_doc
from payment_service.bootstrap import Settings
from payment_service.domain.payment import Failure, is_transient
from payment_service.service_layer.mobile_money import mobile_money_payment_id
from payment_service.service_layer.repayments import (
    RepaymentCommand,
    command_from_text,
    fingerprint_of,
    latest_business_date,
    payment_id_for,
    validate_command,
)
from shared.errors import Aborted, IllegalState, ValidationError
from tests.support.errors import fields_of

pytestmark = pytest.mark.unit

NOW = dt.datetime(2026, 3, 31, 12, 0, tzinfo=dt.UTC)


def cmd(**kw: Any) -> RepaymentCommand:
    values = {
        "loan_id": "loan_1",
        "amount": "100.00",
        "paid_on": "2026-03-31",
        "channel": "",
        "reference": "",
        "idempotency_key": "k-1",
    }
    values.update(kw)
    return command_from_text(**values)


def test_a_valid_command_defaults_the_channel_to_cash() -> None:
    assert validate_command(cmd(), NOW).channel == "cash"
    assert validate_command(cmd(channel="mobile_money"), NOW).channel == "mobile_money"


@pytest.mark.parametrize(
    ("changes", "fields"),
    [
        ({"idempotency_key": ""}, ["Idempotency-Key"]),
        ({"idempotency_key": "has space"}, ["Idempotency-Key"]),
        ({"loan_id": ""}, ["loan_id"]),
        ({"amount": "0"}, ["amount"]),
        ({"amount": "-1"}, ["amount"]),
        ({"amount": "1e3"}, ["amount"]),
        ({"amount": "1,50"}, ["amount"]),
        ({"amount": ""}, ["amount"]),
        ({"paid_on": ""}, ["paid_on"]),
        ({"paid_on": "20260331"}, ["paid_on"]),
        ({"paid_on": "2026-02-30"}, ["paid_on"]),
        ({"paid_on": "2026-04-02"}, ["paid_on"]),
        ({"channel": "cheque"}, ["channel"]),
        ({"reference": "x" * 121}, ["reference"]),
        (
            {"amount": "-1", "paid_on": "2099-01-01", "channel": "cheque", "idempotency_key": ""},
            ["Idempotency-Key", "amount", "paid_on", "channel"],
        ),
    ],
)
def test_bad_input_names_every_field(changes: dict[str, str], fields: list[str]) -> None:
    with pytest.raises(ValidationError) as info:
        validate_command(cmd(**changes), NOW)
    assert fields_of(info) == fields


def test_amount_reason_is_specific() -> None:
    with pytest.raises(ValidationError) as info:
        validate_command(cmd(amount="0"), NOW)
    assert info.value.reason == "AMOUNT_INVALID"


def test_today_anywhere_on_earth_is_not_the_future() -> None:
    # 12:00 UTC on 31 March is already 1 April in Kiribati (UTC+14).
    assert latest_business_date(NOW) == dt.date(2026, 4, 1)
    validate_command(cmd(paid_on="2026-04-01"), NOW)
    validate_command(cmd(paid_on="2020-01-01"), NOW)  # back-office entry


def test_the_key_is_scoped_to_institution_and_caller() -> None:
    one = payment_id_for("inst_a", "usr_1", "k")
    assert one == payment_id_for("inst_a", "usr_1", "k")
    assert one.startswith("pay_")
    assert (
        len({one, payment_id_for("inst_b", "usr_1", "k"), payment_id_for("inst_a", "usr_2", "k")})
        == 3
    )
    assert mobile_money_payment_id("inst_a", "paybill", "T1") != mobile_money_payment_id(
        "inst_a", "other", "T1"
    )


def test_the_fingerprint_covers_the_body_not_its_spelling() -> None:
    base = validate_command(cmd(), NOW)
    assert fingerprint_of(base) == fingerprint_of(validate_command(cmd(amount="100"), NOW))
    assert fingerprint_of(base) == fingerprint_of(validate_command(cmd(channel="cash"), NOW))
    for changed in (
        {"amount": "100.01"},
        {"paid_on": "2026-03-30"},
        {"channel": "bank"},
        {"reference": "r"},
        {"loan_id": "loan_2"},
    ):
        assert fingerprint_of(base) != fingerprint_of(validate_command(cmd(**changed), NOW))


def test_a_stored_failure_is_raised_again_identically() -> None:
    err = IllegalState("loan is closed", reason="LOAN_NOT_ACTIVE", metadata={"s": "closed"})
    stored = failure_to_doc(Failure.of(err, retryable=False))
    again = failure_from_doc(stored).as_error()
    assert type(again) is IllegalState
    assert (again.reason, again.message, again.metadata) == (err.reason, err.message, err.metadata)
    assert is_transient(Aborted("busy")) and not is_transient(err)


def test_every_status_maps_to_the_contract() -> None:
    assert STATUS_TO_PROTO["assigning"] == payment_pb2.PAYMENT_STATUS_PENDING
    assert STATUS_TO_PROTO["reversing"] == payment_pb2.PAYMENT_STATUS_POSTED
    proto = payment_to_proto({"_id": "pay_1", "status": "suspense", "failure": None})
    assert proto.status == payment_pb2.PAYMENT_STATUS_SUSPENSE


def settings(**kw: Any) -> Settings:
    values: dict[str, Any] = {
        "mongodb_url": "mongodb://x",
        "redis_url": "redis://x",
        "amqp_url": "amqp://x",
        **kw,
    }
    return Settings(**values)


def test_settings_read_mobile_money_secrets_and_refuse_short_ones() -> None:
    s = settings(mobile_money_secrets={"inst_a": ["s" * 16]})
    assert s.service_name() == "payment" and s.mongodb_database.endswith("_payment")
    assert s.payment_config().mobile_money_secrets == {"inst_a": [b"s" * 16]}
    with pytest.raises(SettingsError):
        settings(mobile_money_secrets={"inst_a": ["short"]})
    with pytest.raises(SettingsError):
        settings(mobile_money_secrets={"inst_a": []})
    with pytest.raises(SettingsError):
        settings(kopa_env="production", mobile_money_secrets={"inst_a": ["s" * 16]})
