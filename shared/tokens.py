"""Access tokens: EdDSA (Ed25519) JWTs, a rotating key set, and JWKS.

auth_service holds a `KeySet` of private signing keys (persisted as PEM), issues tokens
with the newest one and publishes the public half as a JWKS. The gateway and the services
build a verify-only `KeySet` from that JWKS and call `verify_access_token` on every
request.

Rotation without logging anyone out: `KeySet.rotate()` adds a key that signs from then on;
older keys keep verifying until `KeySet.retire()` (or `KeySet.prune()`, once every token
they signed has expired) removes them.

Verification is pinned to EdDSA: the header's `alg` must be exactly `"EdDSA"` and the key
is always an Ed25519 public key, so `alg: none` and HS256-with-the-public-key tokens are
refused before any cryptography runs. Every failure is a `TokenInvalid` with a stable
`reason` and a human `message`.

Cost: an Ed25519 signature check is the bulk of the price of a first verification. The
public keys are parsed once per key set, and a verified token is remembered (bounded LRU,
keyed by the exact token string, cleared whenever the keys change), so the second and later
requests carrying the same token cost a dictionary look-up plus the time checks, which are
always redone. See bench/bench_tokens.py.

Revocation (logout, disabled users, refresh-token reuse) is the caller's job, in Redis, by
session id (`sid`) and token id (`jti`): see `AccessClaims`, `revoked_session_key` and
`revoked_token_key`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import itertools
import json
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import jwt
import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from shared.errors import Unauthenticated
from shared.permissions import Principal, Role

__all__ = [
    "ACCESS_TOKEN_TTL",
    "ALGORITHM",
    "CLOCK_LEEWAY",
    "ISSUER",
    "MFA_ENROLMENT_CLAIM",
    "TOKEN_TYPE",
    "AccessClaims",
    "IssuedToken",
    "KeySet",
    "SigningKey",
    "TokenInvalid",
    "TokenReason",
    "decode_access_token",
    "issue_access_token",
    "jwk_thumbprint",
    "revoked_session_key",
    "revoked_token_key",
    "unverified_kid",
    "verify_access_token",
]

ALGORITHM: Final = "EdDSA"
ISSUER: Final = "kopa-auth"
TOKEN_TYPE: Final = "at+jwt"  # noqa: S105
"""`typ` header (RFC 9068), so no other JWT signed by these keys passes as an access token."""
ACCESS_TOKEN_TTL: Final = timedelta(minutes=15)
CLOCK_LEEWAY: Final = timedelta(seconds=10)
"""Tolerated clock skew between auth_service and a verifier, for `exp`, `nbf` and `iat`."""
VERIFIED_CACHE_SIZE: Final = 10_000
_HEADER_CACHE_SIZE: Final = 64

REQUIRED_CLAIMS: Final = ("iss", "sub", "sid", "role", "inst", "branch", "iat", "nbf", "exp", "jti")
MFA_ENROLMENT_CLAIM: Final = "mfa_enrol"
"""`true` on the token of a user who must enrol a second factor before doing anything else
(`Principal.mfa_enrolment_required`); absent otherwise."""


class TokenReason:
    """Stable `reason` codes of `TokenInvalid` (ErrorInfo reasons on the wire)."""

    MALFORMED: Final = "TOKEN_MALFORMED"
    ALG_REJECTED: Final = "TOKEN_ALG_REJECTED"
    TYPE_INVALID: Final = "TOKEN_TYPE_INVALID"
    KID_UNKNOWN: Final = "TOKEN_KID_UNKNOWN"
    SIGNATURE_INVALID: Final = "TOKEN_SIGNATURE_INVALID"
    EXPIRED: Final = "TOKEN_EXPIRED"
    NOT_YET_VALID: Final = "TOKEN_NOT_YET_VALID"
    ISSUER_INVALID: Final = "TOKEN_ISSUER_INVALID"
    CLAIMS_MISSING: Final = "TOKEN_CLAIMS_MISSING"
    CLAIMS_INVALID: Final = "TOKEN_CLAIMS_INVALID"
    REVOKED: Final = "TOKEN_REVOKED"


_MESSAGES: Final[Mapping[str, str]] = {
    TokenReason.MALFORMED: "The access token is not a well-formed JWT.",
    TokenReason.ALG_REJECTED: "The access token is not signed with EdDSA.",
    TokenReason.TYPE_INVALID: "The token is not an access token.",
    TokenReason.KID_UNKNOWN: "The access token was signed by a key this server does not know.",
    TokenReason.SIGNATURE_INVALID: "The access token's signature is invalid.",
    TokenReason.EXPIRED: "The access token has expired; refresh it or log in again.",
    TokenReason.NOT_YET_VALID: "The access token is not valid yet; check the clock.",
    TokenReason.ISSUER_INVALID: "The access token was not issued by Kopa's auth service.",
    TokenReason.CLAIMS_MISSING: "The access token lacks required claims.",
    TokenReason.CLAIMS_INVALID: "The access token's claims are invalid.",
    TokenReason.REVOKED: "The session has ended; log in again.",
}


class TokenInvalid(Unauthenticated):
    """An access token was refused: a `shared.errors.Unauthenticated`, so it maps to gRPC
    UNAUTHENTICATED / HTTP 401 with its `reason` (a `TokenReason`)."""

    def __init__(self, reason: str, detail: str | None = None) -> None:
        message = _MESSAGES.get(reason, "The access token is invalid.")
        if detail:
            message = f"{message} ({detail})"
        super().__init__(message, reason=reason)

    @classmethod
    def revoked(cls) -> TokenInvalid:
        """For callers whose revocation look-up (by `sid` or `jti`) found the token."""
        return cls(TokenReason.REVOKED)


# --- keys ---------------------------------------------------------------------------------


def _b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


_TO_STANDARD_B64: Final = bytes.maketrans(b"-_", b"+/")


def _b64url_decode(text: str) -> bytes:
    """Strict base64url without padding (RFC 7515 §2): anything else is a `ValueError`."""
    if not text.isascii():
        raise ValueError("not base64url")
    data = text.encode("ascii")
    if b"+" in data or b"/" in data or b"=" in data:
        raise ValueError("not base64url")
    padded = data.translate(_TO_STANDARD_B64) + b"=" * (-len(data) % 4)
    try:
        return binascii.a2b_base64(padded, strict_mode=True)
    except binascii.Error:
        raise ValueError("not base64url") from None


def _raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def jwk_thumbprint(public_key: Ed25519PublicKey) -> str:
    """RFC 7638 thumbprint (SHA-256, base64url) of an Ed25519 public key; used as `kid`."""
    x = _b64url_encode(_raw_public(public_key))
    canonical = json.dumps({"crv": "Ed25519", "kty": "OKP", "x": x}, separators=(",", ":"))
    return _b64url_encode(hashlib.sha256(canonical.encode("ascii")).digest())


def _public_jwk(kid: str, public_key: Ed25519PublicKey) -> dict[str, str]:
    return {
        "kty": "OKP",
        "crv": "Ed25519",
        "x": _b64url_encode(_raw_public(public_key)),
        "kid": kid,
        "use": "sig",
        "alg": ALGORITHM,
    }


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("datetimes must be timezone-aware (UTC)")
    return moment


@dataclass(frozen=True, slots=True)
class SigningKey:
    """A private Ed25519 signing key, its `kid` (the RFC 7638 thumbprint) and birth time."""

    private_key: Ed25519PrivateKey = field(repr=False)
    created_at: datetime
    kid: str = ""

    def __post_init__(self) -> None:
        _aware(self.created_at)
        if not self.kid:
            object.__setattr__(self, "kid", jwk_thumbprint(self.private_key.public_key()))

    @classmethod
    def generate(cls, now: datetime | None = None) -> SigningKey:
        return cls(Ed25519PrivateKey.generate(), now or _utcnow())

    @classmethod
    def from_pem(
        cls, pem: bytes | str, created_at: datetime, *, password: bytes | None = None
    ) -> SigningKey:
        """Load a key saved with `private_pem` (PKCS#8). `ValueError` if not Ed25519."""
        data = pem.encode("ascii") if isinstance(pem, str) else pem
        key = serialization.load_pem_private_key(data, password=password)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError("not an Ed25519 private key")
        return cls(key, created_at)

    def private_pem(self, *, password: bytes | None = None) -> bytes:
        """PKCS#8 PEM, encrypted with `password` when given (for auth_service to persist)."""
        encryption: serialization.KeySerializationEncryption = (
            serialization.BestAvailableEncryption(password)
            if password
            else serialization.NoEncryption()
        )
        return self.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
        )

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self.private_key.public_key()

    def public_jwk(self) -> dict[str, str]:
        return _public_jwk(self.kid, self.public_key)


