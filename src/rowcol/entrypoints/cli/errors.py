"""The one place that turns failures into CLI messages and exit codes."""

from __future__ import annotations

from typing import Final

import click

from rowcol.core.domain.errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound
from rowcol.ports.errors import PortError, StorageError, Unavailable

EXIT_USAGE: Final = 2
EXIT_NOT_FOUND: Final = 3
EXIT_CONFLICT: Final = 4
EXIT_FORBIDDEN: Final = 5
EXIT_INVALID: Final = 6
EXIT_UNAVAILABLE: Final = 7
EXIT_AUDIT_BROKEN: Final = 8

_CODES: list[tuple[type[Exception], int]] = [
    (NotFound, EXIT_NOT_FOUND),
    (Conflict, EXIT_CONFLICT),
    (Forbidden, EXIT_FORBIDDEN),
    (InvalidInput, EXIT_INVALID),
    (DomainError, EXIT_INVALID),
    (StorageError, EXIT_UNAVAILABLE),
    (Unavailable, EXIT_UNAVAILABLE),
    (PortError, EXIT_UNAVAILABLE),
]


class CliFailure(click.ClickException):
    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code  # type: ignore[misc]  # click reads it per instance


def as_cli_failure(exc: Exception) -> CliFailure | None:
    for kind, code in _CODES:
        if isinstance(exc, kind):
            return CliFailure(str(exc), code)
    return None
