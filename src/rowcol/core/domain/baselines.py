"""Simple forecasts to measure RowCol's projector against, on weekly series of minor
units: what the last weeks averaged, and what the same week a season ago did."""

from __future__ import annotations

from collections.abc import Sequence

from rowcol.core.domain.errors import InvalidInput


def last_weeks_average(history: Sequence[int], horizon: int, *, weeks: int = 4) -> list[int]:
    """Every future week is the mean of the last `weeks` (half-up to a minor unit)."""
    _check(history, horizon)
    recent = list(history[-weeks:])
    mean = (2 * sum(recent) + len(recent)) // (2 * len(recent))
    return [mean] * horizon


def seasonal_naive(history: Sequence[int], horizon: int, *, season: int = 52) -> list[int]:
    """Each future week repeats the week one season earlier; with less than a season of
    history, the last 4 weeks repeat (a monthly rhythm)."""
    _check(history, horizon)
    period = season if len(history) >= season else min(4, len(history))
    tail = list(history[-period:])
    return [tail[i % period] for i in range(horizon)]


def _check(history: Sequence[int], horizon: int) -> None:
    if not history:
        raise InvalidInput("a baseline needs at least one week of history")
    if horizon < 1:
        raise InvalidInput("the horizon must be at least one week")
