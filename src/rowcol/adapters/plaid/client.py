"""Plaid as RowCol's `BankVerifier`, through Plaid's official SDK (plaid-python).

The SDK is synchronous, so each call runs on a worker thread inside `RailCaller.call`.
The SDK only builds and sends the request: its own retries are off (the RailCaller
decides), and the raw body is decoded into `wire` structs, then mapped to domain records.

Every call RowCol makes to Plaid is a read, so every call is idempotent and may be
retried after an ambiguous failure. A read that never gets an answer is `Unavailable`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any, Final, TypeVar

import msgspec
import plaid
import urllib3
from plaid.api import plaid_api
from plaid.model.accounts_balance_get_request import AccountsBalanceGetRequest
from plaid.model.accounts_get_request import AccountsGetRequest
from plaid.model.item_get_request import ItemGetRequest
from plaid.model.transactions_sync_request import TransactionsSyncRequest

from rowcol.adapters.plaid import mapping, wire
from rowcol.adapters.railkit.resilience import (
    Ambiguous,
    RailCaller,
    RailHealthMonitor,
    RateLimit,
    Transient,
)
from rowcol.core.domain.errors import InvalidInput
from rowcol.core.domain.ids import BusinessId, Rail
from rowcol.core.domain.records import Balance, BankAccount, BankTransaction
from rowcol.ports.bank_verifier import BankVerifier, TransactionPage
from rowcol.ports.clock import Clock
from rowcol.ports.credentials import CredentialStore
from rowcol.ports.errors import OutcomeUnknown, Rejected, Unavailable

T = TypeVar("T", bound=wire.Wire)

PLAID_VERSION: Final = "2020-09-14"

PLAID_RATE_LIMIT: Final = RateLimit(requests=15, per_seconds=60.0, concurrency=4)
"""Plaid's production limit per Item for /accounts/get and /item/get (15 a minute)."""
PLAID_ENDPOINT_LIMITS: Final = {
    "/transactions/sync": RateLimit(requests=50, per_seconds=60.0, concurrency=4),
    "/accounts/balance/get": RateLimit(requests=5, per_seconds=60.0, concurrency=4),
}
"""Endpoints Plaid limits differently, each counted on its own; a 429 beyond any of them
is retried after a backoff like any other."""

MAX_SYNC_COUNT: Final = 500
"""The largest `count` /transactions/sync accepts."""

MUTATION_DURING_PAGINATION: Final = "TRANSACTIONS_SYNC_MUTATION_DURING_PAGINATION"

_RETRYABLE_STATUS: Final = frozenset({408, 425, 429})

_OPERATIONS: Final = {
    "/accounts/get": "accounts_get",
    "/accounts/balance/get": "accounts_balance_get",
    "/transactions/sync": "transactions_sync",
    "/item/get": "item_get",
    "/webhook_verification_key/get": "webhook_verification_key_get",
}


def plaid_caller(
    monitor: RailHealthMonitor, *, rate_limit: RateLimit = PLAID_RATE_LIMIT, **options: Any
) -> RailCaller:
    """A RailCaller for Plaid with its published per-Item rate limits."""
    options.setdefault("limits", PLAID_ENDPOINT_LIMITS)
    return RailCaller(Rail.PLAID.value, monitor=monitor, rate_limit=rate_limit, **options)


class ItemNeedsAttention(Unavailable):
    """The Item (the bank connection) is in an error state, e.g. ITEM_LOGIN_REQUIRED:
    the business must repair it in Link; retrying does not help."""

    def __init__(self, error_code: str, message: str) -> None:
        super().__init__(f"plaid item needs attention: {error_code}: {message}")
        self.error_code = error_code


class MutationDuringPagination(Unavailable):
    """Plaid's data changed between pages: restart the run from its first cursor."""


def _plaid_error(body: object) -> wire.PlaidError | None:
    if isinstance(body, str):
        body = body.encode()
    if not isinstance(body, bytes) or not body:
        return None
    try:
        return msgspec.json.decode(body, type=wire.PlaidError)
    except msgspec.MsgspecError:
        return None


def _retry_after(headers: Mapping[str, str] | None) -> float | None:
    if not headers:
        return None
    value = headers.get("Retry-After") or headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - time.time())