# --- claims ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AccessClaims:
    """The verified content of an access token."""

    principal: Principal
    jti: str
    issued_at: int
    not_before: int
    expires_at: int
    kid: str

    @property
    def session_id(self) -> str:
        return self.principal.session_id

    @property
    def expires_at_datetime(self) -> datetime:
        return datetime.fromtimestamp(self.expires_at, UTC)

    def seconds_until_expiry(self, now: datetime | None = None) -> int:
        """How long a revocation entry for this token must live (at least 1 second)."""
        current = (now or _utcnow()).timestamp()
        return max(1, int(self.expires_at - current) + 1)


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: str
    claims: AccessClaims
    expires_in: int
    """Seconds, for the `expires_in` field of the login response."""


def revoked_session_key(session_id: str) -> str:
    """Redis key marking a session as ended; keep it for the access-token lifetime."""
    return f"kopa:auth:revoked:sid:{session_id}"


def revoked_token_key(jti: str) -> str:
    """Redis key marking one access token as revoked, until its `exp`."""
    return f"kopa:auth:revoked:jti:{jti}"


# --- key set --------------------------------------------------------------------------------


class KeySet:
    """Signing keys (auth_service) or public keys only (verifiers), by `kid`.

    The newest signing key signs; every key present verifies. Not meant to be mutated
    from several threads at once, but verification is safe to call concurrently.
    """

    def __init__(
        self,
        signing_keys: Iterable[SigningKey] = (),
        public_keys: Mapping[str, Ed25519PublicKey] | None = None,
        *,
        cache_size: int = VERIFIED_CACHE_SIZE,
    ) -> None:
        self._signing: list[SigningKey] = []
        self._public: dict[str, Ed25519PublicKey] = {}
        self._cache: OrderedDict[str, AccessClaims] = OrderedDict()
        self._headers: dict[str, str] = {}  # valid header segment -> kid
        self._cache_size = cache_size
        self._lock = threading.Lock()
        for key in signing_keys:
            self.add_signing_key(key)
        for kid, public in (public_keys or {}).items():
            self._public[kid] = public

    # construction --------------------------------------------------------------------

    @classmethod
    def generate(cls, now: datetime | None = None) -> KeySet:
        """A new key set with one fresh signing key."""
        return cls([SigningKey.generate(now)])

    @classmethod
    def from_jwks(cls, jwks: Mapping[str, Any]) -> KeySet:
        """A verify-only key set from a JWKS document (`{"keys": [...]}`).

        Keys other than Ed25519 signature keys are skipped (RFC 7517 §5); private members
        (`d`) are never read. `ValueError` if the document is not a JWKS or an Ed25519 key
        in it is broken.
        """
        keys = jwks.get("keys") if isinstance(jwks, Mapping) else None
        if not isinstance(keys, list):
            raise ValueError('a JWKS is an object with a "keys" array')
        public: dict[str, Ed25519PublicKey] = {}
        for jwk in keys:
            if not isinstance(jwk, Mapping):
                raise ValueError("a JWK is an object")
            if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
                continue
            if jwk.get("use", "sig") != "sig" or jwk.get("alg", ALGORITHM) != ALGORITHM:
                continue
            x = jwk.get("x")
            if not isinstance(x, str):
                raise ValueError('an Ed25519 JWK needs "x"')
            try:
                key = Ed25519PublicKey.from_public_bytes(_b64url_decode(x))
            except ValueError as exc:
                raise ValueError(f"bad Ed25519 public key: {exc}") from None
            kid = jwk.get("kid") or jwk_thumbprint(key)
            if not isinstance(kid, str):
                raise ValueError('"kid" must be a string')
            public[kid] = key
        return cls(public_keys=public)

    def update_from_jwks(self, jwks: Mapping[str, Any]) -> None:
        """Replace the public keys of a verify-only key set (a verifier's periodic refresh,
        or a refresh after `TOKEN_KID_UNKNOWN`)."""
        if self._signing:
            raise ValueError("a key set holding signing keys is not refreshed from a JWKS")
        fresh = KeySet.from_jwks(jwks)
        with self._lock:
            if fresh._public != self._public:
                self._public = fresh._public
                self._cache.clear()

    # rotation ------------------------------------------------------------------------

    def add_signing_key(self, key: SigningKey) -> None:
        """Add a key; the key with the latest `created_at` signs."""
        with self._lock:
            self._signing = [k for k in self._signing if k.kid != key.kid]
            self._signing.append(key)
            self._signing.sort(key=lambda k: k.created_at)
            self._public[key.kid] = key.public_key
            self._cache.clear()

    def rotate(self, now: datetime | None = None) -> SigningKey:
        """Create a new signing key, which signs from now on; the others still verify."""
        key = SigningKey.generate(now)
        if self._signing and key.created_at <= self._signing[-1].created_at:
            key = SigningKey(
                key.private_key, self._signing[-1].created_at + timedelta(microseconds=1)
            )
        self.add_signing_key(key)
        return key

    def retire(self, kid: str) -> None:
        """Remove a key: tokens it signed stop verifying. The current signer stays."""
        with self._lock:
            if self._signing and self._signing[-1].kid == kid:
                raise ValueError("the current signing key cannot be retired; rotate first")
            self._signing = [k for k in self._signing if k.kid != kid]
            self._public.pop(kid, None)
            self._cache.clear()

    def prune(self, now: datetime | None = None, *, keep_for: timedelta | None = None) -> list[str]:
        """Retire signing keys superseded more than `keep_for` ago (default: the access
        token lifetime plus clock leeway, after which nothing they signed can be valid).
        Returns the retired kids."""
        moment = now or _utcnow()
        grace = keep_for if keep_for is not None else ACCESS_TOKEN_TTL + CLOCK_LEEWAY
        retired = [
            older.kid
            for older, newer in itertools.pairwise(self._signing)
            if newer.created_at + grace <= moment
        ]
        for kid in retired:
            self.retire(kid)
        return retired

    # access --------------------------------------------------------------------------

    @property
    def signing_key(self) -> SigningKey:
        """The key that signs new tokens (`LookupError` for a verify-only key set)."""
        if not self._signing:
            raise LookupError("this key set has no signing key (verify-only)")
        return self._signing[-1]

    @property
    def signing_keys(self) -> tuple[SigningKey, ...]:
        """Oldest first; the last one signs."""
        return tuple(self._signing)

    @property
    def kids(self) -> tuple[str, ...]:
        return tuple(self._public)

    def public_key(self, kid: str) -> Ed25519PublicKey | None:
        return self._public.get(kid)

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        """The public JWKS, for auth_service to serve to verifiers."""
        return {"keys": [_public_jwk(kid, key) for kid, key in self._public.items()]}

    # verified-token cache ------------------------------------------------------------

    def _cached(self, token: str) -> AccessClaims | None:
        with self._lock:
            claims = self._cache.get(token)
            if claims is not None:
                self._cache.move_to_end(token)
            return claims

    def _remember_header(self, header_b64: str, kid: str) -> None:
        if len(self._headers) >= _HEADER_CACHE_SIZE:
            self._headers.clear()
        self._headers[header_b64] = kid

    def _remember(self, token: str, claims: AccessClaims) -> None:
        if self._cache_size <= 0:
            return
        with self._lock:
            if claims.kid not in self._public:  # retired while we were verifying
                return
            self._cache[token] = claims
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)


