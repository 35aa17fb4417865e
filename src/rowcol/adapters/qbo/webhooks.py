"""QBO webhooks: `intuit-signature` = base64(HMAC-SHA256(verifier token, raw body)).

Intuit signs no timestamp, so there is no tolerance window in the signature; a replayed
body is caught by the event ids (one per entity change, stable across Intuit's retries)
and, if `max_age` is set, by the event's own signed time. Both payloads are accepted:
the legacy `{"eventNotifications": [...]}` and the CloudEvents array.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Final

import msgspec

from rowcol.adapters.qbo.mapping import parse_qbo_time
from rowcol.core.domain.ids import Rail
from rowcol.ports.clock import Clock
from rowcol.ports.webhooks import WebhookEvent, WebhookRejected, WebhookVerifier

SIGNATURE_HEADER: Final = "intuit-signature"

_ENTITY_NAMES: Final = {
    name.lower(): name
    for name in (
        "Account",
        "Bill",
        "BillPayment",
        "Customer",
        "Invoice",
        "Payment",
        "Vendor",
        "Term",
        "Purchase",
        "Deposit",
        "JournalEntry",
        "VendorCredit",
        "CreditMemo",
        "SalesReceipt",
        "Estimate",
        "Item",
        "Employee",
    )
}
_PAST_TENSE: Final = {
    "create": "created",
    "update": "updated",
    "delete": "deleted",
    "merge": "merged",
    "void": "voided",
    "emailed": "emailed",
}


def sign(verifier_token: str, body: bytes) -> str:
    """The `intuit-signature` value Intuit sends for `body`."""
    digest = hmac.new(verifier_token.encode(), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


class QboWebhookVerifier(WebhookVerifier):
    rail = Rail.QBO

    def __init__(
        self,
        verifier_token: str,
        *,
        clock: Clock | None = None,
        max_age: timedelta | None = None,
    ) -> None:
        """`max_age` (needs `clock`) rejects bodies whose events are older: Intuit retries
        failed deliveries for a while, so keep it generous, or None to rely on dedupe."""
        if not verifier_token:
            raise ValueError("a QBO webhook verifier token is required")
        if max_age is not None and clock is None:
            raise ValueError("max_age needs a clock")
        self._key = verifier_token.encode()
        self._clock = clock
        self._max_age = max_age

    async def verify(self, headers: Mapping[str, str], body: bytes) -> list[WebhookEvent]:
        self._check_signature(headers, body)
        try:
            data = msgspec.json.decode(body)
        except msgspec.DecodeError:
            raise WebhookRejected("body is not JSON") from None
        if isinstance(data, list):
            events = [_cloud_event(item) for item in data]
        elif isinstance(data, dict) and isinstance(data.get("eventNotifications"), list):
            events = _legacy_events(data["eventNotifications"])
        else:
            raise WebhookRejected("not a QBO webhook payload")
        self._check_age(events)
        return events

    def _check_signature(self, headers: Mapping[str, str], body: bytes) -> None:
        header = next((v for k, v in headers.items() if k.lower() == SIGNATURE_HEADER), None)
        if not header:
            raise WebhookRejected("missing intuit-signature header")
        try:
            given = base64.b64decode(header.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise WebhookRejected("intuit-signature is not base64") from None
        expected = hmac.new(self._key, body, hashlib.sha256).digest()
        if not hmac.compare_digest(given, expected):
            raise WebhookRejected("intuit-signature does not match the body")

    def _check_age(self, events: list[WebhookEvent]) -> None:
        if self._max_age is None or self._clock is None:
            return
        oldest = self._clock.now() - self._max_age
        for event in events:
            if event.occurred_at is not None and event.occurred_at < oldest:
                raise WebhookRejected(f"stale event {event.event_id}")


def _entity(name: str) -> str:
    return _ENTITY_NAMES.get(name.lower(), name[:1].upper() + name[1:])


def _when(text: Any) -> datetime | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        return parse_qbo_time(text)
    except ValueError:
        return None


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str | int) or str(value) == "":
        raise WebhookRejected(f"event without {what}")
    return str(value)


def _cloud_event(item: Any) -> WebhookEvent:
    """`type` is `qbo.<entity>.<operation>.v1`; `intuitaccountid` is the realm."""
    if not isinstance(item, dict):
        raise WebhookRejected("a CloudEvent must be an object")
    event_id = _text(item.get("id"), "id")
    event_type = _text(item.get("type"), "type")
    parts = event_type.split(".")
    entity = _entity(parts[1]) if len(parts) >= 3 else ""
    operation = parts[2] if len(parts) >= 3 else ""
    realm = item.get("intuitaccountid")
    return WebhookEvent(
        rail=Rail.QBO,
        event_id=event_id,
        event_type=event_type,
        account=str(realm) if realm is not None else None,
        occurred_at=_when(item.get("time")),
        payload={
            "entity": entity,
            "id": item.get("intuitentityid"),
            "operation": operation,
            "realm_id": realm,
            "raw": item,
        },
    )


def _legacy_events(notifications: list[Any]) -> list[WebhookEvent]:
    """One event per entity change; the id joins realm, entity, id, operation and time,
    which Intuit repeats unchanged when it retries."""
    events: list[WebhookEvent] = []
    for notification in notifications:
        if not isinstance(notification, dict):
            raise WebhookRejected("an event notification must be an object")
        realm = _text(notification.get("realmId"), "realmId")
        change = notification.get("dataChangeEvent") or {}
        entities = change.get("entities") if isinstance(change, dict) else None
        if not isinstance(entities, list):
            raise WebhookRejected("event notification without entities")
        for entity in entities:
            if not isinstance(entity, dict):
                raise WebhookRejected("an entity change must be an object")
            name = _entity(_text(entity.get("name"), "entity name"))
            ident = _text(entity.get("id"), "entity id")
            operation = _text(entity.get("operation"), "operation")
            updated = str(entity.get("lastUpdated") or "")
            verb = _PAST_TENSE.get(operation.lower(), operation.lower())
            events.append(
                WebhookEvent(
                    rail=Rail.QBO,
                    event_id=f"{realm}:{name}:{ident}:{operation}:{updated}",
                    event_type=f"qbo.{name.lower()}.{verb}.v1",
                    account=realm,
                    occurred_at=_when(updated),
                    payload={
                        "entity": name,
                        "id": ident,
                        "operation": verb,
                        "realm_id": realm,
                        "raw": {"realmId": realm, **entity},
                    },
                )
            )
    return events
