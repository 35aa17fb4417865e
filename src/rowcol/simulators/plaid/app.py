"""The simulated Plaid API over HTTP: POST-only JSON endpoints, Plaid's auth, errors,
cursors and signed webhooks.

Clients authenticate with the `PLAID-CLIENT-ID` and `PLAID-SECRET` headers (as the SDK
sends them) or with `client_id` and `secret` in the body. Errors come in Plaid's shape
`{error_type, error_code, error_message, display_message, request_id, ...}` with Plaid's
statuses: 400 for request, input and Item errors, 429 for rate limits, 500 for API errors.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import defaultdict, deque
from collections.abc import Callable
from datetime import datetime
from typing import Any, Final

import httpx
from litestar import Litestar, Request, Response, post
from litestar.exceptions import HTTPException
from litestar.handlers import HTTPRouteHandler

from rowcol.simulators.faults import FaultPlan, fault_middleware
from rowcol.simulators.plaid.state import (
    DEFAULT_COUNT,
    MAX_COUNT,
    PlaidApiError,
    PlaidState,
    SimItem,
    SimTransaction,
    internal_error,
    invalid_input,
    invalid_request,
    rate_limited,
)

CLIENT_ID: Final = "rowcol-sim-client"
SECRET: Final = "rowcol-sim-secret"

RATE_LIMITS: Final = {
    "/accounts/get": (15, "ACCOUNTS_LIMIT"),
    "/accounts/balance/get": (5, "ACCOUNTS_BALANCE_GET_LIMIT"),
    "/item/get": (15, "RATE_LIMIT"),
    "/transactions/sync": (50, "TRANSACTIONS_SYNC_LIMIT"),
}
"""Plaid's production limits per Item per minute, enforced when asked to."""

_FIRE_WEBHOOK_CODES: Final = {
    "DEFAULT_UPDATE": "TRANSACTIONS",
    "SYNC_UPDATES_AVAILABLE": "TRANSACTIONS",
    "RECURRING_TRANSACTIONS_UPDATE": "TRANSACTIONS",
    "NEW_ACCOUNTS_AVAILABLE": "ITEM",
    "USER_PERMISSION_REVOKED": "ITEM",
    "USER_ACCOUNT_REVOKED": "ITEM",
    "PENDING_DISCONNECT": "ITEM",
    "LOGIN_REPAIRED": "ITEM",
    "ERROR": "ITEM",
    "SMS_MICRODEPOSITS_VERIFICATION": "AUTH",
    "AUTHORIZATION_GRANTED": "ITEM",
    "PRODUCT_READY": "ITEM",
}

Body = dict[str, Any]
Endpoint = Callable[[Body], Body]


class _Limiter:
    def __init__(self, enabled: bool) -> None:
        self._enabled = enabled
        self._sent: dict[tuple[str, str], deque[float]] = defaultdict(deque)

    def check(self, path: str, item: SimItem) -> None:
        if not self._enabled or path not in RATE_LIMITS:
            return
        limit, code = RATE_LIMITS[path]
        now = time.monotonic()
        sent = self._sent[(item.item_id, path)]
        while sent and now - sent[0] >= 60.0:
            sent.popleft()
        if len(sent) >= limit:
            raise rate_limited(code)
        sent.append(now)


def _json(status: int, body: Body) -> Response[bytes]:
    return Response(
        content=json.dumps(body).encode(), status_code=status, media_type="application/json"
    )


def _error(exc: PlaidApiError, request_id: str) -> Response[bytes]:
    return _json(exc.status, exc.body(request_id))


def _field(body: Body, name: str) -> Any:
    value = body.get(name)
    if value is None:
        raise invalid_request(
            "MISSING_FIELDS", f"the following required fields are missing: {name}"
        )
    return value


def _authenticate(request: Request[Any, Any, Any], body: Body, client_id: str, secret: str) -> None:
    given_id = body.get("client_id") or request.headers.get("plaid-client-id")
    given_secret = body.get("secret") or request.headers.get("plaid-secret")
    missing = [
        name for name, value in (("client_id", given_id), ("secret", given_secret)) if not value
    ]
    if missing:
        raise invalid_request(
            "MISSING_FIELDS", f"the following required fields are missing: {', '.join(missing)}"
        )
    if given_id != client_id or given_secret != secret:
        raise invalid_input("INVALID_API_KEYS", "invalid client_id or secret provided")


