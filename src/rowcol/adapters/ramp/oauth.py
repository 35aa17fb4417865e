"""Ramp OAuth 2.0, client-credentials grant, one Ramp app per business.

The CredentialStore holds `{"client_id", "client_secret"}` for each business under
`Rail.RAMP`; the access token Ramp issues is cached back into the same record as
`access_token` and `access_expires_at` (ISO-8601), merged with the client credentials,
and saved BEFORE it is first used. A token is renewed when it is within `margin` of its
expiry, or when Ramp answers 401 to it (once; see `RampPaymentRail`).

Client-credentials tokens carry no refresh token: renewing is asking again, which is
harmless to repeat, so the token call is idempotent for the RailCaller.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final

import httpx
import msgspec

from rowcol.adapters.railkit.httpx_errors import retry_after_seconds
from rowcol.adapters.railkit.resilience import Ambiguous, RailCaller, Transient
from rowcol.adapters.ramp import wire
from rowcol.core.domain.ids import BusinessId, Rail
from rowcol.core.domain.time import require_utc
from rowcol.ports.clock import Clock
from rowcol.ports.credentials import CredentialStore
from rowcol.ports.errors import OutcomeUnknown, Rejected, Unavailable

TOKEN_PATH: Final = "/developer/v1/token"
DEFAULT_SCOPES: Final = "bills:read bills:write vendors:read entities:read"
"""What the adapter calls need, and no more (Ramp refuses a token request for scopes the
app was not granted); webhook subscriptions to bill events need bills:read."""
REFRESH_MARGIN: Final = timedelta(seconds=60)


@dataclass(frozen=True, slots=True)
class RampCredentials:
    """One business's Ramp connection as kept in the CredentialStore (all strings)."""

    client_id: str
    client_secret: str = field(repr=False)
    access_token: str | None = field(default=None, repr=False)
    access_expires_at: datetime | None = None

    @classmethod
    def from_secrets(cls, secrets: Mapping[str, str]) -> RampCredentials:
        """Raises ValueError naming what is missing or malformed."""
        missing = [k for k in ("client_id", "client_secret") if not secrets.get(k)]
        if missing:
            raise ValueError(f"missing {', '.join(missing)}")
        expires = secrets.get("access_expires_at")
        try:
            expires_at = require_utc(datetime.fromisoformat(expires)) if expires else None
        except ValueError:
            raise ValueError(f"bad access_expires_at {expires!r}") from None
        return cls(
            client_id=secrets["client_id"],
            client_secret=secrets["client_secret"],
            access_token=secrets.get("access_token") or None,
            access_expires_at=expires_at,
        )

    def with_token(self, token: str, expires_at: datetime | None) -> RampCredentials:
        return RampCredentials(self.client_id, self.client_secret, token, expires_at)

    def to_secrets(self, stored: Mapping[str, str]) -> dict[str, str]:
        """`stored` with this token merged in; keys RowCol does not know are kept."""
        secrets = dict(stored)
        secrets["client_id"] = self.client_id
        secrets["client_secret"] = self.client_secret
        secrets.pop("access_token", None)
        secrets.pop("access_expires_at", None)
        if self.access_token:
            secrets["access_token"] = self.access_token
        if self.access_expires_at is not None:
            secrets["access_expires_at"] = self.access_expires_at.isoformat()
        return secrets

    def usable(self, now: datetime, margin: timedelta) -> bool:
        """A token that is not within `margin` of expiring; unknown expiry counts as fresh
        (a 401 would say otherwise)."""
        if not self.access_token:
            return False
        return self.access_expires_at is None or self.access_expires_at - margin > now


