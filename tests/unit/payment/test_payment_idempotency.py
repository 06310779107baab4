"""Idempotency: request fingerprints and the proceed / replay / in-progress / conflict decision."""

import datetime as dt
import hashlib
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from payment_service.domain.errors import (
    IDEMPOTENCY_KEY_INVALID,
    IDEMPOTENCY_KEY_REUSED,
    IDEMPOTENCY_REQUEST_IN_PROGRESS,
    ConflictError,
    ValidationError,
)
from payment_service.domain.idempotency import (
    IdempotencyRecord,
    InProgress,
    Proceed,
    RecordState,
    Replay,
    StoredResponse,
    canonical_json,
    decide,
    fingerprint,
    parse_body,
    validate_key,
)

pytestmark = pytest.mark.unit

NOW = dt.datetime(2026, 3, 31, 9, 0, tzinfo=dt.UTC)
SECOND = dt.timedelta(seconds=1)
PATH = "/v1/loans/L1/repayments"
BODY = {"amount": "100.00", "channel": "cash", "n": 1.5}
FP = fingerprint("POST", PATH, BODY)
RESPONSE = StoredResponse(201, b'{"id":"pay-1"}')


# --- fingerprint -----------------------------------------------------------------------------


def test_canonical_json_known_answer() -> None:
    text = '["POST","/v1/loans/L1/repayments",{"amount":"100.00","channel":"cash","n":1.5}]'
    assert canonical_json(["POST", PATH, {"n": 1.5, "channel": "cash", "amount": "100.00"}]) == text
    # computed independently: printf '%s' "$text" | sha256sum
    assert FP == "b8c9f82aed66df78b771eecec001cd0a6ef45a1d1df61cf43e52e54a5837a4a9"
    assert hashlib.sha256(text.encode()).hexdigest() == FP


def test_key_order_whitespace_and_number_spelling_do_not_matter() -> None:
    raw = b'{ "n" : 1.50, "channel":"cash",\n "amount": "100.00" }'
    assert fingerprint("post", PATH, parse_body(raw)) == FP
    assert (
        fingerprint("POST", PATH, {"amount": "100.00", "channel": "cash", "n": Decimal("15E-1")})
        == FP
    )


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("PUT", PATH, BODY),
        ("POST", "/v1/loans/L2/repayments", BODY),
        ("POST", PATH, {**BODY, "amount": "100.0"}),  # a string is compared as written
        ("POST", PATH, {**BODY, "n": "1.5"}),  # a string is not a number
        ("POST", PATH, {**BODY, "reference": None}),
        ("POST", PATH, {k: v for k, v in BODY.items() if k != "channel"}),
        ("POST", PATH, None),
    ],
)
def test_any_real_change_changes_the_fingerprint(method: str, path: str, body: object) -> None:
    assert fingerprint(method, path, body) != FP


