"""The Stripe adapter against the Stripe simulator over real HTTP: the SDK's requests,
paging, failures and retries, the idempotent write, mapping edge cases, webhooks."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import stripe

from rowcol.adapters.clock import ManualClock
from rowcol.adapters.memory.credentials import MemoryCredentialStore
from rowcol.adapters.railkit.resilience import RailHealthMonitor, RateLimit, RetryPolicy
from rowcol.adapters.stripe import (
    STRIPE_API_VERSION,
    StripeARSource,
    StripeWebhookVerifier,
    stripe_caller,
)
from rowcol.core.domain.errors import InvalidInput
from rowcol.core.domain.ids import BusinessId, Rail
from rowcol.core.domain.money import Money
from rowcol.core.domain.records import InvoiceStatus
from rowcol.demodata.generator import DemoFirm, generate_firm
from rowcol.ports.errors import OutcomeUnknown, Rejected, Unavailable
from rowcol.ports.webhooks import WebhookRejected
from rowcol.simulators.faults import FaultKind, FaultPlan
from rowcol.simulators.server import BackgroundServer
from rowcol.simulators.stripe import (
    API_VERSION,
    WEBHOOK_SECRET,
    StripeState,
    account_id_for,
    api_key_for,
    create_app,
    deliver_webhooks,
    seed_from_demo,
)

# stripe-python hands httpx its form body as `data=`, which httpx deprecates.
pytestmark = pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning")

TODAY = date(2026, 11, 2)
NOW = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)


@dataclass
class Sleeps:
    slept: list[float] = field(default_factory=list)

    async def __call__(self, seconds: float) -> None:
        self.slept.append(seconds)


@dataclass
class Canned:
    path: str
    status: int
    body: Any
    headers: dict[str, str]
    times: int


class Tap:
    """Sits in front of the simulator: records what the SDK sent, and answers the next
    requests to a path with a canned response when armed."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.seen: list[dict[str, str]] = []
        self.canned: list[Canned] = []

    def arm(
        self,
        path: str,
        status: int,
        body: Any,
        *,
        headers: dict[str, str] | None = None,
        times: int = 1,
    ) -> None:
        self.canned.append(Canned(path, status, body, headers or {}, times))

    def requests_to(self, pattern: str) -> list[dict[str, str]]:
        return [r for r in self.seen if re.search(pattern, r[":path"])]

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            seen = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
            seen[":method"] = scope["method"]
            seen[":path"] = scope["path"]
            seen[":query"] = scope["query_string"].decode()
            self.seen.append(seen)
            for canned in self.canned:
                if canned.times > 0 and re.search(canned.path, scope["path"]):
                    canned.times -= 1
                    headers = [(b"content-type", b"application/json")] + [
                        (k.encode(), v.encode()) for k, v in canned.headers.items()
                    ]
                    await send(
                        {"type": "http.response.start", "status": canned.status, "headers": headers}
                    )
                    await send(
                        {"type": "http.response.body", "body": json.dumps(canned.body).encode()}
                    )
                    return
        await self.app(scope, receive, send)


async def lifespan(receive: Any, send: Any) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        else:
            await send({"type": "lifespan.shutdown.complete"})
            return


class Switch:
    """One server for the module; each test plugs in its own simulator."""

    def __init__(self) -> None:
        self.app: Any = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await lifespan(receive, send)
            return
        await self.app(scope, receive, send)