class RampTokens:
    """Access tokens per business: cached in the CredentialStore, fetched when needed."""

    def __init__(
        self,
        *,
        base_url: str,
        credentials: CredentialStore,
        http: httpx.AsyncClient,
        caller: RailCaller,
        clock: Clock,
        scope: str = DEFAULT_SCOPES,
        margin: timedelta = REFRESH_MARGIN,
    ) -> None:
        self._url = base_url.rstrip("/") + TOKEN_PATH
        self._credentials = credentials
        self._http = http
        self._caller = caller
        self._clock = clock
        self._scope = scope
        self._margin = margin
        self._locks: dict[BusinessId, asyncio.Lock] = {}

    def _lock(self, business_id: BusinessId) -> asyncio.Lock:
        return self._locks.setdefault(business_id, asyncio.Lock())

    async def _load(self, business_id: BusinessId) -> tuple[Mapping[str, str], RampCredentials]:
        stored = await self._credentials.load(business_id, Rail.RAMP)
        if not stored:
            raise Unavailable(f"business {business_id} has no Ramp connection")
        try:
            return stored, RampCredentials.from_secrets(stored)
        except ValueError as exc:
            raise Unavailable(
                f"business {business_id} has a broken Ramp connection: {exc}"
            ) from exc

    async def access_token(self, business_id: BusinessId) -> str:
        """A token good for at least `margin` more; fetched and saved first if needed."""
        _, current = await self._load(business_id)
        if current.usable(self._clock.now(), self._margin) and current.access_token:
            return current.access_token
        async with self._lock(business_id):
            stored, current = await self._load(business_id)
            if current.usable(self._clock.now(), self._margin) and current.access_token:
                return current.access_token
            return await self._renew(business_id, stored, current)

    async def renew_after_401(self, business_id: BusinessId, refused: str) -> str:
        """A new token after Ramp refused `refused`; if another call already renewed it,
        that newer token is answered instead of asking Ramp again."""
        async with self._lock(business_id):
            stored, current = await self._load(business_id)
            if current.access_token and current.access_token != refused:
                return current.access_token
            return await self._renew(business_id, stored, current)

    async def _renew(
        self, business_id: BusinessId, stored: Mapping[str, str], current: RampCredentials
    ) -> str:
        answer = await self._request_token(business_id, current)
        expires_at = (
            self._clock.now() + timedelta(seconds=answer.expires_in)
            if answer.expires_in is not None
            else None
        )
        renewed = current.with_token(answer.access_token, expires_at)
        await self._credentials.save(business_id, Rail.RAMP, renewed.to_secrets(stored))
        return answer.access_token

    async def _request_token(
        self, business_id: BusinessId, current: RampCredentials
    ) -> wire.TokenResponse:
        basic = base64.b64encode(f"{current.client_id}:{current.client_secret}".encode()).decode()
        form = {"grant_type": "client_credentials", "scope": self._scope}

        async def operation() -> httpx.Response:
            request = self._http.build_request(
                "POST",
                self._url,
                data=form,
                headers={"Authorization": f"Basic {basic}", "Accept": "application/json"},
            )
            try:
                response = await self._http.send(request)
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                raise Transient(f"could not connect: {exc!r}") from exc
            except httpx.TransportError as exc:
                raise Ambiguous(f"no answer: {exc!r}") from exc
            if response.status_code in (408, 425, 429) or response.status_code >= 500:
                raise Transient(
                    f"HTTP {response.status_code}", retry_after=retry_after_seconds(response)
                )
            return response

        try:
            response = await self._caller.call(
                business_id, operation, idempotent=True, name="token"
            )
        except OutcomeUnknown as exc:
            raise Unavailable(f"ramp token request gave no answer: {exc}") from exc
        if response.status_code == 200:
            try:
                return msgspec.json.decode(response.content, type=wire.TokenResponse)
            except msgspec.MsgspecError as exc:
                raise Unavailable(f"ramp token answer is unreadable: {exc}") from exc
        error = _token_error(response.content)
        if response.status_code == 401 or error == "invalid_client":
            raise Rejected(
                f"ramp refused the client credentials of business {business_id} "
                f"({error or 'HTTP 401'})"
            )
        raise Rejected(f"ramp token request refused: {error or f'HTTP {response.status_code}'}")


def _token_error(body: bytes) -> str | None:
    try:
        decoded = msgspec.json.decode(body, type=wire.TokenError)
    except msgspec.MsgspecError:
        try:
            envelope = msgspec.json.decode(body, type=wire.ErrorBody)
        except msgspec.MsgspecError:
            return None
        if envelope.error_v2 is not None:
            return envelope.error_v2.error_code or envelope.error_v2.message
        return None
    if decoded.error_description:
        return f"{decoded.error}: {decoded.error_description}"
    return decoded.error
