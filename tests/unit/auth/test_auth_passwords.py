"""argon2id parameters, verification, re-hashing and the password policy."""

from __future__ import annotations

import time
import unicodedata

import pytest

from auth_service.domain.errors import ValidationError
from auth_service.domain.passwords import (
    ARGON2_PARAMETERS,
    Argon2Parameters,
    PasswordHasher,
    check_password_policy,
    default_hasher,
    enforce_password_policy,
)

pytestmark = pytest.mark.unit

GOOD = "Tamarind-Sky-42"


def codes(password: str, email: str | None = None) -> list[str]:
    return [v.code for v in check_password_policy(password, email=email)]


def test_argon2id_with_the_owasp_minimum_parameters() -> None:
    assert (
        Argon2Parameters(time_cost=2, memory_cost=19_456, parallelism=1, hash_len=32, salt_len=16)
        == ARGON2_PARAMETERS
    )
    encoded = default_hasher().hash(GOOD)
    assert encoded.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert default_hasher().verify(encoded, GOOD)
    assert not default_hasher().verify(encoded, GOOD + "!")
    assert not default_hasher().needs_rehash(encoded)


def test_hashes_are_salted() -> None:
    hasher = PasswordHasher(Argon2Parameters(time_cost=1, memory_cost=8))
    assert hasher.hash(GOOD) != hasher.hash(GOOD)


def test_needs_rehash_when_parameters_change() -> None:
    weak = PasswordHasher(Argon2Parameters(time_cost=1, memory_cost=8))
    old = weak.hash(GOOD)
    assert default_hasher().verify(old, GOOD)  # old hashes keep working...
    assert default_hasher().needs_rehash(old)  # ...and get upgraded at the next login
    assert not weak.needs_rehash(old)


def test_corrupt_hash_never_verifies() -> None:
    hasher = default_hasher()
    assert not hasher.verify("not-a-hash", GOOD)
    assert not hasher.verify("", GOOD)
    assert hasher.needs_rehash("not-a-hash")


def test_unicode_normalisation() -> None:
    hasher = PasswordHasher(Argon2Parameters(time_cost=1, memory_cost=8))
    composed = unicodedata.normalize("NFC", "Café-Kigali-2026")
    decomposed = unicodedata.normalize("NFD", composed)
    assert composed != decomposed
    assert hasher.verify(hasher.hash(composed), decomposed)


def test_dummy_verify_costs_about_as_much_as_a_real_one() -> None:
    hasher = PasswordHasher()
    stored = hasher.hash(GOOD)
    hasher.dummy_verify("warm-up")

    def best_of(fn: object, runs: int = 3) -> float:
        timings = []
        for _ in range(runs):
            start = time.perf_counter()
            fn()  # type: ignore[operator]
            timings.append(time.perf_counter() - start)
        return min(timings)

    real = best_of(lambda: hasher.verify(stored, "wrong-password"))
    dummy = best_of(lambda: hasher.dummy_verify("wrong-password"))
    assert 0.5 < dummy / real < 2.0


# --- policy -------------------------------------------------------------------------------


def test_a_good_password_passes() -> None:
    assert check_password_policy(GOOD, email="amina@kopa.example") == []
    enforce_password_policy(GOOD, email="amina@kopa.example")


def test_too_short_says_how_long() -> None:
    [violation] = check_password_policy("Short-1")
    assert violation.code == "TOO_SHORT"
    assert violation.message == "Use at least 12 characters (this one has 7)."


def test_one_character_class() -> None:
    for password in ("abcdefghijklmnop", "ABCDEFGHIJKLMNOP", "738491027364", "!@#$%^&*()_+-="):
        assert codes(password) == ["ONE_CHARACTER_CLASS"], password
    assert "ONE_CHARACTER_CLASS" not in codes("abcdefghijkl7")


def test_contains_email_local_part_in_any_case() -> None:
    assert codes("XAmina.Okafor-2026", email="amina.okafor@kopa.example") == ["CONTAINS_EMAIL"]
    assert codes("amina.okafor-2026", email="  Amina.Okafor@Kopa.Example ") == ["CONTAINS_EMAIL"]
    # Very short local parts are not a meaningful signal.
    assert codes("Tamarind-Sky-42", email="ta@kopa.example") == []


def test_common_passwords_are_refused_case_insensitively() -> None:
    assert "TOO_COMMON" in codes("Password1234")
    assert "TOO_COMMON" in codes("QWERTY123456")
    assert codes("Administrator") == ["TOO_COMMON"]


def test_too_long() -> None:
    assert codes("Ab1" * 100) == ["TOO_LONG"]


def test_all_violations_are_returned_together() -> None:
    assert codes("amina", email="amina@kopa.example") == [
        "TOO_SHORT",
        "ONE_CHARACTER_CLASS",
        "CONTAINS_EMAIL",
    ]
    with pytest.raises(ValidationError) as info:
        enforce_password_policy("password", email="x@example.org", field="new_password")
    err = info.value
    assert err.reason == "PASSWORD_POLICY"
    assert [f for f, _ in err.field_errors] == ["new_password"] * 3
    assert err.metadata["violations"] == "TOO_SHORT,ONE_CHARACTER_CLASS,TOO_COMMON"
    assert "at least 12 characters" in err.message
