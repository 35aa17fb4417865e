"""The Stripe simulator speaks Stripe: responses valid against Stripe's OpenAPI spec (and
invoices shaped as Stripe's current fixtures), Stripe's auth, paging, errors and
idempotency, deterministic seeding, and webhooks that go out and come back."""

from __future__ import annotations

import base64
import functools
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from litestar.testing import TestClient
from openapi_schema_validator import OAS30Validator

from rowcol.demodata.generator import DemoFirm, generate_firm
from rowcol.simulators.faults import FaultKind, FaultPlan
from rowcol.simulators.hub import SimulatorHub
from rowcol.simulators.stripe import (
    API_VERSION,
    StripeState,
    account_id_for,
    api_key_for,
    create_app,
    deliver_webhooks,
    seed_from_demo,
)

TODAY = date(2026, 11, 2)
NOW = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)


def repo_root() -> Path:
    here = Path(__file__).resolve()
    return next(p for p in here.parents if (p / "pyproject.toml").exists())


def rails_dir() -> Path:
    return repo_root() / ".." / "shared" / "rails" / "stripe"


def allow_null_alternatives(node: Any) -> None:
    """Stripe's spec marks `anyOf` schemas and enums `nullable`; OpenAPI 3.0 validators
    honour `nullable` only beside `type` and check enums strictly, so null is added as
    an explicit alternative and enum value."""
    if isinstance(node, dict):
        if node.get("nullable"):
            if "enum" in node and None not in node["enum"]:
                node["enum"] = [*node["enum"], None]
            if "type" not in node:
                for key in ("anyOf", "oneOf"):
                    if key in node:
                        node[key] = [*node[key], {"enum": [None]}]
        for value in node.values():
            allow_null_alternatives(value)
    elif isinstance(node, list):
        for value in node:
            allow_null_alternatives(value)


@functools.cache
def spec() -> dict[str, Any]:
    with (rails_dir() / "stripe-spec3-2023-08-16.yaml").open("rb") as handle:
        loaded: dict[str, Any] = yaml.load(
            handle, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        )
    allow_null_alternatives(loaded)
    return loaded


@functools.cache
def fixtures() -> dict[str, Any]:
    with (rails_dir() / "stripe-fixtures3-HEAD.json").open("rb") as handle:
        loaded: dict[str, Any] = json.load(handle)["resources"]
    return loaded


def assert_valid(instance: Any, schema: dict[str, Any]) -> None:
    document = schema | {"components": spec()["components"]}
    OAS30Validator(document, format_checker=OAS30Validator.FORMAT_CHECKER).validate(instance)


def component(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def list_schema(path: str) -> dict[str, Any]:
    operation = spec()["paths"][path]["get"]
    schema: dict[str, Any] = operation["responses"]["200"]["content"]["application/json"]["schema"]
    return schema


def json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    return type(value).__name__


def assert_shaped_like(instance: dict[str, Any], fixture: dict[str, Any]) -> None:
    """Every field of the fixture and no other; values of the fixture's JSON types."""
    assert set(instance) == set(fixture)
    for key, value in instance.items():
        if value is not None and fixture[key] is not None:
            assert json_kind(value) == json_kind(fixture[key]), key


@pytest.fixture(scope="module")
def firm() -> DemoFirm:
    return generate_firm(clients=2, seed=5, today=TODAY, history_months=1)


@pytest.fixture
def state(firm: DemoFirm) -> StripeState:
    return seed_from_demo(firm, now=lambda: NOW)


@pytest.fixture
def client(state: StripeState) -> Iterator[Any]:
    with TestClient(create_app(state)) as test_client:
        yield test_client


def business(firm: DemoFirm) -> str:
    return firm.records[0].business_id


def auth(firm: DemoFirm, index: int = 0) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key_for(firm.records[index].business_id)}"}


def first_id(client: Any, firm: DemoFirm, resource: str, **params: Any) -> str:
    answer = client.get(f"/v1/{resource}", headers=auth(firm), params={"limit": 1, **params})
    ident: str = answer.json()["data"][0]["id"]
    return ident


# The spec ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "resource",
    ["customers", "payouts", "balance_transactions", "charges", "payment_intents"],
)
def test_list_answers_match_stripes_spec(client: Any, firm: DemoFirm, resource: str) -> None:
    answer = client.get(f"/v1/{resource}", headers=auth(firm), params={"limit": 5})

    assert answer.status_code == 200
    assert answer.json()["data"]
    assert_valid(answer.json(), list_schema(f"/v1/{resource}"))


