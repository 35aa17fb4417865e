"""Bearer tokens that say who is acting."""

from __future__ import annotations

from datetime import timedelta
from typing import Protocol

from rowcol.core.domain.tenancy import Actor


class TokenRejected(Exception):
    """The token cannot be trusted; `reason` says why in words fit for a 401."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TokenCodec(Protocol):
    def issue(self, actor: Actor, *, ttl: timedelta) -> str: ...

    def verify(self, token: str) -> Actor:
        """Raises TokenRejected (expired, tampered, unknown key, malformed)."""
        ...
