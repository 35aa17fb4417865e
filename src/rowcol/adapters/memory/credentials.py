"""Credentials in a dict; given a cipher, kept encrypted as the database keeps them."""

from __future__ import annotations

from collections.abc import Mapping

from rowcol.adapters.crypto import SecretCipher, dump_secrets, load_secrets
from rowcol.core.domain.ids import BusinessId, Rail
from rowcol.ports.credentials import CredentialStore

Sealed = dict[tuple[str, Rail], tuple[str, str]]
"""(business id, rail) -> (token, key id); without a cipher the token is the plain JSON."""

_PLAIN = ""


class MemoryCredentialStore(CredentialStore):
    def __init__(self, cipher: SecretCipher | None = None, *, sealed: Sealed | None = None) -> None:
        """`sealed` is what a store persists to; share one to reopen it with other keys."""
        self.cipher = cipher
        self.sealed: Sealed = {} if sealed is None else sealed
        self.saves = 0

    @property
    def secrets(self) -> dict[tuple[str, Rail], dict[str, str]]:
        """Everything stored, decrypted."""
        return {key: self._open(token) for key, (token, _) in self.sealed.items()}

    async def load(self, business_id: BusinessId, rail: Rail) -> Mapping[str, str] | None:
        found = self.sealed.get((business_id, rail))
        return None if found is None else self._open(found[0])

    async def save(self, business_id: BusinessId, rail: Rail, secrets: Mapping[str, str]) -> None:
        if self.cipher is None:
            sealed = dump_secrets(secrets).decode("utf-8"), _PLAIN
        else:
            sealed = self.cipher.seal(secrets)
        self.sealed[(business_id, rail)] = sealed
        self.saves += 1

    async def businesses(self, rail: Rail) -> list[BusinessId]:
        return sorted(BusinessId(b) for b, r in self.sealed if r == rail)

    async def rotate(self) -> int:
        """Re-encrypts what older keys encrypted under the primary key; how many were."""
        if self.cipher is None:
            return 0
        stale = {
            key: token
            for key, (token, key_id) in self.sealed.items()
            if key_id != self.cipher.key_id
        }
        rotated = {key: self.cipher.rotate(token) for key, token in stale.items()}
        self.sealed.update(rotated)
        return len(rotated)

    def _open(self, token: str) -> dict[str, str]:
        if self.cipher is None:
            return load_secrets(token.encode("utf-8"))
        return self.cipher.open(token)
