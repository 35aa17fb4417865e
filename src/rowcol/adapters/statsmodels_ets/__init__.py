"""Exponential smoothing (Holt-Winters, via statsmodels) as a `SeriesModel`."""

from rowcol.adapters.statsmodels_ets.model import ExponentialSmoothingModel

__all__ = ["ExponentialSmoothingModel"]