class Inbox:
    """A webhook endpoint that keeps what it is sent and answers 200."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await lifespan(receive, send)
            return
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


@pytest.fixture(scope="module")
def firm() -> DemoFirm:
    return generate_firm(clients=2, seed=5, today=TODAY, history_months=1)


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[Switch, str]]:
    switch = Switch()
    with BackgroundServer(switch) as running:
        yield switch, running.url


@dataclass
class Sim:
    state: StripeState
    plan: FaultPlan
    tap: Tap
    url: str
    clock: ManualClock
    credentials: MemoryCredentialStore
    sleeps: Sleeps
    business_id: BusinessId
    sources: list[StripeARSource] = field(default_factory=list)

    def source(
        self,
        *,
        page_size: int = 100,
        attempts: int = 4,
        timeout_seconds: float = 5.0,
        base_url: str | None = None,
    ) -> StripeARSource:
        source = StripeARSource(
            base_url=base_url or self.url,
            credentials=self.credentials,
            caller=stripe_caller(
                RailHealthMonitor(self.clock),
                rate_limit=RateLimit(10_000, 1.0),
                retry=RetryPolicy(attempts=attempts),
                sleep=self.sleeps,
            ),
            page_size=page_size,
            timeout_seconds=timeout_seconds,
        )
        self.sources.append(source)
        return source

    def open_invoice_id(self) -> str:
        account = self.state.account(self.business_id)
        return next(i for i, o in account.objects["invoice"].items() if o["status"] == "open")


@pytest.fixture
async def sim(firm: DemoFirm, server: tuple[Switch, str]) -> AsyncIterator[Sim]:
    clock = ManualClock(NOW)
    state = seed_from_demo(firm, now=clock.now)
    plan = FaultPlan()
    tap = Tap(create_app(state, plan))
    switch, url = server
    switch.app = tap
    credentials = MemoryCredentialStore()
    business_id = firm.records[0].business_id
    for data in firm.records:
        await credentials.save(
            data.business_id, Rail.STRIPE, {"api_key": api_key_for(data.business_id)}
        )
    sim = Sim(state, plan, tap, url, clock, credentials, Sleeps(), business_id)
    yield sim
    for source in sim.sources:
        await source.aclose()


# What the SDK sends ---------------------------------------------------------------------


def test_the_adapter_pins_the_api_version_the_simulator_speaks() -> None:
    assert STRIPE_API_VERSION == API_VERSION


async def test_every_request_carries_the_key_as_bearer_and_the_pinned_api_version(
    sim: Sim,
) -> None:
    await sim.source().list_customers(sim.business_id)

    sent = sim.tap.requests_to("^/v1/customers$")
    assert sent
    assert {r["authorization"] for r in sent} == {f"Bearer {api_key_for(sim.business_id)}"}
    assert {r["stripe-version"] for r in sent} == {STRIPE_API_VERSION}
    assert all("stripe-account" not in r for r in sent)


async def test_a_connected_account_is_named_in_the_stripe_account_header(sim: Sim) -> None:
    account = account_id_for(sim.business_id)
    await sim.credentials.save(
        sim.business_id,
        Rail.STRIPE,
        {"api_key": api_key_for(sim.business_id), "account": account},
    )

    customers = await sim.source().list_customers(sim.business_id)

    assert customers
    assert {r["stripe-account"] for r in sim.tap.requests_to("^/v1/customers$")} == {account}


async def test_an_account_the_key_cannot_reach_is_rejected(sim: Sim) -> None:
    await sim.credentials.save(
        sim.business_id,
        Rail.STRIPE,
        {"api_key": api_key_for(sim.business_id), "account": "acct_SomebodyElse"},
    )

    with pytest.raises(Rejected, match="does not have access to account"):
        await sim.source().list_customers(sim.business_id)
    assert sim.sleeps.slept == []


async def test_lists_are_read_a_page_at_a_time_each_after_the_last_id(sim: Sim) -> None:
    total = len(sim.state.account(sim.business_id).objects["invoice"])

    invoices = await sim.source(page_size=10).list_invoices(sim.business_id)

    assert len(invoices) == total == len({i.invoice_id for i in invoices})
    pages = sim.tap.requests_to("^/v1/invoices$")
    assert len(pages) == -(-total // 10)
    assert "starting_after" not in pages[0][":query"]
    assert all("limit=10" in p[":query"] and "starting_after=in_" in p[":query"] for p in pages[1:])


def test_a_page_size_beyond_stripes_limit_is_refused(sim: Sim) -> None:
    with pytest.raises(InvalidInput, match="page_size"):
        sim.source(page_size=101)


# Failures and retries -------------------------------------------------------------------


async def test_a_429_is_retried_after_its_retry_after(sim: Sim) -> None:
    fault = sim.plan.add(FaultKind.RATE_LIMIT, path="^/v1/customers$", times=2, retry_after=7)

    customers = await sim.source().list_customers(sim.business_id)

    assert customers
    assert fault.hits == 2
    assert len(sim.sleeps.slept) == 2
    assert all(s >= 7 for s in sim.sleeps.slept)


async def test_a_429_that_persists_is_unavailable_not_a_crash(sim: Sim) -> None:
    sim.plan.add(FaultKind.RATE_LIMIT, path="^/v1/payouts$", times=50, retry_after=1)

    with pytest.raises(Unavailable, match="429"):
        await sim.source().list_payouts(sim.business_id)
    assert len(sim.tap.requests_to("^/v1/payouts$")) == 4


async def test_a_5xx_on_a_read_is_retried(sim: Sim) -> None:
    fault = sim.plan.add(FaultKind.SERVER_ERROR, path="^/v1/invoices$", status=503, times=2)

    invoices = await sim.source().list_invoices(sim.business_id)

    assert invoices
    assert fault.hits == 2


async def test_the_sdk_does_not_retry_on_its_own(sim: Sim) -> None:
    sim.plan.add(FaultKind.SERVER_ERROR, path="^/v1/customers$", status=500, times=50)

    with pytest.raises(Unavailable):
        await sim.source(attempts=1).list_customers(sim.business_id)
    assert len(sim.tap.requests_to("^/v1/customers$")) == 1


async def test_a_conflict_stripe_says_to_retry_is_retried(sim: Sim) -> None:
    sim.tap.arm(
        "^/v1/payouts$",
        409,
        {"error": {"type": "invalid_request_error", "code": "lock_timeout", "message": "locked"}},
        headers={"Stripe-Should-Retry": "true"},
    )

    payouts = await sim.source().list_payouts(sim.business_id)

    assert payouts
    assert len(sim.sleeps.slept) == 1


async def test_a_refusal_is_rejected_with_stripes_message_and_not_retried(sim: Sim) -> None:
    sim.tap.arm(
        "^/v1/charges$",
        400,
        {
            "error": {
                "type": "invalid_request_error",
                "code": "parameter_unknown",
                "message": "Received unknown parameter: nonsense",
                "param": "nonsense",
            }
        },
    )

    with pytest.raises(Rejected, match="Received unknown parameter: nonsense"):
        await sim.source().list_charges(sim.business_id)
    assert sim.sleeps.slept == []


async def test_a_rejected_api_key_is_rejected_without_retries(sim: Sim) -> None:
    sim.state.roll_api_key(sim.business_id, "sk_test_rolled_by_the_owner")

    with pytest.raises(Rejected, match="stripe api key rejected"):
        await sim.source().list_invoices(sim.business_id)
    assert len(sim.tap.requests_to("^/v1/invoices$")) == 1


async def test_an_answer_not_in_stripes_shape_is_not_a_crash(sim: Sim) -> None:
    # Stripe keys do not expire, so there is no token to refresh; the fault's 401 body is
    # not Stripe's either. Either way nothing is refreshed or saved.
    sim.plan.add(FaultKind.EXPIRED_TOKEN, path="^/v1/customers$", times=50)
    saves = sim.credentials.saves

    with pytest.raises((Unavailable, Rejected)):
        await sim.source().list_customers(sim.business_id)
    assert sim.credentials.saves == saves


async def test_a_business_without_a_stripe_connection_is_unavailable(sim: Sim) -> None:
    await sim.credentials.save(BusinessId("biz-keyless"), Rail.STRIPE, {"account": "acct_x"})

    for business_id in (BusinessId("biz-unknown"), BusinessId("biz-keyless")):
        with pytest.raises(Unavailable, match="no Stripe connection"):
            await sim.source().list_customers(business_id)
    assert sim.tap.seen == []


async def test_a_refused_connection_is_unavailable_after_retries(sim: Sim) -> None:
    source = sim.source(base_url="http://127.0.0.1:9")

    with pytest.raises(Unavailable, match="could not connect"):
        await source.list_customers(sim.business_id)
    assert len(sim.sleeps.slept) == 3


async def test_a_read_timeout_is_retried(sim: Sim) -> None:
    fault = sim.plan.add(FaultKind.LATENCY, path="^/v1/payouts$", latency_ms=800, times=1)

    payouts = await sim.source(timeout_seconds=0.3).list_payouts(sim.business_id)

    assert payouts
    assert fault.hits == 1
    assert len(sim.sleeps.slept) == 1


async def test_a_dropped_connection_on_a_read_is_retried(sim: Sim) -> None:
    fault = sim.plan.add(FaultKind.DROP, path="^/v1/customers$", times=1)

    customers = await sim.source().list_customers(sim.business_id)

    assert customers
    assert fault.hits == 1


async def test_a_read_that_never_gets_an_answer_is_unavailable_not_outcome_unknown(
    sim: Sim,
) -> None:
    sim.plan.add(FaultKind.DROP, path="^/v1/customers$", times=50)

    with pytest.raises(Unavailable, match="no answer"):
        await sim.source().list_customers(sim.business_id)


# The idempotent write ---------------------------------------------------------------------


def paid_events(sim: Sim, invoice_id: str) -> list[dict[str, Any]]:
    account = sim.state.account(sim.business_id)
    return [
        e
        for e in account.objects["event"].values()
        if e["type"] == "invoice.paid" and e["data"]["object"]["id"] == invoice_id
    ]


async def test_marking_an_invoice_paid_records_a_payment_made_outside_stripe(sim: Sim) -> None:
    invoice_id = sim.open_invoice_id()
    charges = len(sim.state.account(sim.business_id).objects["charge"])

    invoice = await sim.source().mark_invoice_paid(
        sim.business_id, invoice_id, idempotency_key="rowcol-pay-1"
    )

    assert invoice.status is InvoiceStatus.PAID
    assert invoice.balance == Money(0, "USD")
    assert invoice.paid_date == TODAY
    sent = sim.tap.requests_to(f"^/v1/invoices/{invoice_id}/pay$")
    assert [r["idempotency-key"] for r in sent] == ["rowcol-pay-1"]
    assert len(sim.state.account(sim.business_id).objects["charge"]) == charges
    assert len(paid_events(sim, invoice_id)) == 1


async def test_a_payment_whose_answer_was_lost_is_retried_with_the_same_key_and_replayed(
    sim: Sim,
) -> None:
    invoice_id = sim.open_invoice_id()
    fault = sim.plan.add(FaultKind.DROP, path=f"^/v1/invoices/{invoice_id}/pay$", times=1)

    invoice = await sim.source().mark_invoice_paid(
        sim.business_id, invoice_id, idempotency_key="rowcol-pay-2"
    )

    assert invoice.status is InvoiceStatus.PAID
    assert fault.hits == 1
    sent = sim.tap.requests_to(f"^/v1/invoices/{invoice_id}/pay$")
    assert [r["idempotency-key"] for r in sent] == ["rowcol-pay-2", "rowcol-pay-2"]
    assert len(paid_events(sim, invoice_id)) == 1


async def test_a_payment_that_never_gets_an_answer_is_outcome_unknown_and_found_paid(
    sim: Sim,
) -> None:
    invoice_id = sim.open_invoice_id()
    sim.plan.add(FaultKind.DROP, path=f"^/v1/invoices/{invoice_id}/pay$", times=50)
    source = sim.source()

    with pytest.raises(OutcomeUnknown):
        await source.mark_invoice_paid(sim.business_id, invoice_id, idempotency_key="rowcol-pay-3")
    found = await source.find_invoice(sim.business_id, invoice_id)

    assert found is not None
    assert found.status is InvoiceStatus.PAID
    assert len(paid_events(sim, invoice_id)) == 1


async def test_a_5xx_on_a_payment_is_retried_with_the_same_key(sim: Sim) -> None:
    invoice_id = sim.open_invoice_id()
    sim.tap.arm(
        f"^/v1/invoices/{invoice_id}/pay$",
        500,
        {"error": {"type": "api_error", "message": "An unknown error occurred"}},
    )

    invoice = await sim.source().mark_invoice_paid(
        sim.business_id, invoice_id, idempotency_key="rowcol-pay-4"
    )

    assert invoice.status is InvoiceStatus.PAID
    sent = sim.tap.requests_to(f"^/v1/invoices/{invoice_id}/pay$")
    assert [r["idempotency-key"] for r in sent] == ["rowcol-pay-4", "rowcol-pay-4"]


async def test_reusing_an_idempotency_key_for_another_invoice_is_rejected(sim: Sim) -> None:
    account = sim.state.account(sim.business_id)
    first, second = [i for i, o in account.objects["invoice"].items() if o["status"] == "open"][:2]
    source = sim.source()
    await source.mark_invoice_paid(sim.business_id, first, idempotency_key="rowcol-pay-5")

    with pytest.raises(Rejected, match="same parameters"):
        await source.mark_invoice_paid(sim.business_id, second, idempotency_key="rowcol-pay-5")
    assert account.objects["invoice"][second]["status"] == "open"


async def test_paying_a_paid_invoice_is_rejected(sim: Sim) -> None:
    account = sim.state.account(sim.business_id)
    paid = next(i for i, o in account.objects["invoice"].items() if o["status"] == "paid")

    with pytest.raises(Rejected, match="already paid"):
        await sim.source().mark_invoice_paid(sim.business_id, paid, idempotency_key="rowcol-pay-6")


async def test_an_unknown_invoice_is_found_to_be_none(sim: Sim) -> None:
    assert await sim.source().find_invoice(sim.business_id, "in_NoSuchInvoice") is None


async def test_an_idempotency_key_must_fit_stripes_limit(sim: Sim) -> None:
    with pytest.raises(InvalidInput):
        await sim.source().mark_invoice_paid(
            sim.business_id, sim.open_invoice_id(), idempotency_key="k" * 256
        )


# Mapping ----------------------------------------------------------------------------------


async def invoice_after_patch(sim: Sim, **fields: Any) -> Any:
    invoice_id = sim.open_invoice_id()
    sim.state.patch(sim.business_id, "invoice", invoice_id, **fields)
    invoices = await sim.source().list_invoices(sim.business_id)
    return next(i for i in invoices if i.invoice_id == invoice_id)


async def test_an_uncollectible_invoice_is_still_owed(sim: Sim) -> None:
    invoice = await invoice_after_patch(sim, status="uncollectible")

    assert invoice.status is InvoiceStatus.OPEN
    assert not invoice.balance.is_zero


async def test_a_draft_invoice_reads_as_open(sim: Sim) -> None:
    invoice = await invoice_after_patch(sim, status="draft")

    assert invoice.status is InvoiceStatus.OPEN


async def test_a_void_invoice_owes_nothing(sim: Sim) -> None:
    invoice = await invoice_after_patch(sim, status="void")

    assert invoice.status is InvoiceStatus.VOID
    assert invoice.balance.is_zero


async def test_an_invoice_without_a_due_date_falls_due_when_issued(sim: Sim) -> None:
    invoice = await invoice_after_patch(
        sim, due_date=None, collection_method="charge_automatically"
    )

    assert invoice.due_date == invoice.issue_date


async def test_stripes_lower_case_currency_becomes_the_iso_code(sim: Sim) -> None:
    invoices = await sim.source().list_invoices(sim.business_id)

    assert {i.amount.currency for i in invoices} == {"USD"}
    assert all(i.external_ref == f"stripe:{i.invoice_id}" for i in invoices)


async def test_a_currency_rowcol_does_not_hold_is_unavailable_with_the_reason(sim: Sim) -> None:
    with pytest.raises(Unavailable, match="unsupported currency 'SEK'"):
        await invoice_after_patch(sim, currency="sek")


# Payout reconciliation --------------------------------------------------------------------


async def test_the_balance_transactions_of_a_payout_net_to_the_payout(sim: Sim) -> None:
    source = sim.source()
    payouts = await source.list_payouts(sim.business_id)

    for payout in payouts[:3]:
        txns = await source.list_balance_transactions(sim.business_id, payout.payout_id)
        own = [t for t in txns if t.type == "payout"]
        settled = [t for t in txns if t.type != "payout"]
        assert [t.source_id for t in own] == [payout.payout_id]
        assert own[0].net == -payout.amount
        assert sum(t.net.amount_minor for t in settled) == payout.amount.amount_minor
        assert all(t.amount - t.fee == t.net and t.fee.amount_minor > 0 for t in settled)


async def test_every_balance_transaction_is_listed_without_a_payout(sim: Sim) -> None:
    source = sim.source(page_size=50)

    txns = await source.list_balance_transactions(sim.business_id)
    payouts = await source.list_payouts(sim.business_id)

    assert len(txns) == len(sim.state.account(sim.business_id).objects["balance_transaction"])
    assert sum(t.net.amount_minor for t in txns) == 0  # everything sold was paid out
    assert len([t for t in txns if t.type == "payout"]) == len(payouts)


async def test_charges_point_at_their_balance_transactions(sim: Sim) -> None:
    source = sim.source()

    charges = await source.list_charges(sim.business_id)
    txns = {t.transaction_id: t for t in await source.list_balance_transactions(sim.business_id)}

    assert charges
    for charge in charges:
        assert charge.paid and charge.status == "succeeded"
        assert charge.balance_transaction_id is not None
        assert txns[charge.balance_transaction_id].amount == charge.amount
        assert txns[charge.balance_transaction_id].source_id == charge.charge_id


# Webhooks ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def inbox() -> Iterator[tuple[Inbox, str]]:
    receiver = Inbox()
    with BackgroundServer(receiver) as running:
        yield receiver, running.url + "/webhooks/stripe"


def verifier(sim: Sim, *secrets: str) -> StripeWebhookVerifier:
    return StripeWebhookVerifier(secrets=secrets or (WEBHOOK_SECRET,), clock=sim.clock)


async def delivered(
    sim: Sim, inbox: tuple[Inbox, str], **options: Any
) -> list[tuple[dict[str, str], bytes]]:
    receiver, url = inbox
    receiver.received.clear()
    statuses = await deliver_webhooks(sim.state, url, **options)
    assert statuses and set(statuses) == {200}
    return list(receiver.received)


async def test_a_delivered_event_is_verified_with_its_id_type_and_account(
    sim: Sim, inbox: tuple[Inbox, str]
) -> None:
    sim.state.pay_invoice(sim.business_id, sim.open_invoice_id())
    [(headers, body)] = await delivered(sim, inbox)

    [event] = await verifier(sim).verify(headers, body)

    assert event.rail is Rail.STRIPE
    assert event.event_id.startswith("evt_")
    assert event.event_type == "invoice.paid"
    assert event.account == account_id_for(sim.business_id)
    assert event.occurred_at == NOW
    assert event.payload["data"]["object"]["status"] == "paid"


async def test_stripes_own_sdk_accepts_the_simulators_signature(
    sim: Sim, inbox: tuple[Inbox, str]
) -> None:
    sim.state.pay_invoice(sim.business_id, sim.open_invoice_id())
    [(headers, body)] = await delivered(sim, inbox)

    assert stripe.WebhookSignature.verify_header(
        body.decode(), headers["stripe-signature"], WEBHOOK_SECRET, tolerance=None
    )


async def test_a_retried_delivery_keeps_the_event_id_so_it_can_be_deduplicated(
    sim: Sim, inbox: tuple[Inbox, str]
) -> None:
    sim.state.pay_invoice(sim.business_id, sim.open_invoice_id())
    sim.state.void_invoice(sim.business_id, sim.open_invoice_id())
    received = await delivered(sim, inbox, duplicate=True, reverse=True)

    ids = [(await verifier(sim).verify(h, b))[0].event_id for h, b in received]

    assert len(ids) == 4
    assert ids[0] == ids[1] and ids[2] == ids[3] and ids[0] != ids[2]
    types = [json.loads(b)["type"] for _, b in received]
    assert types == ["invoice.voided", "invoice.voided", "invoice.paid", "invoice.paid"]


async def test_a_forged_body_is_rejected(sim: Sim, inbox: tuple[Inbox, str]) -> None:
    sim.state.pay_invoice(sim.business_id, sim.open_invoice_id())
    [(headers, body)] = await delivered(sim, inbox)
    forged = body.replace(b'"invoice.paid"', b'"invoice.voided"')

    with pytest.raises(WebhookRejected, match="no Stripe-Signature v1 matches"):
        await verifier(sim).verify(headers, forged)


async def test_a_signature_with_another_secret_is_rejected(
    sim: Sim, inbox: tuple[Inbox, str]
) -> None:
    sim.state.pay_invoice(sim.business_id, sim.open_invoice_id())
    [(headers, body)] = await delivered(sim, inbox)

    with pytest.raises(WebhookRejected):
        await verifier(sim, "whsec_somebody_elses").verify(headers, body)


async def test_a_stale_signature_is_rejected_and_one_inside_the_tolerance_accepted(
    sim: Sim, inbox: tuple[Inbox, str]
) -> None:
    sim.state.pay_invoice(sim.business_id, sim.open_invoice_id())
    sim.state.void_invoice(sim.business_id, sim.open_invoice_id())
    late = await delivered(sim, inbox, signed_at=NOW - timedelta(seconds=301))
    sim.state.pay_invoice(sim.business_id, sim.open_invoice_id())
    [(headers, body)] = await delivered(sim, inbox, signed_at=NOW - timedelta(seconds=299))

    for stale_headers, stale_body in late:
        with pytest.raises(WebhookRejected, match="too old"):
            await verifier(sim).verify(stale_headers, stale_body)
    assert await verifier(sim).verify(headers, body)


async def test_a_signature_from_the_future_is_rejected(sim: Sim, inbox: tuple[Inbox, str]) -> None:
    sim.state.pay_invoice(sim.business_id, sim.open_invoice_id())
    [(headers, body)] = await delivered(sim, inbox, signed_at=NOW + timedelta(minutes=10))

    with pytest.raises(WebhookRejected, match="future"):
        await verifier(sim).verify(headers, body)


async def test_while_a_secret_is_rolled_either_secret_verifies(
    sim: Sim, inbox: tuple[Inbox, str]
) -> None:
    sim.state.webhook_secrets = ["whsec_old", "whsec_new"]
    sim.state.pay_invoice(sim.business_id, sim.open_invoice_id())
    [(headers, body)] = await delivered(sim, inbox)

    assert headers["stripe-signature"].count("v1=") == 2
    assert await verifier(sim, "whsec_new").verify(headers, body)
    assert await verifier(sim, "whsec_old").verify(headers, body)
    assert await verifier(sim, "whsec_unrelated", "whsec_new").verify(headers, body)


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (None, "missing Stripe-Signature"),
        ("v1=abcdef", "no timestamp"),
        ("t=soon,v1=abcdef", "malformed timestamp"),
        ("t=1793631600", "no v1 signature"),
        ("t=1793631600,v0=abcdef", "no v1 signature"),
    ],
)
async def test_a_malformed_signature_header_is_rejected(
    sim: Sim, header: str | None, reason: str
) -> None:
    headers = {} if header is None else {"Stripe-Signature": header}

    with pytest.raises(WebhookRejected, match=reason):
        await verifier(sim).verify(headers, b'{"id": "evt_1", "object": "event"}')


async def test_a_signed_body_that_is_not_an_event_is_rejected(sim: Sim) -> None:
    body = b'{"hello": "world"}'
    headers = {"Stripe-Signature": sim.state.sign(body)}

    with pytest.raises(WebhookRejected, match="not a Stripe event"):
        await verifier(sim).verify(headers, body)


def test_a_verifier_needs_a_secret() -> None:
    with pytest.raises(InvalidInput):
        StripeWebhookVerifier(secrets=[], clock=ManualClock(NOW))