def test_canonical_values() -> None:
    assert canonical_json({"b": [True, False, None], "a": "é"}) == '{"a":"é","b":[true,false,null]}'
    assert canonical_json([Decimal("-0.0"), 0, Decimal("1E+2"), 100]) == "[0,0,100,100]"
    assert (
        canonical_json([Decimal("0.000120"), Decimal("-12.3400"), 1.25]) == "[0.00012,-12.34,1.25]"
    )
    assert (
        canonical_json([Decimal("1E+999999999"), Decimal("-1.50E-40")]) == "[1E+999999999,-1.5E-40]"
    )
    assert fingerprint("POST", PATH, parse_body(b'{"n": 1e999999999}')) == fingerprint(
        "POST", PATH, {"n": Decimal("10E+999999998")}
    )
    with pytest.raises(ValueError):
        canonical_json(Decimal("NaN"))
    with pytest.raises(ValueError):
        canonical_json(float("inf"))
    with pytest.raises(TypeError):
        canonical_json({1: "x"})
    with pytest.raises(TypeError):
        canonical_json({"x": object()})


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.text()
    | st.decimals(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@given(json_values)
def test_canonical_json_is_valid_json_and_stable(value: object) -> None:
    text = canonical_json(value)
    reparsed = parse_body(text.encode())
    assert canonical_json(reparsed) == text


# --- keys ------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["", " ", "a b", "x" * 256, "ключ", None, 5])
def test_invalid_keys(key: object) -> None:
    with pytest.raises(ValidationError) as info:
        validate_key(key)
    assert info.value.reason == IDEMPOTENCY_KEY_INVALID
    assert info.value.field_errors[0][0] == "Idempotency-Key"


def test_valid_keys() -> None:
    assert (
        validate_key("8e03978e-40d5-43e8-bc93-6894a57f9324")
        == "8e03978e-40d5-43e8-bc93-6894a57f9324"
    )
    assert validate_key("x" * 255) == "x" * 255


# --- decisions -------------------------------------------------------------------------------


def claimed(at: dt.datetime = NOW) -> IdempotencyRecord:
    return IdempotencyRecord.claim("k1", FP, now=at, lease=dt.timedelta(seconds=30))


def test_a_new_key_proceeds() -> None:
    assert decide(None, FP, now=NOW) == Proceed(resumed=False, attempt=1)
    record = claimed()
    assert (record.state, record.attempt, record.lease_expires_at) == (
        RecordState.IN_PROGRESS,
        1,
        NOW + 30 * SECOND,
    )


def test_same_request_completed_is_replayed() -> None:
    record = claimed().complete(RESPONSE, now=NOW + 2 * SECOND)
    assert decide(record, FP, now=NOW + 60 * SECOND) == Replay(RESPONSE)


def test_same_request_in_progress_waits() -> None:
    decision = decide(claimed(), FP, now=NOW + 10.5 * SECOND)
    assert decision == InProgress(retry_after_seconds=20)  # 19.5 s of lease left, rounded up
    assert isinstance(decision, InProgress)
    error = decision.as_error()
    assert isinstance(error, ConflictError)
    assert error.reason == IDEMPOTENCY_REQUEST_IN_PROGRESS


def test_in_progress_asks_to_retry_after_at_least_a_second() -> None:
    assert decide(claimed(), FP, now=NOW + 29.9 * SECOND) == InProgress(1)


@pytest.mark.parametrize("completed", [False, True])
def test_a_key_reused_with_another_body_conflicts(completed: bool) -> None:
    record = claimed()
    if completed:
        record = record.complete(RESPONSE, now=NOW)
    other = fingerprint("POST", PATH, {**BODY, "amount": "200.00"})
    with pytest.raises(ConflictError) as info:
        decide(record, other, now=NOW + SECOND)
    assert info.value.reason == IDEMPOTENCY_KEY_REUSED
    assert info.value.field_errors[0][0] == "Idempotency-Key"


def test_a_stuck_request_is_resumable_after_its_lease() -> None:
    record = claimed()
    assert decide(record, FP, now=NOW + 30 * SECOND) == Proceed(resumed=True, attempt=2)
    taken = record.take_over(now=NOW + 31 * SECOND, lease=dt.timedelta(seconds=30))
    assert (taken.attempt, taken.lease_expires_at) == (2, NOW + 61 * SECOND)
    assert decide(taken, FP, now=NOW + 40 * SECOND) == InProgress(21)
    # the resumed worker finishes: later retries replay
    done = taken.complete(RESPONSE, now=NOW + 45 * SECOND)
    assert decide(done, FP, now=NOW + 50 * SECOND) == Replay(RESPONSE)


def test_a_stuck_request_with_another_body_still_conflicts() -> None:
    with pytest.raises(ConflictError):
        decide(claimed(), "0" * 64, now=NOW + 3600 * SECOND)


def test_a_live_request_cannot_be_taken_over() -> None:
    with pytest.raises(ConflictError) as info:
        claimed().take_over(now=NOW + 10 * SECOND)
    assert info.value.reason == IDEMPOTENCY_REQUEST_IN_PROGRESS
    with pytest.raises(ConflictError):
        claimed().complete(RESPONSE, now=NOW).take_over(now=NOW + 3600 * SECOND)


def test_a_heartbeat_extends_the_lease() -> None:
    renewed = claimed().renew(now=NOW + 25 * SECOND, lease=dt.timedelta(seconds=30))
    assert decide(renewed, FP, now=NOW + 40 * SECOND) == InProgress(15)


def test_completed_records_are_forgotten_after_the_retention() -> None:
    done = claimed().complete(RESPONSE, now=NOW)
    day = dt.timedelta(hours=24)
    assert decide(done, FP, now=NOW + day) == Replay(RESPONSE)
    assert decide(done, FP, now=NOW + day + SECOND) == Proceed()
    assert decide(done, "0" * 64, now=NOW + day + SECOND) == Proceed()
    assert decide(done, FP, now=NOW + 365 * day, retention=None) == Replay(RESPONSE)


@given(st.decimals(allow_nan=False, allow_infinity=False))
def test_numbers_are_written_exactly(value: Decimal) -> None:
    text = canonical_json(value)
    assert Decimal(text) == value
    assert text == canonical_json(Decimal(text))  # one spelling per value
