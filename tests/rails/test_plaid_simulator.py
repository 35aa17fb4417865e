"""The Plaid simulator speaks Plaid: responses valid against Plaid's OpenAPI spec and
readable by Plaid's own SDK models, Plaid's auth and errors, stable cursors, seeding."""

from __future__ import annotations

import functools
import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import jwt
import plaid
import pytest
import yaml
from litestar.testing import TestClient
from openapi_schema_validator import OAS30Validator
from plaid.api import plaid_api
from plaid.model.accounts_get_request import AccountsGetRequest
from plaid.model.item_get_request import ItemGetRequest
from plaid.model.transactions_sync_request import TransactionsSyncRequest

from rowcol.demodata.generator import DemoFirm, generate_firm
from rowcol.simulators.faults import FaultKind, FaultPlan
from rowcol.simulators.plaid import (
    CLIENT_ID,
    SECRET,
    PlaidState,
    SimTransaction,
    access_token_for,
    create_app,
    item_id_for,
    seed_from_demo,
)
from rowcol.simulators.server import BackgroundServer

TODAY = date(2026, 11, 2)
NOW = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)
AUTH = {"PLAID-CLIENT-ID": CLIENT_ID, "PLAID-SECRET": SECRET, "Plaid-Version": "2020-09-14"}


def repo_root() -> Path:
    here = Path(__file__).resolve()
    return next(p for p in here.parents if (p / "pyproject.toml").exists())


@functools.cache
def spec() -> dict[str, Any]:
    path = repo_root() / ".." / "shared" / "rails" / "plaid" / "plaid-2020-09-14.yml"
    with path.open("rb") as handle:
        loaded: dict[str, Any] = yaml.load(
            handle, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        )
    return loaded


def assert_valid(instance: Any, schema_name: str) -> None:
    schema = {"$ref": f"#/components/schemas/{schema_name}", "components": spec()["components"]}
    OAS30Validator(schema, format_checker=OAS30Validator.FORMAT_CHECKER).validate(instance)


@pytest.fixture(scope="module")
def firm() -> DemoFirm:
    return generate_firm(clients=2, seed=3, today=TODAY, history_months=2)


@pytest.fixture
def state(firm: DemoFirm) -> PlaidState:
    return seed_from_demo(firm, now=lambda: NOW)


@pytest.fixture
def client(state: PlaidState) -> Any:
    with TestClient(create_app(state)) as test_client:
        yield test_client


def business(firm: DemoFirm) -> str:
    return firm.records[0].business_id


def call(
    client: Any, path: str, body: dict[str, Any], headers: dict[str, str] | None = None
) -> Any:
    return client.post(path, json=body, headers=AUTH if headers is None else headers)


def token(firm: DemoFirm) -> str:
    return access_token_for(business(firm))


# Spec validation ------------------------------------------------------------------------


def test_accounts_get_matches_plaids_spec(client: Any, firm: DemoFirm) -> None:
    response = call(client, "/accounts/get", {"access_token": token(firm)})

    assert response.status_code == 200
    assert_valid(response.json(), "AccountsGetResponse")


def test_accounts_balance_get_matches_plaids_spec_and_reads_in_real_time(
    client: Any, firm: DemoFirm
) -> None:
    response = call(client, "/accounts/balance/get", {"access_token": token(firm)})

    assert response.status_code == 200
    assert_valid(response.json(), "AccountsGetResponse")
    balances = [a["balances"] for a in response.json()["accounts"]]
    assert {b["last_updated_datetime"] for b in balances} == {"2026-11-02T15:00:00Z"}


