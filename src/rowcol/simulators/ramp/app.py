"""The simulated Ramp Developer API over HTTP: the paths, OAuth, keyset paging, error
bodies and status codes of the endpoints RowCol uses, and signed webhook delivery.

* `POST /developer/v1/token`: client credentials with HTTP Basic auth and a form body
  (`grant_type=client_credentials&scope=...`); RFC 6749 errors (401 `invalid_client`,
  400 `invalid_scope` / `invalid_request` / `unsupported_grant_type`).
* Everything else takes `Authorization: Bearer <token>`: 401 when it is missing, unknown
  or expired, 403 when the token lacks the endpoint's scope, 429 beyond `rate_limit`
  requests per client in a rolling window (Ramp's default: 200 per 10 s).
* Lists are keyset-paged: `page_size` 2-100 (default 20), `start` = the id of the last
  item of the previous page, `page.next` the full URL of the next page or null.
* Errors: `{"error_v2": {error_code, message, additional_info, notes}, "error": {...}}`.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import time
from collections import defaultdict, deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
from litestar import Litestar, Request, Response, route
from litestar.exceptions import HTTPException
from litestar.handlers import HTTPRouteHandler

from rowcol.simulators.faults import FaultPlan, fault_middleware
from rowcol.simulators.ramp.state import (
    APPROVAL_STATUSES,
    PAYMENT_METHODS,
    Json,
    OAuthError,
    RampApiError,
    RampState,
    SimBusiness,
    SimToken,
    forbidden,
    internal_error,
    invalid_input,
    rate_limited,
)

T = TypeVar("T")

DEFAULT_RATE_LIMIT: Final = (200, 10.0)
DEFAULT_PAGE_SIZE: Final = 20
SIGNATURE_HEADER: Final = "X-Ramp-Webhook-Signature"
_EVENT_SCOPES: Final = {
    "bills": "bills:read",
    "transactions": "transactions:read",
    "reimbursements": "reimbursements:read",
    "purchase_orders": "purchase_orders:read",
}


def _json(status: int, body: Any, headers: Mapping[str, str] | None = None) -> Response[bytes]:
    return Response(
        content=json.dumps(body).encode(),
        status_code=status,
        media_type="application/json",
        headers=dict(headers or {}),
    )


def _error(exc: RampApiError, headers: Mapping[str, str] | None = None) -> Response[bytes]:
    return _json(exc.status, exc.body(), headers)


class _Limiter:
    def __init__(self, limit: tuple[int, float] | None) -> None:
        self._limit = limit
        self._sent: dict[str, deque[float]] = defaultdict(deque)

    def check(self, client_id: str) -> None:
        if self._limit is None:
            return
        requests, window = self._limit
        now = time.monotonic()
        sent = self._sent[client_id]
        while sent and now - sent[0] >= window:
            sent.popleft()
        if len(sent) >= requests:
            raise _RateLimited(max(1, int(window - (now - sent[0])) + 1))
        sent.append(now)


class _RateLimited(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__("rate limited")
        self.retry_after = retry_after


@dataclass
class _Ctx:
    request: Request[Any, Any, Any]
    business: SimBusiness
    token: SimToken
    params: dict[str, str]
    body: Any


class _Query:
    """Typed reads of query parameters, answering Ramp's 400s for bad values."""

    def __init__(self, params: Mapping[str, str]) -> None:
        self._params = params

    def page_size(self) -> int:
        raw = self._params.get("page_size")
        if raw is None:
            return DEFAULT_PAGE_SIZE
        try:
            size = int(raw)
        except ValueError:
            raise invalid_input("Not a valid integer.", "page_size") from None
        if not 2 <= size <= 100:
            raise invalid_input("Value must be between 2 and 100", "page_size")
        return size

    def text(self, name: str) -> str | None:
        return self._params.get(name) or None

    def boolean(self, name: str) -> bool | None:
        raw = self._params.get(name)
        if raw is None:
            return None
        lowered = raw.lower()
        if lowered in ("true", "1"):
            return True
        if lowered in ("false", "0"):
            return False
        raise invalid_input("Not a valid boolean.", name)

    def moment(self, name: str) -> datetime | None:
        raw = self._params.get(name)
        if raw is None:
            return None
        try:
            value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            raise invalid_input("Not a valid datetime.", name) from None
        return value if value.tzinfo else value.replace(tzinfo=UTC)

    def choice(self, name: str, choices: Sequence[str]) -> str | None:
        raw = self._params.get(name)
        if raw is None:
            return None
        if raw not in choices:
            raise invalid_input(f"Must be one of: {', '.join(choices)}.", name)
        return raw