# --- issuing --------------------------------------------------------------------------------


def issue_access_token(
    keyset: KeySet,
    principal: Principal,
    *,
    now: datetime | None = None,
    ttl: timedelta = ACCESS_TOKEN_TTL,
    jti: str | None = None,
) -> IssuedToken:
    """Sign an access token for the principal with the key set's newest key."""
    key = keyset.signing_key
    issued = int((now or _utcnow()).timestamp())
    lifetime = int(ttl.total_seconds())
    if lifetime <= 0:
        raise ValueError("ttl must be positive")
    token_id = jti or secrets.token_urlsafe(16)
    payload = {
        "iss": ISSUER,
        "sub": principal.user_id,
        "sid": principal.session_id,
        "role": principal.role.value,
        "inst": principal.institution_id,
        "branch": principal.branch_id,
        "iat": issued,
        "nbf": issued,
        "exp": issued + lifetime,
        "jti": token_id,
    }
    if principal.mfa_enrolment_required:
        payload[MFA_ENROLMENT_CLAIM] = True
    token = jwt.encode(
        payload, key.private_key, algorithm=ALGORITHM, headers={"kid": key.kid, "typ": TOKEN_TYPE}
    )
    claims = AccessClaims(principal, token_id, issued, issued, issued + lifetime, key.kid)
    return IssuedToken(token=token, claims=claims, expires_in=lifetime)


