"""The QBO adapter's own behaviour: paging, retries, tokens, faults, CDC, webhooks, and
that it cannot write."""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import hmac
import inspect
import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from litestar import Litestar, Request, Response, post

from rowcol.adapters.clock import ManualClock
from rowcol.adapters.memory.credentials import MemoryCredentialStore
from rowcol.adapters.qbo import (
    QBO_RATE_LIMIT,
    QboLedger,
    QboOAuthConfig,
    QboTokens,
    QboWebhookVerifier,
    mapping,
)
from rowcol.adapters.qbo.oauth import REAUTHORISE
from rowcol.adapters.qbo.webhooks import sign
from rowcol.adapters.qbo.wire import QboBill, QboDeposit, QboInvoice, QboVendor, Ref
from rowcol.adapters.railkit.resilience import RailCaller, RailHealthMonitor, RetryPolicy
from rowcol.core.domain.ids import BillId, BusinessId, Rail
from rowcol.core.domain.money import Money
from rowcol.core.domain.records import BillStatus, InvoiceStatus
from rowcol.demodata.generator import DemoFirm, generate_firm
from rowcol.ports.credentials import CredentialStore
from rowcol.ports.errors import Rejected, Unavailable
from rowcol.ports.webhooks import WebhookRejected
from rowcol.simulators.faults import FaultKind, FaultPlan
from rowcol.simulators.qbo import State, create_app, deliver_webhooks, seed_from_demo
from rowcol.simulators.qbo.state import OAuthError
from rowcol.simulators.server import BackgroundServer

NOW = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)
BIZ = BusinessId("biz-0001")
REDIRECT = "http://127.0.0.1/qbo/callback"


@functools.cache
def firm() -> DemoFirm:
    return generate_firm(clients=1, seed=7, today=NOW.date())


class Swappable:
    """One loopback server for the module; each test mounts its own simulator on it."""

    def __init__(self) -> None:
        self.app: Any = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        await self.app(scope, receive, send)


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[Swappable, str]]:
    swappable = Swappable()
    with BackgroundServer(swappable) as background:
        yield swappable, background.url


class RecordingStore(MemoryCredentialStore):
    """Writes what it saves into a shared timeline, next to the requests sent."""

    def __init__(self, timeline: list[tuple[str, str]]) -> None:
        super().__init__()
        self.timeline = timeline

    async def save(self, business_id: BusinessId, rail: Rail, secrets: Any) -> None:
        self.timeline.append(("save", secrets.get("access_token", "")))
        await super().save(business_id, rail, secrets)


@dataclass
class Rig:
    clock: ManualClock
    state: State
    plan: FaultPlan
    url: str
    store: RecordingStore
    timeline: list[tuple[str, str]]
    sent: list[httpx.Request]
    slept: list[float] = field(default_factory=list)
    clients: list[httpx.AsyncClient] = field(default_factory=list)
    advance_on_sleep: bool = False

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        if self.advance_on_sleep:
            self.clock.advance(timedelta(seconds=max(seconds, 60)))

    def ledger(
        self,
        *,
        page_size: int = 1000,
        attempts: int = 4,
        transport: httpx.AsyncBaseTransport | None = None,
        client_secret: str | None = None,
        store: CredentialStore | None = None,
    ) -> QboLedger:
        async def record(request: httpx.Request) -> None:
            self.sent.append(request)
            self.timeline.append(("request", request.headers.get("authorization", "")))

        http = httpx.AsyncClient(transport=transport, event_hooks={"request": [record]})
        caller = RailCaller(
            "qbo",
            monitor=RailHealthMonitor(self.clock),
            rate_limit=QBO_RATE_LIMIT,
            retry=RetryPolicy(attempts=attempts),
            sleep=self.sleep,
        )
        ledger = QboLedger(
            api_base_url=self.url,
            oauth=QboOAuthConfig(
                self.state.client_id,
                client_secret or self.state.client_secret,
                REDIRECT,
                discovery_url=f"{self.url}/.well-known/openid_configuration",
            ),
            credentials=store or self.store,
            clock=self.clock,
            caller=caller,
            http=http,
            page_size=page_size,
        )
        self.clients.append(http)
        return ledger

    async def connect(self, business_id: BusinessId = BIZ) -> QboTokens:
        grant = self.state.connect(business_id)
        tokens = QboTokens(
            grant.realm_id,
            grant.access_token,
            grant.refresh_token,
            grant.access_expires_at,
            grant.refresh_expires_at,
        )
        await self.store.save(business_id, Rail.QBO, tokens.to_secrets())
        self.timeline.clear()
        return tokens

    def queries(self, entity: str) -> list[str]:
        return [
            r.query or ""
            for r in self.state.requests
            if r.query and f" from {entity.lower()} " in f"{r.query.lower()} "
        ]


