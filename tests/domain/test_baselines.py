"""The baselines the projector is measured against."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rowcol.core.domain.baselines import last_weeks_average, seasonal_naive
from rowcol.core.domain.errors import InvalidInput

series = st.lists(st.integers(min_value=0, max_value=10**9), min_size=1, max_size=120)
horizons = st.integers(min_value=1, max_value=26)


@given(series, horizons)
def test_the_average_is_flat_and_within_the_recent_range(history: list[int], horizon: int) -> None:
    forecast = last_weeks_average(history, horizon)
    recent = history[-4:]
    assert len(forecast) == horizon and len(set(forecast)) == 1
    assert min(recent) <= forecast[0] <= max(recent)


@given(series, horizons)
def test_seasonal_naive_repeats_the_season_it_saw(history: list[int], horizon: int) -> None:
    forecast = seasonal_naive(history, horizon)
    period = 52 if len(history) >= 52 else min(4, len(history))
    assert forecast == [history[-period:][i % period] for i in range(horizon)]


def test_a_year_ago_is_what_seasonal_naive_says_for_next_week() -> None:
    history = list(range(104))
    assert seasonal_naive(history, 2) == [52, 53]
    assert last_weeks_average([10, 20, 30, 41], 1) == [25]  # 25.25 rounds half up to 25


def test_no_history_is_refused() -> None:
    with pytest.raises(InvalidInput):
        last_weeks_average([], 4)
    with pytest.raises(InvalidInput):
        seasonal_naive([1], 0)