def test_a_payouts_balance_transactions_match_stripes_spec(client: Any, firm: DemoFirm) -> None:
    payout = first_id(client, firm, "payouts")

    answer = client.get(
        "/v1/balance_transactions", headers=auth(firm), params={"payout": payout, "limit": 100}
    )

    assert {t["type"] for t in answer.json()["data"]} == {"charge", "payout"}
    assert_valid(answer.json(), list_schema("/v1/balance_transactions"))


@pytest.mark.parametrize(
    ("resource", "schema"),
    [
        ("customers", "customer"),
        ("payouts", "payout"),
        ("balance_transactions", "balance_transaction"),
        ("charges", "charge"),
        ("payment_intents", "payment_intent"),
    ],
)
def test_retrieved_objects_match_stripes_spec(
    client: Any, firm: DemoFirm, resource: str, schema: str
) -> None:
    ident = first_id(client, firm, resource)

    answer = client.get(f"/v1/{resource}/{ident}", headers=auth(firm))

    assert answer.status_code == 200
    assert answer.json()["id"] == ident
    assert_valid(answer.json(), component(schema))


def test_the_balance_matches_stripes_spec(client: Any, firm: DemoFirm) -> None:
    answer = client.get("/v1/balance", headers=auth(firm))

    assert answer.status_code == 200
    assert_valid(answer.json(), component("balance"))


def test_events_match_stripes_spec_and_fixture_envelope(
    client: Any, state: StripeState, firm: DemoFirm
) -> None:
    invoice = first_id(client, firm, "invoices", status="open")
    client.post(
        f"/v1/invoices/{invoice}/pay", headers=auth(firm), data={"paid_out_of_band": "true"}
    )

    answer = client.get("/v1/events", headers=auth(firm))

    [event] = answer.json()["data"]
    assert_valid(answer.json(), list_schema("/v1/events"))
    assert set(event) == set(fixtures()["event"]) | {"account"}
    assert event["account"] == account_id_for(business(firm))
    assert event["api_version"] == API_VERSION


@pytest.mark.parametrize(
    ("method", "path", "params", "status"),
    [
        ("GET", "/v1/invoices/in_NoSuchInvoice", {}, 404),
        ("GET", "/v1/customers", {"limit": 0}, 400),
        ("GET", "/v1/customers", {"nonsense": 1}, 400),
        ("GET", "/v1/unheard_of", {}, 404),
        ("POST", "/v1/invoices", {}, 404),
    ],
)
def test_errors_match_stripes_error_schema(
    client: Any, firm: DemoFirm, method: str, path: str, params: dict[str, Any], status: int
) -> None:
    if method == "GET":
        answer = client.get(path, headers=auth(firm), params=params)
    else:
        answer = client.post(path, headers=auth(firm), data=params)

    assert answer.status_code == status
    assert answer.json()["error"]["type"] == "invalid_request_error"
    assert answer.headers["request-id"].startswith("req_")
    assert_valid(answer.json(), component("error"))


def test_a_simulated_outage_answers_in_stripes_error_shape(
    state: StripeState, firm: DemoFirm
) -> None:
    plan = FaultPlan()
    plan.add(FaultKind.SERVER_ERROR, path="^/v1/customers$", status=500)

    with TestClient(create_app(state, plan)) as client:
        answer = client.get("/v1/customers", headers=auth(firm))

    assert answer.status_code == 500
    assert answer.json()["error"]["type"] == "api_error"
    assert_valid(answer.json(), component("error"))


# Invoices in the current shape ------------------------------------------------------------


def test_invoices_have_the_fields_of_stripes_current_invoice_fixture(
    client: Any, firm: DemoFirm
) -> None:
    answer = client.get("/v1/invoices", headers=auth(firm), params={"limit": 100})

    invoices = answer.json()["data"]
    assert {i["status"] for i in invoices} == {"open", "paid"}
    for invoice in invoices:
        assert_shaped_like(invoice, fixtures()["invoice"])
        assert "paid" not in invoice
        assert invoice["amount_paid"] + invoice["amount_remaining"] == invoice["amount_due"]
        assert invoice["currency"] == "usd"
        assert (invoice["status_transitions"]["paid_at"] is not None) == (
            invoice["status"] == "paid"
        )
    assert_valid(answer.json()["data"][0]["lines"], {"type": "object", "required": ["data"]})


def test_a_paid_invoice_keeps_the_fixture_shape(client: Any, firm: DemoFirm) -> None:
    invoice = first_id(client, firm, "invoices", status="open")

    answer = client.post(
        f"/v1/invoices/{invoice}/pay", headers=auth(firm), data={"paid_out_of_band": "true"}
    )

    assert answer.status_code == 200
    assert answer.json()["status"] == "paid"
    assert answer.json()["amount_remaining"] == 0
    assert answer.json()["status_transitions"]["paid_at"] == int(NOW.timestamp())
    assert_shaped_like(answer.json(), fixtures()["invoice"])