@pytest.fixture
async def rig(server: tuple[Swappable, str]) -> AsyncIterator[Rig]:
    swappable, url = server
    clock = ManualClock(NOW)
    state = seed_from_demo(firm(), now=clock.now)
    plan = FaultPlan()
    swappable.app = create_app(state, plan)
    timeline: list[tuple[str, str]] = []
    rig = Rig(clock, state, plan, url, RecordingStore(timeline), timeline, [])
    try:
        yield rig
    finally:
        for client in rig.clients:
            await client.aclose()


# Paging and queries -------------------------------------------------------------------


async def test_bills_are_read_page_by_page_until_a_short_page(rig: Rig) -> None:
    await rig.connect()
    bills = await rig.ledger(page_size=100).list_bills(BIZ)

    assert len(bills) == len(firm().records[0].bills) == len({b.bill_id for b in bills})
    starts = [int(q.split("STARTPOSITION ")[1].split()[0]) for q in rig.queries("Bill")]
    assert starts == list(range(1, len(bills) + 1, 100))
    assert all(q.endswith("MAXRESULTS 100") for q in rig.queries("Bill"))


async def test_paid_bills_and_invoices_carry_the_day_of_their_last_payment(rig: Rig) -> None:
    await rig.connect()
    ledger = rig.ledger()
    bills = {b.bill_id: b for b in await ledger.list_bills(BIZ)}
    invoices = {i.invoice_id: i for i in await ledger.list_invoices(BIZ)}
    paid_bills = [b for b in bills.values() if b.status is BillStatus.PAID]
    paid_invoices = [i for i in invoices.values() if i.status is InvoiceStatus.PAID]
    assert paid_bills and all(b.paid_date is not None for b in paid_bills)
    assert paid_invoices and all(i.paid_date is not None for i in paid_invoices)
    for payment in await ledger.list_bill_payments(BIZ):
        for line in payment.bills:
            paid_on = bills[line.bill_id].paid_date
            assert paid_on is not None and paid_on >= payment.paid_on
    assert all(b.paid_date is None for b in bills.values() if b.status is BillStatus.OPEN)


async def test_a_full_last_page_is_followed_by_one_more_request(rig: Rig) -> None:
    await rig.connect()
    vendors = await rig.ledger(page_size=10).list_vendors(BIZ)

    assert len(vendors) == 20
    assert len(rig.queries("Vendor")) == 3


async def test_changed_since_asks_qbo_for_records_updated_after_that_instant(rig: Rig) -> None:
    await rig.connect()
    since = datetime(2026, 11, 1, 9, 30, 15, 999, tzinfo=UTC)
    await rig.ledger().list_invoices(BIZ, changed_since=since)

    (query,) = rig.queries("Invoice")
    assert "where Metadata.LastUpdatedTime > '2026-11-01T09:30:15+00:00'" in query
    assert "ORDERBY Metadata.LastUpdatedTime" in query


async def test_bank_accounts_come_from_a_query_for_bank_type_accounts(rig: Rig) -> None:
    await rig.connect()
    accounts = await rig.ledger().list_bank_accounts(BIZ)

    assert [a.name for a in accounts] == ["Operating Checking"]
    assert "AccountType = 'Bank'" in rig.queries("Account")[0]


async def test_the_adapter_only_ever_reads_with_minorversion_75(rig: Rig) -> None:
    await rig.connect()
    ledger = rig.ledger()
    await ledger.list_vendors(BIZ)
    await ledger.list_bills(BIZ)
    await ledger.list_bill_payments(BIZ)
    await ledger.changes(BIZ, NOW - timedelta(days=3))
    await ledger.get_bill(BIZ, BillId("qbo-1"))

    data_calls = [r for r in rig.sent if "/v3/company/" in r.url.path]
    assert data_calls and all(r.method == "GET" for r in data_calls)
    assert all(r.url.params.get("minorversion") == "75" for r in data_calls)
    assert not any("requestid" in r.url.params for r in data_calls)


