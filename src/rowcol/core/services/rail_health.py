"""Rail health for an advisor's clients: live call statistics and stored connection status."""

from __future__ import annotations

from dataclasses import dataclass

from rowcol.core.domain.connections import RailConnection
from rowcol.core.domain.ids import AdvisorId
from rowcol.core.domain.tenancy import Actor
from rowcol.core.services.scope import advisor_for
from rowcol.ports.rail_health import RailHealth, RailHealthSource
from rowcol.ports.repository import UnitOfWorkFactory


@dataclass(frozen=True, slots=True)
class AdvisorRailHealth:
    calls: list[RailHealth]
    connections: list[RailConnection]


class RailHealthService:
    def __init__(self, uow: UnitOfWorkFactory, source: RailHealthSource) -> None:
        self._uow = uow
        self._source = source

    async def for_advisor(self, actor: Actor, advisor_id: AdvisorId) -> AdvisorRailHealth:
        async with self._uow() as uow:
            advisor = await advisor_for(uow, actor, advisor_id)
            clients = await uow.clients.list_for_advisor(advisor.advisor_id)
            connections: list[RailConnection] = []
            for client, _ in clients:
                connections.extend(await uow.connections.list(client.business_id))
        # Rails key their calls by business, or by their own account id (a QBO realm).
        keys: set[str] = {str(client.business_id) for client, _ in clients}
        keys |= {c.account for c in connections if c.account}
        return AdvisorRailHealth(self._source.snapshot(keys), connections)

    def overall(self) -> list[RailHealth]:
        """Every key, for operators (the CLI); not scoped, not for the API."""
        return self._source.snapshot()