def _page(
    ctx: _Ctx, items: Sequence[T], ident: Callable[[T], str], render: Callable[[T], Json]
) -> Json:
    """One keyset page of `items` (sorted by id) after `start`, with `page.next`."""
    query = _Query(ctx.params)
    size = query.page_size()
    start = query.text("start")
    remaining = [item for item in items if start is None or ident(item) > start]
    chunk = remaining[:size]
    next_url = None
    if len(remaining) > size:
        params = dict(ctx.params)
        params["start"] = ident(chunk[-1])
        params["page_size"] = str(size)
        url = urlsplit(str(ctx.request.url))
        next_url = urlunsplit((url.scheme, url.netloc, url.path, urlencode(params), ""))
    return {"data": [render(item) for item in chunk], "page": {"next": next_url}}


class _Api:
    def __init__(self, state: RampState) -> None:
        self.state = state

    # Bills

    def list_bills(self, ctx: _Ctx) -> Response[bytes]:
        query = _Query(ctx.params)
        filters: dict[str, Any] = {
            "is_archived": bool(query.boolean("is_archived")),
        }
        for name in ("vendor_id", "entity_id"):
            if query.text(name):
                filters[name] = query.text(name)
        choices = {
            "approval_status": APPROVAL_STATUSES,
            "payment_status": ("OPEN", "PAID"),
            "payment_method": PAYMENT_METHODS,
            "sync_status": ("BILL_AND_PAYMENT_SYNCED", "BILL_SYNCED", "NOT_SYNCED"),
        }
        for name, options in choices.items():
            value = query.choice(name, options)
            if value is not None:
                filters[name] = value
        sync_ready = query.boolean("sync_ready")
        if sync_ready is not None:
            filters["sync_ready"] = sync_ready
        for name in (
            "from_created_at",
            "to_created_at",
            "from_due_date",
            "to_due_date",
            "from_issued_date",
            "to_issued_date",
            "from_paid_at",
            "to_paid_at",
        ):
            moment = query.moment(name)
            if moment is not None:
                filters[name] = moment
        for name in ("min_amount", "max_amount"):
            if query.text(name):
                filters[name] = query.text(name)
        bills = self.state.list_bills(ctx.business, filters)
        with self.state.lock:
            page = _page(
                ctx,
                bills,
                lambda b: b.id,
                lambda b: self.state.bill_json(ctx.business, b, detail=False),
            )
        return _json(200, page)

    def create_bill(self, ctx: _Ctx) -> Response[bytes]:
        bill = self.state.create_bill(ctx.business, _object(ctx.body))
        with self.state.lock:
            return _json(201, self.state.bill_json(ctx.business, bill, detail=True))

    def get_bill(self, ctx: _Ctx) -> Response[bytes]:
        bill = self.state.bill(ctx.business, _path(ctx, "bill_id"))
        with self.state.lock:
            return _json(200, self.state.bill_json(ctx.business, bill, detail=True))

    def update_bill(self, ctx: _Ctx) -> Response[bytes]:
        bill = self.state.update_bill(ctx.business, _path(ctx, "bill_id"), _object(ctx.body))
        with self.state.lock:
            return _json(200, self.state.bill_json(ctx.business, bill, detail=True))

    def archive_bill(self, ctx: _Ctx) -> Response[bytes]:
        self.state.archive_bill(ctx.business, _path(ctx, "bill_id"))
        return Response(content=b"", status_code=204)

    # Vendors

    def list_vendors(self, ctx: _Ctx) -> Response[bytes]:
        query = _Query(ctx.params)
        filters: dict[str, Any] = {}
        active = query.boolean("is_active")
        if active is not None:
            filters["is_active"] = active
        if query.text("name"):
            filters["name"] = query.text("name")
        since = query.moment("from_created_at")
        if since is not None:
            filters["from_created_at"] = since
        vendors = self.state.list_vendors(ctx.business, filters)
        with self.state.lock:
            page = _page(
                ctx,
                vendors,
                lambda v: v.id,
                lambda v: self.state.vendor_json(ctx.business, v, detail=False),
            )
        return _json(200, page)

    def create_vendor(self, ctx: _Ctx) -> Response[bytes]:
        vendor = self.state.create_vendor(ctx.business, _object(ctx.body))
        with self.state.lock:
            return _json(200, self.state.vendor_json(ctx.business, vendor, detail=False))

    def get_vendor(self, ctx: _Ctx) -> Response[bytes]:
        vendor = self.state.vendor(ctx.business, _path(ctx, "vendor_id"))
        with self.state.lock:
            return _json(200, self.state.vendor_json(ctx.business, vendor, detail=True))

    def vendor_contacts(self, ctx: _Ctx) -> Response[bytes]:
        vendor = self.state.vendor(ctx.business, _path(ctx, "vendor_id"))
        with self.state.lock:
            contacts = sorted(vendor.contacts, key=lambda c: c.id)
            return _json(200, _page(ctx, contacts, lambda c: c.id, lambda c: c.to_json()))

    def vendor_accounts(self, ctx: _Ctx) -> Response[bytes]:
        vendor = self.state.vendor(ctx.business, _path(ctx, "vendor_id"))
        with self.state.lock:
            accounts = sorted(vendor.accounts, key=lambda a: a.id)
            return _json(200, _page(ctx, accounts, lambda a: a.id, lambda a: a.to_json()))

    # Entities

    def list_entities(self, ctx: _Ctx) -> Response[bytes]:
        query = _Query(ctx.params)
        currency = query.text("currency")
        name = query.text("entity_name")
        primary = query.boolean("is_primary")
        with self.state.lock:
            entities = sorted(
                (
                    e
                    for e in ctx.business.entities
                    if (currency is None or e.currency == currency)
                    and (name is None or e.name == name)
                    and (primary is None or e.is_primary == primary)
                ),
                key=lambda e: e.id,
            )
            return _json(200, _page(ctx, entities, lambda e: e.id, lambda e: e.to_json()))

    # Webhooks

    def list_webhooks(self, ctx: _Ctx) -> Response[bytes]:
        with self.state.lock:
            hooks = sorted(ctx.business.webhooks.values(), key=lambda w: w.id)
            return _json(200, [w.to_json(ctx.business.id) for w in hooks])

    def create_webhook(self, ctx: _Ctx) -> Response[bytes]:
        body = _object(ctx.body)
        for event_type in body.get("event_types") or []:
            needed = _EVENT_SCOPES.get(str(event_type).split(".")[0])
            if needed is not None and needed not in ctx.token.scopes:
                raise forbidden(needed)
        webhook = self.state.create_webhook(ctx.business, body)
        with self.state.lock:
            return _json(201, webhook.to_json(ctx.business.id, with_secret=True))

    def get_webhook(self, ctx: _Ctx) -> Response[bytes]:
        webhook = self.state.webhook(ctx.business, _path(ctx, "webhook_id"))
        with self.state.lock:
            return _json(200, webhook.to_json(ctx.business.id))

    def delete_webhook(self, ctx: _Ctx) -> Response[bytes]:
        self.state.delete_webhook(ctx.business, _path(ctx, "webhook_id"))
        return Response(content=b"", status_code=204)

    def verify_webhook(self, ctx: _Ctx) -> Response[bytes]:
        body = _object(ctx.body)
        self.state.verify_webhook(ctx.business, _path(ctx, "webhook_id"), body.get("challenge"))
        return _json(200, {"success": True})