async def test_deposits_are_read_page_by_page_oldest_first_to_the_cent(rig: Rig) -> None:
    await rig.connect()
    # The newest Id, dated before every seeded deposit: QBO's Id order is not date order.
    rig.state.add_deposit(BIZ, "0.01", date(2024, 1, 2), "Stripe payout po_first")

    deposits = await rig.ledger(page_size=50).list_deposits(BIZ)

    payouts = [
        t
        for t in firm().records[0].bank_transactions
        if t.category == "card_deposit" and t.amount.is_negative
    ]
    assert sorted((d.amount, d.deposited_on) for d in deposits[1:]) == sorted(
        (-t.amount, t.posted_on) for t in payouts
    )
    assert (deposits[0].amount, deposits[0].memo) == (Money(1, "USD"), "Stripe payout po_first")
    days = [d.deposited_on for d in deposits]
    assert days == sorted(days)
    assert {d.business_id for d in deposits} == {BIZ}
    assert all(d.deposit_id.startswith("qbo-") for d in deposits)
    queries = rig.queries("Deposit")
    assert all(q.startswith("select * from Deposit STARTPOSITION ") for q in queries)
    assert len(queries) == len(deposits) // 50 + 1


async def test_a_deposit_that_nets_money_out_is_not_a_deposit(rig: Rig) -> None:
    await rig.connect()
    before = await rig.ledger().list_deposits(BIZ)
    rig.state.add_deposit(BIZ, "-40.00", date(2026, 10, 1), "cash back over the lines")

    assert await rig.ledger().list_deposits(BIZ) == before


def test_the_adapter_offers_no_way_to_approve_schedule_or_pay() -> None:
    names = {name for name, _ in inspect.getmembers(QboLedger) if not name.startswith("__")}
    public = {name for name in names if not name.startswith("_")}

    assert public == {
        "list_vendors",
        "list_customers",
        "list_bills",
        "list_invoices",
        "list_bank_accounts",
        "list_deposits",
        "get_bill",
        "list_bill_payments",
        "list_payments",
        "changes",
        "list_deleted",
        "connect",
        "aclose",
    }
    forbidden = ("approve", "schedule", "create", "submit", "post", "write", "send_payment")
    assert not [n for n in names if any(word in n.lower() for word in forbidden)]


# Retries ------------------------------------------------------------------------------


async def test_a_429_is_retried_after_its_retry_after(rig: Rig) -> None:
    await rig.connect()
    rig.plan.add(FaultKind.RATE_LIMIT, path="/query$", times=2, retry_after=7)

    vendors = await rig.ledger().list_vendors(BIZ)

    assert len(vendors) == 20
    assert rig.slept == [7.0, 7.0]


async def test_qbo_s_throttle_fault_is_transient(rig: Rig) -> None:
    await rig.connect()
    rig.state.requests_per_minute = 1
    ledger = rig.ledger(attempts=2)
    await ledger.list_vendors(BIZ)

    with pytest.raises(Unavailable, match="HTTP 429"):
        await ledger.list_customers(BIZ)
    rig.advance_on_sleep = True
    assert len(await ledger.list_customers(BIZ)) == 17


async def test_a_5xx_is_retried_and_a_lasting_one_is_unavailable(rig: Rig) -> None:
    await rig.connect()
    rig.plan.add(FaultKind.SERVER_ERROR, path="/query$", times=2, status=503)
    ledger = rig.ledger(attempts=3)

    assert len(await ledger.list_vendors(BIZ)) == 20
    rig.plan.add(FaultKind.SERVER_ERROR, path="/query$", times=3, status=500)
    with pytest.raises(Unavailable, match="after 3 attempts"):
        await ledger.list_vendors(BIZ)


# Tokens -------------------------------------------------------------------------------


async def test_a_token_near_expiry_is_refreshed_and_saved_before_it_is_used(rig: Rig) -> None:
    old = await rig.connect()
    assert old.access_expires_at is not None
    rig.clock.set(old.access_expires_at - timedelta(seconds=30))

    await rig.ledger().list_vendors(BIZ)

    stored = QboTokens.from_secrets(rig.store.secrets[(BIZ, Rail.QBO)])
    assert stored.access_token != old.access_token
    assert stored.refresh_token != old.refresh_token
    assert stored.access_expires_at == rig.clock.now() + timedelta(hours=1)
    saved = rig.timeline.index(("save", stored.access_token))
    used = rig.timeline.index(("request", f"Bearer {stored.access_token}"))
    assert saved < used
    assert ("request", f"Bearer {old.access_token}") not in rig.timeline
    with pytest.raises(OAuthError):
        rig.state.refresh(old.refresh_token, rig.state.client_id)


