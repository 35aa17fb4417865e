"""Reserves (earmarks): cash a business sets aside, which the guardrail will not spend."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import date
from typing import Any

from rowcol.core.domain.approval import can_prepare
from rowcol.core.domain.errors import Forbidden, InvalidInput, NotFound
from rowcol.core.domain.ids import AdvisorId, BusinessId, ReserveId
from rowcol.core.domain.money import Money
from rowcol.core.domain.reserves import Reserve
from rowcol.core.domain.tenancy import Actor
from rowcol.core.services.ids import IdFactory, random_ids
from rowcol.core.services.scope import client_for, record
from rowcol.ports.clock import Clock
from rowcol.ports.repository import UnitOfWorkFactory


class ReserveService:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, ids: IdFactory = random_ids) -> None:
        self._uow = uow
        self._clock = clock
        self._ids = ids

    async def list(
        self, actor: Actor, advisor_id: AdvisorId, business_id: BusinessId
    ) -> Sequence[Reserve]:
        """Every reserve of the client, released and lapsed ones included."""
        async with self._uow() as uow:
            await client_for(uow, actor, advisor_id, business_id)
            return await uow.reserves.list(business_id)

    async def add(
        self,
        actor: Actor,
        advisor_id: AdvisorId,
        business_id: BusinessId,
        *,
        purpose: str,
        amount: Money,
        until: date,
    ) -> Reserve:
        """Sets cash aside until a date (controllers, firm admins, bookkeepers); audited."""
        _require_keeper(actor, "add reserves")
        today = self._clock.today()
        if until < today:
            raise InvalidInput(f"a reserve must last until today or later, not {until}")
        async with self._uow() as uow:
            scoped = await client_for(uow, actor, advisor_id, business_id)
            currency = scoped.business.currency
            if amount.currency != currency:
                raise InvalidInput(f"the reserve is in {amount.currency}, the client in {currency}")
            reserve = Reserve(
                reserve_id=ReserveId(self._ids("res")),
                business_id=business_id,
                purpose=" ".join(purpose.split()),
                amount=amount,
                until=until,
            )
            await uow.reserves.upsert([reserve])
            await record(
                uow,
                self._clock,
                actor,
                "reserve.added",
                f"reserve:{business_id}/{reserve.reserve_id}",
                after=_summary(reserve),
                advisor_id=advisor_id,
            )
            await uow.commit()
        return reserve

    async def release(
        self, actor: Actor, advisor_id: AdvisorId, business_id: BusinessId, reserve_id: str
    ) -> Reserve:
        """Frees the cash a reserve held; releasing twice changes nothing the second time."""
        _require_keeper(actor, "release reserves")
        async with self._uow() as uow:
            await client_for(uow, actor, advisor_id, business_id)
            found = await uow.reserves.get(business_id, reserve_id)
            if found is None:
                raise NotFound(f"reserve {reserve_id} not found for client {business_id}")
            if found.released:
                return found
            released = replace(found, released=True)
            await uow.reserves.upsert([released])
            await record(
                uow,
                self._clock,
                actor,
                "reserve.released",
                f"reserve:{business_id}/{reserve_id}",
                before=_summary(found),
                after=_summary(released),
                advisor_id=advisor_id,
            )
            await uow.commit()
        return released


def _require_keeper(actor: Actor, what: str) -> None:
    if not can_prepare(actor.role):
        raise Forbidden(
            f"a {actor.role.value} may not {what}; controllers, firm admins and bookkeepers may"
        )


def _summary(reserve: Reserve) -> dict[str, Any]:
    return {
        "purpose": reserve.purpose,
        "amount": reserve.amount,
        "until": reserve.until.isoformat(),
        "released": reserve.released,
    }
