"""Encryption at rest for auth_service's own secrets: TOTP seeds and signing-key PEMs.

Both are protected with keys derived (HKDF-SHA256, one `info` label each) from
`KOPA_KEY_ENCRYPTION_SECRET`. Without it (local development) values are stored in clear,
tagged `plain:` so that turning encryption on later still reads them; a value sealed with a
secret cannot be read without it, and start-up says so.
"""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_SEALED = "fernet:"
_PLAIN = "plain:"


class SecretUnavailable(RuntimeError):
    """A stored secret was encrypted but no (or another) encryption secret is configured."""


def _derive(secret: str, label: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=label).derive(
        secret.encode("utf-8")
    )


class SecretBox:
    def __init__(self, secret: str | None) -> None:
        self._fernet = (
            Fernet(base64.urlsafe_b64encode(_derive(secret, b"kopa-auth/mfa-secrets")))
            if secret
            else None
        )
        self.pem_password: bytes | None = (
            base64.b64encode(_derive(secret, b"kopa-auth/signing-keys")) if secret else None
        )

    @property
    def encrypting(self) -> bool:
        return self._fernet is not None

    def seal(self, value: str | None) -> str | None:
        if value is None:
            return None
        if self._fernet is None:
            return _PLAIN + value
        return _SEALED + self._fernet.encrypt(value.encode("utf-8")).decode("ascii")

    def open(self, stored: str | None) -> str | None:
        if stored is None:
            return None
        if stored.startswith(_PLAIN):
            return stored[len(_PLAIN) :]
        if stored.startswith(_SEALED):
            if self._fernet is None:
                raise SecretUnavailable(
                    "a stored secret is encrypted: set KOPA_KEY_ENCRYPTION_SECRET"
                )
            try:
                return self._fernet.decrypt(stored[len(_SEALED) :].encode("ascii")).decode()
            except InvalidToken:
                raise SecretUnavailable(
                    "a stored secret does not decrypt with KOPA_KEY_ENCRYPTION_SECRET"
                ) from None
        return stored
