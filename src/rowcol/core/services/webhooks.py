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
from rowcol.core.domain.errors import InvalidInput, NotFound
from rowcol.core.domain.ids import BusinessId, Rail
from rowcol.core.domain.tenancy import SYSTEM_ACTOR
from rowcol.core.services.scope import record
from rowcol.ports.clock import Clock
from rowcol.ports.credentials import CredentialStore
from rowcol.ports.errors import PortError
from rowcol.ports.repository import UnitOfWorkFactory
from rowcol.ports.webhooks import WebhookEvent, WebhookSubscriber, WebhookVerifier

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


HANDSHAKE_EVENT = "webhooks.verification"


@dataclass(frozen=True, slots=True)
class Subscribed:
    subscription_id: str
    new: bool
    """False: the URL was subscribed already and nothing changed."""
    replaced: str | None = None
    """The subscription this one replaced (another URL)."""
    old_ended: bool = False
    """Whether the replaced subscription was ended at the rail."""


class WebhookSubscriptions:
    """Subscribes a business's webhooks on rails that subscribe per business (Ramp), and
    answers their handshake when the first event, the challenge, arrives."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        credentials: CredentialStore,
        subscribers: Mapping[Rail, WebhookSubscriber],
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._credentials = credentials
        self._subscribers = dict(subscribers)

    @property
    def rails(self) -> list[Rail]:
        return sorted(self._subscribers)

    async def subscribe(self, business_id: BusinessId, rail: Rail, endpoint_url: str) -> Subscribed:
        """Subscribes `endpoint_url`; the signing secret is kept with the business's
        credentials, where the rail's webhook verifier finds it.

        Subscribing the URL already subscribed changes nothing. Another URL replaces the
        subscription: the new one is kept first, then the old one is ended, so no event
        is signed with a secret RowCol no longer holds."""
        subscriber = self._subscriber(rail)
        secrets = await self._credentials.load(business_id, rail)
        if secrets is None:
            raise NotFound(f"business {business_id} has no {rail.value} credentials")
        old = secrets.get("webhook_id")
        if old and secrets.get("webhook_url") == endpoint_url:
            return Subscribed(old, new=False)
        subscription = await subscriber.subscribe(business_id, endpoint_url)
        await self._credentials.save(
            business_id,
            rail,
            {
                **secrets,
                "webhook_id": subscription.subscription_id,
                "webhook_secret": subscription.secret,
                "webhook_url": endpoint_url,
            },
        )
        ended: str | None = None
        if old and old != subscription.subscription_id:
            try:
                await subscriber.unsubscribe(business_id, old)
                ended = old
            except PortError:
                # The new subscription stands; the audit names the old one as not ended,
                # for an operator to end (its events no longer verify, so none is acted on).
                pass
        async with self._uow() as uow:
            await record(
                uow,
                self._clock,
                SYSTEM_ACTOR,
                "rail.webhooks_subscribed",
                f"connection:{business_id}/{rail.value}",
                before={"subscription": old} if old else None,
                after={
                    "subscription": subscription.subscription_id,
                    "url": endpoint_url,
                    "replaced": old,
                    "ended": ended,
                },
            )
            await uow.commit()
        return Subscribed(
            subscription.subscription_id,
            new=True,
            replaced=old or None,
            old_ended=ended is not None,
        )

    async def answer_handshake(self, event: StoredWebhook) -> bool:
        """Answers a handshake event; False when the event is not one."""
        if event.event_type != HANDSHAKE_EVENT:
            return False
        subscriber = self._subscriber(event.rail)
        payload = json.loads(event.payload_json)
        challenge, subscription_id = _handshake(payload)
        if not challenge or not subscription_id or not event.account:
            raise InvalidInput(f"handshake {event.event_id} names no challenge or subscription")
        async with self._uow() as uow:
            connections = await uow.connections.find_by_account(event.rail, event.account)
        if not connections:
            raise NotFound(f"no business is connected to {event.rail.value} {event.account}")
        for connection in connections:
            secrets = await self._credentials.load(connection.business_id, event.rail)
            if secrets is None or secrets.get("webhook_id") != subscription_id:
                continue
            await subscriber.answer_handshake(connection.business_id, subscription_id, challenge)
            async with self._uow() as uow:
                await record(
                    uow,
                    self._clock,
                    SYSTEM_ACTOR,
                    "rail.webhooks_verified",
                    f"connection:{connection.business_id}/{event.rail.value}",
                    after={"subscription": subscription_id},
                )
                await uow.commit()
            return True
        raise NotFound(f"no business holds {event.rail.value} subscription {subscription_id}")

    def _subscriber(self, rail: Rail) -> WebhookSubscriber:
        try:
            return self._subscribers[rail]
        except KeyError:
            raise NotFound(f"webhooks are not subscribed through {rail.value}") from None


def _handshake(payload: object) -> tuple[str | None, str | None]:
    """(challenge, subscription id) of a Ramp-style handshake envelope."""
    if not isinstance(payload, dict):
        return None, None
    found = payload.get("object")
    nested = found if isinstance(found, dict) else {}
    challenge = payload.get("challenge") or nested.get("challenge")
    subscription = nested.get("id")
    return (
        challenge if isinstance(challenge, str) else None,
        subscription if isinstance(subscription, str) else None,
    )
