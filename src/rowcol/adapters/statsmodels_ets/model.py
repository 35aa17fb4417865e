"""statsmodels' exponential smoothing: additive trend (damped) and, with two years of
history, a yearly season; a short history falls back to simple smoothing."""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
from statsmodels.tsa.holtwinters import ExponentialSmoothing

from rowcol.ports.series import SeriesModel

_YEAR = 52


class ExponentialSmoothingModel(SeriesModel):
    name = "exponential smoothing (statsmodels)"

    def forecast(self, history: Sequence[int], horizon: int) -> list[int]:
        if not history or horizon < 1:
            raise ValueError("need history and a horizon of at least one week")
        series = np.asarray(history, dtype=float)
        if len(series) < 8:
            return [round(float(series.mean()))] * horizon
        seasonal = "add" if len(series) >= 2 * _YEAR else None
        with warnings.catch_warnings():
            # Convergence chatter on short, noisy series says nothing actionable here.
            warnings.simplefilter("ignore")
            fitted = ExponentialSmoothing(
                series,
                trend="add",
                damped_trend=True,
                seasonal=seasonal,
                seasonal_periods=_YEAR if seasonal else None,
                initialization_method="estimated",
            ).fit()
            values = fitted.forecast(horizon)
        return [round(float(v)) for v in values]
