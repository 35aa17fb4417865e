"""The simulated Stripe API over HTTP: the v1 read endpoints RowCol uses, two writes,
Stripe's auth, list paging, errors and idempotency, and signed webhook delivery.

  GET  /v1/{customers|invoices|charges|payment_intents|payouts|balance_transactions|events}
  GET  /v1/{...}/{id}
  GET  /v1/balance
  POST /v1/customers
  POST /v1/invoices/{id}/pay            (`paid_out_of_band=true` records an outside payment)

Auth: `Authorization: Bearer sk_...`, or Basic with the key as the user name (curl's
`-u sk_...:`). A `Stripe-Account` header must name the key's own account. Lists answer
`{"object":"list","data":[...],"has_more":...,"url":"/v1/..."}` newest first, with
`limit` 1-100 (default 10) and `starting_after` / `ending_before`. Errors are
`{"error":{"type","code","message","param","doc_url","request_log_url"}}`.

POSTs honour `Idempotency-Key`: the first answer (success, or an error raised once the
endpoint ran) is stored and replayed with `Idempotent-Replayed: true`; the same key with
other parameters is an `idempotency_error`.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import re
import time
from collections import defaultdict, deque
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Final
from urllib.parse import parse_qsl

import httpx
from litestar import Litestar, Request, Response, get, post
from litestar.exceptions import HTTPException
from litestar.params import FromPath

from rowcol.simulators.faults import FaultPlan, fault_middleware
from rowcol.simulators.stripe.state import (
    API_VERSION,
    Json,
    SimAccount,
    StoredResponse,
    StripeApiError,
    StripeState,
    api_error,
    invalid,
    missing,
)

AnyRequest = Request[Any, Any, Any]
Operation = Callable[[SimAccount, dict[str, str], tuple[str | None, str | None]], Json]
"""An endpoint: (account, parameters, (request id, idempotency key)) -> the answer."""

MAX_LIMIT: Final = 100
DEFAULT_LIMIT: Final = 10
MAX_IDEMPOTENCY_KEY: Final = 255
TEST_MODE_RATE: Final = 25
"""Requests per second per account in test mode, enforced when asked to."""

_VERSION: Final = re.compile(r"^\d{4}-\d{2}-\d{2}(\.[a-z]+)?$")
_RANGE_OPS: Final = ("gt", "gte", "lt", "lte")
_COMMON_LIST_PARAMS: Final = frozenset({"limit", "starting_after", "ending_before"})


class _Listing:
    """One listable resource: its object kind, its name in messages, its filters."""

    def __init__(
        self, kind: str, noun: str, filters: Mapping[str, str], ranges: tuple[str, ...] = ()
    ) -> None:
        self.kind = kind
        self.noun = noun
        self.filters = dict(filters)
        """Query parameter -> the object field it must equal."""
        self.ranges = ("created", *ranges)


LISTINGS: Final = {
    "customers": _Listing("customer", "customer", {"email": "email"}),
    "invoices": _Listing(
        "invoice",
        "invoice",
        {"customer": "customer", "status": "status", "collection_method": "collection_method"},
        ("due_date",),
    ),
    "charges": _Listing(
        "charge", "charge", {"customer": "customer", "payment_intent": "payment_intent"}
    ),
    "payment_intents": _Listing("payment_intent", "payment_intent", {"customer": "customer"}),
    "payouts": _Listing("payout", "payout", {"status": "status"}, ("arrival_date",)),
    "balance_transactions": _Listing(
        "balance_transaction",
        "balance transaction",
        {"type": "type", "source": "source", "currency": "currency"},
    ),
    "events": _Listing("event", "event", {"type": "type"}),
}

ERROR_BODY: Final = api_error().body()
"""What the fault middleware answers with: Stripe's body for an internal error."""


def _json(status: int, body: Any, headers: Mapping[str, str] | None = None) -> Response[bytes]:
    return Response(
        content=json.dumps(body).encode(),
        status_code=status,
        media_type="application/json",
        headers=dict(headers or {}),
    )