@pytest.mark.parametrize("how", ["revoked", "fault_plan"])
async def test_a_401_gets_one_refresh_and_one_more_try(rig: Rig, how: str) -> None:
    await rig.connect()
    if how == "revoked":
        rig.state.expire_access_tokens()
    else:
        rig.plan.add(FaultKind.EXPIRED_TOKEN, path="/query$", times=1)

    vendors = await rig.ledger().list_vendors(BIZ)

    assert len(vendors) == 20
    assert rig.state.token_requests == ["refresh_token"]


async def test_a_401_after_a_refresh_is_rejected(rig: Rig) -> None:
    await rig.connect()
    rig.plan.add(FaultKind.EXPIRED_TOKEN, path="/query$", times=2)

    with pytest.raises(Rejected, match="refused a fresh access token"):
        await rig.ledger().list_vendors(BIZ)
    assert rig.state.token_requests == ["refresh_token"]


async def test_concurrent_calls_spend_the_refresh_token_once(rig: Rig) -> None:
    tokens = await rig.connect()
    assert tokens.access_expires_at is not None
    rig.clock.set(tokens.access_expires_at + timedelta(minutes=5))
    ledger = rig.ledger()

    results = await asyncio.gather(*(ledger.list_vendors(BIZ) for _ in range(6)))

    assert [len(r) for r in results] == [20] * 6
    assert rig.state.token_requests == ["refresh_token"]


async def test_a_spent_refresh_token_means_the_connection_needs_reauthorisation(rig: Rig) -> None:
    tokens = await rig.connect()
    rig.state.refresh(tokens.refresh_token, rig.state.client_id)
    rig.state.expire_access_tokens()

    with pytest.raises(Rejected, match=REAUTHORISE):
        await rig.ledger().list_vendors(BIZ)


async def test_an_expired_refresh_token_is_not_even_sent(rig: Rig) -> None:
    tokens = await rig.connect()
    assert tokens.refresh_expires_at is not None
    rig.clock.set(tokens.refresh_expires_at + timedelta(seconds=1))

    with pytest.raises(Rejected, match=REAUTHORISE):
        await rig.ledger().list_vendors(BIZ)
    assert rig.state.token_requests == []


class DropTokenAnswer(httpx.AsyncHTTPTransport):
    """Lets the token request reach the server, then loses the answer (once)."""

    def __init__(self) -> None:
        super().__init__()
        self.dropped = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await super().handle_async_request(request)
        if request.url.path.endswith("/tokens/bearer") and not self.dropped:
            self.dropped = True
            await response.aread()
            raise httpx.ReadError("connection dropped after the request was processed")
        return response


async def test_a_lost_refresh_answer_is_not_resent_and_strict_rotation_then_needs_reauth(
    rig: Rig,
) -> None:
    tokens = await rig.connect()
    assert tokens.access_expires_at is not None
    rig.clock.set(tokens.access_expires_at)
    ledger = rig.ledger(transport=DropTokenAnswer())

    with pytest.raises(Unavailable, match="answer to a QBO token refresh was lost"):
        await ledger.list_vendors(BIZ)
    assert rig.state.token_requests == ["refresh_token"]
    # The simulator spent the old refresh token (no grace period); Intuit would still
    # accept it for a short while, and this next call would succeed there.
    with pytest.raises(Rejected, match=REAUTHORISE):
        await ledger.list_vendors(BIZ)


async def test_a_business_without_tokens_or_with_half_of_them_is_unavailable(rig: Rig) -> None:
    ledger = rig.ledger()
    with pytest.raises(Unavailable, match="has no QBO connection"):
        await ledger.list_bills(BIZ)

    await rig.store.save(BIZ, Rail.QBO, {"realm_id": "123", "access_token": "x"})
    with pytest.raises(Unavailable, match="incomplete: missing refresh_token"):
        await ledger.list_bills(BIZ)


# OAuth --------------------------------------------------------------------------------


async def test_the_authorize_url_asks_for_accounting_with_our_redirect_and_state(
    rig: Rig,
) -> None:
    url = await rig.ledger().oauth.authorize_url("csrf-123")

    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"{rig.url}/connect/oauth2"
    assert {k: v[0] for k, v in parse_qs(parts.query).items()} == {
        "client_id": rig.state.client_id,
        "response_type": "code",
        "scope": "com.intuit.quickbooks.accounting",
        "redirect_uri": REDIRECT,
        "state": "csrf-123",
    }


