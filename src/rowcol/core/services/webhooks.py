"""Inbound webhooks: verify, store once, answer, then process — and never lose one.

A genuine event is stored (deduplicated by rail and event id) before the rail gets its
2xx; processing happens after, from the inbox. An event whose processing fails stays in
the inbox and is retried with backoff; it is never dropped.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from rowcol.core.domain.audit import to_json_value
from rowcol.core.domain.connections import StoredWebhook, WebhookStatus
from rowcol.core.domain.errors import NotFound
from rowcol.core.domain.ids import Rail
from rowcol.ports.clock import Clock
from rowcol.ports.repository import UnitOfWorkFactory
from rowcol.ports.webhooks import WebhookEvent, WebhookVerifier

WebhookHandler = Callable[[StoredWebhook], Awaitable[None]]

_MAX_BACKOFF = timedelta(hours=6)


def retry_delay(attempts: int) -> timedelta:
    """1, 2, 4, ... minutes, capped at six hours."""
    return min(timedelta(minutes=2 ** max(0, attempts - 1)), _MAX_BACKOFF)


@dataclass(frozen=True, slots=True)
class Received:
    stored: int
    duplicates: int


@dataclass(frozen=True, slots=True)
class Processed:
    processed: int
    failed: int


class WebhookService:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        verifiers: Mapping[Rail, WebhookVerifier],
        handlers: Mapping[Rail, WebhookHandler],
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._verifiers = dict(verifiers)
        self._handlers = dict(handlers)

    @property
    def rails(self) -> list[Rail]:
        return sorted(self._verifiers)

    async def receive(self, rail: str, headers: Mapping[str, str], body: bytes) -> Received:
        """Raises NotFound for a rail without webhooks, WebhookRejected for a forgery."""
        try:
            verifier = self._verifiers[Rail(rail)]
        except (ValueError, KeyError):
            raise NotFound(f"no webhooks are received for {rail!r}") from None
        events = await verifier.verify(headers, body)
        now = self._clock.now()
        stored = 0
        async with self._uow() as uow:
            for event in events:
                if await uow.webhooks.store(_stored(event, now)):
                    stored += 1
            await uow.commit()
        return Received(stored=stored, duplicates=len(events) - stored)

    async def process_due(self, *, limit: int = 100) -> Processed:
        async with self._uow() as uow:
            due = await uow.webhooks.due(self._clock.now(), limit=limit)
        processed = failed = 0
        for event in due:
            handler = self._handlers.get(event.rail)
            attempts = event.attempts + 1
            try:
                if handler is not None:
                    await handler(event)
            except Exception as exc:
                failed += 1
                outcome = replace(
                    event,
                    status=WebhookStatus.FAILED,
                    attempts=attempts,
                    last_error=f"{type(exc).__name__}: {exc}"[:500],
                    next_attempt_at=self._clock.now() + retry_delay(attempts),
                )
            else:
                processed += 1
                outcome = replace(
                    event,
                    status=WebhookStatus.PROCESSED,
                    attempts=attempts,
                    last_error=None,
                    next_attempt_at=None,
                    processed_at=self._clock.now(),
                )
            async with self._uow() as uow:
                await uow.webhooks.update(outcome)
                await uow.commit()
        return Processed(processed=processed, failed=failed)


def _stored(event: WebhookEvent, now: datetime) -> StoredWebhook:
    return StoredWebhook(
        rail=event.rail,
        event_id=event.event_id,
        event_type=event.event_type,
        account=event.account,
        payload_json=json.dumps(to_json_value(event.payload), sort_keys=True),
        received_at=now,
        status=WebhookStatus.PENDING,
    )
