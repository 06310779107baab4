"""The mobile-money callback: signature, replay window, parsing and loan matching."""

import datetime as dt
import json
from decimal import Decimal

import pytest

from payment_service.domain.errors import (
    CALLBACK_INVALID,
    REPLAYED,
    SIGNATURE_INVALID,
    UnauthenticatedError,
)
from payment_service.domain.mobile_money import (
    Ambiguous,
    LoanCandidate,
    Matched,
    MatchedBy,
    Unmatched,
    compute_signature,
    match_loan,
    parse_callback,
    parse_signature_header,
    signature_header,
    verify_and_parse,
    verify_signature,
)
from shared.errors import ValidationError  # the base of the payment domain's own

pytestmark = pytest.mark.unit

SECRET = b"whsec_test_secret"
T = 1_700_000_000
NOW = dt.datetime.fromtimestamp(T, dt.UTC)


def body(**overrides: object) -> bytes:
    data: dict[str, object] = {
        "transaction_id": "QK7Y2ZX1",
        "account_reference": "ln-7f3k2",
        "msisdn": "+254712345678",
        "amount": "1500.00",
        "currency": "KES",
        "transacted_at": "2026-03-31T09:15:02+03:00",
    }
    data.update(overrides)
    return json.dumps({k: v for k, v in data.items() if v is not ...}).encode()


# --- signature -------------------------------------------------------------------------------


def test_signature_known_answer() -> None:
    """HMAC-SHA256 over b"{t}." + raw body, as computed independently with openssl."""
    raw = b'{"transaction_id":"QK7Y2ZX1","amount":"1500.00"}'
    expected = "429e52a090faf05f19ce1e819623a41176fa65d3be857662699d1803a1dd093c"
    assert compute_signature(SECRET, T, raw) == expected
    assert signature_header(SECRET, raw, T) == f"t={T},v1={expected}"


def test_a_valid_signature_passes() -> None:
    raw = body()
    assert verify_signature(raw, signature_header(SECRET, raw, T), SECRET, now=NOW) == T


def test_a_tampered_body_fails() -> None:
    raw = body()
    header = signature_header(SECRET, raw, T)
    tampered = raw.replace(b"1500.00", b"9500.00")
    with pytest.raises(UnauthenticatedError) as info:
        verify_signature(tampered, header, SECRET, now=NOW)
    assert info.value.reason == SIGNATURE_INVALID
    # even a change the JSON parser would not see (whitespace) breaks it: the raw bytes count
    with pytest.raises(UnauthenticatedError):
        verify_signature(raw + b" ", header, SECRET, now=NOW)


def test_a_wrong_secret_fails() -> None:
    raw = body()
    with pytest.raises(UnauthenticatedError) as info:
        verify_signature(raw, signature_header(b"another", raw, T), SECRET, now=NOW)
    assert info.value.reason == SIGNATURE_INVALID


def test_a_re_signed_timestamp_fails() -> None:
    """Changing t without the secret invalidates the signature (t is signed)."""
    raw = body()
    digest = compute_signature(SECRET, T - 1000, raw)
    with pytest.raises(UnauthenticatedError) as info:
        verify_signature(raw, f"t={T},v1={digest}", SECRET, now=NOW)
    assert info.value.reason == SIGNATURE_INVALID


@pytest.mark.parametrize(
    ("offset", "ok"),
    [(0, True), (-300, True), (300, True), (-301, False), (301, False), (-86400, False)],
)
def test_replay_window(offset: int, ok: bool) -> None:
    """Signed ``offset`` seconds from now: 300 s either way is tolerated, not more."""
    raw = body()
    header = signature_header(SECRET, raw, T + offset)
    if ok:
        assert verify_signature(raw, header, SECRET, now=NOW) == T + offset
    else:
        with pytest.raises(UnauthenticatedError) as info:
            verify_signature(raw, header, SECRET, now=NOW)
        assert info.value.reason == REPLAYED
        assert ("future" in info.value.message) == (offset > 0)