def test_transactions_sync_matches_plaids_spec(
    client: Any, state: PlaidState, firm: DemoFirm
) -> None:
    def sync(cursor: str | None) -> dict[str, Any]:
        body = {"access_token": token(firm), "count": 40} | ({"cursor": cursor} if cursor else {})
        answer: dict[str, Any] = call(client, "/transactions/sync", body).json()
        return answer

    first = sync(None)
    page = first
    while page["has_more"]:
        page = sync(page["next_cursor"])
    item_id = item_id_for(business(firm))
    state.modify_transaction(item_id, first["added"][0]["transaction_id"], name="RENAMED")
    state.remove_transaction(item_id, first["added"][1]["transaction_id"])
    changes = sync(page["next_cursor"])

    assert_valid(first, "TransactionsSyncResponse")
    assert_valid(changes, "TransactionsSyncResponse")
    assert first["added"] and changes["modified"] and changes["removed"]


@pytest.mark.parametrize(
    ("path", "schema"),
    [
        ("/item/get", "ItemGetResponse"),
        ("/accounts/get", "PlaidError"),
        ("/transactions/sync", "PlaidError"),
    ],
)
def test_an_item_needing_login_answers_in_plaids_shapes(
    client: Any, state: PlaidState, firm: DemoFirm, path: str, schema: str
) -> None:
    state.require_login(item_id_for(business(firm)))

    response = call(client, path, {"access_token": token(firm)})

    assert_valid(response.json(), schema)
    if schema == "PlaidError":
        assert response.status_code == 400
        assert response.json()["error_type"] == "ITEM_ERROR"
        assert response.json()["error_code"] == "ITEM_LOGIN_REQUIRED"
    else:
        assert response.json()["item"]["error"]["error_code"] == "ITEM_LOGIN_REQUIRED"


def test_webhook_key_and_link_sandbox_answers_match_plaids_spec(
    client: Any, state: PlaidState
) -> None:
    created = call(
        client,
        "/sandbox/public_token/create",
        {
            "institution_id": "ins_109508",
            "initial_products": ["transactions"],
            "options": {"webhook": "http://127.0.0.1:1/hook"},
        },
    ).json()
    exchanged = call(
        client, "/item/public_token/exchange", {"public_token": created["public_token"]}
    ).json()
    fired = call(
        client,
        "/sandbox/item/fire_webhook",
        {"access_token": exchanged["access_token"], "webhook_code": "SYNC_UPDATES_AVAILABLE"},
    ).json()
    kid = state.rotate_webhook_key().kid
    key = call(client, "/webhook_verification_key/get", {"key_id": kid}).json()

    assert_valid(created, "SandboxPublicTokenCreateResponse")
    assert_valid(exchanged, "ItemPublicTokenExchangeResponse")
    assert_valid(fired, "SandboxItemFireWebhookResponse")
    assert_valid(key, "WebhookVerificationKeyGetResponse")
    assert key["key"]["kid"] == kid and key["key"]["expired_at"] is None


def test_webhook_bodies_match_plaids_spec(state: PlaidState, firm: DemoFirm) -> None:
    item_id = item_id_for(business(firm))
    state.fire_webhook(item_id, "TRANSACTIONS", "SYNC_UPDATES_AVAILABLE")
    state.require_login(item_id)

    sync, error = (json.loads(w.body) for w in state.take_webhooks())

    assert_valid(sync, "SyncUpdatesAvailableWebhook")
    assert_valid(error, "ItemErrorWebhook")


def test_injected_faults_answer_in_plaids_error_shape(state: PlaidState, firm: DemoFirm) -> None:
    plan = FaultPlan()
    plan.add(FaultKind.RATE_LIMIT, path="/accounts/get", retry_after=3)
    with TestClient(create_app(state, plan)) as test_client:
        response = call(test_client, "/accounts/get", {"access_token": token(firm)})

    assert response.status_code == 429
    assert response.headers["retry-after"] == "3"
    assert_valid(response.json(), "PlaidError")


