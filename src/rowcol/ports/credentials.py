"""Secrets a business's rail connection needs (tokens, keys), kept encrypted at rest."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from rowcol.core.domain.ids import BusinessId, Rail


class CredentialStore(Protocol):
    async def load(self, business_id: BusinessId, rail: Rail) -> Mapping[str, str] | None:
        """The stored secrets, decrypted; None when the business has no such connection."""
        ...

    async def save(self, business_id: BusinessId, rail: Rail, secrets: Mapping[str, str]) -> None:
        """Replaces the secrets in one atomic write (a crash leaves the old or the new)."""
        ...

    async def businesses(self, rail: Rail) -> list[BusinessId]:
        """Businesses with a stored connection to the rail."""
        ...

    async def rotate(self) -> int:
        """Re-encrypts every secret under the primary key; returns how many it rewrote."""
        ...