def _removed(txn: SimTransaction) -> Body:
    return {"transaction_id": txn.transaction_id, "account_id": txn.account_id}


class _Api:
    """The endpoints, each a function of the parsed body to the answer's body."""

    def __init__(self, state: PlaidState, limiter: _Limiter) -> None:
        self.state = state
        self.limiter = limiter

    def _item(self, body: Body, path: str, *, healthy: bool = True) -> SimItem:
        item = self.state.item_for_token(body.get("access_token"))
        self.limiter.check(path, item)
        if healthy and item.error is not None:
            raise item.error
        return item

    def _accounts(self, item: SimItem, body: Body, read_at: datetime | None) -> list[Body]:
        options = body.get("options") or {}
        wanted = options.get("account_ids") if isinstance(options, dict) else None
        with self.state.lock:
            accounts = list(item.accounts.values())
        if wanted is not None:
            unknown = set(wanted) - {a.account_id for a in accounts}
            if unknown:
                raise invalid_input(
                    "INVALID_ACCOUNT_ID", "one or more of the account IDs is invalid"
                )
            accounts = [a for a in accounts if a.account_id in wanted]
        return [account.to_json(read_at=read_at) for account in accounts]

    def accounts_get(self, body: Body) -> Body:
        item = self._item(body, "/accounts/get")
        return {"accounts": self._accounts(item, body, None), "item": item.to_json()}

    def accounts_balance_get(self, body: Body) -> Body:
        item = self._item(body, "/accounts/balance/get")
        read_at = self.state.now()
        return {"accounts": self._accounts(item, body, read_at), "item": item.to_json()}

    def transactions_sync(self, body: Body) -> Body:
        item = self._item(body, "/transactions/sync")
        count = body.get("count", DEFAULT_COUNT)
        if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_COUNT:
            raise invalid_request("INVALID_FIELD", f"count must be between 1 and {MAX_COUNT}")
        cursor = body.get("cursor")
        if cursor is not None and not isinstance(cursor, str):
            raise invalid_request("INVALID_FIELD", "cursor must be a string")
        page = self.state.sync(item, cursor or None, count)
        for hook in list(self.state.after_page_hooks):
            hook(item.item_id)
        with self.state.lock:
            accounts = [account.to_json() for account in item.accounts.values()]
        return {
            "transactions_update_status": "HISTORICAL_UPDATE_COMPLETE",
            "accounts": accounts,
            "added": [txn.to_json() for txn in page.added],
            "modified": [txn.to_json() for txn in page.modified],
            "removed": [_removed(txn) for txn in page.removed],
            "next_cursor": page.next_cursor,
            "has_more": page.has_more,
        }

    def item_get(self, body: Body) -> Body:
        item = self._item(body, "/item/get", healthy=False)
        last = item.last_webhook
        return {
            "item": item.to_json(),
            "status": {
                "transactions": {"last_successful_update": None, "last_failed_update": None},
                "last_webhook": (
                    {"sent_at": last[1].isoformat(), "code_sent": last[0]} if last else None
                ),
            },
        }

    def webhook_verification_key_get(self, body: Body) -> Body:
        return {"key": self.state.verification_key(_field(body, "key_id"))}

    def item_public_token_exchange(self, body: Body) -> Body:
        item = self.state.exchange_public_token(_field(body, "public_token"))
        return {"access_token": item.access_token, "item_id": item.item_id}

    def sandbox_public_token_create(self, body: Body) -> Body:
        _field(body, "institution_id")
        products = _field(body, "initial_products")
        if not isinstance(products, list) or not products:
            raise invalid_request("INVALID_FIELD", "initial_products must be a non-empty list")
        options = body.get("options") or {}
        if not isinstance(options, dict):
            raise invalid_request("INVALID_FIELD", "options must be an object")
        username = options.get("override_username")
        token = self.state.create_public_token(
            username=username if isinstance(username, str) else None,
            webhook=options.get("webhook"),
        )
        return {"public_token": token}

    def sandbox_item_fire_webhook(self, body: Body) -> Body:
        item = self._item(body, "/sandbox/item/fire_webhook", healthy=False)
        code = _field(body, "webhook_code")
        if code not in _FIRE_WEBHOOK_CODES:
            raise invalid_request("INVALID_FIELD", f"webhook_code {code!r} is not supported")
        webhook_type = body.get("webhook_type") or _FIRE_WEBHOOK_CODES[code]
        if not item.webhook:
            raise PlaidApiError(
                400,
                "SANDBOX_ERROR",
                "SANDBOX_WEBHOOK_INVALID",
                "the webhook for the Item is either not set or invalid",
            )
        self.state.fire_webhook(item.item_id, webhook_type, code)
        return {"webhook_fired": True}


