"""Which businesses an advisor looks after."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rowcol.core.domain.ids import AdvisorId, BusinessId
from rowcol.core.domain.money import currency_exponent
from rowcol.core.domain.tenancy import Actor, Business, Client, require_can_manage_clients
from rowcol.core.services.ids import IdFactory, random_ids
from rowcol.core.services.scope import ScopedClient, advisor_for, client_for, record
from rowcol.ports.clock import Clock
from rowcol.ports.repository import UnitOfWorkFactory


@dataclass(frozen=True, slots=True)
class ClientView:
    client: Client
    business: Business


class ClientService:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, ids: IdFactory = random_ids) -> None:
        self._uow = uow
        self._clock = clock
        self._ids = ids

    async def add_client_to_advisor(
        self,
        actor: Actor,
        advisor_id: AdvisorId,
        *,
        name: str,
        currency: str = "USD",
        timezone: str = "America/New_York",
    ) -> ClientView:
        """Creates the business and links it to the advisor, in one transaction."""
        require_can_manage_clients(actor)
        currency_exponent(currency)
        async with self._uow() as uow:
            advisor = await advisor_for(uow, actor, advisor_id)
            business = Business(BusinessId(self._ids("biz")), name, currency, timezone)
            client = Client(advisor.advisor_id, business.business_id, self._clock.now())
            await uow.businesses.add(business)
            await uow.clients.add(client)
            await record(
                uow,
                self._clock,
                actor,
                "client.added",
                f"client:{advisor.advisor_id}/{business.business_id}",
                after={"business": business, "client": client},
                advisor_id=advisor.advisor_id,
            )
            await uow.commit()
        return ClientView(client, business)

    async def list_clients_for_advisor(
        self, actor: Actor, advisor_id: AdvisorId
    ) -> Sequence[ClientView]:
        async with self._uow() as uow:
            advisor = await advisor_for(uow, actor, advisor_id)
            pairs = await uow.clients.list_for_advisor(advisor.advisor_id)
        return [ClientView(c, b) for c, b in pairs]

    async def get_client(
        self, actor: Actor, advisor_id: AdvisorId, business_id: BusinessId
    ) -> ScopedClient:
        async with self._uow() as uow:
            return await client_for(uow, actor, advisor_id, business_id)

    async def remove_client_from_advisor(
        self, actor: Actor, advisor_id: AdvisorId, business_id: BusinessId
    ) -> None:
        """Drops the link; the business's records stay for the audit trail."""
        require_can_manage_clients(actor)
        async with self._uow() as uow:
            scoped = await client_for(uow, actor, advisor_id, business_id)
            await uow.clients.remove(scoped.advisor.advisor_id, business_id)
            await record(
                uow,
                self._clock,
                actor,
                "client.removed",
                f"client:{advisor_id}/{business_id}",
                before={"business": scoped.business, "client": scoped.client},
                advisor_id=advisor_id,
            )
            await uow.commit()
