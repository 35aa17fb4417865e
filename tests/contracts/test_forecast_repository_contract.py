"""Forecast snapshots are kept exactly on memory, SQLite and PostgreSQL: the weeks with
their bands and categories, the recurring flows, newest first for `latest`, and
scenarios apart from the baseline."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from rowcol.core.domain.errors import Conflict
from rowcol.core.domain.forecast import Forecast, RecurringFlow, WeekForecast
from rowcol.core.domain.ids import BusinessId
from rowcol.core.domain.money import Money
from rowcol.core.domain.tenancy import Business
from rowcol.ports.repository import ForecastSnapshot, UnitOfWorkFactory

NOW = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)
BIZ = BusinessId("biz-1")


def usd(minor: int) -> Money:
    return Money(minor, "USD")


def forecast(shift: int = 0) -> Forecast:
    weeks = []
    opening = usd(1_000_000 + shift)
    for n in range(1, 5):
        closing = opening + usd(50_000) - usd(80_000)
        weeks.append(
            WeekForecast(
                week=n,
                starts_on=date(2026, 11, 3) + timedelta(weeks=n - 1),
                ends_on=date(2026, 11, 9) + timedelta(weeks=n - 1),
                opening=opening,
                inflows=usd(50_000),
                outflows=usd(80_000),
                closing=closing,
                by_category={"payroll": usd(-80_000), "receivables": usd(50_000)},
                p10=closing - usd(7_000),
                p50=closing,
                p90=closing + usd(9_001),
                breach_probability=0.125 * n,
            )
        )
        opening = closing
    return Forecast(
        business_id=BIZ,
        as_of=date(2026, 11, 2),
        weeks=tuple(weeks),
        recurring=(
            RecurringFlow(
                category="payroll",
                counterparty="Gusto",
                cadence_days=14,
                typical=usd(-80_000),
                drift_per_period=usd(-150),
                next_on=date(2026, 11, 6),
                occurrences=39,
            ),
        ),
    )


async def test_snapshots_round_trip_and_latest_is_the_newest_baseline(
    uow_factory: UnitOfWorkFactory,
) -> None:
    async with uow_factory() as uow:
        await uow.businesses.add(Business(BIZ, "Acme"))
        await uow.commit()
    first = ForecastSnapshot("fc-1", BIZ, NOW, forecast())
    second = ForecastSnapshot("fc-2", BIZ, NOW + timedelta(days=7), forecast(shift=5))
    scenario = ForecastSnapshot("fc-3", BIZ, NOW + timedelta(days=8), forecast(9), "late payer")
    async with uow_factory() as uow:
        for snapshot in (second, first, scenario):
            await uow.forecasts.add(snapshot)
        await uow.commit()

    async with uow_factory() as uow:
        assert await uow.forecasts.latest(BIZ) == second
        assert await uow.forecasts.latest(BIZ, scenario="late payer") == scenario
        assert await uow.forecasts.list(BIZ) == [first, second]
        assert await uow.forecasts.list(BIZ, since=NOW + timedelta(days=1)) == [second]
        assert await uow.forecasts.latest(BusinessId("other")) is None
        assert (await uow.forecasts.list(BIZ))[0].forecast.low_point == usd(880_000)
        with pytest.raises(Conflict):
            await uow.forecasts.add(first)
