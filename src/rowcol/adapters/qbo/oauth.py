"""Intuit OAuth 2.0, authorization-code grant: the authorize URL, code exchange, refresh.

The endpoints come from Intuit's OpenID discovery document (its URL is configuration, so
a simulator can stand in). Refresh tokens ROTATE: a refresh answer may carry a new
refresh token, and only the newest one is sure to work. The caller stores every answer
before using it (see `QboLedger`).
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final
from urllib.parse import urlencode

import httpx
import msgspec

from rowcol.adapters.qbo.wire import DiscoveryDocument, TokenError, TokenResponse
from rowcol.adapters.railkit.httpx_errors import send
from rowcol.adapters.railkit.resilience import RailCaller
from rowcol.core.domain.time import require_utc
from rowcol.ports.clock import Clock
from rowcol.ports.errors import OutcomeUnknown, Rejected, Unavailable

# As in Intuit's own Python OAuth client (intuit-oauth).
PRODUCTION_DISCOVERY_URL: Final = "https://developer.intuit.com/.well-known/openid_configuration/"
SANDBOX_DISCOVERY_URL: Final = (
    "https://developer.intuit.com/.well-known/openid_sandbox_configuration/"
)
ACCOUNTING_SCOPE: Final = "com.intuit.quickbooks.accounting"
REAUTHORISE: Final = "QBO connection needs re-authorisation"
_DISCOVERY_KEY: Final = "intuit-oauth"


@dataclass(frozen=True, slots=True)
class QboOAuthConfig:
    """The app's registration with Intuit (one per app, not per business)."""

    client_id: str
    client_secret: str = field(repr=False)
    redirect_uri: str
    discovery_url: str = PRODUCTION_DISCOVERY_URL
    scope: str = ACCOUNTING_SCOPE


@dataclass(frozen=True, slots=True)
class QboTokens:
    """One business's connection, as kept in the CredentialStore (all values strings)."""

    realm_id: str
    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    access_expires_at: datetime | None = None
    refresh_expires_at: datetime | None = None

    def to_secrets(self) -> dict[str, str]:
        secrets = {
            "realm_id": self.realm_id,
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
        }
        if self.access_expires_at is not None:
            secrets["access_expires_at"] = self.access_expires_at.isoformat()
        if self.refresh_expires_at is not None:
            secrets["refresh_expires_at"] = self.refresh_expires_at.isoformat()
        return secrets

    @classmethod
    def from_secrets(cls, secrets: Mapping[str, str]) -> QboTokens:
        """Raises ValueError naming what is missing or malformed."""
        missing = [k for k in ("realm_id", "access_token", "refresh_token") if not secrets.get(k)]
        if missing:
            raise ValueError(f"missing {', '.join(missing)}")
        return cls(
            realm_id=secrets["realm_id"],
            access_token=secrets["access_token"],
            refresh_token=secrets["refresh_token"],
            access_expires_at=_instant(secrets.get("access_expires_at")),
            refresh_expires_at=_instant(secrets.get("refresh_expires_at")),
        )

    def access_expiring(self, now: datetime, margin: timedelta) -> bool:
        """Unknown expiry counts as fresh: a 401 will say otherwise."""
        return self.access_expires_at is not None and self.access_expires_at - margin <= now

    def refresh_expired(self, now: datetime) -> bool:
        return self.refresh_expires_at is not None and self.refresh_expires_at <= now