def _api_failure(exc: plaid.ApiException, path: str) -> Exception:
    """Plaid's error answer as RowCol's failure: transient, connection health or refusal."""
    status = int(exc.status or 0)
    error = _plaid_error(exc.body)
    detail = f"{error.error_code}: {error.error_message}" if error else f"HTTP {status}"
    if status == 0:
        return Transient(f"{path}: {exc.reason}")
    if status in _RETRYABLE_STATUS or status >= 500:
        code = f" {error.error_code}" if error else ""
        return Transient(f"{path}: HTTP {status}{code}", retry_after=_retry_after(exc.headers))
    if error is not None:
        if error.error_type == "ITEM_ERROR":
            return ItemNeedsAttention(error.error_code, error.error_message)
        if error.error_code == MUTATION_DURING_PAGINATION:
            return MutationDuringPagination(f"plaid {path}: {detail}")
        if error.error_type == "INSTITUTION_ERROR":
            return Transient(f"{path}: {detail}")
    return Rejected(f"plaid refused {path}: {detail}")


def _transport_failure(exc: Exception, path: str) -> Exception:
    """Refused or unreachable before sending is transient; anything later is ambiguous."""
    if isinstance(exc, urllib3.exceptions.MaxRetryError) and exc.reason is not None:
        exc = exc.reason
    if isinstance(exc, urllib3.exceptions.ConnectTimeoutError | ConnectionRefusedError):
        return Transient(f"{path}: could not connect: {exc!r}")
    return Ambiguous(f"{path}: no answer: {exc!r}")


class PlaidTransport:
    """Plaid's SDK behind a RailCaller: one call, classified failures, the raw body decoded."""

    def __init__(
        self,
        *,
        base_url: str,
        client_id: str,
        secret: str,
        caller: RailCaller,
        timeout_seconds: float = 30.0,
    ) -> None:
        configuration = plaid.Configuration(
            host=base_url.rstrip("/"),
            api_key={"clientId": client_id, "secret": secret, "plaidVersion": PLAID_VERSION},
        )
        configuration.retries = False
        self._client = plaid.ApiClient(configuration)
        self._api = plaid_api.PlaidApi(self._client)
        self._caller = caller
        self._timeout = timeout_seconds

    def close(self) -> None:
        self._client.close()

    async def post(self, key: str, path: str, request: object, answer: type[T]) -> T:
        """POSTs `request` to `path` through the SDK; decodes the answer as `answer`."""
        endpoint = getattr(self._api, _OPERATIONS[path])

        def blocking() -> bytes:
            try:
                response = endpoint(request, _preload_content=False, _request_timeout=self._timeout)
                body: bytes = response.data
                response.release_conn()
            except plaid.ApiException as exc:
                raise _api_failure(exc, path) from exc
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                raise _transport_failure(exc, path) from exc
            return body

        async def attempt() -> bytes:
            return await asyncio.to_thread(blocking)

        try:
            raw = await self._caller.call(
                key,
                attempt,
                idempotent=True,
                name=path,
                limit=path if path in PLAID_ENDPOINT_LIMITS else None,
            )
        except OutcomeUnknown as exc:
            raise Unavailable(f"plaid {path} gave no answer: {exc}") from exc
        try:
            return msgspec.json.decode(raw, type=answer)
        except msgspec.MsgspecError as exc:
            raise Unavailable(f"plaid {path} answered with an unreadable body: {exc}") from exc


