"""QBO over HTTP: OAuth 2.0 (discovery, authorize, token, revoke), the Data API reads
(query, read-one, CDC) and signed webhook delivery.

Paths as on Intuit's hosts, all on one server:
  GET  /.well-known/openid_configuration   (and .../openid_sandbox_configuration)
  GET  /connect/oauth2                      redirects at once with code, state, realmId
  POST /oauth2/v1/tokens/bearer             authorization_code | refresh_token
  POST /v2/oauth2/tokens/revoke
  GET|POST /v3/company/{realmId}/query      POST takes the query as application/text
  GET  /v3/company/{realmId}/cdc?entities=...&changedSince=...
  GET  /v3/company/{realmId}/{entity}/{id}
Errors are QBO Faults (`Fault/Error/Message`, and `fault/error/message` on 401s); over
`requests_per_minute` per realm a 429 Fault with code 3001.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import urllib.error
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal
from urllib.parse import parse_qs, urlencode

import msgspec
from litestar import Litestar, Request, Response, get, post
from litestar.params import FromPath

from rowcol.simulators.faults import FaultPlan, fault_middleware
from rowcol.simulators.qbo import query as qbo_query
from rowcol.simulators.qbo.query import COMPANY_TZ, QueryError
from rowcol.simulators.qbo.state import (
    OAuthError,
    PendingEvent,
    SimRequest,
    State,
    TokenGrant,
    response_time,
)

_ENCODER: Final = msgspec.json.Encoder(decimal_format="number")
_READABLE: Final = {
    "vendor": "Vendor",
    "customer": "Customer",
    "account": "Account",
    "term": "Term",
    "bill": "Bill",
    "invoice": "Invoice",
    "payment": "Payment",
    "billpayment": "BillPayment",
}
_CDC_ENTITIES: Final = {name.lower(): name for name in _READABLE.values()}
CDC_LOOKBACK: Final = timedelta(days=30)
CDC_MAX_OBJECTS: Final = 1000
SYSTEM_FAULT: Final = {
    "Fault": {
        "Error": [
            {
                "Message": "An application error has occurred while processing your request",
                "Detail": "System Failure Error: simulated outage",
                "code": "10000",
            }
        ],
        "type": "SystemFault",
    }
}

AnyRequest = Request[Any, Any, Any]


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response[bytes]:
    return Response(
        content=_ENCODER.encode(body),
        status_code=status,
        media_type="application/json",
        headers={"intuit_tid": uuid.uuid4().hex, **(headers or {})},
    )


def fault(
    state: State, code: str, message: str, detail: str, *, kind: str = "ValidationFault"
) -> dict[str, Any]:
    return {
        "Fault": {
            "Error": [{"Message": message, "Detail": detail, "code": code, "element": ""}],
            "type": kind,
        },
        "time": response_time(state.now()),
    }


def auth_fault(state: State, detail: str) -> dict[str, Any]:
    """The lower-case shape QBO uses for 401s."""
    return {
        "fault": {
            "error": [
                {
                    "message": "message=AuthenticationFailed; errorCode=003200; statusCode=401",
                    "detail": detail,
                    "code": "3200",
                }
            ],
            "type": "AUTHENTICATION",
        },
        "time": response_time(state.now()),
    }


def throttle_fault(state: State) -> dict[str, Any]:
    return fault(
        state,
        "3001",
        "message=ThrottleExceeded; errorCode=003001; statusCode=429",
        "The request limit was reached.",
        kind="SERVICE",
    )


def _token_json(grant: TokenGrant) -> dict[str, Any]:
    return {
        "token_type": "bearer",
        "access_token": grant.access_token,
        "refresh_token": grant.refresh_token,
        "expires_in": grant.expires_in,
        "x_refresh_token_expires_in": grant.refresh_expires_in,
    }


def _oauth_error(error: OAuthError, status: int = 400) -> Response[bytes]:
    body = {"error": error.error}
    if error.description:
        body["error_description"] = error.description
    return _json(body, status)


def _basic_client(request: AnyRequest) -> tuple[str, str] | None:
    header = request.headers.get("authorization", "")
    if not header.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, sep, secret = decoded.partition(":")
    return (client_id, secret) if sep else None


def _parse_since(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=COMPANY_TZ)
    return moment.astimezone(UTC)


def create_app(state: State, plan: FaultPlan | None = None, **opts: Any) -> Litestar:
    """`opts` go to Litestar (e.g. `debug=True`)."""

    def discovery_doc(request: AnyRequest) -> Response[bytes]:
        base = str(request.base_url).rstrip("/")
        return _json(
            {
                "issuer": "https://oauth.platform.intuit.com/op/v1",
                "authorization_endpoint": f"{base}/connect/oauth2",
                "token_endpoint": f"{base}/oauth2/v1/tokens/bearer",
                "userinfo_endpoint": f"{base}/v1/openid_connect/userinfo",
                "revocation_endpoint": f"{base}/v2/oauth2/tokens/revoke",
                "jwks_uri": f"{base}/op/v1/jwks",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "scopes_supported": [
                    "openid",
                    "email",
                    "profile",
                    "address",
                    "phone",
                    "com.intuit.quickbooks.accounting",
                    "com.intuit.quickbooks.payment",
                ],
                "token_endpoint_auth_methods_supported": [
                    "client_secret_post",
                    "client_secret_basic",
                ],
                "claims_supported": ["aud", "exp", "iat", "iss", "realmid", "sub"],
            }
        )

    @get(["/.well-known/openid_configuration", "/.well-known/openid_sandbox_configuration"])
    async def discovery(request: AnyRequest) -> Response[bytes]:
        return discovery_doc(request)

    @get("/connect/oauth2")
    async def authorize(request: AnyRequest) -> Response[bytes]:
        """Consent is immediate. Which company: `realmId` (a simulator extension), else
        the only one there is."""
        params = request.query_params
        client_id = params.get("client_id", "")
        redirect_uri = params.get("redirect_uri", "")
        if params.get("response_type") != "code" or not redirect_uri:
            return _json({"error": "invalid_request"}, 400)
        if "com.intuit.quickbooks.accounting" not in params.get("scope", "").split():
            return _json({"error": "invalid_scope"}, 400)
        realm_id = params.get("realmId")
        if realm_id is None and len(state.companies) == 1:
            realm_id = next(iter(state.companies))
        if realm_id is None:
            return _json({"error": "invalid_request", "error_description": "pass realmId"}, 400)
        try:
            code = state.authorize(client_id, redirect_uri, realm_id)
        except OAuthError as exc:
            return _oauth_error(exc)
        answer = {"code": code, "state": params.get("state", ""), "realmId": realm_id}
        separator = "&" if "?" in redirect_uri else "?"
        return Response(
            content=b"",
            status_code=302,
            headers={"location": f"{redirect_uri}{separator}{urlencode(answer)}"},
        )

    @post("/oauth2/v1/tokens/bearer")
    async def token(request: AnyRequest) -> Response[bytes]:
        client = _basic_client(request)
        if client is None or not state.check_client(*client):
            return _json({"error": "invalid_client"}, 401)
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
        grant_type = form.get("grant_type")
        try:
            if grant_type == "authorization_code":
                grant = state.redeem_code(
                    form.get("code", ""), client[0], form.get("redirect_uri", "")
                )
            elif grant_type == "refresh_token":
                grant = state.refresh(form.get("refresh_token", ""), client[0])
            else:
                return _json({"error": "unsupported_grant_type"}, 400)
        except OAuthError as exc:
            return _oauth_error(exc)
        return _json(_token_json(grant), headers={"cache-control": "no-store"})

    @post("/v2/oauth2/tokens/revoke")
    async def revoke(request: AnyRequest) -> Response[bytes]:
        client = _basic_client(request)
        if client is None or not state.check_client(*client):
            return _json({"error": "invalid_client"}, 401)
        try:
            body = msgspec.json.decode(await request.body())
        except msgspec.DecodeError:
            return _json({"error": "invalid_request"}, 400)
        token_value = body.get("token") if isinstance(body, dict) else None
        if not token_value:
            return _json({"error": "invalid_request"}, 400)
        state.revoke(str(token_value))
        return Response(content=b"", status_code=200)

    def gate(request: AnyRequest, realm_id: str, query_text: str | None) -> Response[bytes] | None:
        """Logs the request; answers 401/403/429 when QBO would."""
        header = request.headers.get("authorization")
        state.log(
            SimRequest(
                method=request.method,
                path=request.url.path,
                realm_id=realm_id,
                query=query_text,
                authorization=header,
                at=state.now(),
            )
        )
        if not header or not header.lower().startswith("bearer "):
            return _json(auth_fault(state, "Token is missing"), 401)
        realm = state.realm_for_token(header[7:].strip())
        if realm is None:
            return _json(auth_fault(state, "Token expired or invalid"), 401)
        if realm != realm_id:
            return _json(
                fault(
                    state,
                    "3100",
                    "message=ApplicationAuthorizationFailed; errorCode=003100; statusCode=403",
                    "The token does not open this company",
                    kind="AuthorizationFault",
                ),
                403,
            )
        if not state.admit(realm_id):
            return _json(throttle_fault(state), 429)
        return None

    def run_query(realm_id: str, text: str) -> Response[bytes]:
        try:
            parsed = qbo_query.parse(text)
        except QueryError as exc:
            return _json(fault(state, exc.code, exc.message, exc.detail), 400)
        with state.lock:
            records = state.company(realm_id).all(parsed.entity)
            matching = qbo_query.select(parsed, records)
            if parsed.count:
                body: dict[str, Any] = {"totalCount": len(matching)}
            else:
                rows = qbo_query.page(parsed, matching)
                body = (
                    {
                        parsed.entity: rows,
                        "startPosition": parsed.start_position,
                        "maxResults": len(rows),
                    }
                    if rows
                    else {}
                )
            return _json({"QueryResponse": body, "time": response_time(state.now())})

    @get("/v3/company/{realm_id:str}/query")
    async def query_get(request: AnyRequest, realm_id: FromPath[str]) -> Response[bytes]:
        text = request.query_params.get("query", "")
        refused = gate(request, realm_id, text)
        return refused or run_query(realm_id, text)

    @post("/v3/company/{realm_id:str}/query")
    async def query_post(request: AnyRequest, realm_id: FromPath[str]) -> Response[bytes]:
        text = (await request.body()).decode()
        refused = gate(request, realm_id, text)
        return refused or run_query(realm_id, text)

    @get("/v3/company/{realm_id:str}/cdc")
    async def cdc(request: AnyRequest, realm_id: FromPath[str]) -> Response[bytes]:
        refused = gate(request, realm_id, None)
        if refused:
            return refused
        names = [n.strip() for n in request.query_params.get("entities", "").split(",")]
        entities = [_CDC_ENTITIES[n.lower()] for n in names if n.lower() in _CDC_ENTITIES]
        since = _parse_since(request.query_params.get("changedSince", ""))
        if not entities or len(entities) != len([n for n in names if n]):
            return _json(fault(state, "4000", "Invalid entities", f"entities={names}"), 400)
        if since is None:
            return _json(fault(state, "4000", "Invalid changedSince", "an ISO date is needed"), 400)
        now = state.now()
        if since < now - CDC_LOOKBACK:
            return _json(
                fault(
                    state,
                    "4000",
                    "Invalid changedSince",
                    "changedSince may look back at most 30 days",
                ),
                400,
            )
        with state.lock:
            company = state.company(realm_id)
            changed: list[tuple[datetime, str, dict[str, Any]]] = []
            for entity in entities:
                for record in [*company.all(entity), *company.tombstones[entity].values()]:
                    updated = datetime.fromisoformat(record["MetaData"]["LastUpdatedTime"])
                    if updated >= since:
                        changed.append((updated, entity, record))
            changed.sort(key=lambda item: (item[0], item[1], int(item[2]["Id"])))
            changed = changed[:CDC_MAX_OBJECTS]
            sections: list[dict[str, Any]] = []
            for entity in entities:
                rows = [record for _, name, record in changed if name == entity]
                if rows:
                    sections.append({entity: rows, "startPosition": 1, "maxResults": len(rows)})
                else:
                    sections.append({})
            return _json({"CDCResponse": [{"QueryResponse": sections}], "time": response_time(now)})

    @get("/v3/company/{realm_id:str}/{entity:str}/{entity_id:str}")
    async def read_one(
        request: AnyRequest,
        realm_id: FromPath[str],
        entity: FromPath[str],
        entity_id: FromPath[str],
    ) -> Response[bytes]:
        refused = gate(request, realm_id, None)
        if refused:
            return refused
        name = _READABLE.get(entity.lower())
        if name is None:
            return _json(
                fault(state, "500", "Unsupported Operation", f"{entity} is not supported"), 400
            )
        with state.lock:
            record = state.company(realm_id).get(name, entity_id)
            if record is None:
                return _json(
                    fault(
                        state,
                        "610",
                        "Object Not Found",
                        "Object Not Found : Something you're trying to use has been made "
                        "inactive. Check the fields with accounts, customers, items, vendors "
                        "or employees.",
                    ),
                    400,
                )
            return _json({name: record, "time": response_time(state.now())})

    return Litestar(
        route_handlers=[
            discovery,
            authorize,
            token,
            revoke,
            query_get,
            query_post,
            cdc,
            read_one,
        ],
        middleware=[fault_middleware(plan or FaultPlan(), error_body=SYSTEM_FAULT)],
        openapi_config=None,
        **opts,
    )


# Webhooks ----------------------------------------------------------------------------

_PAST_TENSE: Final = {
    "Create": "created",
    "Update": "updated",
    "Delete": "deleted",
    "Merge": "merged",
    "Void": "voided",
}


def sign(verifier_token: str, body: bytes) -> str:
    digest = hmac.new(verifier_token.encode(), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def cloud_events_body(events: list[PendingEvent]) -> bytes:
    return _ENCODER.encode(
        [
            {
                "specversion": "1.0",
                "id": event.event_id,
                "source": f"intuit.sim/{event.realm_id}",
                "type": f"qbo.{event.entity.lower()}."
                f"{_PAST_TENSE.get(event.operation, event.operation.lower())}.v1",
                "datacontenttype": "application/json",
                "time": event.at.astimezone(UTC)
                .isoformat(timespec="microseconds")
                .replace("+00:00", "Z"),
                "intuitentityid": event.entity_id,
                "intuitaccountid": event.realm_id,
                "data": {},
            }
            for event in events
        ]
    )


def legacy_body(events: list[PendingEvent]) -> bytes:
    """One notification per realm, entities in the order given."""
    realms: dict[str, list[dict[str, str]]] = {}
    for event in events:
        realms.setdefault(event.realm_id, []).append(
            {
                "name": event.entity,
                "id": event.entity_id,
                "operation": event.operation,
                "lastUpdated": event.at.astimezone(COMPANY_TZ).strftime("%Y-%m-%dT%H:%M:%S%z"),
            }
        )
    return _ENCODER.encode(
        {
            "eventNotifications": [
                {"realmId": realm, "dataChangeEvent": {"entities": entities}}
                for realm, entities in realms.items()
            ]
        }
    )


def _post(url: str, body: bytes, signature: str) -> int:
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={"content-type": "application/json", "intuit-signature": signature},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            status: int = response.status
            return status
    except urllib.error.HTTPError as exc:
        return exc.code
    except (urllib.error.URLError, TimeoutError, ConnectionError):
        return 0


async def deliver_webhooks(
    state: State,
    url: str,
    *,
    style: Literal["cloudevents", "legacy"] = "cloudevents",
    batch: bool = True,
    duplicate: bool = False,
    reverse: bool = False,
    delay: float = 0.0,
    verifier_token: str | None = None,
) -> list[int]:
    """POSTs the pending events to `url`, signed with `intuit-signature`; returns the
    status of each POST (0 when unreachable). Events whose every POST failed are queued
    again, as Intuit retries.

    `batch=False` sends one POST per event; `reverse` sends newest first; `duplicate`
    sends every POST twice; `delay` waits first (a late delivery); `verifier_token`
    signs with another token (a forgery).
    """
    events = state.take_events()
    if reverse:
        events.reverse()
    if delay:
        await asyncio.sleep(delay)
    groups = [events] if batch else [[event] for event in events]
    statuses: list[int] = []
    failed: list[PendingEvent] = []
    for group in groups:
        if not group:
            continue
        body = cloud_events_body(group) if style == "cloudevents" else legacy_body(group)
        signature = sign(verifier_token or state.verifier_token, body)
        answers = [
            await asyncio.to_thread(_post, url, body, signature)
            for _ in range(2 if duplicate else 1)
        ]
        statuses.extend(answers)
        if not any(200 <= status < 300 for status in answers):
            failed.extend(group)
    if failed:
        state.requeue(failed)
    return statuses