def _instant(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return require_utc(datetime.fromisoformat(text))
    except ValueError:
        raise ValueError(f"bad timestamp {text!r}") from None


class QboOAuth:
    def __init__(
        self,
        config: QboOAuthConfig,
        *,
        http: httpx.AsyncClient,
        caller: RailCaller,
        clock: Clock,
    ) -> None:
        self._config = config
        self._http = http
        self._caller = caller
        self._clock = clock
        self._endpoints: DiscoveryDocument | None = None
        self._discovery_lock = asyncio.Lock()

    async def endpoints(self) -> DiscoveryDocument:
        """The discovery document, fetched once."""
        async with self._discovery_lock:
            if self._endpoints is None:
                self._endpoints = await self._discover()
            return self._endpoints

    async def _discover(self) -> DiscoveryDocument:
        async def operation() -> httpx.Response:
            request = self._http.build_request(
                "GET", self._config.discovery_url, headers={"Accept": "application/json"}
            )
            return await send(self._http, request)

        response = await self._caller.call(
            _DISCOVERY_KEY, operation, idempotent=True, name="oauth discovery"
        )
        if response.status_code != 200:
            raise Unavailable(f"QBO OAuth discovery answered HTTP {response.status_code}")
        try:
            return msgspec.json.decode(response.content, type=DiscoveryDocument)
        except msgspec.DecodeError as exc:
            raise Unavailable(f"QBO OAuth discovery document is unreadable: {exc}") from exc

    async def authorize_url(self, state: str) -> str:
        """Where to send the user's browser; Intuit redirects back with code, state, realmId."""
        endpoints = await self.endpoints()
        query = urlencode(
            {
                "client_id": self._config.client_id,
                "response_type": "code",
                "scope": self._config.scope,
                "redirect_uri": self._config.redirect_uri,
                "state": state,
            }
        )
        separator = "&" if "?" in endpoints.authorization_endpoint else "?"
        return f"{endpoints.authorization_endpoint}{separator}{query}"

    async def exchange_code(self, code: str, realm_id: str) -> QboTokens:
        """A code works once; a lost answer means authorising again."""
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self._config.redirect_uri,
        }
        answer = await self._token_request(form, realm_id, "code exchange")
        if answer.refresh_token is None:
            raise Unavailable("QBO code exchange answered without a refresh token")
        return self._tokens(realm_id, answer, answer.refresh_token, None)

    async def refresh(self, tokens: QboTokens) -> QboTokens:
        """New tokens; keeps the old refresh token only when no new one is given."""
        form = {"grant_type": "refresh_token", "refresh_token": tokens.refresh_token}
        answer = await self._token_request(form, tokens.realm_id, "token refresh")
        return self._tokens(
            tokens.realm_id,
            answer,
            answer.refresh_token or tokens.refresh_token,
            tokens.refresh_expires_at,
        )

    def _tokens(
        self,
        realm_id: str,
        answer: TokenResponse,
        refresh_token: str,
        refresh_expires_at: datetime | None,
    ) -> QboTokens:
        now = self._clock.now()
        if answer.x_refresh_token_expires_in is not None:
            refresh_expires_at = now + timedelta(seconds=answer.x_refresh_token_expires_in)
        return QboTokens(
            realm_id=realm_id,
            access_token=answer.access_token,
            refresh_token=refresh_token,
            access_expires_at=now + timedelta(seconds=answer.expires_in),
            refresh_expires_at=refresh_expires_at,
        )

    async def _token_request(self, form: dict[str, str], realm_id: str, name: str) -> TokenResponse:
        endpoints = await self.endpoints()
        credentials = f"{self._config.client_id}:{self._config.client_secret}".encode()
        authorization = "Basic " + base64.b64encode(credentials).decode("ascii")

        async def operation() -> httpx.Response:
            request = self._http.build_request(
                "POST",
                endpoints.token_endpoint,
                data=form,
                headers={"Authorization": authorization, "Accept": "application/json"},
            )
            return await send(self._http, request)

        try:
            # Not idempotent: a refresh may rotate the refresh token, a code works once.
            response = await self._caller.call(realm_id, operation, idempotent=False, name=name)
        except OutcomeUnknown as exc:
            raise Unavailable(
                f"the answer to a QBO {name} was lost; if it is not accepted on the next "
                f"try, the connection needs re-authorisation ({exc})"
            ) from exc
        if response.status_code == 200:
            try:
                return msgspec.json.decode(response.content, type=TokenResponse)
            except msgspec.DecodeError as exc:
                raise Unavailable(f"QBO {name} answer is unreadable: {exc}") from exc
        error = _token_error(response.content)
        if error == "invalid_grant":
            raise Rejected(REAUTHORISE)
        if response.status_code == 401 or error == "invalid_client":
            raise Rejected("QBO refused the app's client credentials (invalid_client)")
        raise Rejected(f"QBO {name} refused: {error or f'HTTP {response.status_code}'}")


def _token_error(body: bytes) -> str | None:
    try:
        return msgspec.json.decode(body, type=TokenError).error
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
