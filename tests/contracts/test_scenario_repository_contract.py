"""Scenarios behave the same on memory, SQLite and PostgreSQL: stored exactly, one per
business and name, listed by name, deleted once."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from rowcol.core.domain.errors import Conflict
from rowcol.core.domain.ids import BillId, BusinessId, CustomerId
from rowcol.core.domain.money import Money
from rowcol.core.domain.scenarios import (
    Cadence,
    CustomerNeverPays,
    CustomerPaysLate,
    MoveBills,
    NewCost,
    RevenueChange,
    Scenario,
)
from rowcol.core.domain.tenancy import Business
from rowcol.ports.repository import UnitOfWorkFactory

NOW = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)
BIZ = BusinessId("biz-1")
OTHER = BusinessId("biz-2")


def scenario(name: str, business: BusinessId = BIZ) -> Scenario:
    return Scenario(
        business_id=business,
        name=name,
        changes=(
            MoveBills((BillId("b1"), BillId("b2")), to=date(2026, 12, 1)),
            MoveBills((BillId("b3"),), by_days=-4),
            CustomerPaysLate(CustomerId("c1"), 30),
            CustomerNeverPays(CustomerId("c2")),
            NewCost("hire", Money.of("6500.25", "USD"), Cadence.BIWEEKLY, date(2026, 11, 9)),
            RevenueChange(Decimal("-12.5"), date(2026, 12, 1)),
        ),
        created_at=NOW,
        created_by="controller:u-1",
        description="a hard winter",
    )


async def seeded(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        await uow.businesses.add(Business(BIZ, "Acme"))
        await uow.businesses.add(Business(OTHER, "Other"))
        await uow.commit()


async def test_a_scenario_is_stored_exactly_and_listed_by_name(
    uow_factory: UnitOfWorkFactory,
) -> None:
    await seeded(uow_factory)
    async with uow_factory() as uow:
        await uow.scenarios.add(scenario("winter"))
        await uow.scenarios.add(scenario("autumn"))
        await uow.scenarios.add(scenario("winter", OTHER))
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.scenarios.get(BIZ, "winter") == scenario("winter")
        assert await uow.scenarios.get(BIZ, "spring") is None
        assert [s.name for s in await uow.scenarios.list(BIZ)] == ["autumn", "winter"]
        assert [s.business_id for s in await uow.scenarios.list(OTHER)] == [OTHER]


async def test_a_name_is_taken_once_per_business_and_the_business_must_exist(
    uow_factory: UnitOfWorkFactory,
) -> None:
    await seeded(uow_factory)
    async with uow_factory() as uow:
        await uow.scenarios.add(scenario("winter"))
        await uow.commit()
    async with uow_factory() as uow:
        with pytest.raises(Conflict):
            await uow.scenarios.add(scenario("winter"))
    async with uow_factory() as uow:
        with pytest.raises(Conflict):
            await uow.scenarios.add(scenario("winter", BusinessId("nobody")))


async def test_a_deleted_scenario_is_gone_and_deleting_it_again_says_so(
    uow_factory: UnitOfWorkFactory,
) -> None:
    await seeded(uow_factory)
    async with uow_factory() as uow:
        await uow.scenarios.add(scenario("winter"))
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.scenarios.delete(BIZ, "winter") is True
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.scenarios.delete(BIZ, "winter") is False
        assert await uow.scenarios.list(BIZ) == []
