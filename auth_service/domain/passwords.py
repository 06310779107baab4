"""Password hashing (argon2id) and the password policy.

Parameters (`ARGON2_PARAMETERS`): argon2id, time_cost=2, memory_cost=19456 KiB (19 MiB),
parallelism=1, 16-byte salt, 32-byte hash: the OWASP Password Storage Cheat Sheet's
minimum configuration for argon2id (m=19 MiB, t=2, p=1). A stored hash made with other
parameters still verifies; `needs_rehash` tells the caller to re-hash it at the next
successful login.

Passwords are NFKC-normalised before hashing, so the same password typed on different
keyboards (composed or decomposed accents) verifies.

The policy (`check_password_policy`) returns every violation at once, each with a stable
code and a message meant for the user.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Final

from argon2 import PasswordHasher as _Argon2
from argon2 import Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from auth_service.domain.errors import Reason, ValidationError

__all__ = [
    "ARGON2_PARAMETERS",
    "COMMON_PASSWORDS",
    "MAX_PASSWORD_LENGTH",
    "MIN_PASSWORD_LENGTH",
    "Argon2Parameters",
    "PasswordHasher",
    "PolicyViolation",
    "check_password_policy",
    "default_hasher",
    "enforce_password_policy",
]

MIN_PASSWORD_LENGTH: Final = 12
MAX_PASSWORD_LENGTH: Final = 256
"""Upper bound, so nobody makes us hash a megabyte."""


@dataclass(frozen=True, slots=True)
class Argon2Parameters:
    time_cost: int = 2
    memory_cost: int = 19_456  # KiB = 19 MiB
    parallelism: int = 1
    hash_len: int = 32
    salt_len: int = 16


ARGON2_PARAMETERS: Final = Argon2Parameters()


def _normalise(password: str) -> str:
    return unicodedata.normalize("NFKC", password)


class PasswordHasher:
    """argon2id hashing with explicit parameters."""

    def __init__(self, parameters: Argon2Parameters = ARGON2_PARAMETERS) -> None:
        self.parameters = parameters
        self._argon2 = _Argon2(
            time_cost=parameters.time_cost,
            memory_cost=parameters.memory_cost,
            parallelism=parameters.parallelism,
            hash_len=parameters.hash_len,
            salt_len=parameters.salt_len,
            type=Type.ID,
        )
        self._dummy_hash: str | None = None

    def hash(self, password: str) -> str:
        """An encoded `$argon2id$v=19$m=...,t=...,p=...$salt$hash` string."""
        return self._argon2.hash(_normalise(password))

    def verify(self, password_hash: str, password: str) -> bool:
        """Whether the password matches. False for a mismatch and for a corrupt hash."""
        try:
            return self._argon2.verify(password_hash, _normalise(password))
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, password_hash: str) -> bool:
        """Whether the hash was made with other parameters than ours (re-hash on login)."""
        try:
            return self._argon2.check_needs_rehash(password_hash)
        except (InvalidHashError, ValueError):
            return True

    def dummy_verify(self, password: str) -> None:
        """Spend the time of a real verification, for logins naming an unknown user, so
        response times do not tell which e-mail addresses have accounts."""
        if self._dummy_hash is None:
            self._dummy_hash = self._argon2.hash("kopa-dummy-password-for-timing")
        self.verify(self._dummy_hash, password)


_DEFAULT: PasswordHasher | None = None


def default_hasher() -> PasswordHasher:
    """The process-wide hasher with `ARGON2_PARAMETERS`."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = PasswordHasher()
    return _DEFAULT


# --- policy --------------------------------------------------------------------------------

