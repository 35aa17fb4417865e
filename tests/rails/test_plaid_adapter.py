"""The Plaid adapter against the Plaid simulator: paging, cursors, retries, Item errors,
exact money, and webhook verification."""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given, settings
from hypothesis import strategies as st

from rowcol.adapters.clock import ManualClock
from rowcol.adapters.memory.credentials import MemoryCredentialStore
from rowcol.adapters.plaid import (
    PlaidBankVerifier,
    PlaidWebhookVerifier,
    mapping,
    plaid_caller,
    wire,
)
from rowcol.adapters.railkit.resilience import RailHealthMonitor, RateLimit
from rowcol.core.domain.ids import BusinessId, Rail
from rowcol.core.domain.money import Money
from rowcol.demodata.generator import DemoFirm, generate_firm
from rowcol.ports.errors import Rejected, Unavailable
from rowcol.ports.webhooks import WebhookRejected
from rowcol.simulators.faults import FaultKind, FaultPlan
from rowcol.simulators.plaid import (
    CLIENT_ID,
    SECRET,
    PlaidState,
    SimTransaction,
    access_token_for,
    create_app,
    deliver_webhooks,
    item_id_for,
    seed_from_demo,
)
from rowcol.simulators.server import BackgroundServer

TODAY = date(2026, 11, 2)
NOW = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def firm() -> DemoFirm:
    return generate_firm(clients=1, seed=5, today=TODAY, history_months=2)


@dataclass
class Sleeps:
    slept: list[float] = field(default_factory=list)

    async def __call__(self, seconds: float) -> None:
        self.slept.append(seconds)