def _redacted(key: str) -> str:
    return f"{key[:8]}{'*' * max(0, len(key) - 12)}{key[-4:]}" if len(key) > 12 else "****"


def _api_key(request: AnyRequest) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer":
        return value or None
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return value or None
        return decoded.partition(":")[0] or None
    return None


def _int(params: Mapping[str, str], name: str) -> int | None:
    raw = params.get(name)
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError:
        raise invalid(f"Invalid integer: {raw}", param=name) from None


def _bool(params: Mapping[str, str], name: str) -> bool | None:
    raw = params.get(name)
    if raw is None:
        return None
    if raw not in ("true", "false"):
        raise invalid(f"Invalid boolean: {raw}", param=name)
    return raw == "true"


class _Limiter:
    def __init__(self, per_second: int | None) -> None:
        self._per_second = per_second
        self._sent: dict[str, deque[float]] = defaultdict(deque)

    def check(self, account: SimAccount) -> None:
        if self._per_second is None:
            return
        now = time.monotonic()
        sent = self._sent[account.account_id]
        while sent and now - sent[0] >= 1.0:
            sent.popleft()
        if len(sent) >= self._per_second:
            raise StripeApiError(
                429,
                "Request rate limit exceeded. Learn more about rate limits here "
                "https://stripe.com/docs/rate-limits.",
                code="rate_limit",
            )
        sent.append(now)