# --- verifying ------------------------------------------------------------------------------


def _json_object(segment: str, what: str) -> dict[str, Any]:
    try:
        value = orjson.loads(_b64url_decode(segment))
    except ValueError:  # orjson.JSONDecodeError is a ValueError
        raise TokenInvalid(TokenReason.MALFORMED, f"{what} is not base64url JSON") from None
    if not isinstance(value, dict):
        raise TokenInvalid(TokenReason.MALFORMED, f"{what} is not a JSON object")
    return value


def unverified_kid(token: str) -> str | None:
    """The `kid` in a token's header, unverified (to decide whether to refetch the JWKS)."""
    try:
        kid = _json_object(token.split(".", 1)[0], "header").get("kid")
    except TokenInvalid:
        return None
    return kid if isinstance(kid, str) else None


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _parse_claims(payload: dict[str, Any], kid: str) -> AccessClaims:
    missing = [name for name in REQUIRED_CLAIMS if name not in payload]
    if missing:
        raise TokenInvalid(TokenReason.CLAIMS_MISSING, "missing: " + ", ".join(missing))
    if payload["iss"] != ISSUER:
        raise TokenInvalid(TokenReason.ISSUER_INVALID)
    for name in ("sub", "sid", "jti", "role"):
        if not isinstance(payload[name], str) or not payload[name]:
            raise TokenInvalid(TokenReason.CLAIMS_INVALID, f"{name} must be a non-empty string")
    for name in ("inst", "branch"):
        if payload[name] is not None and not isinstance(payload[name], str):
            raise TokenInvalid(TokenReason.CLAIMS_INVALID, f"{name} must be a string or null")
    for name in ("iat", "nbf", "exp"):
        if not _is_int(payload[name]):
            raise TokenInvalid(TokenReason.CLAIMS_INVALID, f"{name} must be an integer")
    enrolment_pending = payload.get(MFA_ENROLMENT_CLAIM, False)
    if not isinstance(enrolment_pending, bool):
        raise TokenInvalid(TokenReason.CLAIMS_INVALID, f"{MFA_ENROLMENT_CLAIM} must be a boolean")
    try:
        principal = Principal(
            user_id=payload["sub"],
            role=Role(payload["role"]),
            institution_id=payload["inst"],
            branch_id=payload["branch"],
            session_id=payload["sid"],
            mfa_enrolment_required=enrolment_pending,
        )
    except ValueError as exc:
        raise TokenInvalid(TokenReason.CLAIMS_INVALID, str(exc)) from None
    return AccessClaims(
        principal=principal,
        jti=payload["jti"],
        issued_at=payload["iat"],
        not_before=payload["nbf"],
        expires_at=payload["exp"],
        kid=kid,
    )


