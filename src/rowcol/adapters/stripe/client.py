"""Stripe as RowCol's `ARSource`, through Stripe's official SDK (stripe-python).

The SDK is used in client style with its async methods over httpx, pinned to the API
version the adapter reads (`STRIPE_API_VERSION`), with its own retries off: every call
goes through RowCol's `RailCaller`, which decides about retries, rate limits and
circuits. The raw answer is decoded into `wire` structs and mapped to RowCol records.

Per business the CredentialStore holds `{"api_key": "sk_..."}` under `Rail.STRIPE`, and
optionally `"account": "acct_..."` to act on a connected account (`Stripe-Account`).

Failures: 429, 408/425, a 409 (a key or object locked by a concurrent request) and
anything Stripe marks `Stripe-Should-Retry: true` are transient; so is a 5xx on a read.
Stripe calls the result of a 5xx on a write indeterminate, so there it is ambiguous (the
retry carries the same idempotency key, so Stripe replays rather than repeats). 401 is a
rejected key (Stripe keys do not expire, so there is nothing to refresh); other 4xx are
refusals with Stripe's message.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from email.utils import parsedate_to_datetime
from typing import Any, Final, TypeVar

import httpx
import msgspec
import stripe
from stripe import StripeClient, StripeObject

from rowcol.adapters.railkit.resilience import (
    Ambiguous,
    RailCaller,
    RailHealthMonitor,
    RateLimit,
    Transient,
)
from rowcol.adapters.stripe import mapping, wire
from rowcol.core.domain.errors import InvalidInput
from rowcol.core.domain.ids import BusinessId, Rail
from rowcol.core.domain.records import Customer, Invoice, Payout
from rowcol.ports.ar_source import ARSource
from rowcol.ports.credentials import CredentialStore
from rowcol.ports.errors import OutcomeUnknown, Rejected, Unavailable

T = TypeVar("T", bound=wire.Wire)
R = TypeVar("R")

STRIPE_API_VERSION: Final = "2026-06-24.dahlia"
"""The API version whose shapes `wire` reads (invoices after 2025-03-31.basil)."""

STRIPE_RATE_LIMIT: Final = RateLimit(requests=25, per_seconds=1.0, concurrency=10)
"""Stripe's limit in test mode and sandboxes (25 operations a second); live mode allows
100, so this is safe for both. A 429 beyond it is retried after a backoff."""

MAX_PAGE_SIZE: Final = 100
"""The largest `limit` a Stripe list accepts."""

MAX_IDEMPOTENCY_KEY: Final = 255

_CONNECT_FAILURES: Final = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
_TRANSIENT_STATUS: Final = frozenset({408, 409, 425, 429})

Call = Callable[[StripeClient], Awaitable[StripeObject]]
Lister = Callable[[StripeClient, Any], Awaitable[StripeObject]]


def stripe_caller(
    monitor: RailHealthMonitor, *, rate_limit: RateLimit = STRIPE_RATE_LIMIT, **options: Any
) -> RailCaller:
    """A RailCaller for Stripe with its published rate limit, keyed by business."""
    return RailCaller(Rail.STRIPE.value, monitor=monitor, rate_limit=rate_limit, **options)


class StripeNotFound(Rejected):
    """Stripe has no such object (`resource_missing`)."""


def _header(headers: Mapping[str, str] | None, name: str) -> str | None:
    for key, value in (headers or {}).items():
        if key.lower() == name:
            return value
    return None


def _retry_after(headers: Mapping[str, str] | None) -> float | None:
    value = _header(headers, "retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def _api_error(exc: stripe.StripeError) -> wire.ApiError | None:
    body = exc.json_body
    if not isinstance(body, dict):
        return None
    try:
        return msgspec.convert(body, wire.ErrorBody).error
    except msgspec.MsgspecError:
        return None


def _failure(exc: stripe.StripeError, name: str, *, write: bool) -> Exception:
    """Stripe's answer (or its absence) as a RowCol failure."""
    if isinstance(exc, stripe.APIConnectionError):
        cause = exc.__cause__
        if isinstance(cause, _CONNECT_FAILURES):
            return Transient(f"{name}: could not connect: {cause!r}")
        return Ambiguous(f"{name}: no answer: {cause or exc!r}")
    status = exc.http_status or 0
    error = _api_error(exc)
    message = (error.message if error else None) or exc.user_message or f"HTTP {status}"
    code = f" ({error.code})" if error and error.code else ""
    retry_after = _retry_after(exc.headers)
    if status == 401:
        return Rejected(f"stripe api key rejected: {message}")
    if status in _TRANSIENT_STATUS or _header(exc.headers, "stripe-should-retry") == "true":
        return Transient(f"{name}: HTTP {status}{code}", retry_after=retry_after)
    if status >= 500 or status == 0:
        detail = f"{name}: HTTP {status}{code}"
        return Ambiguous(detail) if write else Transient(detail, retry_after=retry_after)
    if status == 404 and error is not None and error.code == "resource_missing":
        return StripeNotFound(f"stripe {name}: {message}")
    return Rejected(f"stripe refused {name}: {message}{code}")


