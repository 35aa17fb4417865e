"""A statistical model of a weekly series, for baselines the projector must beat."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class SeriesModel(Protocol):
    name: str

    def forecast(self, history: Sequence[int], horizon: int) -> list[int]:
        """The next `horizon` values of a weekly series of minor units."""
        ...