def _verify_signature(token: str, keyset: KeySet) -> AccessClaims:
    parts = token.split(".")
    if len(parts) != 3 or not all(parts[:2]):
        raise TokenInvalid(TokenReason.MALFORMED, "expected header.payload.signature")
    header_b64, payload_b64, signature_b64 = parts
    # Every token signed by one key has the same header: check each header once.
    kid = keyset._headers.get(header_b64)
    if kid is None:
        kid = _check_header(header_b64)
        keyset._remember_header(header_b64, kid)
    public_key = keyset.public_key(kid)
    if public_key is None:
        raise TokenInvalid(TokenReason.KID_UNKNOWN, f"kid {kid!r}")
    try:
        signature = _b64url_decode(signature_b64)
    except ValueError:
        raise TokenInvalid(TokenReason.MALFORMED, "signature is not base64url") from None
    try:
        public_key.verify(signature, f"{header_b64}.{payload_b64}".encode("ascii"))
    except InvalidSignature:
        raise TokenInvalid(TokenReason.SIGNATURE_INVALID) from None
    return _parse_claims(_json_object(payload_b64, "payload"), kid)


def _check_header(header_b64: str) -> str:
    """Validate a JOSE header; return its `kid`."""
    header = _json_object(header_b64, "header")
    # Pinned: only EdDSA is ever verified, whatever the header says, and only with an
    # Ed25519 public key -- no `none`, no HS256 keyed with the public key.
    if header.get("alg") != ALGORITHM:
        raise TokenInvalid(TokenReason.ALG_REJECTED, f"alg {header.get('alg')!r}")
    typ = header.get("typ")
    if not isinstance(typ, str) or typ.lower() not in (TOKEN_TYPE, "application/" + TOKEN_TYPE):
        raise TokenInvalid(TokenReason.TYPE_INVALID, f"typ {typ!r}")
    if "crit" in header:
        raise TokenInvalid(TokenReason.MALFORMED, "unsupported critical header parameters")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise TokenInvalid(TokenReason.MALFORMED, "no kid in the header")
    return kid


