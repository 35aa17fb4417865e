"""The CP-SAT schedule solver against exhaustive search on small problems: no better
schedule exists than the one it returns, and it keeps the buffer whenever that can be
done."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from rowcol.adapters.cpsat import CpSatScheduleSolver
from rowcol.core.domain.schedule import (
    ScheduleItem,
    ScheduleProblem,
    brute_force_solve,
    is_feasible,
    objective,
)

SOLVER = CpSatScheduleSolver(time_limit_seconds=20.0, workers=1)


@st.composite
def problems(draw: st.DrawFn) -> ScheduleProblem:
    days = draw(st.integers(1, 10))
    count = draw(st.integers(0, 5))
    items = []
    for n in range(count):
        # Windows narrow as bills multiply, so exhaustive search stays quick.
        width = draw(st.integers(0, max(0, min(days - 1, 9 // max(count, 1)))))
        earliest = draw(st.integers(0, days - 1 - width))
        amount = draw(st.integers(0, 2_000))
        items.append(
            ScheduleItem(
                key=f"b{n}",
                amount_minor=amount,
                earliest_day=earliest,
                latest_day=earliest + width,
                due_day=draw(st.integers(-3, days + 2)),
                discount_minor=draw(st.integers(0, amount // 5)),
                discount_until_day=draw(st.integers(-1, days - 1)),
                late_fee_per_day_minor=draw(st.integers(0, 40)),
                priority_weight=draw(st.integers(0, 100)),
            )
        )
    path = draw(st.lists(st.integers(-1_000, 6_000), min_size=days, max_size=days))
    return ScheduleProblem(tuple(items), tuple(path), draw(st.integers(0, 2_000)))


@settings(max_examples=80, deadline=None)
@given(problem=problems())
def test_cpsat_matches_exhaustive_search(problem: ScheduleProblem) -> None:
    best = brute_force_solve(problem)
    found = SOLVER.solve(problem)
    assert len(found) == len(problem.items)
    assert is_feasible(problem, found)
    assert objective(problem, found) == objective(problem, best)


def test_cpsat_places_what_fits_and_leaves_the_rest() -> None:
    problem = ScheduleProblem(
        (
            ScheduleItem("payroll", 800, 0, 4, 1, priority_weight=50),
            ScheduleItem("supplies", 800, 0, 4, 1, priority_weight=5),
        ),
        (1_000,) * 5,
        100,
    )
    found = SOLVER.solve(problem)
    assert found[0] is not None and found[1] is None


def test_an_empty_problem_has_an_empty_schedule() -> None:
    assert SOLVER.solve(ScheduleProblem((), (0,), 0)) == ()
