"""Clocks: the system's, and one that tests and simulations move by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from rowcol.core.domain.time import require_utc
from rowcol.ports.clock import Clock


class SystemClock(Clock):
    def now(self) -> datetime:
        return datetime.now(UTC)

    def today(self) -> date:
        return self.now().date()


class ManualClock(Clock):
    def __init__(self, start: datetime) -> None:
        self._now = require_utc(start)

    def now(self) -> datetime:
        return self._now

    def today(self) -> date:
        return self._now.date()

    def advance(self, delta: timedelta) -> None:
        self._now = self._now + delta

    def set(self, moment: datetime) -> None:
        self._now = require_utc(moment)