class HangUps:
    """Answers the next `times` requests to `path` with headers only, then hangs up: a
    connection that drops after the request was sent (`processed`: after Plaid acted)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.path: str | None = None
        self.times = 0
        self.processed = True
        self.hits = 0

    def arm(self, path: str, *, times: int, processed: bool = True) -> None:
        self.path, self.times, self.processed = path, times, processed

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] != self.path or self.times <= 0:
            await self.app(scope, receive, send)
            return
        self.times -= 1
        self.hits += 1
        if self.processed:
            await self.app(scope, receive, _discard)
        start = {"type": "http.response.start", "status": 200}
        await send(start | {"headers": [(b"content-length", b"4096")]})
        raise ConnectionAbortedError("hung up before the answer")


async def _discard(message: Any) -> None:
    return None


class Switch:
    """One server for the module; each test plugs in its own simulator."""

    def __init__(self) -> None:
        self.app: Any = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        await self.app(scope, receive, send)


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[Switch, str]]:
    switch = Switch()
    with BackgroundServer(switch) as running:
        yield switch, running.url


@dataclass
class Sim:
    state: PlaidState
    plan: FaultPlan
    hang_ups: HangUps
    url: str
    clock: ManualClock
    business_id: BusinessId
    item_id: str
    credentials: MemoryCredentialStore
    sleeps: Sleeps

    def verifier(self, *, page_size: int = 500, secret: str = SECRET) -> PlaidBankVerifier:
        return PlaidBankVerifier(
            base_url=self.url,
            client_id=CLIENT_ID,
            secret=secret,
            credentials=self.credentials,
            clock=self.clock,
            caller=self.caller(),
            page_size=page_size,
            timeout_seconds=5.0,
        )

    def caller(self) -> Any:
        return plaid_caller(
            RailHealthMonitor(self.clock),
            rate_limit=RateLimit(10_000, 60),
            sleep=self.sleeps,
            rng=random.Random(3),
        )

    def webhooks(self) -> PlaidWebhookVerifier:
        return PlaidWebhookVerifier(
            base_url=self.url,
            client_id=CLIENT_ID,
            secret=SECRET,
            clock=self.clock,
            caller=self.caller(),
        )


@pytest.fixture
async def sim(firm: DemoFirm, server: tuple[Switch, str]) -> Sim:
    clock = ManualClock(NOW)
    state = seed_from_demo(firm, now=clock.now)
    plan = FaultPlan()
    business_id = firm.records[0].business_id
    credentials = MemoryCredentialStore()
    await credentials.save(
        business_id,
        Rail.PLAID,
        {"access_token": access_token_for(business_id), "item_id": item_id_for(business_id)},
    )
    switch, url = server
    hang_ups = HangUps(create_app(state, plan))
    switch.app = hang_ups
    return Sim(
        state,
        plan,
        hang_ups,
        url,
        clock,
        business_id,
        item_id_for(business_id),
        credentials,
        Sleeps(),
    )


def a_transaction(ident: str, account_id: str, amount: str = "19.99") -> SimTransaction:
    return SimTransaction(
        transaction_id=ident,
        account_id=account_id,
        amount=Decimal(amount),
        date=TODAY,
        name="CARD PURCHASE OFFICE DEPOT",
        merchant_name="Office Depot",
        category="supplies",
    )


def account_of(sim: Sim) -> str:
    return next(iter(sim.state.items[sim.item_id].accounts))


# Money and mapping ----------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=-(10**11), max_value=10**11))
def test_plaid_floats_become_exact_cents(cents: int) -> None:
    as_plaid_sends_it = float(Decimal(cents) / 100)
    txn = wire.Transaction(
        transaction_id="t1",
        account_id="a1",
        amount=as_plaid_sends_it,
        date=TODAY,
        iso_currency_code="USD",
    )

    mapped = mapping.to_bank_transaction(BusinessId("biz-1"), txn)

    assert mapped is not None
    assert mapped.amount == Money(cents, "USD")


def test_a_currency_rowcol_cannot_hold_is_left_out_rather_than_guessed() -> None:
    txn = wire.Transaction(
        transaction_id="t1",
        account_id="a1",
        amount=0.5,
        date=TODAY,
        iso_currency_code=None,
        unofficial_currency_code="DOGE",
    )
    balances = wire.AccountBalances(current=1.5, unofficial_currency_code="DOGE")
    account = wire.Account(account_id="a1", name="Crypto", balances=balances)

    assert mapping.to_bank_transaction(BusinessId("biz-1"), txn) is None
    assert mapping.to_balance(BusinessId("biz-1"), account, NOW) is None


def test_plaid_ids_become_rowcol_ids_with_a_plaid_reference() -> None:
    txn = wire.Transaction(
        transaction_id="lPNjeW1nR6CDn5okmGQ6hEpMo4lLNoSrzqDje",
        account_id="BxBXxLj1m4HMXBm9WZZmCWVbPjX16EHwv99vp",
        amount=-1250.0,
        date=TODAY,
        iso_currency_code="USD",
        name="ACH CREDIT",
    )

    mapped = mapping.to_bank_transaction(BusinessId("biz-1"), txn)

    assert mapped is not None
    assert mapped.transaction_id == "lPNjeW1nR6CDn5okmGQ6hEpMo4lLNoSrzqDje"
    assert mapped.account_id == "BxBXxLj1m4HMXBm9WZZmCWVbPjX16EHwv99vp"
    assert mapped.external_ref == "plaid:lPNjeW1nR6CDn5okmGQ6hEpMo4lLNoSrzqDje"
    assert not mapped.is_outflow


# Balances -------------------------------------------------------------------------------


async def test_a_null_current_balance_falls_back_to_available(sim: Sim) -> None:
    account_id = account_of(sim)
    sim.state.set_balance(sim.item_id, account_id, current=None, available=Decimal("812.40"))

    balances = await sim.verifier().get_balances(sim.business_id)

    (balance,) = [b for b in balances if b.account_id == account_id]
    assert balance.current == Money(81240, "USD")
    assert balance.available == Money(81240, "USD")
    assert balance.as_of == NOW


async def test_an_account_without_any_balance_is_skipped_without_a_crash(sim: Sim) -> None:
    account_id = account_of(sim)
    sim.state.set_balance(sim.item_id, account_id, current=None, available=None)

    balances = await sim.verifier().get_balances(sim.business_id)

    accounts = await sim.verifier().list_accounts(sim.business_id)
    assert account_id not in {b.account_id for b in balances}
    assert len(balances) == len(accounts) - 1


# Transactions ---------------------------------------------------------------------------


async def test_sync_asks_plaid_for_pages_of_the_configured_size(sim: Sim, firm: DemoFirm) -> None:
    verifier = sim.verifier(page_size=7)

    first = await verifier.sync_transactions(sim.business_id, None)
    second = await verifier.sync_transactions(sim.business_id, first.next_cursor)

    assert len(first.added) == 7 and first.has_more
    assert len(second.added) == 7
    assert not {t.transaction_id for t in first.added} & {t.transaction_id for t in second.added}


async def test_a_saved_cursor_keeps_its_meaning_as_more_changes_arrive(sim: Sim) -> None:
    verifier = sim.verifier()
    _, _, _, cursor = await verifier.sync_all(sim.business_id, None)
    account_id = account_of(sim)
    sim.state.add_transaction(sim.item_id, a_transaction("t-new-1", account_id))
    sim.state.add_transaction(sim.item_id, a_transaction("t-new-2", account_id))

    once = await verifier.sync_all(sim.business_id, cursor)
    again = await verifier.sync_all(sim.business_id, cursor)

    assert [t.transaction_id for t in once[0]] == ["t-new-1", "t-new-2"]
    assert once == again


async def test_modified_and_removed_transactions_are_reported(sim: Sim, firm: DemoFirm) -> None:
    verifier = sim.verifier()
    _, _, _, cursor = await verifier.sync_all(sim.business_id, None)
    first, second = firm.records[0].bank_transactions[:2]
    sim.state.modify_transaction(sim.item_id, first.transaction_id, name="CORRECTED MEMO")
    sim.state.remove_transaction(sim.item_id, second.transaction_id)

    page = await verifier.sync_transactions(sim.business_id, cursor)

    assert page.added == []
    assert [(t.transaction_id, t.description) for t in page.modified] == [
        (first.transaction_id, "CORRECTED MEMO")
    ]
    assert page.removed == [second.transaction_id]


async def test_sync_all_restarts_from_its_first_cursor_when_plaid_data_changes_mid_run(
    sim: Sim, firm: DemoFirm
) -> None:
    account_id = account_of(sim)
    pages: list[str] = []

    def change_once(item_id: str) -> None:
        pages.append(item_id)
        if len(pages) == 1:
            sim.state.add_transaction(item_id, a_transaction("t-mid-run", account_id))

    sim.state.after_page_hooks.append(change_once)
    verifier = sim.verifier(page_size=20)

    added, modified, removed, cursor = await verifier.sync_all(sim.business_id, None)

    expected = len(firm.records[0].bank_transactions) + 1
    assert len(added) == expected == len({t.transaction_id for t in added})
    assert "t-mid-run" in {t.transaction_id for t in added}
    assert (modified, removed) == ([], [])
    assert len(pages) == 1 + -(-expected // 20)
    assert (await verifier.sync_transactions(sim.business_id, cursor)).added == []


async def test_sync_all_gives_up_when_the_data_never_settles(sim: Sim) -> None:
    account_id = account_of(sim)
    counter = iter(range(1000))

    def always_change(item_id: str) -> None:
        sim.state.add_transaction(item_id, a_transaction(f"t-churn-{next(counter)}", account_id))

    sim.state.after_page_hooks.append(always_change)

    with pytest.raises(Unavailable, match="kept changing"):
        await sim.verifier(page_size=20).sync_all(sim.business_id, None)


# Failures -------------------------------------------------------------------------------


async def test_a_rate_limited_call_waits_for_plaids_retry_after_then_succeeds(sim: Sim) -> None:
    fault = sim.plan.add(FaultKind.RATE_LIMIT, path="^/accounts/get$", times=2, retry_after=7)

    accounts = await sim.verifier().list_accounts(sim.business_id)

    assert accounts
    assert fault.hits == 2
    assert len(sim.sleeps.slept) == 2 and min(sim.sleeps.slept) >= 7


async def test_a_server_error_is_retried(sim: Sim) -> None:
    fault = sim.plan.add(FaultKind.SERVER_ERROR, path="^/transactions/sync$", status=500, times=2)

    page = await sim.verifier().sync_transactions(sim.business_id, None)

    assert page.added
    assert fault.hits == 2


async def test_a_lasting_outage_is_unavailable(sim: Sim) -> None:
    sim.plan.add(FaultKind.SERVER_ERROR, path="^/accounts/balance/get$", status=503, times=50)

    with pytest.raises(Unavailable, match="503"):
        await sim.verifier().get_balances(sim.business_id)


@pytest.mark.parametrize("processed", [True, False])
async def test_a_dropped_connection_on_a_read_is_retried_because_reads_are_idempotent(
    sim: Sim, processed: bool
) -> None:
    sim.hang_ups.arm("/accounts/get", times=1, processed=processed)

    accounts = await sim.verifier().list_accounts(sim.business_id)

    assert accounts
    assert sim.hang_ups.hits == 1
    assert len(sim.sleeps.slept) == 1


async def test_a_read_that_never_gets_an_answer_is_unavailable_not_outcome_unknown(
    sim: Sim,
) -> None:
    sim.hang_ups.arm("/accounts/get", times=50)

    with pytest.raises(Unavailable, match="no answer"):
        await sim.verifier().list_accounts(sim.business_id)
    assert sim.hang_ups.hits == 4


async def test_a_read_timeout_is_retried(sim: Sim) -> None:
    fault = sim.plan.add(FaultKind.LATENCY, path="^/item/get$", latency_ms=600, times=1)
    verifier = PlaidBankVerifier(
        base_url=sim.url,
        client_id=CLIENT_ID,
        secret=SECRET,
        credentials=sim.credentials,
        clock=sim.clock,
        caller=sim.caller(),
        timeout_seconds=0.2,
    )

    health = await verifier.item_health(sim.business_id)

    assert health["status"] == "ok"
    assert fault.hits == 1
    assert len(sim.sleeps.slept) == 1


async def test_an_unreachable_plaid_is_unavailable(sim: Sim) -> None:
    verifier = PlaidBankVerifier(
        base_url="http://127.0.0.1:9",
        client_id=CLIENT_ID,
        secret=SECRET,
        credentials=sim.credentials,
        clock=sim.clock,
        caller=sim.caller(),
    )

    with pytest.raises(Unavailable, match="could not connect"):
        await verifier.list_accounts(sim.business_id)
    assert len(sim.sleeps.slept) == 3


async def test_an_expired_credential_is_rejected_at_once_since_plaid_has_no_refresh(
    sim: Sim,
) -> None:
    # Plaid access tokens do not expire and have no refresh grant: a 401 is final.
    fault = sim.plan.add(FaultKind.EXPIRED_TOKEN, path="^/accounts/get$", times=5)

    with pytest.raises(Rejected):
        await sim.verifier().list_accounts(sim.business_id)
    assert fault.hits == 1
    assert await sim.credentials.load(sim.business_id, Rail.PLAID) == {
        "access_token": access_token_for(sim.business_id),
        "item_id": sim.item_id,
    }


async def test_wrong_firm_keys_are_rejected_with_plaids_message(sim: Sim) -> None:
    with pytest.raises(Rejected, match="INVALID_API_KEYS"):
        await sim.verifier(secret="not-the-secret").list_accounts(sim.business_id)


async def test_an_unknown_access_token_is_rejected(sim: Sim) -> None:
    await sim.credentials.save(
        sim.business_id, Rail.PLAID, {"access_token": "access-sandbox-gone", "item_id": "x"}
    )

    with pytest.raises(Rejected, match="INVALID_ACCESS_TOKEN"):
        await sim.verifier().list_accounts(sim.business_id)


async def test_item_login_required_surfaces_as_connection_health(sim: Sim) -> None:
    verifier = sim.verifier()
    assert (await verifier.item_health(sim.business_id))["status"] == "ok"
    sim.state.require_login(sim.item_id)

    with pytest.raises(Unavailable, match="ITEM_LOGIN_REQUIRED"):
        await verifier.sync_transactions(sim.business_id, None)
    health = await verifier.item_health(sim.business_id)
    sim.state.repair_login(sim.item_id)

    assert health["status"] == "ITEM_LOGIN_REQUIRED"
    assert health["item_id"] == sim.item_id
    assert (await verifier.item_health(sim.business_id))["status"] == "ok"
    assert sim.sleeps.slept == []


# Webhooks -------------------------------------------------------------------------------


def pending_body(sim: Sim) -> bytes:
    sim.state.fire_webhook(sim.item_id, "TRANSACTIONS", "SYNC_UPDATES_AVAILABLE")
    (pending,) = sim.state.take_webhooks()
    return pending.body


async def test_a_genuine_webhook_is_accepted_and_a_redelivery_keeps_its_event_id(
    sim: Sim,
) -> None:
    body = pending_body(sim)
    verifier = sim.webhooks()
    signature = sim.state.sign(body)

    (event,) = await verifier.verify({"Plaid-Verification": signature}, body)
    (redelivered,) = await verifier.verify({"plaid-verification": signature}, body)
    sim.clock.advance(timedelta(minutes=2))
    (later,) = await verifier.verify(
        {"plaid-verification": sim.state.sign(body, at=NOW + timedelta(minutes=2))}, body
    )

    assert event.rail is Rail.PLAID
    assert event.event_type == "TRANSACTIONS.SYNC_UPDATES_AVAILABLE"
    assert event.account == sim.item_id
    assert event.event_id == redelivered.event_id
    assert event.event_id.startswith(hashlib.sha256(body).hexdigest())
    # The same notification signed again later is a new notification, not a duplicate.
    assert later.event_id != event.event_id
    assert event.occurred_at == NOW
    assert event.payload["item_id"] == sim.item_id


async def test_the_signing_key_is_fetched_once_and_cached_by_kid(sim: Sim) -> None:
    verifier = sim.webhooks()
    for _ in range(3):
        body = pending_body(sim)
        await verifier.verify({"Plaid-Verification": sim.state.sign(body)}, body)

    assert sim.state.key_requests == 1


async def test_a_forged_signature_is_rejected(sim: Sim) -> None:
    body = pending_body(sim)
    kid = jwt.get_unverified_header(sim.state.sign(body))["kid"]
    forger = ec.generate_private_key(ec.SECP256R1())
    claims = {"iat": int(NOW.timestamp()), "request_body_sha256": hashlib.sha256(body).hexdigest()}
    forged = jwt.encode(claims, forger, algorithm="ES256", headers={"kid": kid})

    with pytest.raises(WebhookRejected, match="signature is not valid"):
        await sim.webhooks().verify({"Plaid-Verification": forged}, body)


async def test_a_key_plaid_does_not_know_is_rejected(sim: Sim) -> None:
    body = pending_body(sim)
    other = PlaidState(now=sim.clock.now, key_seed="someone-else")

    with pytest.raises(WebhookRejected, match="knows no signing key"):
        await sim.webhooks().verify({"Plaid-Verification": other.sign(body)}, body)


async def test_a_tampered_body_is_rejected(sim: Sim) -> None:
    body = pending_body(sim)
    header = {"Plaid-Verification": sim.state.sign(body)}
    tampered = body.replace(sim.item_id.encode(), b"item-someone-else")

    with pytest.raises(WebhookRejected, match="does not match"):
        await sim.webhooks().verify(header, tampered)


async def test_a_reserialized_body_is_rejected_because_the_hash_covers_whitespace(
    sim: Sim,
) -> None:
    body = pending_body(sim)
    header = {"Plaid-Verification": sim.state.sign(body)}
    compact = json.dumps(json.loads(body), separators=(",", ":")).encode()

    with pytest.raises(WebhookRejected, match="does not match"):
        await sim.webhooks().verify(header, compact)


async def test_a_signature_older_than_five_minutes_is_rejected(sim: Sim) -> None:
    body = pending_body(sim)
    stale = sim.state.sign(body, at=NOW - timedelta(minutes=5, seconds=1))

    with pytest.raises(WebhookRejected, match="too old"):
        await sim.webhooks().verify({"Plaid-Verification": stale}, body)


async def test_a_token_not_signed_with_es256_is_rejected(sim: Sim) -> None:
    body = pending_body(sim)
    kid = jwt.get_unverified_header(sim.state.sign(body))["kid"]
    claims = {"iat": int(NOW.timestamp()), "request_body_sha256": hashlib.sha256(body).hexdigest()}
    hs256 = jwt.encode(claims, "x" * 32, algorithm="HS256", headers={"kid": kid})

    with pytest.raises(WebhookRejected, match="ES256"):
        await sim.webhooks().verify({"Plaid-Verification": hs256}, body)
    assert sim.state.key_requests == 0


async def test_a_webhook_without_the_verification_header_is_rejected(sim: Sim) -> None:
    body = pending_body(sim)

    with pytest.raises(WebhookRejected, match="missing"):
        await sim.webhooks().verify({"Content-Type": "application/json"}, body)


async def test_a_rotated_out_signing_key_is_refused(sim: Sim) -> None:
    verifier = sim.webhooks()
    old_body = pending_body(sim)
    signed_by_old_key = sim.state.sign(old_body)
    await verifier.verify({"Plaid-Verification": signed_by_old_key}, old_body)
    sim.state.rotate_webhook_key()
    new_body = pending_body(sim)

    await verifier.verify({"Plaid-Verification": sim.state.sign(new_body)}, new_body)

    with pytest.raises(WebhookRejected, match="expired"):
        await verifier.verify({"Plaid-Verification": signed_by_old_key}, old_body)


class Receiver:
    """A webhook endpoint that records what it was sent."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        self.received.append((headers, body))
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})


