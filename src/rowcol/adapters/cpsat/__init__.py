"""Bill scheduling with OR-Tools CP-SAT, as a `ScheduleSolver`."""

from rowcol.adapters.cpsat.solver import CpSatScheduleSolver

__all__ = ["CpSatScheduleSolver"]
