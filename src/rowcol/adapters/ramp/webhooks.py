"""Ramp webhooks, verified the way Ramp documents it.

The signature is the hex HMAC-SHA256 of the raw body, keyed with the subscription's
secret (the one `POST /developer/v1/webhooks` answered). Sources differ on the header's
name, so `X-Ramp-Webhook-Signature` and `X-Ramp-Signature` are both read; a `sha256=`
prefix and a base64 rendering are tolerated. Comparison is constant-time.

Ramp signs no timestamp, so a replay of a genuine event verifies: dedupe on the event id
(the envelope's `id`, the same on every retry). An optional `max_age` refuses events
whose signed `created_at` is older than that, for receivers that want a bound.

Each business has its own subscription and secret. `secrets(business_id)` answers the
candidate secrets for the Ramp business the body claims to be from; that claim is only
used to pick keys, and is trusted once a key verifies.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import timedelta
from typing import Any, Final

import msgspec

from rowcol.adapters.ramp import mapping, wire
from rowcol.core.domain.ids import Rail
from rowcol.ports.clock import Clock
from rowcol.ports.webhooks import WebhookEvent, WebhookRejected, WebhookVerifier

SIGNATURE_HEADERS: Final = ("x-ramp-webhook-signature", "x-ramp-signature")
VERIFICATION_EVENT: Final = "webhooks.verification"
_PREFIX: Final = "sha256="

SecretLookup = Callable[[str | None], Awaitable[Sequence[str]]]
"""Ramp business id claimed by the body (or None) → the subscription secrets to try."""


class _Claim(msgspec.Struct, forbid_unknown_fields=False):
    business_id: str | None = None


def signature(secret: str, body: bytes) -> str:
    """What Ramp puts in the signature header for `body`."""
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def _header(headers: Mapping[str, str]) -> str | None:
    lowered = {key.lower(): value for key, value in headers.items()}
    for name in SIGNATURE_HEADERS:
        if lowered.get(name):
            return lowered[name]
    return None


def _digest(text: str) -> bytes | None:
    """The 32 signature bytes from hex (any case) or base64, with or without `sha256=`."""
    value = text.strip()
    if value.lower().startswith(_PREFIX):
        value = value[len(_PREFIX) :]
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        try:
            raw = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            return None
    return raw if len(raw) == hashlib.sha256().digest_size else None


class RampWebhookVerifier(WebhookVerifier):
    rail = Rail.RAMP

    def __init__(
        self,
        *,
        secrets: SecretLookup,
        clock: Clock | None = None,
        max_age: timedelta | None = None,
    ) -> None:
        if max_age is not None and clock is None:
            raise ValueError("max_age needs a clock")
        self._secrets = secrets
        self._clock = clock
        self._max_age = max_age

    @classmethod
    def with_secrets(
        cls, *secrets: str, clock: Clock | None = None, max_age: timedelta | None = None
    ) -> RampWebhookVerifier:
        """A verifier that tries the same secrets for every business."""
        fixed = tuple(secrets)

        async def lookup(business_id: str | None) -> Sequence[str]:
            return fixed

        return cls(secrets=lookup, clock=clock, max_age=max_age)

    async def verify(self, headers: Mapping[str, str], body: bytes) -> list[WebhookEvent]:
        given_text = _header(headers)
        if given_text is None:
            raise WebhookRejected("missing X-Ramp-Webhook-Signature header")
        given = _digest(given_text)
        if given is None:
            raise WebhookRejected("malformed Ramp signature")
        try:
            claimed = msgspec.json.decode(body, type=_Claim).business_id
        except msgspec.MsgspecError:
            claimed = None
        candidates = await self._secrets(claimed)
        if not candidates:
            raise WebhookRejected("no Ramp webhook secret is known for this business")
        matched = False
        for secret in candidates:
            expected = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()
            matched = hmac.compare_digest(expected, given) or matched
        if not matched:
            raise WebhookRejected("Ramp signature does not match")
        try:
            envelope = msgspec.json.decode(body, type=wire.WebhookEnvelope)
            payload: Any = msgspec.json.decode(body)
            occurred = mapping.instant(envelope.created_at)
        except (msgspec.MsgspecError, ValueError) as exc:
            raise WebhookRejected(f"not a Ramp event: {exc}") from exc
        if (
            self._max_age is not None
            and self._clock is not None
            and occurred is not None
            and self._clock.now() - occurred > self._max_age
        ):
            raise WebhookRejected(f"Ramp event {envelope.id} is older than {self._max_age}")
        return [
            WebhookEvent(
                rail=Rail.RAMP,
                event_id=envelope.id,
                event_type=envelope.type,
                account=envelope.business_id,
                occurred_at=occurred,
                payload=payload,
                challenge=_challenge(envelope),
            )
        ]


def _challenge(envelope: wire.WebhookEnvelope) -> str | None:
    if envelope.type != VERIFICATION_EVENT:
        return None
    if envelope.challenge:
        return envelope.challenge
    for nested in (envelope.object, envelope.data):
        if nested and isinstance(nested.get("challenge"), str):
            return str(nested["challenge"])
    return None
