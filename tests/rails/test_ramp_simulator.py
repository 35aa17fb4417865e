"""The Ramp simulator speaks Ramp: responses validate against Ramp's OpenAPI schemas,
and OAuth, paging, errors, rate limits, the bill lifecycle and webhooks behave as Ramp
documents them."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from litestar.testing import TestClient
from openapi_schema_validator import OAS30Validator

from rowcol.demodata.generator import DemoFirm, generate_firm
from rowcol.simulators.faults import FaultKind, FaultPlan
from rowcol.simulators.ramp import (
    RampState,
    client_id_for,
    client_secret_for,
    create_app,
    deliver_webhooks,
    ramp_business_id,
    ramp_vendor_id,
    seed_from_demo,
)
from rowcol.simulators.server import BackgroundServer

TODAY = date(2026, 11, 2)
NOW = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)
SCOPES = "bills:read bills:write vendors:read vendors:write entities:read"
BILLS = "/developer/v1/bills"

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error_v2", "error"],
    "properties": {
        "error_v2": {
            "type": "object",
            "required": ["error_code", "message", "additional_info", "notes"],
            "properties": {
                "error_code": {"type": "string"},
                "message": {"type": "string"},
                "additional_info": {"type": "object"},
                "notes": {"type": "string"},
            },
        },
        "error": {"type": "object"},
    },
}
"""Ramp's documented error body; the OpenAPI file has no schema for it (its 400s only
say "raises InvalidInput")."""


def repo_root() -> Path:
    here = Path(__file__).resolve()
    return next(p for p in here.parents if (p / "pyproject.toml").exists())


def _nullable_refs(node: Any) -> Any:
    """`{"allOf": [{"$ref": X}], "nullable": true}` as `anyOf: [X, null]`.

    OpenAPI 3.0 means such a field may be null, but a validator evaluates the `allOf`
    branch on null as well and fails; Ramp's spec writes every nullable reference so.
    """
    if isinstance(node, list):
        return [_nullable_refs(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {key: _nullable_refs(value) for key, value in node.items()}
    if converted.get("nullable") is True and "allOf" in converted:
        inner = {key: value for key, value in converted.items() if key != "nullable"}
        return {"anyOf": [inner, {"enum": [None]}]}
    return converted


@functools.cache
def components() -> dict[str, Any]:
    path = repo_root() / ".." / "shared" / "rails" / "ramp" / "ramp-developer-api-v1.json"
    with path.open("rb") as handle:
        spec: dict[str, Any] = json.load(handle)
    converted: dict[str, Any] = _nullable_refs(spec["components"])
    return converted


def assert_valid(instance: Any, schema_name: str, *, array: bool = False) -> None:
    ref = {"$ref": f"#/components/schemas/{schema_name}"}
    schema = {**({"type": "array", "items": ref} if array else ref), "components": components()}
    OAS30Validator(schema, format_checker=OAS30Validator.FORMAT_CHECKER).validate(instance)


def assert_ramp_error(body: Any, code: str | None = None) -> None:
    jsonschema.validate(body, ERROR_SCHEMA)
    if code is not None:
        assert body["error_v2"]["error_code"] == code


@pytest.fixture(scope="module")
def firm() -> DemoFirm:
    return generate_firm(clients=2, seed=11, today=TODAY, history_months=2)


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def state(firm: DemoFirm, clock: Clock) -> RampState:
    return seed_from_demo(firm, now=clock)


@pytest.fixture
def plan() -> FaultPlan:
    return FaultPlan()


@pytest.fixture
def client(state: RampState, plan: FaultPlan) -> Iterator[TestClient[Any]]:
    with TestClient(create_app(state, plan)) as test_client:
        yield test_client


def basic(business_id: str, secret: str | None = None) -> dict[str, str]:
    pair = f"{client_id_for(business_id)}:{secret or client_secret_for(business_id)}"
    return {
        "Authorization": "Basic " + base64.b64encode(pair.encode()).decode(),
        "Content-Type": "application/x-www-form-urlencoded",
    }


def token_for(client: TestClient[Any], business_id: str, scope: str = SCOPES) -> dict[str, str]:
    answer = client.post(
        "/developer/v1/token",
        content=f"grant_type=client_credentials&scope={scope}",
        headers=basic(business_id),
    )
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def first(firm: DemoFirm) -> str:
    return firm.records[0].business_id


def create_body(state: RampState, business_id: str, **changes: Any) -> dict[str, Any]:
    business = state.business_for(business_id)
    vendor = business.vendors[ramp_vendor_id(business_id, f"ven-{business_id[4:]}-01")]
    entity = business.entities[0]
    body: dict[str, Any] = {
        "vendor_id": vendor.id,
        "vendor_contact_id": vendor.contacts[0].id,
        "entity_id": entity.id,
        "invoice_number": "INV-1001",
        "invoice_currency": "USD",
        "issued_at": "2026-11-01",
        "due_at": "2026-11-20",
        "payment_method": "ACH",
        "line_items": [{"amount": "1234.56", "memo": "Consulting"}],
        "payment_details": {
            "payment_arrival_date": "2026-11-06",
            "source_bank_account_id": entity.bank_account_id,
            "vendor_account_id": vendor.accounts[0].id,
        },
        "remote_id": "pay-1001",
        "memo": "Paid through RowCol",
    }
    body.update(changes)
    return body


# Spec ---------------------------------------------------------------------------------


def test_token_bills_vendors_and_entities_match_rampss_schemas(
    client: TestClient[Any], state: RampState, firm: DemoFirm
) -> None:
    business_id = first(firm)
    answer = client.post(
        "/developer/v1/token",
        content=f"grant_type=client_credentials&scope={SCOPES}",
        headers=basic(business_id),
    )
    assert_valid(answer.json(), "TokenResponse")
    headers = {"Authorization": f"Bearer {answer.json()['access_token']}"}

    created = client.post(BILLS, json=create_body(state, business_id), headers=headers)
    assert created.status_code == 201
    assert_valid(created.json(), "Bill")
    state.settle(created.json()["id"])
    assert_valid(client.get(f"{BILLS}/{created.json()['id']}", headers=headers).json(), "Bill")
    listed = client.get(BILLS, params={"page_size": 30}, headers=headers).json()
    assert_valid(listed, "PaginatedResponseApiBillResourceSchema")
    assert listed["page"]["next"]

    vendors = client.get("/developer/v1/vendors", headers=headers).json()
    assert_valid(vendors, "PaginatedResponseApiVendorResourceSchema")
    vendor_id = vendors["data"][0]["id"]
    detail = client.get(f"/developer/v1/vendors/{vendor_id}", headers=headers).json()
    assert_valid(detail, "ApiVendorDetailResource")
    contacts = client.get(f"/developer/v1/vendors/{vendor_id}/contacts", headers=headers)
    assert_valid(contacts.json(), "PaginatedResponseApiVendorContactResourceSchema")
    accounts = client.get(f"/developer/v1/vendors/{vendor_id}/accounts", headers=headers)
    assert_valid(accounts.json(), "PaginatedResponseApiVendorBankAccountResource")
    entities = client.get("/developer/v1/entities", headers=headers)
    assert_valid(entities.json(), "PaginatedResponseApiEntityResourceSchema")
    new_vendor = client.post(
        "/developer/v1/vendors",
        json={
            "name": "Fresh Vendor LLC",
            "country": "US",
            "vendor_owner_id": state.business_for(business_id).owner_id,
            "business_vendor_contacts": {"email": "ap@fresh.example"},
        },
        headers=headers,
    )
    assert new_vendor.status_code == 200
    assert_valid(new_vendor.json(), "Vendor")


def test_webhook_subscriptions_match_rampss_schemas(
    client: TestClient[Any], state: RampState, firm: DemoFirm
) -> None:
    headers = token_for(client, first(firm))

    created = client.post(
        "/developer/v1/webhooks",
        json={"endpoint_url": "https://rowcol.example/hooks/ramp", "event_types": ["bills.paid"]},
        headers=headers,
    )
    webhook_id = created.json()["id"]
    challenge = state.business_for(first(firm)).webhooks[webhook_id].challenge
    verified = client.post(
        f"/developer/v1/webhooks/{webhook_id}/verify",
        json={"challenge": challenge},
        headers=headers,
    )

    assert created.status_code == 201
    assert_valid(created.json(), "OutboundWebhookSubscriptionWithSecretResource")
    assert created.json()["status"] == "pending_verification"
    assert created.json()["business_id"] == ramp_business_id(first(firm))
    assert_valid(verified.json(), "SimpleSuccess")
    one = client.get(f"/developer/v1/webhooks/{webhook_id}", headers=headers).json()
    assert_valid(one, "OutboundWebhookSubscriptionResource")
    assert one["status"] == "active" and "secret" not in one
    listed = client.get("/developer/v1/webhooks", headers=headers).json()
    assert_valid(listed, "OutboundWebhookSubscriptionResource", array=True)
    deleted = client.delete(f"/developer/v1/webhooks/{webhook_id}", headers=headers)
    assert deleted.status_code == 204 and deleted.content == b""


def test_errors_have_rampss_shape(client: TestClient[Any], firm: DemoFirm) -> None:
    headers = token_for(client, first(firm))

    too_small = client.get(BILLS, params={"page_size": 1}, headers=headers)
    missing = client.post(BILLS, json={"invoice_number": "x"}, headers=headers)
    unknown = client.get(f"{BILLS}/00000000-0000-4000-8000-000000000000", headers=headers)

    assert too_small.status_code == 400
    assert too_small.json() == {
        "error_v2": {
            "error_code": "DEVELOPER_7001",
            "message": "Value must be between 2 and 100",
            "additional_info": {"page_size": ["Value must be between 2 and 100"]},
            "notes": "",
        },
        "error": {"page_size": ["Value must be between 2 and 100"]},
    }
    assert missing.status_code == 400
    assert_ramp_error(missing.json(), "DEVELOPER_7001")
    assert "vendor_id" in missing.json()["error_v2"]["additional_info"]
    assert unknown.status_code == 404
    assert_ramp_error(unknown.json())


# OAuth and limits ---------------------------------------------------------------------


def test_token_requests_fail_as_rfc_6749_says(client: TestClient[Any], firm: DemoFirm) -> None:
    business_id = first(firm)
    form = "grant_type=client_credentials&scope=bills:read"

    wrong = client.post("/developer/v1/token", content=form, headers=basic(business_id, "bad"))
    no_scope = client.post(
        "/developer/v1/token", content="grant_type=client_credentials", headers=basic(business_id)
    )
    bad_scope = client.post(
        "/developer/v1/token",
        content="grant_type=client_credentials&scope=cards:write",
        headers=basic(business_id),
    )
    no_auth = client.post(
        "/developer/v1/token",
        content=form,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )

    assert (wrong.status_code, wrong.json()["error"]) == (401, "invalid_client")
    assert (no_scope.status_code, no_scope.json()["error"]) == (400, "invalid_request")
    assert (bad_scope.status_code, bad_scope.json()["error"]) == (400, "invalid_scope")
    assert (no_auth.status_code, no_auth.json()["error"]) == (401, "invalid_client")


def test_missing_unknown_and_expired_tokens_are_401(
    client: TestClient[Any], state: RampState, firm: DemoFirm, clock: Clock
) -> None:
    headers = token_for(client, first(firm))
    assert client.get(BILLS, headers=headers).status_code == 200

    anonymous = client.get(BILLS)
    forged = client.get(BILLS, headers={"Authorization": "Bearer ramp_tok_forged"})
    state.expire_tokens()
    expired = client.get(BILLS, headers=headers)

    for answer in (anonymous, forged, expired):
        assert answer.status_code == 401
        assert_ramp_error(answer.json(), "UNAUTHORIZED")
    assert "expired" in expired.json()["error_v2"]["message"]
    fresh = token_for(client, first(firm))
    clock.now += timedelta(days=10)
    assert client.get(BILLS, headers=fresh).status_code == 401


def test_a_token_without_the_scope_is_403(
    client: TestClient[Any], state: RampState, firm: DemoFirm
) -> None:
    headers = token_for(client, first(firm), scope="bills:read")

    answer = client.post(BILLS, json=create_body(state, first(firm)), headers=headers)

    assert answer.status_code == 403
    assert_ramp_error(answer.json(), "FORBIDDEN")
    assert "bills:write" in answer.json()["error_v2"]["message"]


def test_a_client_over_its_rate_limit_gets_429_with_retry_after(
    state: RampState, firm: DemoFirm
) -> None:
    with TestClient(create_app(state, rate_limit=(3, 10.0))) as client:
        headers = token_for(client, first(firm))
        other = token_for(client, firm.records[1].business_id)
        statuses = [client.get(BILLS, headers=headers).status_code for _ in range(4)]
        limited = client.get(BILLS, headers=headers)
        neighbour = client.get(BILLS, headers=other)

    assert statuses == [200, 200, 200, 429]
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) >= 1
    assert_ramp_error(limited.json(), "RATE_LIMITED")
    assert neighbour.status_code == 200


def test_injected_faults_answer_in_rampss_error_shape(
    client: TestClient[Any], plan: FaultPlan, firm: DemoFirm
) -> None:
    headers = token_for(client, first(firm))
    plan.add(FaultKind.SERVER_ERROR, path=f"^{BILLS}$", status=502)

    answer = client.get(BILLS, headers=headers)

    assert answer.status_code == 502
    assert_ramp_error(answer.json(), "INTERNAL_ERROR")


# Paging and filters -------------------------------------------------------------------


def test_keyset_paging_visits_every_bill_once(client: TestClient[Any], firm: DemoFirm) -> None:
    headers = token_for(client, first(firm))
    seen: list[str] = []
    url: str | None = f"{BILLS}?page_size=7"
    pages = 0
    while url:
        body = client.get(url, headers=headers).json()
        seen.extend(bill["id"] for bill in body["data"])
        url = body["page"]["next"]
        pages += 1
        assert len(body["data"]) <= 7

    assert len(seen) == len(set(seen)) == len(firm.records[0].bills)
    assert pages == -(-len(seen) // 7)
    assert seen == sorted(seen)


def test_bill_filters_narrow_the_list(
    client: TestClient[Any], state: RampState, firm: DemoFirm
) -> None:
    business_id = first(firm)
    headers = token_for(client, business_id)
    created = client.post(BILLS, json=create_body(state, business_id), headers=headers).json()
    vendor_id = created["vendor"]["id"]

    def ids(**params: Any) -> set[str]:
        body = client.get(BILLS, params={"page_size": 100, **params}, headers=headers).json()
        return {bill["id"] for bill in body["data"]}

    data = firm.records[0]
    paid = [b for b in data.bills if b.paid_date is not None]
    assert ids(from_created_at=(NOW - timedelta(minutes=1)).isoformat()) == {created["id"]}
    assert len(ids(payment_status="PAID")) == len(paid)
    assert created["id"] in ids(vendor_id=vendor_id)
    assert all(
        client.get(f"{BILLS}/{i}", headers=headers).json()["vendor"]["id"] == vendor_id
        for i in ids(vendor_id=vendor_id)
    )
    assert ids(min_amount="1234.56", max_amount="1234.56", approval_status="APPROVED") >= {
        created["id"]
    }
    assert created["id"] not in ids(is_archived="true")
    bad = client.get(BILLS, params={"payment_status": "LATE"}, headers=headers)
    assert bad.status_code == 400


# Bill lifecycle -----------------------------------------------------------------------


def test_a_bill_created_through_the_api_is_approved_and_scheduled(
    client: TestClient[Any], state: RampState, firm: DemoFirm
) -> None:
    headers = token_for(client, first(firm))

    bill = client.post(BILLS, json=create_body(state, first(firm)), headers=headers).json()

    assert (bill["status"], bill["approval_status"]) == ("OPEN", "APPROVED")
    assert bill["amount"] == {"amount": 123456, "currency_code": "USD"}
    assert bill["remote_id"] == "pay-1001" and bill["invoice_number"] == "INV-1001"
    assert bill["payment"]["payment_method"] == "ACH"
    assert bill["payment"]["effective_date"] is None
    assert "paid_at" not in bill
    events = [d.event.type for d in state.outbox]
    assert events == []  # nobody subscribed yet


def test_invalid_bills_are_refused_with_the_field_named(
    client: TestClient[Any], state: RampState, firm: DemoFirm
) -> None:
    business_id = first(firm)
    headers = token_for(client, business_id)
    cases = {
        "invoice_number": create_body(state, business_id, invoice_number="X" * 21),
        "line_items.0.amount": create_body(state, business_id, line_items=[{"amount": "1.234"}]),
        "payment_arrival_date": create_body(
            state,
            business_id,
            payment_details={
                **create_body(state, business_id)["payment_details"],
                "payment_arrival_date": "2026-10-01",
            },
        ),
        "vendor_contact_id": create_body(
            state, business_id, vendor_contact_id="00000000-0000-4000-8000-000000000000"
        ),
    }

    for field_name, body in cases.items():
        answer = client.post(BILLS, json=body, headers=headers)
        assert answer.status_code == 400, field_name
        assert field_name in answer.json()["error_v2"]["additional_info"], answer.json()


def test_advancing_time_pays_due_bills_and_owes_bills_paid(
    client: TestClient[Any], state: RampState, firm: DemoFirm
) -> None:
    business_id = first(firm)
    headers = token_for(client, business_id)
    subscribe(client, state, business_id, headers, ["bills.paid", "bills.created"])
    bill_id = client.post(BILLS, json=create_body(state, business_id), headers=headers).json()["id"]

    assert state.advance(3) == []
    paid = state.advance(1)
    detail = client.get(f"{BILLS}/{bill_id}", headers=headers).json()
    listed = client.get(BILLS, params={"payment_status": "PAID", "page_size": 100}, headers=headers)

    assert [b.id for b in paid] == [bill_id]
    assert detail["status"] == "PAID" and detail["paid_at"].startswith("2026-11-06")
    assert detail["payment"]["effective_date"] and detail["payment"]["trace_id"]["trace_id"]
    in_list = next(b for b in listed.json()["data"] if b["id"] == bill_id)
    assert in_list["payment"]["trace_id"] is None
    assert [d.event.type for d in state.outbox] == ["bills.created", "bills.paid"]


def test_rejecting_a_bill_owes_bills_rejected(
    client: TestClient[Any], state: RampState, firm: DemoFirm
) -> None:
    business_id = first(firm)
    headers = token_for(client, business_id)
    subscribe(client, state, business_id, headers, ["bills.rejected"])
    bill_id = client.post(BILLS, json=create_body(state, business_id), headers=headers).json()["id"]

    state.reject(bill_id)

    assert client.get(f"{BILLS}/{bill_id}", headers=headers).json()["approval_status"] == "REJECTED"
    assert [d.event.type for d in state.outbox] == ["bills.rejected"]
    assert state.advance(10) == []


def test_patch_updates_and_delete_archives_but_not_once_paid(
    client: TestClient[Any], state: RampState, firm: DemoFirm
) -> None:
    business_id = first(firm)
    headers = token_for(client, business_id)
    one = client.post(BILLS, json=create_body(state, business_id), headers=headers).json()["id"]
    two = client.post(
        BILLS, json=create_body(state, business_id, remote_id="pay-1002"), headers=headers
    ).json()["id"]

    patched = client.patch(f"{BILLS}/{one}", json={"memo": "Updated"}, headers=headers)
    archived = client.delete(f"{BILLS}/{one}", headers=headers)
    state.settle(two)
    refused = client.delete(f"{BILLS}/{two}", headers=headers)

    assert patched.json()["memo"] == "Updated"
    assert archived.status_code == 204
    active = client.get(BILLS, params={"page_size": 100}, headers=headers).json()["data"]
    gone = client.get(BILLS, params={"page_size": 100, "is_archived": "true"}, headers=headers)
    assert one not in {b["id"] for b in active}
    assert [b["id"] for b in gone.json()["data"]] == [one]
    assert gone.json()["data"][0]["archived_at"]
    assert refused.status_code == 400


def test_each_client_sees_only_its_business(
    client: TestClient[Any], state: RampState, firm: DemoFirm
) -> None:
    mine = token_for(client, first(firm))
    theirs = token_for(client, firm.records[1].business_id)
    bill_id = client.post(BILLS, json=create_body(state, first(firm)), headers=mine).json()["id"]

    assert client.get(f"{BILLS}/{bill_id}", headers=theirs).status_code == 404
    their_bills = client.get(BILLS, params={"page_size": 100}, headers=theirs).json()["data"]
    assert bill_id not in {b["id"] for b in their_bills}


# Seeding ------------------------------------------------------------------------------


def test_seeding_is_deterministic_and_mirrors_the_demo_books(firm: DemoFirm) -> None:
    one = seed_from_demo(firm, now=lambda: NOW)
    two = seed_from_demo(firm, now=lambda: NOW)

    for data in firm.records:
        a, b = one.business_for(data.business_id), two.business_for(data.business_id)
        assert a.id == b.id == ramp_business_id(data.business_id)
        assert sorted(a.bills) == sorted(b.bills)
        assert sorted(a.vendors) == sorted(b.vendors)
        assert {v.remote_id for v in a.vendors.values()} == {v.vendor_id for v in data.vendors}
        assert all(v.contacts and v.accounts for v in a.vendors.values())
        assert len(a.bills) == len(data.bills)
        assert sum(b.amount_minor for b in a.bills.values()) == sum(
            b.amount.amount_minor for b in data.bills
        )
        assert a.client_id == f"ramp-client-{data.business_id}"
    assert (
        len(seed_from_demo(firm, now=lambda: NOW, with_bills=False).business_for(first(firm)).bills)
        == 0
    )


# Webhooks -----------------------------------------------------------------------------


def subscribe(
    client: TestClient[Any],
    state: RampState,
    business_id: str,
    headers: dict[str, str],
    event_types: list[str],
    url: str = "https://rowcol.example/hooks/ramp",
) -> str:
    created = client.post(
        "/developer/v1/webhooks",
        json={"endpoint_url": url, "event_types": event_types},
        headers=headers,
    ).json()
    webhook_id: str = created["id"]
    if url.startswith("https://"):
        state.verify_webhook(
            state.business_for(business_id),
            webhook_id,
            state.business_for(business_id).webhooks[webhook_id].challenge,
        )
    return webhook_id


class Receiver:
    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                kind = message["type"].rsplit(".", 1)[-1]
                await send({"type": f"lifespan.{kind}.complete"})
                if kind == "shutdown":
                    return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        self.received.append(({k.decode(): v.decode() for k, v in scope["headers"]}, body))
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})


@pytest.fixture(scope="module")
def receiver() -> Iterator[tuple[str, Receiver]]:
    target = Receiver()
    with BackgroundServer(target) as running:
        yield running.url, target


async def test_a_new_subscription_gets_the_signed_handshake_before_any_event(
    client: TestClient[Any],
    state: RampState,
    firm: DemoFirm,
    receiver: tuple[str, Receiver],
) -> None:
    url, target = receiver
    target.received.clear()
    business_id = first(firm)
    headers = token_for(client, business_id)
    webhook_id = subscribe(client, state, business_id, headers, ["bills.created"], url=url)
    client.post(BILLS, json=create_body(state, business_id), headers=headers)
    webhook = state.business_for(business_id).webhooks[webhook_id]

    held = await deliver_webhooks(state)
    state.verify_webhook(state.business_for(business_id), webhook_id, webhook.challenge)
    delivered = await deliver_webhooks(state, signature_header="X-Ramp-Signature")

    assert held == [200] and delivered == [200]
    (hs_headers, hs_body), (ev_headers, ev_body) = target.received
    handshake, event = json.loads(hs_body), json.loads(ev_body)
    assert handshake["type"] == "webhooks.verification"
    assert handshake["challenge"] == webhook.challenge
    assert handshake["business_id"] == ramp_business_id(business_id)
    assert hs_headers["x-ramp-webhook-signature"] == _hmac(webhook.secret, hs_body)
    assert event["type"] == "bills.created" and set(event) == {
        "id",
        "type",
        "created_at",
        "business_id",
        "object",
    }
    assert ev_headers["x-ramp-signature"] == _hmac(webhook.secret, ev_body)


async def test_deliveries_can_be_duplicated_and_reordered(
    client: TestClient[Any],
    state: RampState,
    firm: DemoFirm,
    receiver: tuple[str, Receiver],
) -> None:
    url, target = receiver
    business_id = first(firm)
    headers = token_for(client, business_id)
    subscribe(client, state, business_id, headers, ["bills.created", "bills.approved"])
    client.post(BILLS, json=create_body(state, business_id), headers=headers)
    target.received.clear()

    statuses = await deliver_webhooks(state, url, duplicate=True, reverse=True)

    types = [json.loads(body)["type"] for _, body in target.received]
    assert statuses == [200] * 4
    assert types == ["bills.approved", "bills.approved", "bills.created", "bills.created"]
    assert target.received[0] == target.received[1]
    assert state.outbox == []


def _hmac(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