def test_plaids_own_sdk_models_read_the_simulators_answers(
    state: PlaidState, firm: DemoFirm
) -> None:
    with BackgroundServer(create_app(state)) as server:
        configuration = plaid.Configuration(
            host=server.url,
            api_key={"clientId": CLIENT_ID, "secret": SECRET, "plaidVersion": "2020-09-14"},
        )
        with plaid.ApiClient(configuration) as api_client:
            api = plaid_api.PlaidApi(api_client)
            accounts = api.accounts_get(AccountsGetRequest(access_token=token(firm)))
            page = api.transactions_sync(
                TransactionsSyncRequest(access_token=token(firm), count=500)
            )
            item = api.item_get(ItemGetRequest(access_token=token(firm)))

    assert [a.account_id for a in accounts.accounts] == [
        a.account_id for a in firm.records[0].bank_accounts
    ]
    assert len(page.added) == len(firm.records[0].bank_transactions)
    assert item.item.item_id == item_id_for(business(firm))


# Auth and errors ------------------------------------------------------------------------


def test_keys_may_come_in_the_body_instead_of_headers(client: Any, firm: DemoFirm) -> None:
    body = {"client_id": CLIENT_ID, "secret": SECRET, "access_token": token(firm)}

    assert call(client, "/accounts/get", body, headers={}).status_code == 200


def test_missing_keys_are_an_invalid_request(client: Any, firm: DemoFirm) -> None:
    response = call(client, "/accounts/get", {"access_token": token(firm)}, headers={})

    assert response.status_code == 400
    assert response.json()["error_type"] == "INVALID_REQUEST"
    assert response.json()["error_code"] == "MISSING_FIELDS"


def test_wrong_keys_are_invalid_input(client: Any, firm: DemoFirm) -> None:
    headers = AUTH | {"PLAID-SECRET": "wrong"}

    response = call(client, "/accounts/get", {"access_token": token(firm)}, headers=headers)

    assert response.status_code == 400
    assert (response.json()["error_type"], response.json()["error_code"]) == (
        "INVALID_INPUT",
        "INVALID_API_KEYS",
    )


def test_an_unknown_access_token_is_invalid_input(client: Any) -> None:
    response = call(client, "/accounts/get", {"access_token": "access-sandbox-nobody"})

    assert response.status_code == 400
    assert response.json()["error_code"] == "INVALID_ACCESS_TOKEN"
    assert_valid(response.json(), "PlaidError")


@pytest.mark.parametrize("count", [0, 501, "ten"])
def test_a_sync_count_outside_1_to_500_is_refused(client: Any, firm: DemoFirm, count: Any) -> None:
    response = call(client, "/transactions/sync", {"access_token": token(firm), "count": count})

    assert response.status_code == 400
    assert response.json()["error_code"] == "INVALID_FIELD"


def test_an_unknown_endpoint_answers_in_plaids_error_shape(client: Any) -> None:
    response = call(client, "/nowhere/get", {})

    assert response.status_code == 404
    assert_valid(response.json(), "PlaidError")


def test_rate_limits_are_enforced_per_item_when_asked(state: PlaidState, firm: DemoFirm) -> None:
    with TestClient(create_app(state, enforce_rate_limits=True)) as test_client:
        answers = [
            call(test_client, "/accounts/balance/get", {"access_token": token(firm)})
            for _ in range(6)
        ]
        other = call(
            test_client,
            "/accounts/balance/get",
            {"access_token": access_token_for(firm.records[1].business_id)},
        )

    assert [a.status_code for a in answers] == [200] * 5 + [429]
    assert answers[-1].json()["error_type"] == "RATE_LIMIT_EXCEEDED"
    assert answers[-1].json()["error_code"] == "ACCOUNTS_BALANCE_GET_LIMIT"
    assert other.status_code == 200


def test_firing_a_webhook_needs_a_webhook_url_on_the_item(client: Any, firm: DemoFirm) -> None:
    response = call(
        client,
        "/sandbox/item/fire_webhook",
        {"access_token": token(firm), "webhook_code": "SYNC_UPDATES_AVAILABLE"},
    )

    assert response.status_code == 400
    assert response.json()["error_code"] == "SANDBOX_WEBHOOK_INVALID"