class _Api:
    def __init__(self, state: StripeState, limiter: _Limiter) -> None:
        self.state = state
        self.limiter = limiter

    # requests ------------------------------------------------------------------------

    async def handle(self, request: AnyRequest, operation: Operation) -> Response[bytes]:
        request_id = self.state.request_id()
        version = request.headers.get("stripe-version") or API_VERSION
        headers = {"Request-Id": request_id, "Stripe-Version": version}
        key = request.headers.get("idempotency-key") if request.method == "POST" else None
        self.state.requests.append((request.method, _path(request), key))
        try:
            account = self._authenticate(request)
            self.limiter.check(account)
            if not _VERSION.match(version):
                raise invalid(f"Invalid Stripe API version: {version}", param="stripe-version")
            params = await self._params(request)
        except StripeApiError as exc:
            return _json(exc.status, exc.body(request_id), headers | exc.headers)
        if key is None:
            status, body, _ = self._run(operation, account, params, (request_id, None))
            return Response(
                content=body, status_code=status, media_type="application/json", headers=headers
            )
        if len(key) > MAX_IDEMPOTENCY_KEY:
            error = invalid(
                f"Invalid idempotency key: must be at most {MAX_IDEMPOTENCY_KEY} characters",
                param="Idempotency-Key",
            )
            return _json(400, error.body(request_id), headers)
        headers["Idempotency-Key"] = key
        fingerprint = (request.method, _path(request), tuple(sorted(params.items())))
        stored = self.state.stored_response(account, key)
        if stored is not None:
            if stored.fingerprint != fingerprint:
                error = StripeApiError(
                    400,
                    "Keys for idempotent requests can only be used with the same parameters "
                    "they were first used with. Try using a key other than "
                    f"'{key}' if you meant to execute a different request.",
                    type="idempotency_error",
                )
                return _json(400, error.body(request_id), headers)
            return Response(
                content=stored.body,
                status_code=stored.status,
                media_type="application/json",
                headers=headers | {"Idempotent-Replayed": "true"},
            )
        status, body, saved = self._run(operation, account, params, (request_id, key))
        if saved:
            self.state.store_response(account, key, StoredResponse(fingerprint, status, body))
        return Response(
            content=body, status_code=status, media_type="application/json", headers=headers
        )

    def _run(
        self,
        operation: Operation,
        account: SimAccount,
        params: dict[str, str],
        request: tuple[str | None, str | None],
    ) -> tuple[int, bytes, bool]:
        """(status, body, whether an idempotency key keeps the answer)."""
        try:
            # Under the state's lock: tests change the state from their own thread.
            with self.state.lock:
                return 200, json.dumps(operation(account, params, request)).encode(), True
        except StripeApiError as exc:
            return exc.status, json.dumps(exc.body(request[0])).encode(), exc.saved

    def _authenticate(self, request: AnyRequest) -> SimAccount:
        key = _api_key(request)
        if key is None:
            raise StripeApiError(
                401,
                "You did not provide an API key. You need to provide your API key in the "
                "Authorization header, using Bearer auth (e.g. 'Authorization: Bearer "
                "YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for "
                "details, or we can help at https://support.stripe.com/.",
            )
        account = self.state.account_for_key(key)
        if account is None:
            raise StripeApiError(401, f"Invalid API Key provided: {_redacted(key)}")
        wanted = request.headers.get("stripe-account")
        if wanted and wanted != account.account_id:
            raise StripeApiError(
                403,
                f"The provided key '{_redacted(key)}' does not have access to account "
                f"'{wanted}' (or that account does not exist). Application access may have "
                "been revoked.",
            )
        return account

    async def _params(self, request: AnyRequest) -> dict[str, str]:
        if request.method == "POST":
            raw = (await request.body()).decode("utf-8", "replace")
        else:
            raw = request.scope.get("query_string", b"").decode("utf-8", "replace")
        params: dict[str, str] = {}
        counts: dict[str, int] = defaultdict(int)
        for name, value in parse_qsl(raw, keep_blank_values=True):
            if name.endswith("[]"):
                # `expand[]=a&expand[]=b` is the indexed array `expand[0]`, `expand[1]`.
                base = name[:-2]
                params[f"{base}[{counts[base]}]"] = value
                counts[base] += 1
            else:
                params[name] = value
        return params

    # reads ---------------------------------------------------------------------------

    def list_objects(self, resource: str) -> Operation:
        listing = LISTINGS[resource]

        def operation(
            account: SimAccount, params: dict[str, str], request: tuple[str | None, str | None]
        ) -> Json:
            return self._list(account, resource, listing, params)

        return operation

    def _list(
        self, account: SimAccount, resource: str, listing: _Listing, params: dict[str, str]
    ) -> Json:
        for name in params:
            if not _known_list_param(resource, listing, name):
                raise invalid(f"Received unknown parameter: {name}", param=name)
        limit = _int(params, "limit")
        limit = DEFAULT_LIMIT if limit is None else limit
        if limit < 1:
            raise invalid("This value must be greater than or equal to 1.", param="limit")
        if limit > MAX_LIMIT:
            raise invalid(f"This value must be less than or equal to {MAX_LIMIT}.", param="limit")
        after, before = params.get("starting_after"), params.get("ending_before")
        if after and before:
            raise invalid(
                "You may only specify one of these parameters: ending_before, starting_after."
            )
        for cursor, name in ((after, "starting_after"), (before, "ending_before")):
            if cursor and cursor not in account.objects[listing.kind]:
                raise missing(listing.noun, cursor, param=name, status=400)
        settled: set[str] | None = None
        payout = params.get("payout")
        if payout is not None:
            if payout not in account.objects["payout"]:
                raise missing("payout", payout, param="payout", status=400)
            settled = self.state.payout_transactions(account, payout)
        ranges = _ranges(listing, params)
        types = {v for k, v in params.items() if k.startswith("types[")}
        items = [
            o
            for o in self.state.objects(account, listing.kind)
            if all(o.get(f) == params[n] for n, f in listing.filters.items() if n in params)
            and (not types or o.get("type") in types)
            and all(_within(o.get(name), op, bound) for name, op, bound in ranges)
            and (settled is None or o["id"] in settled)
        ]
        ids = [o["id"] for o in items]
        if after:
            start = ids.index(after) + 1 if after in ids else len(ids)
            page = items[start : start + limit]
            has_more = start + limit < len(items)
        elif before:
            end = ids.index(before) if before in ids else 0
            page = items[max(0, end - limit) : end]
            has_more = end - limit > 0
        else:
            page = items[:limit]
            has_more = limit < len(items)
        return {
            "object": "list",
            "data": page,
            "has_more": has_more,
            "url": f"/v1/{resource}",
        }

    def retrieve(self, resource: str, object_id: str) -> Operation:
        listing = LISTINGS[resource]

        def operation(
            account: SimAccount, params: dict[str, str], request: tuple[str | None, str | None]
        ) -> Json:
            for name in params:
                if not name.startswith("expand["):
                    raise invalid(f"Received unknown parameter: {name}", param=name)
            found = account.objects[listing.kind].get(object_id)
            if found is None:
                raise missing(listing.noun, object_id)
            return self.state.get(account.business_id, listing.kind, object_id)

        return operation

    def balance(
        self, account: SimAccount, params: dict[str, str], request: tuple[str | None, str | None]
    ) -> Json:
        return self.state.balance(account)

    # writes --------------------------------------------------------------------------

    def create_customer(
        self, account: SimAccount, params: dict[str, str], request: tuple[str | None, str | None]
    ) -> Json:
        allowed = {"name", "email", "description", "phone"}
        for name in params:
            if name not in allowed and not name.startswith(("metadata[", "expand[")):
                raise invalid(f"Received unknown parameter: {name}", param=name)
        email = params.get("email")
        if email is not None and email and "@" not in email:
            raise invalid(f"Invalid email address: {email}", param="email", code="email_invalid")
        return self.state.create_customer(account, params, request)

    def pay_invoice(self, invoice_id: str) -> Operation:
        def operation(
            account: SimAccount, params: dict[str, str], request: tuple[str | None, str | None]
        ) -> Json:
            allowed = {"paid_out_of_band", "payment_method", "source", "forgive", "off_session"}
            for name in params:
                if name not in allowed and not name.startswith("expand["):
                    raise invalid(f"Received unknown parameter: {name}", param=name)
            out_of_band = bool(_bool(params, "paid_out_of_band"))
            return self.state.pay(account, invoice_id, out_of_band=out_of_band, request=request)

        return operation