def test_the_tolerance_is_configurable() -> None:
    raw = body()
    header = signature_header(SECRET, raw, T - 60)
    with pytest.raises(UnauthenticatedError) as info:
        verify_signature(raw, header, SECRET, now=NOW, tolerance_seconds=30)
    assert info.value.reason == REPLAYED


def test_an_old_forged_message_is_a_bad_signature_not_a_replay() -> None:
    raw = body()
    header = signature_header(b"forger", raw, T - 10_000)
    with pytest.raises(UnauthenticatedError) as info:
        verify_signature(raw, header, SECRET, now=NOW)
    assert info.value.reason == SIGNATURE_INVALID


def test_secret_rotation() -> None:
    raw = body()
    old, new = b"old-secret", b"new-secret"
    both = f"t={T},v1={compute_signature(old, T, raw)},v1={compute_signature(new, T, raw)}"
    assert verify_signature(raw, both, [new], now=NOW) == T
    assert verify_signature(raw, signature_header(old, raw, T), [new, old], now=NOW) == T
    with pytest.raises(UnauthenticatedError):
        verify_signature(raw, signature_header(old, raw, T), [new], now=NOW)


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "garbage",
        f"t={T}",  # no signature
        "v1=" + "a" * 64,  # no timestamp
        f"t={T},t={T},v1=" + "a" * 64,  # two timestamps
        f"t=-5,v1={'a' * 64}",
        f"t=abc,v1={'a' * 64}",
        f"t={T},v1=abc",  # not a SHA-256 hex digest
        f"t={T},v1={'A' * 64}",  # upper-case hex
        f"t={T},v0={'a' * 64}",  # only an unknown scheme
        f"t={T},v1={'a' * 64}," + "x" * 3000,
    ],
)
def test_malformed_headers_are_refused(header: str | None) -> None:
    with pytest.raises(UnauthenticatedError) as info:
        verify_signature(body(), header, SECRET, now=NOW)
    assert info.value.reason == SIGNATURE_INVALID


def test_header_parsing_ignores_spaces_and_other_schemes() -> None:
    parsed = parse_signature_header(f" t={T} , v0=zz, v1={'b' * 64}")
    assert parsed.timestamp == T
    assert parsed.signatures == ("b" * 64,)


def test_misconfiguration_is_not_an_authentication_error() -> None:
    raw = body()
    header = signature_header(SECRET, raw, T)
    with pytest.raises(ValueError, match="secret"):
        verify_signature(raw, header, b"", now=NOW)
    with pytest.raises(ValueError, match="secret"):
        verify_signature(raw, header, [], now=NOW)
    with pytest.raises(ValueError, match="timezone"):
        verify_signature(raw, header, SECRET, now=dt.datetime(2026, 1, 1))


# --- parsing ---------------------------------------------------------------------------------


def test_a_valid_callback() -> None:
    cb = parse_callback(body(), currency="KES")
    assert cb.transaction_id == "QK7Y2ZX1"
    assert cb.idempotency_key() == "QK7Y2ZX1"
    assert cb.account_reference == "LN-7F3K2"
    assert cb.msisdn == "+254712345678"
    assert cb.amount == Decimal("1500.00")
    assert cb.currency == "KES"
    assert cb.transacted_at == dt.datetime(2026, 3, 31, 6, 15, 2, tzinfo=dt.UTC)


def test_verify_and_parse_checks_the_signature_first() -> None:
    raw = b"not json at all"
    with pytest.raises(UnauthenticatedError):
        verify_and_parse(raw, "t=1,v1=" + "a" * 64, SECRET, now=NOW)
    good = body()
    cb = verify_and_parse(good, signature_header(SECRET, good, T), SECRET, now=NOW, currency="KES")
    assert cb.amount == Decimal("1500.00")