def _check_times(claims: AccessClaims, now: datetime | None, leeway: timedelta) -> None:
    current = now.timestamp() if now is not None else time.time()
    slack = leeway.total_seconds()
    if claims.expires_at <= current - slack:
        raise TokenInvalid(TokenReason.EXPIRED)
    if claims.not_before > current + slack or claims.issued_at > current + slack:
        raise TokenInvalid(TokenReason.NOT_YET_VALID)


def decode_access_token(
    token: str,
    keys: KeySet | Mapping[str, Any],
    *,
    now: datetime | None = None,
    leeway: timedelta = CLOCK_LEEWAY,
) -> AccessClaims:
    """Verify an access token and return all its claims (`jti`, `exp`, ... for revocation).

    `keys` is a `KeySet` (fast: parsed keys and verified tokens are cached) or a JWKS
    document (parsed on every call). Raises `TokenInvalid`; the checks, in order: shape,
    `alg` (EdDSA only), `typ`, `kid` known, signature, required claims, issuer, claim
    types, `exp`, `nbf`/`iat` (with `leeway` for clock skew).
    """
    if not isinstance(token, str) or not token.isascii():
        raise TokenInvalid(TokenReason.MALFORMED, "not an ASCII string")
    keyset = keys if isinstance(keys, KeySet) else KeySet.from_jwks(keys)
    claims = keyset._cached(token)
    if claims is None:
        claims = _verify_signature(token, keyset)
        keyset._remember(token, claims)
    _check_times(claims, now, leeway)
    return claims


def verify_access_token(
    token: str,
    keys: KeySet | Mapping[str, Any],
    now: datetime | None = None,
    *,
    leeway: timedelta = CLOCK_LEEWAY,
) -> Principal:
    """Verify an access token and return who it speaks for. Raises `TokenInvalid`.

    Callers then check revocation by `principal.session_id` (or use `decode_access_token`
    for the `jti` too).
    """
    return decode_access_token(token, keys, now=now, leeway=leeway).principal