def create_app(
    state: StripeState,
    plan: FaultPlan | None = None,
    *,
    enforce_rate_limits: bool = False,
    requests_per_second: int = TEST_MODE_RATE,
) -> Litestar:
    api = _Api(state, _Limiter(requests_per_second if enforce_rate_limits else None))

    @get("/v1/balance", name="stripe_balance")
    async def balance(request: AnyRequest) -> Response[bytes]:
        return await api.handle(request, api.balance)

    # Each list has its own static path: Litestar would send GET /v1/customers to the
    # POST-only static route rather than to a `/v1/{resource}` pattern.
    @get([f"/v1/{resource}" for resource in LISTINGS], name="stripe_list")
    async def list_objects(request: AnyRequest) -> Response[bytes]:
        resource = str(request.scope["path"]).rstrip("/").rsplit("/", 1)[-1]
        return await api.handle(request, api.list_objects(resource))

    @get([f"/v1/{resource}/{{object_id:str}}" for resource in LISTINGS], name="stripe_retrieve")
    async def retrieve(request: AnyRequest, object_id: FromPath[str]) -> Response[bytes]:
        resource = str(request.scope["path"]).strip("/").split("/")[1]
        return await api.handle(request, api.retrieve(resource, object_id))

    @post("/v1/customers", status_code=200, name="stripe_create_customer")
    async def create_customer(request: AnyRequest) -> Response[bytes]:
        return await api.handle(request, api.create_customer)

    @post("/v1/invoices/{invoice_id:str}/pay", status_code=200, name="stripe_pay_invoice")
    async def pay_invoice(request: AnyRequest, invoice_id: FromPath[str]) -> Response[bytes]:
        return await api.handle(request, api.pay_invoice(invoice_id))

    def on_http_error(request: AnyRequest, exc: HTTPException) -> Response[bytes]:
        if exc.status_code in (404, 405):
            return _unrecognized(request, state)
        error = api_error() if exc.status_code >= 500 else invalid(str(exc.detail))
        return _error(exc.status_code if exc.status_code < 500 else 500, error, state)

    def on_crash(request: AnyRequest, exc: Exception) -> Response[bytes]:
        return _error(500, api_error(), state)

    return Litestar(
        route_handlers=[balance, list_objects, retrieve, create_customer, pay_invoice],
        middleware=[fault_middleware(plan or FaultPlan(), error_body=ERROR_BODY)],
        exception_handlers={HTTPException: on_http_error, Exception: on_crash},
        openapi_config=None,
        debug=False,
    )


