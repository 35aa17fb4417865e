"""Aware UTC instants and half-open day ranges; naive datetimes are refused."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from rowcol.core.domain.errors import InvalidInput


def require_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidInput("naive datetime: RowCol only stores aware UTC instants")
    return moment.astimezone(UTC)


def age(as_of: datetime, now: datetime) -> timedelta:
    return require_utc(now) - require_utc(as_of)


def add_days(day: date, days: int) -> date:
    return day + timedelta(days=days)
