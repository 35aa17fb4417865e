"""Stripe webhooks, verified the way Stripe signs them.

The `Stripe-Signature` header is `t=<unix seconds>,v1=<hex>[,v1=<hex>...]` (a `v0` may
follow and is ignored). The signature is HMAC-SHA256, keyed with the endpoint secret
(`whsec_...`, used as it is), over `"<t>.<raw body>"`. Any `v1` may match any of the
endpoint's secrets: while a secret is rolled, Stripe signs with both and RowCol may know
both. `t` must be within the tolerance (300 s, Stripe's default) of RowCol's clock; a
`t` that far in the future is refused too, which Stripe's SDK does not check.

The event id (`evt_...`) is stable across Stripe's retries, so it is the dedupe key. A
Connect platform receives its connected accounts' events with their `account`.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import msgspec

from rowcol.adapters.stripe import wire
from rowcol.core.domain.errors import InvalidInput
from rowcol.core.domain.ids import Rail
from rowcol.ports.clock import Clock
from rowcol.ports.webhooks import WebhookEvent, WebhookRejected, WebhookVerifier

SIGNATURE_HEADER: Final = "stripe-signature"
TOLERANCE: Final = timedelta(seconds=300)


def _header(headers: Mapping[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None


def _parse(header: str) -> tuple[int, list[str]]:
    stamp: int | None = None
    signatures: list[str] = []
    for item in header.split(","):
        key, sep, value = item.strip().partition("=")
        if not sep:
            continue
        if key == "t":
            try:
                stamp = int(value)
            except ValueError:
                raise WebhookRejected("Stripe-Signature has a malformed timestamp") from None
        elif key == "v1":
            signatures.append(value.lower())
    if stamp is None:
        raise WebhookRejected("Stripe-Signature has no timestamp")
    if not signatures:
        raise WebhookRejected("Stripe-Signature has no v1 signature")
    return stamp, signatures


class StripeWebhookVerifier(WebhookVerifier):
    rail = Rail.STRIPE

    def __init__(
        self, *, secrets: Iterable[str], clock: Clock, tolerance: timedelta = TOLERANCE
    ) -> None:
        self._secrets = [secret.encode("utf-8") for secret in secrets if secret]
        if not self._secrets:
            raise InvalidInput("a Stripe webhook endpoint needs at least one signing secret")
        self._clock = clock
        self._tolerance = tolerance

    async def verify(self, headers: Mapping[str, str], body: bytes) -> list[WebhookEvent]:
        header = _header(headers, SIGNATURE_HEADER)
        if not header:
            raise WebhookRejected("missing Stripe-Signature header")
        stamp, signatures = _parse(header)
        signed = f"{stamp}.".encode() + body
        expected = [
            hmac.new(secret, signed, hashlib.sha256).hexdigest() for secret in self._secrets
        ]
        # Every pair is compared, so the time taken does not say which one matched.
        matched = False
        for candidate in signatures:
            for digest in expected:
                matched |= hmac.compare_digest(candidate, digest)
        if not matched:
            raise WebhookRejected("no Stripe-Signature v1 matches the endpoint's secrets")
        signed_at = datetime.fromtimestamp(stamp, UTC)
        now = self._clock.now()
        if now - signed_at > self._tolerance:
            raise WebhookRejected("webhook signature is too old")
        if signed_at - now > self._tolerance:
            raise WebhookRejected("webhook signature is from the future")
        try:
            payload: Any = msgspec.json.decode(body)
            event = msgspec.convert(payload, wire.Event)
        except msgspec.MsgspecError as exc:
            raise WebhookRejected(f"webhook body is not a Stripe event: {exc}") from None
        if event.object != "event" or not event.id.startswith("evt_"):
            raise WebhookRejected("webhook body is not a Stripe event")
        return [
            WebhookEvent(
                rail=Rail.STRIPE,
                event_id=event.id,
                event_type=event.type,
                account=event.account,
                occurred_at=datetime.fromtimestamp(event.created, UTC),
                payload=payload,
            )
        ]
