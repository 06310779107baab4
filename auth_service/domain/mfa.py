"""Second factor: TOTP (RFC 6238) with pyotp, plus single-use recovery codes.

TOTP: 6 digits, 30-second steps, SHA-1 (what every authenticator app speaks); a code is
accepted for the current step and one step either side (`valid_window=1`, clock drift),
and never twice: the last accepted time step is remembered, and a code for that step or
an earlier one is refused (replay).

Enrolment: `MfaState.begin_enrolment` draws a random base32 secret (160 bits) and returns
the otpauth:// URI (issuer "Kopa", the user's e-mail) for a QR code; the factor is enabled
only by `confirm_enrolment` with a first valid code, which also returns 10 recovery codes,
shown once. Recovery codes are 50 random bits each (`xxxxx-xxxxx`), stored as salted
SHA-256 (a slow hash buys nothing for random secrets of that size), each usable once.

The TOTP secret itself is stored as is; the adapter should encrypt it at rest.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

import pyotp

from auth_service.domain.errors import Conflict, Reason, Unauthenticated
from shared.permissions import Role

__all__ = [
    "RECOVERY_CODE_COUNT",
    "TOTP_DIGITS",
    "TOTP_INTERVAL",
    "TOTP_ISSUER",
    "TOTP_VALID_WINDOW",
    "Enrolment",
    "MfaPolicy",
    "MfaState",
    "generate_recovery_codes",
    "hash_recovery_code",
    "normalise_recovery_code",
]

TOTP_ISSUER: Final = "Kopa"
TOTP_DIGITS: Final = 6
TOTP_INTERVAL: Final = 30
TOTP_VALID_WINDOW: Final = 1
RECOVERY_CODE_COUNT: Final = 10
_RECOVERY_ALPHABET: Final = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i


def _totp(secret: str) -> pyotp.TOTP:
    return pyotp.TOTP(secret, digits=TOTP_DIGITS, interval=TOTP_INTERVAL, issuer=TOTP_ISSUER)


def normalise_recovery_code(code: str) -> str:
    """Lower-case, without spaces or dashes (users type them any way)."""
    return "".join(ch for ch in code.lower() if ch.isalnum())


def hash_recovery_code(code: str, *, salt: bytes | None = None) -> str:
    """`sha256$<salt hex>$<digest hex>` of the normalised code."""
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.sha256(salt + normalise_recovery_code(code).encode()).hexdigest()
    return f"sha256${salt.hex()}${digest}"


def _recovery_code_matches(code: str, stored: str) -> bool:
    try:
        scheme, salt_hex, _ = stored.split("$")
        salt = bytes.fromhex(salt_hex)
    except ValueError:
        return False
    if scheme != "sha256":
        return False
    return hmac.compare_digest(hash_recovery_code(code, salt=salt), stored)


def generate_recovery_codes(count: int = RECOVERY_CODE_COUNT) -> list[str]:
    """`count` random codes like `k7m2p-x9q4t` (10 characters of a 31-letter alphabet)."""
    codes = []
    for _ in range(count):
        raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(10))
        codes.append(f"{raw[:5]}-{raw[5:]}")
    return codes


@dataclass(frozen=True, slots=True)
class Enrolment:
    secret: str
    provisioning_uri: str


@dataclass(frozen=True, slots=True)
class MfaPolicy:
    """An institution's rule: which roles must use a second factor."""

    required_for_roles: frozenset[Role] = frozenset()

    @classmethod
    def of(cls, roles: Iterable[Role | str]) -> MfaPolicy:
        return cls(frozenset(Role(r) for r in roles))

    def is_required(self, role: Role | str) -> bool:
        return Role(role) in self.required_for_roles


def _mfa_invalid(message: str = "The verification code is invalid.") -> Unauthenticated:
    return Unauthenticated(message, reason=Reason.MFA_INVALID, field_errors=[("otp", message)])