def _route(
    path: str, endpoint: Endpoint, state: PlaidState, client_id: str, secret: str
) -> HTTPRouteHandler:
    async def handle(request: Request[Any, Any, Any]) -> Response[bytes]:
        request_id = state.request_id()
        try:
            try:
                body = json.loads(await request.body() or b"{}")
            except ValueError:
                raise invalid_request("INVALID_BODY", "body could not be parsed as JSON") from None
            if not isinstance(body, dict):
                raise invalid_request("INVALID_BODY", "body must be a JSON object")
            _authenticate(request, body, client_id, secret)
            answer = endpoint(body)
        except PlaidApiError as exc:
            return _error(exc, request_id)
        answer["request_id"] = request_id
        return _json(200, answer)

    handle.__name__ = "plaid" + path.replace("/", "_")
    return post(path, status_code=200, name=handle.__name__)(handle)


def create_app(
    state: PlaidState,
    plan: FaultPlan | None = None,
    *,
    client_id: str = CLIENT_ID,
    secret: str = SECRET,
    enforce_rate_limits: bool = False,
) -> Litestar:
    api = _Api(state, _Limiter(enforce_rate_limits))
    endpoints: dict[str, Endpoint] = {
        "/accounts/get": api.accounts_get,
        "/accounts/balance/get": api.accounts_balance_get,
        "/transactions/sync": api.transactions_sync,
        "/item/get": api.item_get,
        "/webhook_verification_key/get": api.webhook_verification_key_get,
        "/item/public_token/exchange": api.item_public_token_exchange,
        "/sandbox/public_token/create": api.sandbox_public_token_create,
        "/sandbox/item/fire_webhook": api.sandbox_item_fire_webhook,
    }

    def on_http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[bytes]:
        if exc.status_code >= 500:
            error = internal_error()
        else:
            code = "NOT_FOUND" if exc.status_code in (404, 405) else "INVALID_FIELD"
            error = invalid_request(code, str(exc.detail).lower())
            error.status = exc.status_code
        return _error(error, state.request_id())

    def on_crash(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
        return _error(internal_error(), state.request_id())

    return Litestar(
        route_handlers=[
            _route(path, endpoint, state, client_id, secret) for path, endpoint in endpoints.items()
        ],
        middleware=[fault_middleware(plan or FaultPlan(), error_body=internal_error().body())],
        exception_handlers={HTTPException: on_http_error, Exception: on_crash},
        debug=False,
    )


async def deliver_webhooks(
    state: PlaidState,
    url: str | None = None,
    *,
    duplicate: bool = False,
    reverse: bool = False,
    delay: float = 0.0,
    signed_at: datetime | None = None,
    timeout_seconds: float = 5.0,
) -> list[int]:
    """POSTs the pending webhooks to `url` (default: each Item's webhook URL), signed as
    Plaid signs them. `duplicate` sends each twice (re-signed, as a retry would be),
    `reverse` sends them newest first, `delay` waits before sending and `signed_at` dates
    the signatures (for stale ones). Answers the statuses, 0 for no answer; webhooks that
    got no 2xx go back to the outbox."""
    pending = state.take_webhooks()
    if reverse:
        pending.reverse()
    if delay:
        await asyncio.sleep(delay)
    statuses: list[int] = []
    failed = []
    async with httpx.AsyncClient(timeout=timeout_seconds) as client:
        for hook in pending:
            target = url or hook.url
            if target is None:
                failed.append(hook)
                continue
            delivered = False
            for _ in range(2 if duplicate else 1):
                headers = {
                    "Content-Type": "application/json",
                    "Plaid-Verification": state.sign(hook.body, at=signed_at),
                }
                try:
                    response = await client.post(target, content=hook.body, headers=headers)
                except httpx.HTTPError:
                    statuses.append(0)
                    continue
                statuses.append(response.status_code)
                delivered = delivered or 200 <= response.status_code < 300
            if not delivered:
                failed.append(hook)
    with state.lock:
        state.outbox[:0] = failed
    return statuses