def test_paying_by_card_takes_a_charge_into_the_pending_balance(
    client: Any, state: StripeState, firm: DemoFirm
) -> None:
    invoice = first_id(client, firm, "invoices", status="open")
    due = client.get(f"/v1/invoices/{invoice}", headers=auth(firm)).json()["amount_remaining"]

    client.post(f"/v1/invoices/{invoice}/pay", headers=auth(firm))
    charge = client.get("/v1/charges", headers=auth(firm), params={"limit": 1}).json()["data"][0]
    balance = client.get("/v1/balance", headers=auth(firm)).json()
    txn = client.get(
        f"/v1/balance_transactions/{charge['balance_transaction']}", headers=auth(firm)
    )

    assert charge["amount"] == due
    assert charge["description"].startswith("Payment for Invoice")
    assert txn.json()["status"] == "pending"
    assert balance["pending"][0]["amount"] == txn.json()["net"] == due - txn.json()["fee"]
    assert balance["available"][0]["amount"] == 0


# Paging -----------------------------------------------------------------------------------


def test_lists_default_to_ten_newest_first(client: Any, firm: DemoFirm) -> None:
    answer = client.get("/v1/invoices", headers=auth(firm)).json()

    assert len(answer["data"]) == 10
    assert answer["has_more"] is True
    assert answer["url"] == "/v1/invoices"
    created = [i["created"] for i in answer["data"]]
    assert created == sorted(created, reverse=True)


def test_starting_after_walks_every_object_once_and_ending_before_walks_back(
    client: Any, state: StripeState, firm: DemoFirm
) -> None:
    seen: list[str] = []
    pages: list[list[str]] = []
    params: dict[str, Any] = {"limit": 7}
    while True:
        page = client.get("/v1/invoices", headers=auth(firm), params=params).json()
        pages.append([i["id"] for i in page["data"]])
        seen.extend(pages[-1])
        if not page["has_more"]:
            break
        params = {"limit": 7, "starting_after": pages[-1][-1]}
    back = client.get(
        "/v1/invoices", headers=auth(firm), params={"limit": 7, "ending_before": pages[1][0]}
    ).json()

    assert len(seen) == len(set(seen)) == len(state.account(business(firm)).objects["invoice"])
    assert [i["id"] for i in back["data"]] == pages[0]
    assert back["has_more"] is False


def test_filters_narrow_a_list(client: Any, firm: DemoFirm) -> None:
    customer = first_id(client, firm, "invoices")
    customer = client.get(f"/v1/invoices/{customer}", headers=auth(firm)).json()["customer"]

    mine = client.get(
        "/v1/invoices", headers=auth(firm), params={"customer": customer, "limit": 100}
    ).json()
    paid = client.get(
        "/v1/invoices", headers=auth(firm), params={"status": "paid", "limit": 100}
    ).json()
    recent = client.get(
        "/v1/invoices",
        headers=auth(firm),
        params={"created[gte]": int(NOW.timestamp()) - 7 * 86_400, "limit": 100},
    ).json()

    assert mine["data"] and {i["customer"] for i in mine["data"]} == {customer}
    assert paid["data"] and {i["status"] for i in paid["data"]} == {"paid"}
    assert all(i["created"] >= int(NOW.timestamp()) - 7 * 86_400 for i in recent["data"])


@pytest.mark.parametrize(
    ("params", "message", "param"),
    [
        ({"limit": 0}, "greater than or equal to 1", "limit"),
        ({"limit": 101}, "less than or equal to 100", "limit"),
        ({"limit": "ten"}, "Invalid integer", "limit"),
        ({"starting_after": "in_x", "ending_before": "in_y"}, "only specify one", None),
        ({"starting_after": "in_NoSuch"}, "No such invoice", "starting_after"),
        ({"colour": "blue"}, "unknown parameter: colour", "colour"),
        ({"payout": "po_x"}, "unknown parameter: payout", "payout"),
    ],
)
def test_bad_list_parameters_are_refused_as_stripe_refuses_them(
    client: Any, firm: DemoFirm, params: dict[str, Any], message: str, param: str | None
) -> None:
    answer = client.get("/v1/invoices", headers=auth(firm), params=params)

    assert answer.status_code == 400
    assert message in answer.json()["error"]["message"]
    assert answer.json()["error"].get("param") == param


# Auth -------------------------------------------------------------------------------------