@dataclass
class MfaState:
    """A user's second factor: part of the `StaffUser` aggregate."""

    secret: str | None = None
    enabled: bool = False
    pending_secret: str | None = None
    last_used_step: int | None = None
    recovery_code_hashes: list[str] = field(default_factory=list)
    enabled_at: datetime | None = None

    # enrolment -------------------------------------------------------------------------

    def begin_enrolment(self, email: str) -> Enrolment:
        """Draw a new secret (not active until confirmed). Restarting replaces it."""
        if self.enabled:
            raise Conflict(
                "Two-factor authentication is already enabled; disable it first.",
                reason=Reason.MFA_ALREADY_ENABLED,
            )
        self.pending_secret = pyotp.random_base32()
        uri = _totp(self.pending_secret).provisioning_uri(name=email, issuer_name=TOTP_ISSUER)
        return Enrolment(self.pending_secret, uri)

    def confirm_enrolment(self, code: str, now: datetime) -> list[str]:
        """Enable the factor if `code` is valid for the pending secret; returns the
        recovery codes in clear, to show once."""
        if self.enabled:
            raise Conflict(
                "Two-factor authentication is already enabled.", reason=Reason.MFA_ALREADY_ENABLED
            )
        if self.pending_secret is None:
            raise Conflict(
                "Start the enrolment before confirming it.", reason=Reason.MFA_NOT_ENROLLED
            )
        step = self._matching_step(self.pending_secret, code, now)
        if step is None:
            raise _mfa_invalid()
        self.secret, self.pending_secret = self.pending_secret, None
        self.enabled = True
        self.enabled_at = now
        self.last_used_step = step
        return self.regenerate_recovery_codes()

    def disable(self) -> None:
        self.secret = None
        self.pending_secret = None
        self.enabled = False
        self.enabled_at = None
        self.last_used_step = None
        self.recovery_code_hashes = []

    def regenerate_recovery_codes(self) -> list[str]:
        """Replace all recovery codes; returns the new ones in clear (shown once)."""
        codes = generate_recovery_codes()
        self.recovery_code_hashes = [hash_recovery_code(c) for c in codes]
        return codes

    # login -----------------------------------------------------------------------------

    def verify_code(self, code: str, now: datetime) -> None:
        """Accept a TOTP code once. Raises `Unauthenticated(MFA_INVALID)`."""
        if not self.enabled or self.secret is None:
            raise Conflict(
                "Two-factor authentication is not enabled.", reason=Reason.MFA_NOT_ENROLLED
            )
        step = self._matching_step(self.secret, code, now)
        if step is None:
            raise _mfa_invalid()
        if self.last_used_step is not None and step <= self.last_used_step:
            raise _mfa_invalid("This code has already been used; wait for the next one.")
        self.last_used_step = step

    def use_recovery_code(self, code: str) -> int:
        """Accept a recovery code once (it is removed). Returns how many remain."""
        if not self.enabled:
            raise Conflict(
                "Two-factor authentication is not enabled.", reason=Reason.MFA_NOT_ENROLLED
            )
        for stored in self.recovery_code_hashes:
            if _recovery_code_matches(code, stored):
                self.recovery_code_hashes.remove(stored)
                return len(self.recovery_code_hashes)
        raise _mfa_invalid("The recovery code is invalid or has already been used.")

    @property
    def recovery_codes_left(self) -> int:
        return len(self.recovery_code_hashes)

    @staticmethod
    def _matching_step(secret: str, code: str, now: datetime) -> int | None:
        """The time step (within the window) whose code equals `code`, or None."""
        candidate = "".join(code.split())
        if len(candidate) != TOTP_DIGITS or not candidate.isdigit():
            return None
        totp = _totp(secret)
        current = totp.timecode(now)
        found: int | None = None
        for offset in range(-TOTP_VALID_WINDOW, TOTP_VALID_WINDOW + 1):
            step = current + offset
            # Compare every candidate (no early exit), in constant time.
            if hmac.compare_digest(totp.generate_otp(step), candidate) and found is None:
                found = step
        return found
