"""How each rail is doing for each business: latency, errors, circuits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol


class CircuitState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True, slots=True)
class RailHealth:
    rail: str
    key: str
    """The business (or realm, or `firm` for firm-wide rails) the calls were made for."""
    calls: int
    error_rate: float
    """Share of the last (up to 200) calls that failed."""
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    last_success: datetime | None
    last_error: str | None
    last_error_at: datetime | None
    circuit: CircuitState


class RailHealthSource(Protocol):
    def snapshot(self, keys: set[str] | None = None) -> list[RailHealth]: ...