def test_a_key_may_come_as_bearer_or_as_the_basic_auth_user(client: Any, firm: DemoFirm) -> None:
    key = api_key_for(business(firm))
    basic = base64.b64encode(f"{key}:".encode()).decode()

    bearer = client.get("/v1/customers", headers={"Authorization": f"Bearer {key}"})
    user = client.get("/v1/customers", headers={"Authorization": f"Basic {basic}"})

    assert bearer.status_code == user.status_code == 200
    assert bearer.json() == user.json()


@pytest.mark.parametrize(
    ("headers", "status", "message"),
    [
        ({}, 401, "You did not provide an API key"),
        ({"Authorization": "Bearer sk_test_not_a_real_key"}, 401, "Invalid API Key provided"),
        ({"Stripe-Account": "acct_SomebodyElse"}, 403, "does not have access"),
        ({"Stripe-Version": "yesterday"}, 400, "Invalid Stripe API version"),
    ],
)
def test_requests_stripe_would_refuse_are_refused(
    client: Any, firm: DemoFirm, headers: dict[str, str], status: int, message: str
) -> None:
    base = auth(firm) if "Authorization" not in headers and headers else {}
    answer = client.get("/v1/customers", headers=base | headers)

    assert answer.status_code == status
    assert message in answer.json()["error"]["message"]
    assert "sk_test_not_a_real_key" not in answer.text


def test_each_key_reaches_only_its_own_account(client: Any, firm: DemoFirm) -> None:
    mine = client.get("/v1/customers", headers=auth(firm, 0), params={"limit": 100}).json()
    theirs = client.get("/v1/customers", headers=auth(firm, 1), params={"limit": 100}).json()
    their_id = theirs["data"][0]["id"]

    assert not {c["id"] for c in mine["data"]} & {c["id"] for c in theirs["data"]}
    assert client.get(f"/v1/customers/{their_id}", headers=auth(firm, 0)).status_code == 404
    own = client.get(
        "/v1/customers", headers=auth(firm) | {"Stripe-Account": account_id_for(business(firm))}
    )
    assert own.status_code == 200


# Idempotency ------------------------------------------------------------------------------


def test_a_retried_post_is_replayed_not_repeated(
    client: Any, state: StripeState, firm: DemoFirm
) -> None:
    headers = auth(firm) | {"Idempotency-Key": "create-once"}

    first = client.post("/v1/customers", headers=headers, data={"name": "Harbor Events"})
    again = client.post("/v1/customers", headers=headers, data={"name": "Harbor Events"})

    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()
    assert "idempotent-replayed" not in first.headers
    assert again.headers["idempotent-replayed"] == "true"
    named = [
        c
        for c in state.account(business(firm)).objects["customer"].values()
        if c["name"] == "Harbor Events"
    ]
    assert len(named) == 1


def test_a_key_reused_with_other_parameters_is_an_idempotency_error(
    client: Any, firm: DemoFirm
) -> None:
    headers = auth(firm) | {"Idempotency-Key": "create-once"}
    client.post("/v1/customers", headers=headers, data={"name": "Harbor Events"})

    other = client.post("/v1/customers", headers=headers, data={"name": "Summit Events"})

    assert other.status_code == 400
    assert other.json()["error"]["type"] == "idempotency_error"
    assert_valid(other.json(), component("error"))


def test_a_request_refused_before_it_ran_leaves_its_key_free(client: Any, firm: DemoFirm) -> None:
    headers = auth(firm) | {"Idempotency-Key": "fix-and-retry"}

    refused = client.post("/v1/customers", headers=headers, data={"nickname": "x"})
    fixed = client.post("/v1/customers", headers=headers, data={"name": "Cedar Events"})

    assert refused.status_code == 400
    assert fixed.status_code == 200
    assert fixed.json()["name"] == "Cedar Events"


def test_an_answer_given_once_the_endpoint_ran_is_replayed_even_when_an_error(
    client: Any, firm: DemoFirm
) -> None:
    paid = first_id(client, firm, "invoices", status="paid")
    headers = auth(firm) | {"Idempotency-Key": "pay-the-paid"}

    first = client.post(
        f"/v1/invoices/{paid}/pay", headers=headers, data={"paid_out_of_band": "true"}
    )
    again = client.post(
        f"/v1/invoices/{paid}/pay", headers=headers, data={"paid_out_of_band": "true"}
    )

    assert first.status_code == again.status_code == 400
    assert again.headers["idempotent-replayed"] == "true"
    assert "already paid" in again.json()["error"]["message"]