def _object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise invalid_input("Request body must be a JSON object")
    return body


def _path(ctx: _Ctx, name: str) -> str:
    return str(ctx.request.path_params[name])


Endpoint = Callable[[_Ctx], Response[bytes]]


def _api_route(
    path: str,
    endpoints: Mapping[str, tuple[Endpoint, str | None]],
    state: RampState,
    limiter: _Limiter,
) -> HTTPRouteHandler:
    """One path: per method the endpoint and the scope its token needs."""

    async def handle(request: Request[Any, Any, Any]) -> Response[bytes]:
        endpoint, scope = endpoints[request.method]
        with state.lock:
            state.requests.append((request.method, request.url.path, request.url.query))
        try:
            business, token = state.authenticate(request.headers.get("authorization"))
            try:
                limiter.check(business.client_id)
            except _RateLimited as exc:
                return _error(rate_limited(), {"Retry-After": str(exc.retry_after)})
            if scope is not None and scope not in token.scopes:
                raise forbidden(scope)
            raw = await request.body()
            body: Any = None
            if raw:
                try:
                    body = json.loads(raw)
                except ValueError:
                    raise invalid_input("Request body is not valid JSON") from None
            params = dict(parse_qsl(request.url.query, keep_blank_values=True))
            return endpoint(_Ctx(request, business, token, params, body))
        except RampApiError as exc:
            return _error(exc)

    handle.__name__ = "ramp" + path.replace("/", "_").replace("{", "").replace("}", "").replace(
        ":str", ""
    )
    methods: list[Any] = list(endpoints)
    return route(path, http_method=methods, name=handle.__name__, status_code=200)(handle)