async def test_the_oauth_round_trip_connects_a_business(rig: Rig) -> None:
    ledger = rig.ledger()
    url = await ledger.oauth.authorize_url("csrf-9")
    async with httpx.AsyncClient() as browser:
        redirect = await browser.get(url)
    answer = {k: v[0] for k, v in parse_qs(urlsplit(redirect.headers["location"]).query).items()}
    assert redirect.status_code == 302 and answer["state"] == "csrf-9"

    await ledger.connect(BIZ, code=answer["code"], realm_id=answer["realmId"])

    secrets = rig.store.secrets[(BIZ, Rail.QBO)]
    assert set(secrets) == {
        "realm_id",
        "access_token",
        "refresh_token",
        "access_expires_at",
        "refresh_expires_at",
    }
    assert secrets["realm_id"] == rig.state.company(BIZ).realm_id
    assert len(await ledger.list_vendors(BIZ)) == 20
    with pytest.raises(Rejected, match=REAUTHORISE):
        await ledger.connect(BIZ, code=answer["code"], realm_id=answer["realmId"])


async def test_a_wrong_client_secret_is_rejected(rig: Rig) -> None:
    tokens = await rig.connect()
    rig.state.expire_access_tokens()

    with pytest.raises(Rejected, match="invalid_client"):
        await rig.ledger(client_secret="wrong").list_vendors(BIZ)
    assert rig.store.secrets[(BIZ, Rail.QBO)]["refresh_token"] == tokens.refresh_token


# Faults, reads, CDC -------------------------------------------------------------------


async def test_a_400_fault_is_rejected_with_qbo_s_message(rig: Rig) -> None:
    await rig.connect()

    with pytest.raises(Rejected, match="Invalid changedSince: changedSince may look back"):
        await rig.ledger().changes(BIZ, NOW - timedelta(days=31))


async def test_a_token_for_another_company_is_refused(rig: Rig) -> None:
    await rig.connect()
    secrets = dict(rig.store.secrets[(BIZ, Rail.QBO)])
    await rig.store.save(BIZ, Rail.QBO, {**secrets, "realm_id": "9999999999"})

    with pytest.raises(Rejected, match="ApplicationAuthorizationFailed"):
        await rig.ledger().list_vendors(BIZ)


def test_faults_are_read_in_both_spellings() -> None:
    upper = b'{"Fault":{"Error":[{"Message":"Stale","Detail":"d","code":"5010"}],"type":"V"}}'
    lower = b'{"fault":{"error":[{"message":"AuthenticationFailed","code":"3200"}]}}'

    assert mapping.read_fault(upper) == mapping.FaultInfo("5010", "Stale: d")
    assert mapping.read_fault(lower) == mapping.FaultInfo("3200", "AuthenticationFailed")
    assert mapping.read_fault(b'{"error":"token expired"}') is None
    assert mapping.read_fault(b"<html>") is None


async def test_one_bill_is_read_as_qbo_has_it_now(rig: Rig) -> None:
    await rig.connect()
    ledger = rig.ledger()
    rig.state.change_bill(BIZ, "1", balance="100.10")

    bill = await ledger.get_bill(BIZ, BillId("qbo-1"))

    assert bill is not None and bill.balance == Money(10010, "USD")
    assert bill.status is BillStatus.OPEN
    assert await ledger.get_bill(BIZ, BillId("qbo-424242")) is None
    with pytest.raises(Rejected, match="not a QBO bill id"):
        await ledger.get_bill(BIZ, BillId("bill-0001-000001"))


async def test_a_record_qbo_sends_that_breaks_the_rules_is_named_not_skipped(rig: Rig) -> None:
    await rig.connect()
    rig.state.change_bill(BIZ, "1", balance="99999999")

    with pytest.raises(Unavailable, match="QBO Bill 1 cannot be read"):
        await rig.ledger().list_bills(BIZ)


async def test_bill_payments_and_payments_link_to_their_bills_and_invoices(rig: Rig) -> None:
    await rig.connect()
    ledger = rig.ledger()
    bills = {b.bill_id: b for b in await ledger.list_bills(BIZ)}
    invoices = {i.invoice_id: i for i in await ledger.list_invoices(BIZ)}

    bill_payments = await ledger.list_bill_payments(BIZ)
    payments = await ledger.list_payments(BIZ)

    paid_bills = {b.bill_id for b in bills.values() if b.status is BillStatus.PAID}
    assert {link.bill_id for p in bill_payments for link in p.bills} == paid_bills
    for payment in bill_payments:
        (link,) = payment.bills
        assert payment.amount == link.amount == bills[link.bill_id].amount
        assert payment.vendor_id == bills[link.bill_id].vendor_id
    for received in payments:
        (link,) = received.invoices
        invoice = invoices[link.invoice_id]
        assert received.amount == invoice.amount - invoice.balance
        assert received.customer_id == invoice.customer_id


