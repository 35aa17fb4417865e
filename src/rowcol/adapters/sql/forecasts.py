"""Forecast snapshots in SQL: the forecast as JSON (exact minor units), with the columns
a reader filters on."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, Protocol

from sqlalchemy import CursorResult, Executable, RowMapping, select
from sqlalchemy.exc import IntegrityError

from rowcol.adapters.sql import tables as t
from rowcol.core.domain.errors import Conflict
from rowcol.core.domain.forecast import Forecast, RecurringFlow, WeekForecast
from rowcol.core.domain.ids import BusinessId
from rowcol.core.domain.money import Money
from rowcol.core.domain.portfolio import summarize
from rowcol.ports.repository import ForecastRepository, ForecastSnapshot


class _Db(Protocol):
    async def read(self, statement: Executable) -> CursorResult[Any]: ...

    async def write(self, statement: Executable) -> CursorResult[Any]: ...


def _m(money: Money) -> list[Any]:
    return [money.amount_minor, money.currency]


def _money(value: list[Any]) -> Money:
    return Money(int(value[0]), str(value[1]))


def forecast_json(forecast: Forecast) -> dict[str, Any]:
    return {
        "business_id": forecast.business_id,
        "as_of": forecast.as_of.isoformat(),
        "weeks": [
            {
                "week": w.week,
                "starts_on": w.starts_on.isoformat(),
                "ends_on": w.ends_on.isoformat(),
                "opening": _m(w.opening),
                "inflows": _m(w.inflows),
                "outflows": _m(w.outflows),
                "closing": _m(w.closing),
                "by_category": {k: _m(v) for k, v in sorted(w.by_category.items())},
                "p10": _m(w.p10),
                "p50": _m(w.p50),
                "p90": _m(w.p90),
                # Probabilities are kept to a millionth, as text, so they compare exactly.
                "breach_probability": f"{w.breach_probability:.6f}",
            }
            for w in forecast.weeks
        ],
        "recurring": [
            {
                "category": r.category,
                "counterparty": r.counterparty,
                "cadence_days": r.cadence_days,
                "typical": _m(r.typical),
                "drift_per_period": _m(r.drift_per_period),
                "next_on": r.next_on.isoformat(),
                "occurrences": r.occurrences,
            }
            for r in forecast.recurring
        ],
    }


def forecast_of(data: dict[str, Any]) -> Forecast:
    return Forecast(
        business_id=BusinessId(data["business_id"]),
        as_of=date.fromisoformat(data["as_of"]),
        weeks=tuple(
            WeekForecast(
                week=int(w["week"]),
                starts_on=date.fromisoformat(w["starts_on"]),
                ends_on=date.fromisoformat(w["ends_on"]),
                opening=_money(w["opening"]),
                inflows=_money(w["inflows"]),
                outflows=_money(w["outflows"]),
                closing=_money(w["closing"]),
                by_category={k: _money(v) for k, v in w["by_category"].items()},
                p10=_money(w["p10"]),
                p50=_money(w["p50"]),
                p90=_money(w["p90"]),
                breach_probability=float(w["breach_probability"]),
            )
            for w in data["weeks"]
        ),
        recurring=tuple(
            RecurringFlow(
                category=r["category"],
                counterparty=r["counterparty"],
                cadence_days=int(r["cadence_days"]),
                typical=_money(r["typical"]),
                drift_per_period=_money(r["drift_per_period"]),
                next_on=date.fromisoformat(r["next_on"]),
                occurrences=int(r["occurrences"]),
            )
            for r in data["recurring"]
        ),
    )


def _snapshot(row: RowMapping) -> ForecastSnapshot:
    return ForecastSnapshot(
        snapshot_id=row["snapshot_id"],
        business_id=BusinessId(row["business_id"]),
        created_at=row["created_at"],
        forecast=forecast_of(row["forecast"]),
        scenario=row["scenario"],
        buffer=None
        if row["buffer_minor"] is None
        else Money(int(row["buffer_minor"]), str(row["buffer_currency"])),
    )


class SqlForecasts(ForecastRepository):
    def __init__(self, db: _Db) -> None:
        self._db = db

    async def add(self, snapshot: ForecastSnapshot) -> None:
        low = snapshot.forecast.low_point
        summary = summarize(snapshot.forecast) if snapshot.forecast.weeks else None
        buffer = snapshot.buffer
        row = {
            "snapshot_id": snapshot.snapshot_id,
            "business_id": snapshot.business_id,
            "created_at": snapshot.created_at,
            "as_of": snapshot.forecast.as_of,
            "scenario": snapshot.scenario,
            "weeks": len(snapshot.forecast.weeks),
            "low_point_minor": low.amount_minor,
            "low_point_currency": low.currency,
            "forecast": forecast_json(snapshot.forecast),
            "low_week": summary.low_week if summary else None,
            "breach_probability": summary.breach_probability if summary else None,
            "breach_week": summary.breach_week if summary else None,
            "runway_weeks": summary.runway_weeks if summary else None,
            "buffer_minor": buffer.amount_minor if buffer else None,
            "buffer_currency": buffer.currency if buffer else None,
        }
        try:
            await self._db.write(t.forecast_snapshots.insert().values(row))
        except IntegrityError as exc:
            raise Conflict(
                f"snapshot {snapshot.snapshot_id} exists or business "
                f"{snapshot.business_id} does not"
            ) from exc

    async def latest(
        self, business_id: BusinessId, *, scenario: str | None = None
    ) -> ForecastSnapshot | None:
        c = t.forecast_snapshots.c
        query = select(t.forecast_snapshots).where(c.business_id == business_id)
        query = query.where(c.scenario.is_(None) if scenario is None else c.scenario == scenario)
        found = await self._db.read(
            query.order_by(c.created_at.desc(), c.snapshot_id.desc()).limit(1)
        )
        row = found.mappings().first()
        return None if row is None else _snapshot(row)

    async def list(
        self, business_id: BusinessId, *, since: datetime | None = None
    ) -> Sequence[ForecastSnapshot]:
        c = t.forecast_snapshots.c
        query = select(t.forecast_snapshots).where(
            c.business_id == business_id, c.scenario.is_(None)
        )
        if since is not None:
            query = query.where(c.created_at >= since)
        found = await self._db.read(query.order_by(c.created_at, c.snapshot_id))
        return [_snapshot(row) for row in found.mappings()]
