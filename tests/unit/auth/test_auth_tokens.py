"""Access tokens: every way a token can be refused, each with its own reason."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from hypothesis import given
from hypothesis import strategies as st

from shared.permissions import Principal, Role
from shared.tokens import (
    ACCESS_TOKEN_TTL,
    CLOCK_LEEWAY,
    ISSUER,
    REQUIRED_CLAIMS,
    KeySet,
    SigningKey,
    TokenInvalid,
    TokenReason,
    decode_access_token,
    issue_access_token,
    jwk_thumbprint,
    revoked_session_key,
    revoked_token_key,
    unverified_kid,
    verify_access_token,
)

pytestmark = pytest.mark.unit

NOW = datetime(2026, 3, 31, 9, 0, tzinfo=UTC)
AGENT = Principal("user-1", Role.AGENT, "inst-1", "branch-1", "sess-1")


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64json(obj: Any) -> str:
    return b64(json.dumps(obj, separators=(",", ":")).encode())


def claims(**overrides: Any) -> dict[str, Any]:
    iat = int(NOW.timestamp())
    base: dict[str, Any] = {
        "iss": ISSUER,
        "sub": "user-1",
        "sid": "sess-1",
        "role": "agent",
        "inst": "inst-1",
        "branch": "branch-1",
        "iat": iat,
        "nbf": iat,
        "exp": iat + 900,
        "jti": "jti-1",
    }
    base.update(overrides)
    return base


def sign(key: SigningKey, payload: dict[str, Any], **header: Any) -> str:
    headers = {"kid": key.kid, "typ": "at+jwt", **header}
    return jwt.encode(payload, key.private_key, algorithm="EdDSA", headers=headers)


def reason_of(token: str, keys: Any, now: datetime = NOW) -> str:
    with pytest.raises(TokenInvalid) as info:
        verify_access_token(token, keys, now=now)
    assert info.value.message  # a human message for every reason
    return info.value.reason


@pytest.fixture
def keyset() -> KeySet:
    return KeySet.generate(NOW)


# --- the happy path -----------------------------------------------------------------------


def test_issued_token_verifies_and_carries_the_principal(keyset: KeySet) -> None:
    issued = issue_access_token(keyset, AGENT, now=NOW)
    assert verify_access_token(issued.token, keyset, now=NOW) == AGENT
    assert issued.expires_in == 15 * 60
    decoded = decode_access_token(issued.token, keyset, now=NOW)
    assert decoded.jti == issued.claims.jti
    assert decoded.expires_at == int(NOW.timestamp()) + 900
    assert decoded.session_id == "sess-1"


def test_tokens_have_the_documented_claims_and_header(keyset: KeySet) -> None:
    token = issue_access_token(keyset, AGENT, now=NOW).token
    header = jwt.get_unverified_header(token)
    assert header == {"alg": "EdDSA", "kid": keyset.signing_key.kid, "typ": "at+jwt"}
    # PyJWT, independently, agrees on the signature and reads every claim.
    payload = jwt.decode(
        token,
        keyset.signing_key.public_key,
        algorithms=["EdDSA"],
        options={"verify_exp": False, "verify_nbf": False, "verify_iat": False},
    )
    assert set(payload) == set(REQUIRED_CLAIMS)
    assert payload["iss"] == "kopa-auth"
    assert payload["inst"] == "inst-1" and payload["branch"] == "branch-1"
    assert payload["exp"] - payload["iat"] == ACCESS_TOKEN_TTL.total_seconds()


def test_platform_admin_token_has_null_institution(keyset: KeySet) -> None:
    admin = Principal("root", Role.PLATFORM_ADMIN, None, None, "sess-9")
    token = issue_access_token(keyset, admin, now=NOW).token
    assert jwt.decode(token, options={"verify_signature": False})["inst"] is None
    assert verify_access_token(token, keyset, now=NOW) == admin


def test_a_token_made_by_pyjwt_with_our_key_verifies(keyset: KeySet) -> None:
    assert verify_access_token(sign(keyset.signing_key, claims()), keyset, now=NOW) == AGENT


def test_an_mfa_enrolment_token_says_so_and_grants_nothing(keyset: KeySet) -> None:
    pending = Principal("user-1", Role.ADMIN, "inst-1", None, "sess-1", True)
    token = issue_access_token(keyset, pending, now=NOW).token
    assert jwt.decode(token, options={"verify_signature": False})["mfa_enrol"] is True
    verified = verify_access_token(token, keyset, now=NOW)
    assert verified.mfa_enrolment_required and verified.permissions == frozenset()
    # Absent from every other token, which so reads as "not pending".
    plain = issue_access_token(keyset, AGENT, now=NOW).token
    assert "mfa_enrol" not in jwt.decode(plain, options={"verify_signature": False})
    assert not verify_access_token(plain, keyset, now=NOW).mfa_enrolment_required


@pytest.mark.parametrize("value", ["true", 1, None, []])
def test_an_mfa_enrolment_claim_that_is_not_a_boolean_is_refused(
    keyset: KeySet, value: Any
) -> None:
    token = sign(keyset.signing_key, claims(mfa_enrol=value))
    assert reason_of(token, keyset) == TokenReason.CLAIMS_INVALID


# --- refusals -----------------------------------------------------------------------------


def test_forged_claims_with_the_original_signature_are_refused(keyset: KeySet) -> None:
    token = issue_access_token(keyset, AGENT, now=NOW).token
    header, _, signature = token.split(".")
    forged_payload = b64json(claims(role="admin", branch=None))
    assert reason_of(f"{header}.{forged_payload}.{signature}", keyset) == (
        TokenReason.SIGNATURE_INVALID
    )


def test_token_signed_by_another_key_under_our_kid_is_refused(keyset: KeySet) -> None:
    intruder = SigningKey(Ed25519PrivateKey.generate(), NOW, kid=keyset.signing_key.kid)
    assert reason_of(sign(intruder, claims()), keyset) == TokenReason.SIGNATURE_INVALID


def test_alg_none_is_refused(keyset: KeySet) -> None:
    header = b64json({"alg": "none", "typ": "at+jwt", "kid": keyset.signing_key.kid})
    token = f"{header}.{b64json(claims(role='admin', branch=None))}."
    assert reason_of(token, keyset) == TokenReason.ALG_REJECTED
    for alg in ("None", "NONE", "nOnE"):
        header = b64json({"alg": alg, "typ": "at+jwt", "kid": keyset.signing_key.kid})
        assert reason_of(f"{header}.{b64json(claims())}.", keyset) == TokenReason.ALG_REJECTED


@pytest.mark.parametrize("key_form", ["raw", "pem", "jwk_x"])
def test_hs256_signed_with_the_public_key_is_refused(keyset: KeySet, key_form: str) -> None:
    """Algorithm confusion: the public key is public, so an HMAC keyed with it is forgeable."""
    public = keyset.signing_key.public_key
    secret = {
        "raw": public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw),
        "pem": public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
        "jwk_x": keyset.jwks()["keys"][0]["x"].encode(),
    }[key_form]
    header = b64json({"alg": "HS256", "typ": "at+jwt", "kid": keyset.signing_key.kid})
    signing_input = f"{header}.{b64json(claims(role='admin', branch=None))}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    assert reason_of(f"{signing_input}.{b64(mac)}", keyset) == TokenReason.ALG_REJECTED


@pytest.mark.parametrize("alg", ["HS256", "RS256", "ES256", "PS256", "Ed25519", "eddsa", None])
def test_any_alg_but_eddsa_is_refused(keyset: KeySet, alg: str | None) -> None:
    token = issue_access_token(keyset, AGENT, now=NOW).token
    _, payload, signature = token.split(".")
    header = {"typ": "at+jwt", "kid": keyset.signing_key.kid}
    if alg is not None:
        header["alg"] = alg
    assert reason_of(f"{b64json(header)}.{payload}.{signature}", keyset) == (
        TokenReason.ALG_REJECTED
    )


def test_unknown_kid_is_refused(keyset: KeySet) -> None:
    stranger = KeySet.generate(NOW)
    token = issue_access_token(stranger, AGENT, now=NOW).token
    assert reason_of(token, keyset) == TokenReason.KID_UNKNOWN
    assert unverified_kid(token) == stranger.signing_key.kid


def test_missing_kid_is_malformed(keyset: KeySet) -> None:
    token = jwt.encode(
        claims(), keyset.signing_key.private_key, algorithm="EdDSA", headers={"typ": "at+jwt"}
    )
    assert reason_of(token, keyset) == TokenReason.MALFORMED


def test_wrong_typ_is_refused(keyset: KeySet) -> None:
    assert reason_of(sign(keyset.signing_key, claims(), typ="JWT"), keyset) == (
        TokenReason.TYPE_INVALID
    )


def test_crit_header_is_refused(keyset: KeySet) -> None:
    token = sign(keyset.signing_key, claims(), crit=["exp"])
    assert reason_of(token, keyset) == TokenReason.MALFORMED


def test_expired_token_is_refused_after_the_leeway(keyset: KeySet) -> None:
    token = issue_access_token(keyset, AGENT, now=NOW).token
    expiry = NOW + ACCESS_TOKEN_TTL
    assert verify_access_token(token, keyset, now=expiry - timedelta(seconds=1)) == AGENT
    assert verify_access_token(token, keyset, now=expiry + CLOCK_LEEWAY / 2) == AGENT
    assert reason_of(token, keyset, now=expiry + CLOCK_LEEWAY) == TokenReason.EXPIRED
    assert reason_of(token, keyset, now=expiry + timedelta(hours=1)) == TokenReason.EXPIRED


def test_expiry_is_checked_even_for_a_cached_token(keyset: KeySet) -> None:
    token = issue_access_token(keyset, AGENT, now=NOW).token
    verify_access_token(token, keyset, now=NOW)  # now remembered as verified
    assert reason_of(token, keyset, now=NOW + timedelta(hours=2)) == TokenReason.EXPIRED


def test_not_yet_valid_token_is_refused(keyset: KeySet) -> None:
    start = int(NOW.timestamp())
    future = sign(keyset.signing_key, claims(nbf=start + 60, exp=start + 960))
    assert reason_of(future, keyset) == TokenReason.NOT_YET_VALID
    assert verify_access_token(future, keyset, now=NOW + timedelta(seconds=60)) == AGENT
    issued_in_future = sign(keyset.signing_key, claims(iat=start + 3600, exp=start + 4500))
    assert reason_of(issued_in_future, keyset) == TokenReason.NOT_YET_VALID


def test_wrong_issuer_is_refused(keyset: KeySet) -> None:
    token = sign(keyset.signing_key, claims(iss="someone-else"))
    assert reason_of(token, keyset) == TokenReason.ISSUER_INVALID


@pytest.mark.parametrize("claim", REQUIRED_CLAIMS)
def test_each_missing_claim_is_refused(keyset: KeySet, claim: str) -> None:
    payload = claims()
    del payload[claim]
    with pytest.raises(TokenInvalid) as info:
        verify_access_token(sign(keyset.signing_key, payload), keyset, now=NOW)
    assert info.value.reason == TokenReason.CLAIMS_MISSING
    assert claim in info.value.message


@pytest.mark.parametrize(
    "overrides",
    [
        {"role": "superuser"},
        {"role": "agent", "branch": None},  # an agent always has a branch
        {"role": "platform_admin", "inst": "inst-1", "branch": None},
        {"sub": ""},
        {"inst": 42},
        {"exp": "tomorrow"},
        {"iat": True},
    ],
)
def test_invalid_claims_are_refused(keyset: KeySet, overrides: dict[str, Any]) -> None:
    token = sign(keyset.signing_key, claims(**overrides))
    assert reason_of(token, keyset) == TokenReason.CLAIMS_INVALID


@pytest.mark.parametrize(
    "token",
    ["", "abc", "a.b", "a.b.c.d", "....", "é.é.é", "!!.??.**", "W10.e30.AA"],
)
def test_garbage_is_malformed(keyset: KeySet, token: str) -> None:
    assert reason_of(token, keyset) == TokenReason.MALFORMED


def test_only_strict_unpadded_base64url_is_accepted(keyset: KeySet) -> None:
    token = issue_access_token(keyset, AGENT, now=NOW).token
    header, payload, signature = token.split(".")
    for bad in (
        f"{header}.{payload}.{signature}==",
        f"{header}.{payload}.{signature[:10]}+{signature[11:]}",  # standard alphabet
        f"{header}.{payload}.{signature[:10]}/{signature[11:]}",
        f"{header}.{payload}.{signature[:-1]}*",
        f"{header}=.{payload}.{signature}",
    ):
        assert reason_of(bad, keyset) == TokenReason.MALFORMED, bad


@given(st.text(max_size=300))
def test_arbitrary_text_only_ever_raises_token_invalid(text: str) -> None:
    keyset = _SHARED_KEYSET
    with pytest.raises(TokenInvalid):
        verify_access_token(text, keyset, now=NOW)


_SHARED_KEYSET = KeySet.generate(NOW)


def test_every_refusal_has_a_distinct_reason() -> None:
    reasons = {
        v for k, v in vars(TokenReason).items() if not k.startswith("_") and isinstance(v, str)
    }
    assert len(reasons) == 11
    assert TokenInvalid.revoked().reason == TokenReason.REVOKED


# --- keys: rotation, JWKS, PEM --------------------------------------------------------------


def test_rotation_keeps_old_tokens_valid_until_the_old_key_is_retired(keyset: KeySet) -> None:
    old_kid = keyset.signing_key.kid
    old_token = issue_access_token(keyset, AGENT, now=NOW).token
    assert verify_access_token(old_token, keyset, now=NOW) == AGENT  # and cached

    new_key = keyset.rotate(NOW + timedelta(minutes=1))
    assert keyset.signing_key is new_key and new_key.kid != old_kid
    new_token = issue_access_token(keyset, AGENT, now=NOW).token
    assert jwt.get_unverified_header(new_token)["kid"] == new_key.kid
    assert verify_access_token(old_token, keyset, now=NOW) == AGENT
    assert verify_access_token(new_token, keyset, now=NOW) == AGENT

    keyset.retire(old_kid)
    assert reason_of(old_token, keyset) == TokenReason.KID_UNKNOWN
    assert verify_access_token(new_token, keyset, now=NOW) == AGENT


def test_verifiers_follow_rotation_through_the_jwks(keyset: KeySet) -> None:
    verifier = KeySet.from_jwks(keyset.jwks())
    old_token = issue_access_token(keyset, AGENT, now=NOW).token
    assert verify_access_token(old_token, verifier, now=NOW) == AGENT

    keyset.rotate(NOW + timedelta(minutes=1))
    new_token = issue_access_token(keyset, AGENT, now=NOW).token
    assert reason_of(new_token, verifier) == TokenReason.KID_UNKNOWN  # until it refreshes
    verifier.update_from_jwks(keyset.jwks())
    assert verify_access_token(new_token, verifier, now=NOW) == AGENT
    assert verify_access_token(old_token, verifier, now=NOW) == AGENT

    keyset.retire(keyset.signing_keys[0].kid)
    verifier.update_from_jwks(keyset.jwks())
    assert reason_of(old_token, verifier) == TokenReason.KID_UNKNOWN


def test_the_current_signing_key_cannot_be_retired(keyset: KeySet) -> None:
    with pytest.raises(ValueError, match="rotate first"):
        keyset.retire(keyset.signing_key.kid)


def test_prune_retires_keys_once_their_tokens_can_no_longer_be_valid(keyset: KeySet) -> None:
    first = keyset.signing_key
    second = keyset.rotate(NOW + timedelta(hours=1))
    grace = ACCESS_TOKEN_TTL + CLOCK_LEEWAY
    assert keyset.prune(second.created_at + grace - timedelta(seconds=1)) == []
    assert keyset.prune(second.created_at + grace) == [first.kid]
    assert keyset.kids == (second.kid,)
    assert keyset.prune(NOW + timedelta(days=30)) == []  # never the signer


def test_rotating_twice_at_the_same_instant_still_orders_keys(keyset: KeySet) -> None:
    a = keyset.rotate(NOW)
    b = keyset.rotate(NOW)
    assert keyset.signing_key is b and b.created_at > a.created_at


def test_jwks_round_trip(keyset: KeySet) -> None:
    keyset.rotate(NOW + timedelta(minutes=5))
    document = json.loads(json.dumps(keyset.jwks()))  # as served over HTTP
    assert len(document["keys"]) == 2
    for jwk in document["keys"]:
        assert set(jwk) == {"kty", "crv", "x", "kid", "use", "alg"}  # no private "d"
        assert (jwk["kty"], jwk["crv"], jwk["use"], jwk["alg"]) == (
            "OKP",
            "Ed25519",
            "sig",
            "EdDSA",
        )
    verifier = KeySet.from_jwks(document)
    assert verifier.kids == keyset.kids
    assert verifier.jwks() == keyset.jwks()
    token = issue_access_token(keyset, AGENT, now=NOW).token
    assert verify_access_token(token, verifier, now=NOW) == AGENT
    assert verify_access_token(token, document, now=NOW) == AGENT  # a plain JWKS dict
    with pytest.raises(LookupError):
        issue_access_token(verifier, AGENT, now=NOW)  # verify-only


def test_jwks_import_skips_foreign_keys_and_rejects_broken_ones() -> None:
    ks = KeySet.generate(NOW)
    foreign = {"kty": "RSA", "n": "AQAB", "e": "AQAB", "kid": "rsa"}
    enc = {**ks.jwks()["keys"][0], "use": "enc", "kid": "enc"}
    verifier = KeySet.from_jwks({"keys": [foreign, enc, *ks.jwks()["keys"]]})
    assert verifier.kids == ks.kids
    with pytest.raises(ValueError):
        KeySet.from_jwks({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": "short"}]})
    with pytest.raises(ValueError):
        KeySet.from_jwks({"nokeys": []})


def test_kid_is_the_rfc7638_thumbprint() -> None:
    # RFC 8037, appendix A.2/A.3: the thumbprint of this Ed25519 public key.
    x = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
    public = Ed25519PublicKey.from_public_bytes(base64.urlsafe_b64decode(x + "="))
    assert jwk_thumbprint(public) == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
    imported = KeySet.from_jwks({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": x}]})
    assert imported.kids == ("kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k",)


def test_private_keys_round_trip_through_pem(keyset: KeySet) -> None:
    key = keyset.signing_key
    pem = key.private_pem()
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----")
    restored = SigningKey.from_pem(pem, key.created_at)
    assert restored.kid == key.kid
    encrypted = key.private_pem(password=b"correct horse")
    assert b"ENCRYPTED" in encrypted
    assert SigningKey.from_pem(encrypted, NOW, password=b"correct horse").kid == key.kid
    # auth_service restarts with the persisted key: old tokens still verify.
    token = issue_access_token(keyset, AGENT, now=NOW).token
    assert verify_access_token(token, KeySet([restored]), now=NOW) == AGENT


def test_from_pem_rejects_other_key_types() -> None:
    from cryptography.hazmat.primitives.asymmetric import ec

    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with pytest.raises(ValueError, match="Ed25519"):
        SigningKey.from_pem(pem, NOW)


# --- what revocation callers need ---------------------------------------------------------


def test_revocation_helpers(keyset: KeySet) -> None:
    decoded = decode_access_token(issue_access_token(keyset, AGENT, now=NOW).token, keyset, now=NOW)
    assert revoked_session_key(decoded.session_id) == "kopa:auth:revoked:sid:sess-1"
    assert revoked_token_key(decoded.jti).endswith(decoded.jti)
    assert decoded.seconds_until_expiry(NOW) == 901
    assert decoded.seconds_until_expiry(NOW + timedelta(days=1)) == 1
    assert decoded.expires_at_datetime == NOW + ACCESS_TOKEN_TTL


def test_verified_cache_is_bounded() -> None:
    ks = KeySet([SigningKey.generate(NOW)], cache_size=3)
    tokens = [issue_access_token(ks, AGENT, now=NOW).token for _ in range(5)]
    for token in tokens:
        verify_access_token(token, ks, now=NOW)
    assert len(ks._cache) == 3