COMMON_PASSWORDS: Final[frozenset[str]] = frozenset(
    {
        "password",
        "password1",
        "password12",
        "password123",
        "password1234",
        "password12345",
        "passw0rdpassw0rd",
        "passwordpassword",
        "123456789012",
        "1234567890123",
        "12345678901234",
        "123456123456",
        "111111111111",
        "000000000000",
        "123123123123",
        "qwertyuiop",
        "qwertyuiop12",
        "qwertyuiop123",
        "qwerty123456",
        "1q2w3e4r5t6y",
        "1qaz2wsx3edc",
        "asdfghjkl123",
        "zxcvbnm12345",
        "iloveyou1234",
        "letmein12345",
        "welcome12345",
        "welcome@1234",
        "welcome123456",
        "changeme1234",
        "changeme123!",
        "administrator",
        "administrator1",
        "admin1234567",
        "adminadmin123",
        "superman1234",
        "football1234",
        "baseball1234",
        "sunshine1234",
        "princess1234",
        "trustno11234",
        "monkey123456",
        "dragon123456",
        "master123456",
        "starwars1234",
        "abc123abc123",
        "abcdefghijkl",
        "abcd1234abcd",
        "p@ssw0rd1234",
        "p@ssword1234",
        "password@123",
        "password!123",
        "microfinance",
        "microfinance1",
        "kopakopakopa",
    }
)
"""Very common passwords (long enough to pass the length rule), compared case-insensitively.
A short, illustrative list; a breached-password check is a service-layer concern."""


@dataclass(frozen=True, slots=True)
class PolicyViolation:
    code: str
    message: str


def _classes(password: str) -> int:
    kinds = set()
    for ch in password:
        if ch.islower():
            kinds.add("lower")
        elif ch.isupper():
            kinds.add("upper")
        elif ch.isdigit():
            kinds.add("digit")
        else:
            kinds.add("other")
    return len(kinds)


def check_password_policy(password: str, *, email: str | None = None) -> list[PolicyViolation]:
    """Every rule the password breaks (empty if it is acceptable):

    - `TOO_SHORT`: at least 12 characters; `TOO_LONG`: at most 256;
    - `ONE_CHARACTER_CLASS`: not only lower-case letters, or only upper-case, or only
      digits, or only symbols;
    - `CONTAINS_EMAIL`: does not contain the local part of the user's e-mail address
      (when it is 3 characters or more), in any case;
    - `TOO_COMMON`: not one of `COMMON_PASSWORDS`.
    """
    text = _normalise(password)
    violations: list[PolicyViolation] = []
    if len(text) < MIN_PASSWORD_LENGTH:
        violations.append(
            PolicyViolation(
                "TOO_SHORT",
                f"Use at least {MIN_PASSWORD_LENGTH} characters (this one has {len(text)}).",
            )
        )
    if len(text) > MAX_PASSWORD_LENGTH:
        violations.append(
            PolicyViolation("TOO_LONG", f"Use at most {MAX_PASSWORD_LENGTH} characters.")
        )
    if text and _classes(text) < 2:
        violations.append(
            PolicyViolation(
                "ONE_CHARACTER_CLASS",
                "Mix at least two kinds of characters: lower-case, upper-case, digits, symbols.",
            )
        )
    if email:
        local = email.strip().lower().split("@", 1)[0]
        if len(local) >= 3 and local in text.lower():
            violations.append(
                PolicyViolation(
                    "CONTAINS_EMAIL", "Do not include your e-mail address or user name."
                )
            )
    if text.lower() in COMMON_PASSWORDS:
        violations.append(
            PolicyViolation(
                "TOO_COMMON", "This password is one of the most common ones; choose another."
            )
        )
    return violations


def enforce_password_policy(
    password: str, *, email: str | None = None, field: str = "password"
) -> None:
    """Raise `ValidationError(reason=PASSWORD_POLICY)` naming every violated rule."""
    violations = check_password_policy(password, email=email)
    if violations:
        raise ValidationError(
            "The password does not meet the password policy: "
            + " ".join(v.message for v in violations),
            reason=Reason.PASSWORD_POLICY,
            field_errors=[(field, v.message) for v in violations],
            metadata={"violations": ",".join(v.code for v in violations)},
        )
