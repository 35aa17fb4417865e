"""Encryption of stored secrets under a list of Fernet keys, the first one primary.

Keys rotate by putting a new key first: new writes use it, the older keys still decrypt,
and a store's `rotate()` rewrites what they encrypted until they can be dropped.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from rowcol.ports.errors import StorageError

KEY_NO_LONGER_CONFIGURED = "credentials were encrypted with a key that is no longer configured"


class UnknownSecretKey(StorageError, ValueError):
    """Stored secrets need a key that is not among the configured ones."""


def key_id(key: str | bytes) -> str:
    """Names a key without revealing it: the first 8 hex digits of its SHA-256."""
    raw = key.encode("ascii") if isinstance(key, str) else key
    return hashlib.sha256(raw).hexdigest()[:8]


class SecretCipher:
    def __init__(self, keys: Sequence[str | bytes]) -> None:
        """Raises ValueError when no key is given or one is not a Fernet key."""
        if not keys:
            raise ValueError("at least one encryption key is needed")
        try:
            fernets = [Fernet(key) for key in keys]
        except (ValueError, TypeError) as exc:
            raise ValueError(
                "an encryption key is not a Fernet key (32 url-safe base64-encoded bytes)"
            ) from exc
        self._fernet = MultiFernet(fernets)
        self.key_id = key_id(keys[0])
        """The primary key's id: what every new token is encrypted under."""

    @staticmethod
    def generate_key() -> str:
        return Fernet.generate_key().decode("ascii")

    def encrypt(self, plaintext: bytes) -> tuple[str, str]:
        """The token, and the id of the key it is encrypted under."""
        return self._fernet.encrypt(plaintext).decode("ascii"), self.key_id

    def decrypt(self, token: str) -> bytes:
        try:
            return self._fernet.decrypt(token.encode("ascii"))
        except (InvalidToken, UnicodeEncodeError) as exc:
            raise UnknownSecretKey(KEY_NO_LONGER_CONFIGURED) from exc

    def rotate(self, token: str) -> tuple[str, str]:
        """The same plaintext encrypted under the primary key, and that key's id."""
        try:
            return self._fernet.rotate(token.encode("ascii")).decode("ascii"), self.key_id
        except (InvalidToken, UnicodeEncodeError) as exc:
            raise UnknownSecretKey(KEY_NO_LONGER_CONFIGURED) from exc

    def seal(self, secrets: Mapping[str, str]) -> tuple[str, str]:
        """Secrets as canonical JSON (sorted keys), encrypted: the token and its key id."""
        return self.encrypt(dump_secrets(secrets))

    def open(self, token: str) -> dict[str, str]:
        return load_secrets(self.decrypt(token))


def dump_secrets(secrets: Mapping[str, str]) -> bytes:
    """Canonical JSON, so equal secrets are equal bytes."""
    return json.dumps(
        dict(secrets), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode("utf-8")


def load_secrets(data: bytes) -> dict[str, str]:
    found = json.loads(data.decode("utf-8"))
    if not isinstance(found, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in found.items()
    ):
        raise ValueError("stored credentials are not a mapping of strings to strings")
    return found