async def test_changes_report_updates_new_payments_and_deletions(rig: Rig) -> None:
    await rig.connect()
    since = NOW - timedelta(minutes=1)
    rig.state.change_bill(BIZ, "1", private_note="moved")
    payment = rig.state.pay_bill(BIZ, _open_bill(rig.state), amount="10.00")
    rig.state.delete_bill(BIZ, "3")
    rig.clock.advance(timedelta(seconds=5))

    changes = await rig.ledger().changes(BIZ, since)

    assert changes.as_of == rig.clock.now()
    assert {b.bill_id for b in changes.bills} == {"qbo-1", f"qbo-{_open_bill(rig.state)}"}
    assert [p.payment_id for p in changes.bill_payments] == [f"qbo-{payment['Id']}"]
    assert changes.bill_payments[0].bills[0].amount == Money(1000, "USD")
    assert [(d.entity, d.record_id, d.external_ref) for d in changes.deleted] == [
        ("Bill", "qbo-3", "qbo:3")
    ]
    assert not changes.truncated and changes.vendors == ()


async def test_changes_say_when_qbo_cut_the_answer_short(rig: Rig) -> None:
    await rig.connect()
    company = rig.state.company(BIZ)
    for bill_id in list(company.records["Bill"])[:400]:
        rig.state.update(BIZ, "Bill", bill_id, {}, announce=False)
    for invoice_id in list(company.records["Invoice"])[:400]:
        rig.state.update(BIZ, "Invoice", invoice_id, {}, announce=False)
    for vendor_id in list(company.records["Vendor"]):
        rig.state.update(BIZ, "Vendor", vendor_id, {}, announce=False)
    for payment_id in list(company.records["BillPayment"])[:200]:
        rig.state.update(BIZ, "BillPayment", payment_id, {}, announce=False)

    changes = await rig.ledger().changes(BIZ, NOW - timedelta(minutes=1))

    assert changes.truncated
    assert (
        len(changes.bills)
        + len(changes.invoices)
        + len(changes.vendors)
        + len(changes.bill_payments)
        == 1000
    )


def _open_bill(state: State) -> str:
    return next(
        bill_id
        for bill_id, bill in state.company(BIZ).records["Bill"].items()
        if bill["Balance"] > 0
    )


