from __future__ import annotations

from collections.abc import Mapping

from rowcol.core.domain.ids import BusinessId, Rail
from rowcol.ports.credentials import CredentialStore


class MemoryCredentialStore(CredentialStore):
    def __init__(self) -> None:
        self.secrets: dict[tuple[str, Rail], dict[str, str]] = {}
        self.saves = 0

    async def load(self, business_id: BusinessId, rail: Rail) -> Mapping[str, str] | None:
        found = self.secrets.get((business_id, rail))
        return dict(found) if found is not None else None

    async def save(self, business_id: BusinessId, rail: Rail, secrets: Mapping[str, str]) -> None:
        self.secrets[(business_id, rail)] = dict(secrets)
        self.saves += 1

    async def businesses(self, rail: Rail) -> list[BusinessId]:
        return sorted(BusinessId(b) for b, r in self.secrets if r is rail)
