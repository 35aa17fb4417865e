"""Email to clients and staff (SendGrid)."""

from __future__ import annotations

from typing import Protocol

from rowcol.core.domain.notifications import EmailMessage


class Notifier(Protocol):
    async def send(self, message: EmailMessage) -> str:
        """Hands the message over for delivery; returns the provider's message id."""
        ...