def test_a_new_customer_is_listed_and_announced(
    client: Any, state: StripeState, firm: DemoFirm
) -> None:
    created = client.post(
        "/v1/customers",
        headers=auth(firm),
        data={"name": "Juniper Wholesale", "email": "ap@juniper.example", "metadata[crm]": "42"},
    ).json()

    listed = client.get("/v1/customers", headers=auth(firm), params={"limit": 1}).json()
    events = client.get("/v1/events", headers=auth(firm), params={"types[]": ["customer.created"]})

    assert listed["data"][0] == created
    assert created["metadata"] == {"crm": "42"}
    assert [e["data"]["object"]["id"] for e in events.json()["data"]] == [created["id"]]
    assert_valid(created, component("customer"))


# Seeding ----------------------------------------------------------------------------------


def test_seeding_is_deterministic(firm: DemoFirm) -> None:
    one = seed_from_demo(firm, now=lambda: NOW)
    two = seed_from_demo(firm, now=lambda: NOW)

    assert {a: acct.objects for a, acct in one.accounts.items()} == {
        a: acct.objects for a, acct in two.accounts.items()
    }


def test_each_business_gets_an_account_with_its_customers_invoices_and_payouts(
    state: StripeState, firm: DemoFirm
) -> None:
    for data in firm.records:
        account = state.account(data.business_id)
        deposits = [t for t in data.bank_transactions if t.category == "card_deposit"]
        assert account.api_key == f"sk_test_{data.business_id}"
        assert len(account.objects["customer"]) == len(data.customers)
        assert len(account.objects["invoice"]) == len(data.invoices)
        assert sorted(p["amount"] for p in account.objects["payout"].values()) == sorted(
            -t.amount.amount_minor for t in deposits
        )
        assert state.outbox == []


def test_every_payout_is_the_net_of_the_charges_it_settled(
    state: StripeState, firm: DemoFirm
) -> None:
    account = state.account(business(firm))
    txns = account.objects["balance_transaction"]

    for payout in account.objects["payout"].values():
        settled = [txns[t] for t in state.payout_transactions(account, payout["id"])]
        charges = [t for t in settled if t["type"] == "charge"]
        assert charges
        assert sum(t["net"] for t in charges) == payout["amount"]
        assert all(t["net"] == t["amount"] - t["fee"] for t in settled)
        assert txns[payout["balance_transaction"]]["net"] == -payout["amount"]
    assert state.balance(account)["available"][0]["amount"] == 0


def test_only_the_named_processors_deposits_become_payouts(firm: DemoFirm) -> None:
    everything = seed_from_demo(firm, now=lambda: NOW)
    stripe_only = seed_from_demo(firm, now=lambda: NOW, processors={"Stripe"})

    for data in firm.records:
        by_stripe = [
            t
            for t in data.bank_transactions
            if t.category == "card_deposit" and t.counterparty == "Stripe"
        ]
        assert len(stripe_only.account(data.business_id).objects["payout"]) == len(by_stripe)
        assert len(everything.account(data.business_id).objects["payout"]) >= len(by_stripe)


# Serving ----------------------------------------------------------------------------------


def test_the_simulator_answers_under_the_hub_prefix(state: StripeState, firm: DemoFirm) -> None:
    hub: Any = SimulatorHub({"stripe": create_app(state)}, FaultPlan())

    with TestClient(hub) as client:
        answer = client.get("/stripe/v1/customers", headers=auth(firm), params={"limit": 2})
        one = client.get(
            f"/stripe/v1/customers/{answer.json()['data'][0]['id']}", headers=auth(firm)
        )

    assert answer.status_code == 200
    assert answer.json()["url"] == "/v1/customers"
    assert one.status_code == 200


def test_requests_beyond_the_test_mode_rate_are_limited(state: StripeState, firm: DemoFirm) -> None:
    with TestClient(create_app(state, enforce_rate_limits=True, requests_per_second=3)) as client:
        statuses = [client.get("/v1/customers", headers=auth(firm)).status_code for _ in range(4)]
        limited = client.get("/v1/customers", headers=auth(firm))

    assert statuses[:3] == [200, 200, 200]
    assert limited.status_code == 429
    assert limited.json()["error"]["code"] == "rate_limit"


async def test_undelivered_events_stay_in_the_outbox(state: StripeState, firm: DemoFirm) -> None:
    state.void_invoice(business(firm), next(iter(state.account(business(firm)).objects["invoice"])))

    statuses = await deliver_webhooks(state, "http://127.0.0.1:9/webhooks", timeout_seconds=1)

    assert statuses == [0]
    assert [p.event["type"] for p in state.outbox] == ["invoice.voided"]