def _token_route(state: RampState) -> HTTPRouteHandler:
    async def token(request: Request[Any, Any, Any]) -> Response[bytes]:
        try:
            client_id, client_secret = _basic(request.headers.get("authorization"))
            raw = await request.body()
            content_type = request.headers.get("content-type", "")
            if "json" in content_type:
                try:
                    loaded = json.loads(raw or b"{}")
                except ValueError:
                    raise OAuthError(400, "invalid_request", "body is not valid JSON") from None
                form = (
                    {str(k): str(v) for k, v in loaded.items()} if isinstance(loaded, dict) else {}
                )
            else:
                form = dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
            grant = form.get("grant_type")
            if not grant:
                raise OAuthError(400, "invalid_request", "grant_type is required")
            if grant != "client_credentials":
                raise OAuthError(
                    400, "unsupported_grant_type", f"grant_type {grant} is not supported here"
                )
            issued = state.issue_token(client_id, client_secret, form.get("scope"))
        except OAuthError as exc:
            headers = {"WWW-Authenticate": "Basic"} if exc.status == 401 else None
            return _json(exc.status, exc.body(), headers)
        return _json(
            200,
            {
                "access_token": issued.token,
                "token_type": "Bearer",
                "expires_in": state.token_ttl_seconds,
                "scope": " ".join(sorted(issued.scopes)),
            },
        )

    return route("/developer/v1/token", http_method=["POST"], name="ramp_token")(token)


def _basic(header: str | None) -> tuple[str, str]:
    if not header or not header.lower().startswith("basic "):
        raise OAuthError(401, "invalid_client", "Client authentication failed")
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise OAuthError(401, "invalid_client", "Client authentication failed") from None
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        raise OAuthError(401, "invalid_client", "Client authentication failed")
    return client_id, secret