def _error(status: int, error: StripeApiError, state: StripeState) -> Response[bytes]:
    request_id = state.request_id()
    return _json(status, error.body(request_id), {"Request-Id": request_id})


def _unrecognized(request: AnyRequest, state: StripeState) -> Response[bytes]:
    error = StripeApiError(
        404,
        f"Unrecognized request URL ({request.method}: {_path(request)}). Please see "
        "https://stripe.com/docs or we can help at https://support.stripe.com/.",
    )
    return _error(404, error, state)


def _known_list_param(resource: str, listing: _Listing, name: str) -> bool:
    if name in _COMMON_LIST_PARAMS or name in listing.filters or name in listing.ranges:
        return True
    base, bracket, rest = name.partition("[")
    if bracket and base == "expand":
        return True
    if bracket and base in listing.ranges and rest[:-1] in _RANGE_OPS:
        return True
    if bracket and base == "types" and resource == "events":
        return True
    return name == "payout" and resource == "balance_transactions"


def _ranges(listing: _Listing, params: Mapping[str, str]) -> list[tuple[str, str, int]]:
    """(field, operator, bound) for `created=...` and `created[gte]=...` style filters."""
    out = []
    for name in listing.ranges:
        exact = _int(params, name)
        if exact is not None:
            out.append((name, "eq", exact))
        for op in _RANGE_OPS:
            bound = _int(params, f"{name}[{op}]")
            if bound is not None:
                out.append((name, op, bound))
    return out


def _within(value: object, op: str, bound: int) -> bool:
    if not isinstance(value, int):
        return False
    if op == "gt":
        return value > bound
    if op == "gte":
        return value >= bound
    if op == "lt":
        return value < bound
    if op == "lte":
        return value <= bound
    return value == bound


async def deliver_webhooks(
    state: StripeState,
    url: str,
    *,
    duplicate: bool = False,
    reverse: bool = False,
    delay: float = 0.0,
    signed_at: datetime | None = None,
    timeout_seconds: float = 5.0,
) -> list[int]:
    """POSTs the pending events to `url`, signed as Stripe signs them (`Stripe-Signature`,
    one `v1` per endpoint secret). `duplicate` sends each twice (re-signed, as a retry
    is), `reverse` sends newest first, `delay` waits before sending, `signed_at` dates the
    signatures (for stale ones). Answers the statuses, 0 for no answer; events that got
    no 2xx go back to the outbox."""
    pending = state.take_events()
    if reverse:
        pending.reverse()
    if delay:
        await asyncio.sleep(delay)
    statuses: list[int] = []
    failed = []
    async with httpx.AsyncClient(timeout=timeout_seconds) as client:
        for item in pending:
            body = json.dumps(item.event).encode()
            delivered = False
            for _ in range(2 if duplicate else 1):
                headers = {
                    "Content-Type": "application/json; charset=utf-8",
                    "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
                    "Stripe-Signature": state.sign(body, at=signed_at),
                }
                try:
                    response = await client.post(url, content=body, headers=headers)
                except httpx.HTTPError:
                    statuses.append(0)
                    continue
                statuses.append(response.status_code)
                delivered = delivered or 200 <= response.status_code < 300
            if not delivered:
                failed.append(item)
    with state.lock:
        state.outbox[:0] = failed
    return statuses


def _path(request: AnyRequest) -> str:
    """The API path, also when the simulator is mounted under a prefix (the hub)."""
    return str(request.scope["path"])
