"""A solver for the bill-scheduling problem (`rowcol.core.domain.schedule`)."""

from __future__ import annotations

from typing import Protocol

from rowcol.core.domain.schedule import Days, ScheduleProblem


class ScheduleSolver(Protocol):
    def solve(self, problem: ScheduleProblem) -> Days:
        """A day (offset from today) per item, in item order, or None to leave it
        unplaced; feasible, and of least objective that the solver can find."""
        ...