# Mapping ------------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(
    cents=st.integers(min_value=0, max_value=10**13),
    paid=st.integers(min_value=0, max_value=100),
)
def test_qbo_money_becomes_exact_minor_units(cents: int, paid: int) -> None:
    total = Decimal(cents).scaleb(-2)
    balance = (Decimal(cents * (100 - paid) // 100)).scaleb(-2)
    body = (
        f'{{"Id":"7","VendorRef":{{"value":"3"}},"TotalAmt":{total},"Balance":{balance},'
        f'"TxnDate":"2026-01-05"}}'
    ).encode()

    bill = mapping.to_bill(BIZ, msgspec.json.decode(body, type=QboBill), "USD")

    assert bill.amount == Money(cents, "USD")
    assert bill.balance == Money(cents * (100 - paid) // 100, "USD")
    assert bill.status is (BillStatus.PAID if bill.balance.is_zero else BillStatus.OPEN)
    assert (bill.bill_id, bill.vendor_id, bill.external_ref) == ("qbo-7", "qbo-3", "qbo:7")


@settings(max_examples=40, deadline=None)
@given(cents=st.integers(min_value=0, max_value=10**13), currency=st.sampled_from([None, "CAD"]))
def test_a_qbo_deposit_becomes_exact_money_in_the_home_currency_unless_named(
    cents: int, currency: str | None
) -> None:
    fields: dict[str, Any] = {
        "Id": "12",
        "TxnDate": "2026-03-04",
        "TotalAmt": Decimal(cents).scaleb(-2),
        "DepositToAccountRef": {"value": "35", "name": "Checking"},
        "PrivateNote": "Stripe payout",
    }
    if currency:
        fields["CurrencyRef"] = {"value": currency}
    body = msgspec.json.Encoder(decimal_format="number").encode(fields)

    deposit = mapping.to_deposit(BIZ, msgspec.json.decode(body, type=QboDeposit), "USD")

    assert deposit.amount == Money(cents, currency or "USD")
    assert (deposit.deposit_id, deposit.business_id) == ("qbo-12", BIZ)
    assert (deposit.deposited_on, deposit.memo) == (date(2026, 3, 4), "Stripe payout")


@pytest.mark.parametrize(
    ("term", "days"),
    [("Net 30", 30), ("Net 10", 10), ("Due on receipt", 0), ("Special deal", None), (None, None)],
)
def test_payment_terms_come_from_the_term_s_name(term: str | None, days: int | None) -> None:
    ref = Ref("4", term) if term else None

    assert mapping.terms_days(ref) == days


@pytest.mark.parametrize(
    ("fields", "has_details"),
    [
        ({"BillAddr": {"Line1": "12 Main St", "City": "Denver"}}, True),
        ({"BillAddr": {"City": "Denver"}}, False),
        ({"AcctNum": "C00012"}, False),
        ({"VendorPaymentBankDetail": {"BankAccountNumber": "1234"}}, True),
        ({}, False),
    ],
)
def test_a_vendor_can_be_paid_with_a_mailing_address_or_bank_details(
    fields: dict[str, Any], has_details: bool
) -> None:
    wire = msgspec.json.decode(
        json.dumps({"Id": "5", "DisplayName": "Acme", **fields}), type=QboVendor
    )

    assert mapping.to_vendor(BIZ, wire).has_payment_details is has_details


def test_a_missing_due_date_stays_unknown_on_a_bill_and_is_the_issue_date_on_an_invoice() -> None:
    bill = mapping.to_bill(
        BIZ,
        msgspec.json.decode(
            b'{"Id":"1","VendorRef":{"value":"2"},"TotalAmt":5,"Balance":5,"TxnDate":"2026-02-03"}',
            type=QboBill,
        ),
        "USD",
    )
    invoice = mapping.to_invoice(
        BIZ,
        msgspec.json.decode(
            b'{"Id":"9","CustomerRef":{"value":"2"},"TotalAmt":5,"Balance":0,'
            b'"TxnDate":"2026-02-03","CurrencyRef":{"value":"CAD"}}',
            type=QboInvoice,
        ),
        "USD",
    )

    assert bill.due_date is None
    assert invoice.due_date == date(2026, 2, 3)
    assert invoice.amount == Money(500, "CAD")


# Webhooks -----------------------------------------------------------------------------

TOKEN = "verifier-token-for-tests"


def _signed(body: bytes, token: str = TOKEN) -> dict[str, str]:
    digest = hmac.new(token.encode(), body, hashlib.sha256).digest()
    return {"intuit-signature": base64.b64encode(digest).decode()}


async def test_a_signed_cloudevents_body_gives_one_event_per_change() -> None:
    body = json.dumps(
        [
            {
                "specversion": "1.0",
                "id": "88cd52aa-1",
                "source": "intuit.x",
                "type": "qbo.bill.updated.v1",
                "time": "2026-11-02T14:59:00.179851517Z",
                "intuitentityid": "130",
                "intuitaccountid": "1234567890",
                "data": {},
            },
            {
                "specversion": "1.0",
                "id": "88cd52aa-2",
                "type": "qbo.billpayment.created.v1",
                "intuitentityid": "131",
                "intuitaccountid": "1234567890",
            },
        ]
    ).encode()

    events = await QboWebhookVerifier(TOKEN).verify(_signed(body), body)

    assert [(e.event_id, e.event_type, e.account) for e in events] == [
        ("88cd52aa-1", "qbo.bill.updated.v1", "1234567890"),
        ("88cd52aa-2", "qbo.billpayment.created.v1", "1234567890"),
    ]
    assert events[0].occurred_at == datetime(2026, 11, 2, 14, 59, 0, 179851, tzinfo=UTC)
    assert events[1].payload["entity"] == "BillPayment" and events[1].payload["id"] == "131"


async def test_a_signed_legacy_body_gives_one_event_per_entity_change() -> None:
    body = json.dumps(
        {
            "eventNotifications": [
                {
                    "realmId": "1185883450",
                    "dataChangeEvent": {
                        "entities": [
                            {
                                "name": "Bill",
                                "id": "1",
                                "operation": "Update",
                                "lastUpdated": "2015-10-05T14:42:19-0700",
                            },
                            {
                                "name": "Vendor",
                                "id": "2",
                                "operation": "Delete",
                                "lastUpdated": "2015-10-05T14:42:20-0700",
                            },
                        ]
                    },
                }
            ]
        }
    ).encode()

    events = await QboWebhookVerifier(TOKEN).verify({"Intuit-Signature": sign(TOKEN, body)}, body)

    assert [(e.event_id, e.event_type) for e in events] == [
        ("1185883450:Bill:1:Update:2015-10-05T14:42:19-0700", "qbo.bill.updated.v1"),
        ("1185883450:Vendor:2:Delete:2015-10-05T14:42:20-0700", "qbo.vendor.deleted.v1"),
    ]
    assert {e.account for e in events} == {"1185883450"}
    assert events[0].occurred_at == datetime(2015, 10, 5, 21, 42, 19, tzinfo=UTC)


@pytest.mark.parametrize(
    "forge",
    ["other_token", "tampered_body", "no_header", "not_base64"],
)
async def test_a_forged_webhook_is_rejected(forge: str) -> None:
    body = b'[{"id":"1","type":"qbo.bill.created.v1","intuitaccountid":"1"}]'
    headers = _signed(body)
    sent = body
    if forge == "other_token":
        headers = _signed(body, "not-the-token")
    elif forge == "tampered_body":
        sent = body.replace(b'"1"}', b'"2"}')
    elif forge == "no_header":
        headers = {}
    else:
        headers = {"intuit-signature": "%%%"}

    with pytest.raises(WebhookRejected):
        await QboWebhookVerifier(TOKEN).verify(headers, sent)


async def test_a_stale_webhook_is_rejected_when_a_max_age_is_set() -> None:
    clock = ManualClock(NOW)
    body = json.dumps(
        [{"id": "e1", "type": "qbo.bill.created.v1", "time": "2026-10-01T00:00:00Z"}]
    ).encode()

    with pytest.raises(WebhookRejected, match="stale"):
        await QboWebhookVerifier(TOKEN, clock=clock, max_age=timedelta(days=3)).verify(
            _signed(body), body
        )
    assert len(await QboWebhookVerifier(TOKEN).verify(_signed(body), body)) == 1


@dataclass
class Inbox:
    events: list[Any] = field(default_factory=list)
    rejected: int = 0


def _receiver(inbox: Inbox, verifier: QboWebhookVerifier) -> Litestar:
    @post("/webhooks/qbo")
    async def receive(request: Request[Any, Any, Any]) -> Response[bytes]:
        try:
            events = await verifier.verify(dict(request.headers), await request.body())
        except WebhookRejected:
            inbox.rejected += 1
            return Response(b"", status_code=401)
        inbox.events.extend(events)
        return Response(b"", status_code=200)

    return Litestar([receive])


@pytest.fixture
def inbox_url(rig: Rig) -> Iterator[tuple[Inbox, str]]:
    inbox = Inbox()
    with BackgroundServer(_receiver(inbox, QboWebhookVerifier(rig.state.verifier_token))) as s:
        yield inbox, f"{s.url}/webhooks/qbo"


async def test_simulated_deliveries_twice_and_out_of_order_keep_their_event_ids(
    rig: Rig, inbox_url: tuple[Inbox, str]
) -> None:
    inbox, url = inbox_url
    rig.state.change_bill(BIZ, "1", private_note="a", at=NOW)
    rig.state.change_bill(BIZ, "1", private_note="b", at=NOW + timedelta(seconds=1))

    statuses = await deliver_webhooks(rig.state, url, batch=False, duplicate=True, reverse=True)

    assert statuses == [200, 200, 200, 200]
    ids = [e.event_id for e in inbox.events]
    assert ids[0] == ids[1] and ids[2] == ids[3] and ids[0] != ids[2]
    assert [e.occurred_at for e in inbox.events][::2] == sorted(
        [e.occurred_at for e in inbox.events][::2], reverse=True
    )
    assert {e.account for e in inbox.events} == {rig.state.company(BIZ).realm_id}


async def test_simulated_legacy_delivery_and_a_forgery(
    rig: Rig, inbox_url: tuple[Inbox, str]
) -> None:
    inbox, url = inbox_url
    rig.state.change_bill(BIZ, "1", private_note="a")
    forged = await deliver_webhooks(rig.state, url, verifier_token="forger")
    rig.state.pay_bill(BIZ, _open_bill(rig.state), amount="1.00")

    genuine = await deliver_webhooks(rig.state, url, style="legacy", delay=0.01)

    assert forged == [401] and inbox.rejected == 1
    assert genuine == [200]
    assert sorted(e.event_type for e in inbox.events) == [
        "qbo.bill.updated.v1",
        "qbo.bill.updated.v1",
        "qbo.billpayment.created.v1",
    ]
