"""Inbound webhooks: each rail proves an event is genuine its own way."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from rowcol.core.domain.ids import BusinessId, Rail


class WebhookRejected(Exception):
    """The request is not a genuine event of the rail; `reason` is fit for a 401."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class WebhookEvent:
    rail: Rail
    event_id: str
    """Stable across the rail's retries of the same event: the dedupe key."""
    event_type: str
    account: str | None
    """The rail's account the event is about (QBO realm, Plaid item, Ramp business, ...)."""
    occurred_at: datetime | None
    payload: Any
    challenge: str | None = None
    """Set when the event is a subscription handshake to answer (Ramp)."""


class WebhookVerifier(Protocol):
    rail: Rail

    async def verify(self, headers: Mapping[str, str], body: bytes) -> list[WebhookEvent]:
        """Genuine events in the body (some rails batch), or WebhookRejected."""
        ...


@dataclass(frozen=True, slots=True)
class Subscription:
    subscription_id: str
    secret: str
    """The key the rail signs this subscription's events with."""


class WebhookSubscriber(Protocol):
    """A rail whose webhooks are subscribed per business through its API (Ramp)."""

    rail: Rail
    event_types: tuple[str, ...]

    async def subscribe(self, business_id: BusinessId, endpoint_url: str) -> Subscription:
        """The subscription stays pending until its handshake is answered."""
        ...

    async def answer_handshake(
        self, business_id: BusinessId, subscription_id: str, challenge: str
    ) -> None: ...

    async def unsubscribe(self, business_id: BusinessId, subscription_id: str) -> None:
        """Ends a subscription; one the rail no longer has is already ended."""
        ...