@pytest.fixture
def receiver(sim: Sim, server: tuple[Switch, str]) -> tuple[Receiver, str]:
    # The simulator and the receiving endpoint share the module's server, by path.
    switch, url = server
    app, simulator = Receiver(), switch.app

    async def route(scope: dict[str, Any], receive: Any, send: Any) -> None:
        target = app if scope["path"].startswith("/webhooks/") else simulator
        await target(scope, receive, send)

    switch.app = route
    return app, url + "/webhooks/plaid"


async def test_delivered_webhooks_verify_even_when_duplicated_reordered_and_late(
    sim: Sim, receiver: tuple[Receiver, str]
) -> None:
    app, url = receiver
    sim.state.require_login(sim.item_id)
    sim.state.repair_login(sim.item_id)

    statuses = await deliver_webhooks(sim.state, url, duplicate=True, reverse=True, delay=0.01)

    verifier = sim.webhooks()
    events = [(await verifier.verify(h, b))[0] for h, b in app.received]
    assert statuses == [200] * 4
    assert [e.event_type for e in events] == [
        "ITEM.LOGIN_REPAIRED",
        "ITEM.LOGIN_REPAIRED",
        "ITEM.ERROR",
        "ITEM.ERROR",
    ]
    assert len({e.event_id for e in events}) == 2
    assert events[2].payload["error"]["error_code"] == "ITEM_LOGIN_REQUIRED"


async def test_a_webhook_delivered_too_late_is_rejected(
    sim: Sim, receiver: tuple[Receiver, str]
) -> None:
    app, url = receiver
    sim.state.fire_webhook(sim.item_id, "TRANSACTIONS", "SYNC_UPDATES_AVAILABLE")

    await deliver_webhooks(sim.state, url, signed_at=NOW - timedelta(minutes=30))

    ((headers, body),) = app.received
    with pytest.raises(WebhookRejected, match="too old"):
        await sim.webhooks().verify(headers, body)
