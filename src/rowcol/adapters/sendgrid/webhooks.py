"""SendGrid's signed Event Webhook, verified the way SendGrid signs it.

1. `X-Twilio-Email-Event-Webhook-Timestamp` holds Unix seconds; RowCol refuses one more
   than ten minutes away from its own clock (SendGrid documents no window; this one
   bounds how long a captured request can be replayed).
2. `X-Twilio-Email-Event-Webhook-Signature` holds a base64 ASN.1 DER ECDSA signature,
   P-256 with SHA-256, over the timestamp string followed by the raw body, unseparated.
3. The public key is the account's base64 DER SubjectPublicKeyInfo, as
   GET /v3/user/webhooks/event/settings/signed/{id} serves it.

The body is a JSON array of events; each becomes one `WebhookEvent` keyed by its
`sg_event_id`, which SendGrid keeps when it re-sends the same event.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import msgspec
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from rowcol.core.domain.errors import InvalidInput
from rowcol.core.domain.ids import Rail
from rowcol.ports.clock import Clock
from rowcol.ports.webhooks import WebhookEvent, WebhookRejected, WebhookVerifier

SIGNATURE_HEADER: Final = "x-twilio-email-event-webhook-signature"
TIMESTAMP_HEADER: Final = "x-twilio-email-event-webhook-timestamp"
MAX_AGE: Final = timedelta(minutes=10)


def load_public_key(public_key: str) -> ec.EllipticCurvePublicKey:
    """SendGrid's verification key: base64 DER SubjectPublicKeyInfo (PEM also accepted)."""
    text = public_key.strip()
    try:
        if text.startswith("-----BEGIN"):
            key = serialization.load_pem_public_key(text.encode("ascii"))
        else:
            key = serialization.load_der_public_key(base64.b64decode(text, validate=True))
    except (ValueError, TypeError, binascii.Error) as exc:
        raise InvalidInput(f"not a SendGrid Event Webhook public key: {exc}") from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise InvalidInput("the SendGrid Event Webhook key must be an EC P-256 public key")
    return key


def _header(headers: Mapping[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None


def _occurred_at(event: Mapping[str, Any]) -> datetime | None:
    moment = event.get("timestamp")
    if isinstance(moment, bool) or not isinstance(moment, int | float):
        return None
    try:
        return datetime.fromtimestamp(moment, UTC)
    except (OverflowError, OSError, ValueError):
        return None


class SendGridWebhookVerifier(WebhookVerifier):
    rail = Rail.SENDGRID

    def __init__(self, *, public_key: str, clock: Clock, max_age: timedelta = MAX_AGE) -> None:
        self._key = load_public_key(public_key)
        self._clock = clock
        self._max_age = max_age

    async def verify(self, headers: Mapping[str, str], body: bytes) -> list[WebhookEvent]:
        signature = _header(headers, SIGNATURE_HEADER)
        timestamp = _header(headers, TIMESTAMP_HEADER)
        if not signature or not timestamp:
            raise WebhookRejected("missing SendGrid Event Webhook signature headers")
        timestamp = timestamp.strip()
        if not timestamp.isascii() or not timestamp.isdigit():
            raise WebhookRejected("SendGrid Event Webhook timestamp is not Unix seconds")
        try:
            signed_at = datetime.fromtimestamp(int(timestamp), UTC)
        except (OverflowError, OSError, ValueError):
            raise WebhookRejected("SendGrid Event Webhook timestamp is out of range") from None
        now = self._clock.now()
        if now - signed_at > self._max_age:
            raise WebhookRejected("SendGrid Event Webhook signature is too old")
        if signed_at - now > self._max_age:
            raise WebhookRejected("SendGrid Event Webhook signature is from the future")
        try:
            der = base64.b64decode(signature.strip(), validate=True)
            self._key.verify(der, timestamp.encode("ascii") + body, ec.ECDSA(hashes.SHA256()))
        except (binascii.Error, ValueError, InvalidSignature):
            raise WebhookRejected("SendGrid Event Webhook signature is not valid") from None
        return self._events(body)

    @staticmethod
    def _events(body: bytes) -> list[WebhookEvent]:
        try:
            events: Any = msgspec.json.decode(body)
        except msgspec.MsgspecError as exc:
            raise WebhookRejected(f"SendGrid Event Webhook body is not JSON: {exc}") from None
        if not isinstance(events, list):
            raise WebhookRejected("SendGrid Event Webhook body is not an array of events")
        out = []
        for index, event in enumerate(events):
            if not isinstance(event, dict):
                raise WebhookRejected(f"SendGrid event {index} is not an object")
            event_id = event.get("sg_event_id")
            event_type = event.get("event")
            if not isinstance(event_id, str) or not event_id:
                raise WebhookRejected(f"SendGrid event {index} has no sg_event_id")
            if not isinstance(event_type, str) or not event_type:
                raise WebhookRejected(f"SendGrid event {index} has no event type")
            out.append(
                WebhookEvent(
                    rail=Rail.SENDGRID,
                    event_id=event_id,
                    event_type=event_type,
                    account=None,
                    occurred_at=_occurred_at(event),
                    payload=event,
                )
            )
        return out