def test_every_bad_field_is_named() -> None:
    raw = body(
        transaction_id="",
        account_reference=123,
        msisdn="0712345678",
        amount="1e3",
        transacted_at="2026-03-31T09:15:02",  # no offset
    )
    with pytest.raises(ValidationError) as info:
        parse_callback(raw, currency="KES")
    assert info.value.reason == CALLBACK_INVALID
    assert [f for f, _ in info.value.field_errors] == [
        "transaction_id",
        "account_reference",
        "msisdn",
        "amount",
        "transacted_at",
    ]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"amount": 1500.0}, "amount"),  # a JSON number went through a float
        ({"amount": "0"}, "amount"),
        ({"amount": "-10"}, "amount"),
        ({"amount": "12,50"}, "amount"),
        ({"amount": "12.345"}, "amount"),
        ({"amount": ...}, "amount"),
        ({"currency": "UGX"}, "currency"),  # not the institution's
        ({"currency": "XYZ"}, "currency"),
        ({"msisdn": "+0712345678"}, "msisdn"),
        ({"msisdn": "+2547123456789012"}, "msisdn"),  # 16 digits
        ({"transaction_id": "a b"}, "transaction_id"),
        ({"transaction_id": "x" * 65}, "transaction_id"),
        ({"account_reference": "  "}, "account_reference"),
        ({"transacted_at": "2026-13-31T09:15:02Z"}, "transacted_at"),
        ({"transacted_at": "31/03/2026"}, "transacted_at"),
        ({"transacted_at": 1711872902}, "transacted_at"),
    ],
)
def test_bad_fields(overrides: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        parse_callback(body(**overrides), currency="KES")
    assert [f for f, _ in info.value.field_errors] == [field]


def test_zero_decimal_currencies_tolerate_trailing_zeros_only() -> None:
    cb = parse_callback(body(currency="UGX", amount="25000.00"), currency="UGX")
    assert cb.amount == Decimal("25000")
    with pytest.raises(ValidationError):
        parse_callback(body(currency="UGX", amount="25000.50"), currency="UGX")


@pytest.mark.parametrize(
    "raw",
    [
        b"[]",
        b"not json",
        b'{"amount": NaN}',
        b"\xff\xfe",
        b'{"transaction_id": "A", "transaction_id": "B"}',  # duplicate keys
        b"{" + b" " * 20_000 + b"}",
    ],
)
def test_bodies_that_are_not_one_json_object(raw: bytes) -> None:
    with pytest.raises(ValidationError) as info:
        parse_callback(raw)
    assert [f for f, _ in info.value.field_errors] == ["body"]


def test_unknown_fields_are_ignored() -> None:
    assert parse_callback(body(provider="mpesa", bill_ref="x")).transaction_id == "QK7Y2ZX1"


# --- matching --------------------------------------------------------------------------------


def test_no_candidate_is_unmatched() -> None:
    assert match_loan([]) == Unmatched("NO_LOAN_FOUND")


def test_one_active_loan_is_matched() -> None:
    assert match_loan([LoanCandidate("L1", "active")]) == Matched("L1")
    assert match_loan([LoanCandidate("L1", "active", MatchedBy.PHONE)]) == Matched("L1")


def test_only_active_loans_take_money() -> None:
    found = [LoanCandidate("L1", "closed"), LoanCandidate("L2", "written_off")]
    assert match_loan(found) == Unmatched("NO_ACTIVE_LOAN")
    assert match_loan([*found, LoanCandidate("L3", "active", MatchedBy.NATIONAL_ID)]) == Matched(
        "L3"
    )


def test_several_active_loans_are_ambiguous() -> None:
    found = [
        LoanCandidate("L2", "active", MatchedBy.NATIONAL_ID),
        LoanCandidate("L1", "active", MatchedBy.NATIONAL_ID),
        LoanCandidate("L3", "closed", MatchedBy.NATIONAL_ID),
    ]
    assert match_loan(found) == Ambiguous(("L1", "L2"))


def test_a_loan_reference_beats_borrower_matches() -> None:
    found = [
        LoanCandidate("L1", "active", MatchedBy.PHONE),
        LoanCandidate("L2", "active", MatchedBy.LOAN_REFERENCE),
    ]
    assert match_loan(found) == Matched("L2")


def test_the_same_loan_found_twice_is_one_candidate() -> None:
    found = [
        LoanCandidate("L1", "active", MatchedBy.NATIONAL_ID),
        LoanCandidate("L1", "active", MatchedBy.PHONE),
    ]
    assert match_loan(found) == Matched("L1")