def create_app(
    state: RampState,
    plan: FaultPlan | None = None,
    *,
    rate_limit: tuple[int, float] | None = DEFAULT_RATE_LIMIT,
) -> Litestar:
    """The simulator over `state`; `rate_limit` is (requests, seconds) per client, or
    None to turn the limit off."""
    api = _Api(state)
    limiter = _Limiter(rate_limit)
    routes: dict[str, dict[str, tuple[Endpoint, str | None]]] = {
        "/developer/v1/bills": {
            "GET": (api.list_bills, "bills:read"),
            "POST": (api.create_bill, "bills:write"),
        },
        "/developer/v1/bills/{bill_id:str}": {
            "GET": (api.get_bill, "bills:read"),
            "PATCH": (api.update_bill, "bills:write"),
            "DELETE": (api.archive_bill, "bills:write"),
        },
        "/developer/v1/vendors": {
            "GET": (api.list_vendors, "vendors:read"),
            "POST": (api.create_vendor, "vendors:write"),
        },
        "/developer/v1/vendors/{vendor_id:str}": {"GET": (api.get_vendor, "vendors:read")},
        "/developer/v1/vendors/{vendor_id:str}/contacts": {
            "GET": (api.vendor_contacts, "vendors:read")
        },
        "/developer/v1/vendors/{vendor_id:str}/accounts": {
            "GET": (api.vendor_accounts, "vendors:read")
        },
        "/developer/v1/entities": {"GET": (api.list_entities, "entities:read")},
        "/developer/v1/webhooks": {
            "GET": (api.list_webhooks, None),
            "POST": (api.create_webhook, None),
        },
        "/developer/v1/webhooks/{webhook_id:str}": {
            "GET": (api.get_webhook, None),
            "DELETE": (api.delete_webhook, None),
        },
        "/developer/v1/webhooks/{webhook_id:str}/verify": {
            "POST": (api.verify_webhook, None),
        },
    }

    def on_http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[bytes]:
        if exc.status_code >= 500:
            return _error(internal_error())
        code = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}.get(exc.status_code, "DEVELOPER_7001")
        return _error(RampApiError(exc.status_code, code, str(exc.detail)))

    def on_crash(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
        return _error(internal_error())

    return Litestar(
        route_handlers=[
            _token_route(state),
            *(_api_route(path, methods, state, limiter) for path, methods in routes.items()),
        ],
        middleware=[fault_middleware(plan or FaultPlan(), error_body=internal_error().body())],
        exception_handlers={HTTPException: on_http_error, Exception: on_crash},
        debug=False,
    )


async def deliver_webhooks(
    state: RampState,
    url: str | None = None,
    *,
    duplicate: bool = False,
    reverse: bool = False,
    delay: float = 0.0,
    signature_header: str = SIGNATURE_HEADER,
    timeout_seconds: float = 5.0,
) -> list[int]:
    """POSTs what the subscriptions are owed to `url` (default: each subscription's
    endpoint), signed as Ramp signs: hex HMAC-SHA256 of the body with the subscription's
    secret, in `signature_header`.

    A subscription still pending verification first gets its `webhooks.verification`
    event (with the challenge); its other events wait until it is verified (the receiver
    may verify while handling the handshake). `duplicate` sends each event twice (the
    same body and signature, as Ramp's retries are), `reverse` newest first, `delay`
    waits first. Answers the statuses (0 for no answer); events that got no 2xx stay
    owed.
    """
    if delay:
        await asyncio.sleep(delay)
    statuses: list[int] = []
    async with httpx.AsyncClient(timeout=timeout_seconds) as client:

        async def post(target: str, body: bytes, signature: str, extra: Mapping[str, str]) -> int:
            headers = {**extra, "Content-Type": "application/json", signature_header: signature}
            try:
                response = await client.post(target, content=body, headers=headers)
            except httpx.HTTPError:
                return 0
            return response.status_code

        for _, webhook, event in state.verification_events():
            body = event.body()
            status = await post(
                url or webhook.endpoint_url,
                body,
                state.sign(webhook, body),
                webhook.additional_headers,
            )
            statuses.append(status)
            with state.lock:
                state.delivered_verifications.append(webhook.id)
        ready = state.take_deliveries()
        if reverse:
            ready.reverse()
        failed = []
        for webhook, delivery in ready:
            body = delivery.event.body()
            signature = state.sign(webhook, body)
            delivered = False
            for _ in range(2 if duplicate else 1):
                status = await post(
                    url or webhook.endpoint_url, body, signature, webhook.additional_headers
                )
                statuses.append(status)
                delivered = delivered or 200 <= status < 300
            if not delivered:
                failed.append(delivery)
        state.requeue(failed)
    return statuses