class PlaidBankVerifier(BankVerifier):
    """Accounts, real-time balances and transactions of each business's Plaid Item.

    Per business the CredentialStore holds `{"access_token": ..., "item_id": ...}` under
    `Rail.PLAID`; the firm's `client_id` and `secret` come through the constructor.
    """

    def __init__(
        self,
        *,
        base_url: str,
        client_id: str,
        secret: str,
        credentials: CredentialStore,
        clock: Clock,
        caller: RailCaller,
        page_size: int = MAX_SYNC_COUNT,
        timeout_seconds: float = 30.0,
        max_restarts: int = 3,
    ) -> None:
        if not 1 <= page_size <= MAX_SYNC_COUNT:
            raise InvalidInput(f"page_size must be 1-{MAX_SYNC_COUNT}")
        self._transport = PlaidTransport(
            base_url=base_url,
            client_id=client_id,
            secret=secret,
            caller=caller,
            timeout_seconds=timeout_seconds,
        )
        self._credentials = credentials
        self._clock = clock
        self._page_size = page_size
        self._max_restarts = max_restarts

    def close(self) -> None:
        self._transport.close()

    async def _access_token(self, business_id: BusinessId) -> str:
        secrets = await self._credentials.load(business_id, Rail.PLAID)
        token = secrets.get("access_token") if secrets else None
        if not token:
            raise Unavailable(f"business {business_id} has no Plaid connection")
        return token

    async def list_accounts(self, business_id: BusinessId) -> Sequence[BankAccount]:
        token = await self._access_token(business_id)
        response = await self._transport.post(
            business_id,
            "/accounts/get",
            AccountsGetRequest(access_token=token),
            wire.AccountsGetResponse,
        )
        return [mapping.to_bank_account(business_id, account) for account in response.accounts]

    async def get_balances(self, business_id: BusinessId) -> Sequence[Balance]:
        token = await self._access_token(business_id)
        response = await self._transport.post(
            business_id,
            "/accounts/balance/get",
            AccountsBalanceGetRequest(access_token=token),
            wire.AccountsGetResponse,
        )
        read_at = self._clock.now()
        balances = (self._balance(business_id, account, read_at) for account in response.accounts)
        return [balance for balance in balances if balance is not None]

    @staticmethod
    def _balance(
        business_id: BusinessId, account: wire.Account, read_at: datetime
    ) -> Balance | None:
        try:
            return mapping.to_balance(business_id, account, read_at)
        except InvalidInput as exc:
            raise Unavailable(f"plaid sent a balance RowCol cannot hold exactly: {exc}") from exc

    async def sync_transactions(
        self, business_id: BusinessId, cursor: str | None
    ) -> TransactionPage:
        """One page of changes after `cursor` (None: the whole history)."""
        token = await self._access_token(business_id)
        return await self._page(business_id, token, cursor)

    async def _page(
        self, business_id: BusinessId, token: str, cursor: str | None
    ) -> TransactionPage:
        fields: dict[str, Any] = {"access_token": token, "count": self._page_size}
        if cursor:
            fields["cursor"] = cursor
        response = await self._transport.post(
            business_id,
            "/transactions/sync",
            TransactionsSyncRequest(**fields),
            wire.TransactionsSyncResponse,
        )
        try:
            return mapping.to_transaction_page(business_id, response)
        except InvalidInput as exc:
            raise Unavailable(f"plaid sent an amount RowCol cannot hold exactly: {exc}") from exc

    async def sync_all(
        self, business_id: BusinessId, cursor: str | None
    ) -> tuple[list[BankTransaction], list[BankTransaction], list[str], str]:
        """Every page after `cursor`: (added, modified, removed ids, the cursor to save).

        When Plaid reports that the data changed mid-run, the whole run starts again from
        `cursor`, as Plaid asks; pages already read are discarded.
        """
        token = await self._access_token(business_id)
        for _ in range(self._max_restarts + 1):
            added: list[BankTransaction] = []
            modified: list[BankTransaction] = []
            removed: list[str] = []
            position = cursor
            try:
                while True:
                    page = await self._page(business_id, token, position)
                    added.extend(page.added)
                    modified.extend(page.modified)
                    removed.extend(page.removed)
                    position = page.next_cursor
                    if not page.has_more:
                        return added, modified, removed, position
            except MutationDuringPagination:
                continue
        raise Unavailable(
            f"plaid transactions for {business_id} kept changing during "
            f"{self._max_restarts + 1} sync runs"
        )

    async def item_health(self, business_id: BusinessId) -> dict[str, str | None]:
        """The Item's state from /item/get: `status` is "ok" or Plaid's error code."""
        token = await self._access_token(business_id)
        response = await self._transport.post(
            business_id, "/item/get", ItemGetRequest(access_token=token), wire.ItemGetResponse
        )
        return mapping.item_health(response.item)