def _page_params(limit: int, after: str | None, filters: Mapping[str, str]) -> Any:
    """A list request's parameters (the SDK types them per resource; they all take these)."""
    params: dict[str, Any] = {"limit": limit, **filters}
    if after is not None:
        params["starting_after"] = after
    return params


class StripeARSource(ARSource):
    """Customers, invoices and payouts of each business's Stripe account; and, for payout
    reconciliation, its balance transactions and charges."""

    def __init__(
        self,
        *,
        base_url: str,
        credentials: CredentialStore,
        caller: RailCaller,
        page_size: int = MAX_PAGE_SIZE,
        timeout_seconds: float = 30.0,
        api_version: str = STRIPE_API_VERSION,
    ) -> None:
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise InvalidInput(f"page_size must be 1-{MAX_PAGE_SIZE}")
        self._base_url = base_url.rstrip("/")
        self._credentials = credentials
        self._caller = caller
        self._page_size = page_size
        self._api_version = api_version
        self._http = stripe.HTTPXClient(timeout=timeout_seconds)
        self._clients: dict[tuple[str, str | None], StripeClient] = {}

    async def aclose(self) -> None:
        close: Callable[[], Awaitable[None]] = self._http.close_async  # untyped in the SDK
        await close()

    # the port -------------------------------------------------------------------------

    async def list_customers(self, business_id: BusinessId) -> Sequence[Customer]:
        customers = await self._list_all(
            business_id,
            "customers.list",
            lambda client, params: client.v1.customers.list_async(params),
            wire.Customer,
        )
        return [
            self._mapped("customer", mapping.to_customer, business_id, c)
            for c in customers
            if not c.deleted
        ]

    async def list_invoices(self, business_id: BusinessId) -> Sequence[Invoice]:
        invoices = await self._list_all(
            business_id,
            "invoices.list",
            lambda client, params: client.v1.invoices.list_async(params),
            wire.Invoice,
        )
        return [self._mapped("invoice", mapping.to_invoice, business_id, i) for i in invoices]

    async def list_payouts(self, business_id: BusinessId) -> Sequence[Payout]:
        payouts = await self._list_all(
            business_id,
            "payouts.list",
            lambda client, params: client.v1.payouts.list_async(params),
            wire.Payout,
        )
        return [self._mapped("payout", mapping.to_payout, business_id, p) for p in payouts]

    # payout reconciliation ------------------------------------------------------------

    async def list_balance_transactions(
        self, business_id: BusinessId, payout_id: str | None = None
    ) -> Sequence[mapping.BalanceTransaction]:
        """Every balance transaction, or those a payout settled. For an automatic payout
        Stripe includes the payout's own (negative) transaction; the nets of the others
        add up to the payout."""
        txns = await self._list_all(
            business_id,
            "balance_transactions.list",
            lambda client, params: client.v1.balance_transactions.list_async(params),
            wire.BalanceTransaction,
            filters={"payout": payout_id} if payout_id else {},
        )
        return [
            self._mapped("balance transaction", mapping.to_balance_transaction, business_id, t)
            for t in txns
        ]

    async def list_charges(self, business_id: BusinessId) -> Sequence[mapping.Charge]:
        charges = await self._list_all(
            business_id,
            "charges.list",
            lambda client, params: client.v1.charges.list_async(params),
            wire.Charge,
        )
        return [self._mapped("charge", mapping.to_charge, business_id, c) for c in charges]

    # invoices one at a time ----------------------------------------------------------

    async def find_invoice(self, business_id: BusinessId, invoice_id: str) -> Invoice | None:
        """The invoice as Stripe holds it now, or None if Stripe has no such invoice."""
        try:
            raw = await self._read(
                business_id,
                "invoices.retrieve",
                lambda client: client.v1.invoices.retrieve_async(invoice_id),
            )
        except StripeNotFound:
            return None
        invoice = self._decoded(raw, wire.Invoice, "invoices.retrieve")
        return self._mapped("invoice", mapping.to_invoice, business_id, invoice)

    async def mark_invoice_paid(
        self, business_id: BusinessId, invoice_id: str, *, idempotency_key: str
    ) -> Invoice:
        """Records a payment received outside Stripe (a check, a wire) against an open
        invoice (`paid_out_of_band`). `idempotency_key` is RowCol's, stored with the
        intent before the call: a retry with the same key is replayed by Stripe, never
        paid twice. Raises OutcomeUnknown when no answer came back; look the invoice up."""
        if not 1 <= len(idempotency_key) <= MAX_IDEMPOTENCY_KEY:
            raise InvalidInput(f"an idempotency key is 1-{MAX_IDEMPOTENCY_KEY} characters")
        client = await self._client(business_id)
        raw = await self._caller.call(
            business_id,
            self._attempt(
                client,
                "invoices.pay",
                lambda c: c.v1.invoices.pay_async(
                    invoice_id,
                    {"paid_out_of_band": True},
                    {"idempotency_key": idempotency_key},
                ),
                write=True,
            ),
            idempotent=True,
            name="invoices.pay",
        )
        invoice = self._decoded(raw, wire.Invoice, "invoices.pay")
        return self._mapped("invoice", mapping.to_invoice, business_id, invoice)

    # plumbing ------------------------------------------------------------------------

    async def _client(self, business_id: BusinessId) -> StripeClient:
        secrets = await self._credentials.load(business_id, Rail.STRIPE)
        api_key = secrets.get("api_key") if secrets else None
        if not secrets or not api_key:
            raise Unavailable(f"business {business_id} has no Stripe connection")
        account = secrets.get("account") or None
        client = self._clients.get((api_key, account))
        if client is None:
            client = StripeClient(
                api_key,
                stripe_account=account,
                stripe_version=self._api_version,
                base_addresses={"api": self._base_url},
                http_client=self._http,
                max_network_retries=0,
            )
            self._clients[(api_key, account)] = client
        return client

    @staticmethod
    def _attempt(
        client: StripeClient, name: str, call: Call, *, write: bool
    ) -> Callable[[], Awaitable[bytes]]:
        async def attempt() -> bytes:
            try:
                answer = await call(client)
            except stripe.StripeError as exc:
                raise _failure(exc, name, write=write) from exc
            except (AttributeError, KeyError, TypeError, ValueError) as exc:
                # The SDK could not read the answer: it did not come from Stripe's API.
                failure = Ambiguous if write else Transient
                raise failure(f"{name}: unreadable answer: {exc!r}") from exc
            response = answer.last_response
            if response is None:
                raise Transient(f"{name}: the SDK kept no response")
            return response.body.encode("utf-8")

        return attempt

    async def _read(self, business_id: BusinessId, name: str, call: Call) -> bytes:
        client = await self._client(business_id)
        try:
            return await self._caller.call(
                business_id,
                self._attempt(client, name, call, write=False),
                idempotent=True,
                name=name,
            )
        except OutcomeUnknown as exc:
            raise Unavailable(f"stripe {name} gave no answer: {exc}") from exc

    async def _list_all(
        self,
        business_id: BusinessId,
        name: str,
        lister: Lister,
        item: type[T],
        *,
        filters: Mapping[str, str] | None = None,
    ) -> list[T]:
        """Every page, `page_size` at a time, each after the last id of the one before."""
        found: list[T] = []
        after: str | None = None
        while True:
            params = _page_params(self._page_size, after, filters or {})

            def call(client: StripeClient, params: Any = params) -> Awaitable[StripeObject]:
                return lister(client, params)

            raw = await self._read(business_id, name, call)
            page = self._decoded(raw, wire.Page[item], name)  # type: ignore[valid-type]
            found.extend(page.data)
            if not page.has_more or not page.data:
                return found
            after = _last_id(page.data[-1])

    @staticmethod
    def _decoded(raw: bytes, answer: type[R], name: str) -> R:
        try:
            return msgspec.json.decode(raw, type=answer)
        except msgspec.MsgspecError as exc:
            raise Unavailable(f"stripe {name} answered with an unreadable body: {exc}") from exc

    @staticmethod
    def _mapped(
        kind: str,
        convert: Callable[[BusinessId, T], R],
        business_id: BusinessId,
        record: T,
    ) -> R:
        try:
            return convert(business_id, record)
        except InvalidInput as exc:
            raise Unavailable(f"stripe sent a {kind} RowCol cannot hold: {exc}") from exc


def _last_id(record: wire.Wire) -> str:
    ident = getattr(record, "id", None)
    if not isinstance(ident, str):
        raise Unavailable("stripe sent a list item without an id")
    return ident
