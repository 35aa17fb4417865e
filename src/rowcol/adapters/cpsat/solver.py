"""CP-SAT model of the scheduling problem: one boolean per (bill, candidate day).

Exactly one candidate per bill (a day in its window, or unplaced); the amount paid by
each day stays within that day's headroom; the objective sums each choice's cost. All
coefficients are integer minor units, so the optimum is exact.
"""

from __future__ import annotations

from ortools.sat.python import cp_model

from rowcol.core.domain.schedule import (
    Days,
    ScheduleProblem,
    is_feasible,
    item_cost,
    outflow,
)
from rowcol.ports.errors import Unavailable
from rowcol.ports.solver import ScheduleSolver


class CpSatScheduleSolver(ScheduleSolver):
    def __init__(self, *, time_limit_seconds: float = 10.0, workers: int = 2) -> None:
        self._time_limit = time_limit_seconds
        self._workers = workers

    def solve(self, problem: ScheduleProblem) -> Days:
        if not problem.items:
            return ()
        model = cp_model.CpModel()
        horizon = problem.horizon_days
        choices: list[list[tuple[int | None, cp_model.IntVar]]] = []
        for n, item in enumerate(problem.items):
            options: list[tuple[int | None, cp_model.IntVar]] = [
                (day, model.new_bool_var(f"x{n}_{day}"))
                for day in range(item.earliest_day, item.latest_day + 1)
            ]
            options.append((None, model.new_bool_var(f"x{n}_unplaced")))
            model.add_exactly_one(var for _, var in options)
            # Leaving a bill unplaced is always feasible: a starting point for the search.
            for day, var in options:
                model.add_hint(var, day is None)
            choices.append(options)

        headroom = problem.headroom()
        # A day's limit binds only where it is below every later day's: paid-by-day
        # never falls, so the other limits follow.
        binding: list[int] = []
        lowest_after = None
        for day in range(horizon - 1, -1, -1):
            if lowest_after is None or headroom[day] < lowest_after:
                binding.append(day)
                lowest_after = headroom[day]
        for limit_day in binding:
            terms = [
                (outflow(item, day), var)
                for item, options in zip(problem.items, choices, strict=True)
                for day, var in options
                if day is not None and day <= limit_day
            ]
            if terms:
                model.add(sum(c * v for c, v in terms) <= headroom[limit_day])

        model.minimize(
            sum(
                item_cost(item, day, horizon) * var
                for item, options in zip(problem.items, choices, strict=True)
                for day, var in options
            )
        )
        solver = cp_model.CpSolver()
        solver.parameters.max_time_in_seconds = self._time_limit
        solver.parameters.num_workers = self._workers
        solver.parameters.random_seed = 0
        status = solver.solve(model)
        if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            # Leaving every bill unplaced is always feasible, so this is a solver failure.
            raise Unavailable(f"CP-SAT found no schedule ({solver.status_name(status)})")
        days: Days = tuple(
            next(day for day, var in options if solver.boolean_value(var)) for options in choices
        )
        if not is_feasible(problem, days):
            raise Unavailable("CP-SAT returned a schedule that breaks the buffer")
        return days
