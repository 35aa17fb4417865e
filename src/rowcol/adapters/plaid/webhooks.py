"""Plaid webhooks, verified the way Plaid documents it.

1. The `Plaid-Verification` header holds a JWT; its header must say `alg: ES256`.
2. The signing key comes from /webhook_verification_key/get by the JWT's `kid` and is
   cached by `kid`; a key whose `expired_at` is set has been rotated out and is refused.
3. The signature is checked with that key (EC P-256); `iat` may be at most five minutes
   old by RowCol's clock.
4. SHA-256 of the raw body, exactly as received, must equal the `request_body_sha256`
   claim (compared in constant time).

Plaid's webhooks carry no event id, so the id is the SHA-256 of the raw body: a retry of
the same webhook has the same body and so the same id.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import jwt
import msgspec
from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePublicKey
from jwt.algorithms import ECAlgorithm
from plaid.model.webhook_verification_key_get_request import WebhookVerificationKeyGetRequest

from rowcol.adapters.plaid import wire
from rowcol.adapters.plaid.client import PlaidTransport
from rowcol.adapters.railkit.resilience import RailCaller
from rowcol.core.domain.ids import Rail
from rowcol.ports.clock import Clock
from rowcol.ports.errors import Rejected
from rowcol.ports.webhooks import WebhookEvent, WebhookRejected, WebhookVerifier

VERIFICATION_HEADER: Final = "plaid-verification"
MAX_AGE: Final = timedelta(minutes=5)
_KEYS_CALLER_KEY: Final = "webhook-verification-keys"


def _header(headers: Mapping[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None


class PlaidWebhookVerifier(WebhookVerifier):
    rail = Rail.PLAID

    def __init__(
        self,
        *,
        base_url: str,
        client_id: str,
        secret: str,
        clock: Clock,
        caller: RailCaller,
        max_age: timedelta = MAX_AGE,
        timeout_seconds: float = 30.0,
    ) -> None:
        self._transport = PlaidTransport(
            base_url=base_url,
            client_id=client_id,
            secret=secret,
            caller=caller,
            timeout_seconds=timeout_seconds,
        )
        self._clock = clock
        self._max_age = max_age
        self._keys: dict[str, wire.JWK] = {}
        self._lock = asyncio.Lock()

    def close(self) -> None:
        self._transport.close()

    async def verify(self, headers: Mapping[str, str], body: bytes) -> list[WebhookEvent]:
        token = _header(headers, VERIFICATION_HEADER)
        if not token:
            raise WebhookRejected("missing Plaid-Verification header")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise WebhookRejected(f"Plaid-Verification is not a JWT: {exc}") from None
        if header.get("alg") != "ES256":
            raise WebhookRejected("Plaid-Verification must be signed with ES256")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise WebhookRejected("Plaid-Verification names no key")
        key = await self._key(kid)
        if key.expired_at is not None:
            raise WebhookRejected(f"signing key {kid} has expired")
        claims = self._claims(token, key)
        now = self._clock.now()
        signed_at = datetime.fromtimestamp(claims.iat, UTC)
        if now - signed_at > self._max_age:
            raise WebhookRejected("webhook signature is too old")
        if signed_at - now > self._max_age:
            raise WebhookRejected("webhook signature is from the future")
        digest = hashlib.sha256(body).hexdigest()
        if not hmac.compare_digest(digest, claims.request_body_sha256.lower()):
            raise WebhookRejected("webhook body does not match its signature")
        try:
            payload: Any = msgspec.json.decode(body)
            webhook = msgspec.convert(payload, wire.Webhook)
        except msgspec.MsgspecError as exc:
            raise WebhookRejected(f"webhook body is not a Plaid webhook: {exc}") from None
        return [
            WebhookEvent(
                rail=Rail.PLAID,
                # Plaid sends no event id, and the same notification (e.g. new
                # transactions for an item) repeats with an identical body; the signing
                # time tells successive notifications apart. A re-signed retry is then
                # processed twice, which is harmless: processing is an idempotent sync.
                event_id=f"{digest}:{claims.iat}",
                event_type=f"{webhook.webhook_type}.{webhook.webhook_code}",
                account=webhook.item_id,
                occurred_at=signed_at,
                payload=payload,
            )
        ]

    def _claims(self, token: str, key: wire.JWK) -> wire.VerificationClaims:
        if key.kty != "EC" or key.crv != "P-256":
            raise WebhookRejected(f"signing key {key.kid} is not an EC P-256 key")
        try:
            public_key = ECAlgorithm.from_jwk(msgspec.json.encode(key).decode())
            if not isinstance(public_key, EllipticCurvePublicKey):
                raise ValueError("the signing key must be a public key")
            decoded = jwt.decode(
                token,
                key=public_key,
                algorithms=["ES256"],
                # Time is judged by RowCol's clock below, not by the machine's.
                options={
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                    "require": ["iat", "request_body_sha256"],
                },
            )
            return msgspec.convert(decoded, wire.VerificationClaims)
        except (jwt.PyJWTError, msgspec.MsgspecError, ValueError) as exc:
            raise WebhookRejected(f"webhook signature is not valid: {exc}") from None

    async def _key(self, kid: str) -> wire.JWK:
        """The key by id; a new id also refreshes the cached live keys (rotation)."""
        async with self._lock:
            if kid in self._keys:
                return self._keys[kid]
            live = [known for known, key in self._keys.items() if key.expired_at is None]
            for key_id in [*live, kid]:
                try:
                    self._keys[key_id] = await self._fetch(key_id)
                except Rejected:
                    if key_id == kid:
                        raise WebhookRejected(f"Plaid knows no signing key {kid}") from None
            return self._keys[kid]

    async def _fetch(self, kid: str) -> wire.JWK:
        response = await self._transport.post(
            _KEYS_CALLER_KEY,
            "/webhook_verification_key/get",
            WebhookVerificationKeyGetRequest(key_id=kid),
            wire.WebhookVerificationKeyGetResponse,
        )
        return response.key