# State ----------------------------------------------------------------------------------


def test_seeding_gives_one_item_per_business_with_its_books(
    state: PlaidState, firm: DemoFirm
) -> None:
    for data in firm.records:
        item = state.items[item_id_for(data.business_id)]
        assert item.access_token == access_token_for(data.business_id)
        assert set(item.accounts) == {a.account_id for a in data.bank_accounts}
        assert set(item.transactions) == {t.transaction_id for t in data.bank_transactions}
        for account in data.bank_accounts:
            latest = max(
                (b for b in data.balances if b.account_id == account.account_id),
                key=lambda b: b.as_of,
            )
            assert item.accounts[account.account_id].current == latest.current.to_decimal()


def test_seeding_is_deterministic(firm: DemoFirm) -> None:
    def snapshot(state: PlaidState) -> Any:
        return [
            (
                item.item_id,
                item.access_token,
                [a.to_json() for a in item.accounts.values()],
                [c.transaction.to_json() for c in item.log],
            )
            for item in state.items.values()
        ]

    one, two = seed_from_demo(firm, now=lambda: NOW), seed_from_demo(firm, now=lambda: NOW)

    kid = jwt.get_unverified_header(one.sign(b"{}"))["kid"]
    assert snapshot(one) == snapshot(two)
    assert one.verification_key(kid) == two.verification_key(kid)


def test_a_relinked_business_gets_its_own_item_back(client: Any, firm: DemoFirm) -> None:
    created = call(
        client,
        "/sandbox/public_token/create",
        {
            "institution_id": "ins_109508",
            "initial_products": ["transactions"],
            "options": {"override_username": business(firm)},
        },
    ).json()
    exchanged = call(
        client, "/item/public_token/exchange", {"public_token": created["public_token"]}
    ).json()
    again = call(client, "/item/public_token/exchange", {"public_token": created["public_token"]})

    assert exchanged["item_id"] == item_id_for(business(firm))
    assert exchanged["access_token"] == token(firm)
    assert again.status_code == 400
    assert again.json()["error_code"] == "INVALID_PUBLIC_TOKEN"


def test_a_change_between_pages_of_a_run_is_a_mutation_during_pagination(
    client: Any, state: PlaidState, firm: DemoFirm
) -> None:
    first = call(client, "/transactions/sync", {"access_token": token(firm), "count": 3}).json()
    account_id = firm.records[0].bank_accounts[0].account_id
    state.add_transaction(
        item_id_for(business(firm)),
        SimTransaction("t-extra", account_id, Decimal("5.00"), TODAY, "COFFEE"),
    )

    response = call(
        client,
        "/transactions/sync",
        {"access_token": token(firm), "cursor": first["next_cursor"], "count": 3},
    )
    restarted = call(client, "/transactions/sync", {"access_token": token(firm), "count": 500})

    assert first["has_more"]
    assert response.status_code == 400
    assert response.json()["error_code"] == "TRANSACTIONS_SYNC_MUTATION_DURING_PAGINATION"
    assert "t-extra" in {t["transaction_id"] for t in restarted.json()["added"]}


def test_changes_after_a_finished_sync_are_queued_as_sync_updates_available(
    client: Any, state: PlaidState, firm: DemoFirm
) -> None:
    item_id = item_id_for(business(firm))
    account_id = firm.records[0].bank_accounts[0].account_id
    state.add_transaction(item_id, SimTransaction("t-a", account_id, Decimal(1), TODAY, "A"))
    assert state.take_webhooks() == []
    call(client, "/transactions/sync", {"access_token": token(firm), "count": 500})

    state.add_transaction(item_id, SimTransaction("t-b", account_id, Decimal(2), TODAY, "B"))
    state.add_transaction(item_id, SimTransaction("t-c", account_id, Decimal(3), TODAY, "C"))

    (webhook,) = state.take_webhooks()
    assert b'"SYNC_UPDATES_AVAILABLE"' in webhook.body
