"""The Ramp adapter's own behaviour against the Ramp simulator: paging, retries, the
non-idempotent bill create, tokens, refusals, vendor mapping and webhooks."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rowcol.adapters.clock import ManualClock
from rowcol.adapters.memory.credentials import MemoryCredentialStore
from rowcol.adapters.railkit.resilience import RailHealthMonitor, RateLimit, RetryPolicy
from rowcol.adapters.ramp import RampPaymentRail, RampWebhookVerifier, ramp_caller
from rowcol.adapters.ramp import mapping as ramp_mapping
from rowcol.adapters.ramp.webhooks import signature
from rowcol.core.domain.ids import BillId, BusinessId, Rail, VendorId
from rowcol.core.domain.money import Money
from rowcol.core.domain.records import BillStatus
from rowcol.demodata.generator import DemoFirm, generate_firm
from rowcol.ports.errors import OutcomeUnknown, Rejected, Unavailable
from rowcol.ports.payment_rail import PaymentRequest, RailPaymentStatus
from rowcol.ports.webhooks import WebhookEvent, WebhookRejected
from rowcol.simulators.faults import FaultKind, FaultPlan
from rowcol.simulators.ramp import (
    RampState,
    client_id_for,
    client_secret_for,
    create_app,
    deliver_webhooks,
    seed_from_demo,
)
from rowcol.simulators.ramp.state import minor_units
from rowcol.simulators.server import BackgroundServer

TODAY = date(2026, 11, 2)
NOW = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)
PAY_ON = TODAY + timedelta(days=3)
BILLS = "/developer/v1/bills"


class Swappable:
    """An ASGI app whose target each test replaces, so one server serves the module.

    `slow_answer` = (method, path, seconds) holds back the answer to the next such
    request after the app has acted (the shared LATENCY fault waits before the app reads
    the request, so a client that gives up first leaves nothing done).
    """

    def __init__(self) -> None:
        self.app: Any = None
        self.slow_answer: tuple[str, str, float] | None = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                kind = message["type"].rsplit(".", 1)[-1]
                await send({"type": f"lifespan.{kind}.complete"})
                if kind == "shutdown":
                    return
        slow = self.slow_answer
        if slow is not None and (scope["method"], scope["path"]) == slow[:2]:
            self.slow_answer = None

            async def late_send(message: dict[str, Any]) -> None:
                if message["type"] == "http.response.start":
                    await asyncio.sleep(slow[2])
                await send(message)

            await self.app(scope, receive, late_send)
            return
        await self.app(scope, receive, send)


class Receiver:
    """A webhook endpoint: records what arrives, optionally answering with `status`."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.status = 200

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await Swappable()(scope, receive, send)
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        self.received.append((headers, body))
        await send({"type": "http.response.start", "status": self.status, "headers": []})
        await send({"type": "http.response.body", "body": b""})


class FlakyTransport(httpx.AsyncBaseTransport):
    """The network: can refuse the next connections, or deliver a request and then lose
    the answer (a dropped connection after the server acted)."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.refuse_next: tuple[str, str] | None = None
        self.drop_answer_to: tuple[str, str] | None = None
        self.seen: list[tuple[str, str, str]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(
            (request.method, request.url.path, request.headers.get("authorization", ""))
        )
        if self.refuse_next == (request.method, request.url.path):
            self.refuse_next = None
            raise httpx.ConnectError("connection refused", request=request)
        response = await self.inner.handle_async_request(request)
        if self.drop_answer_to == (request.method, request.url.path):
            self.drop_answer_to = None
            await response.aclose()
            raise httpx.RemoteProtocolError("server disconnected", request=request)
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


class RecordingStore(MemoryCredentialStore):
    def __init__(self, log: list[tuple[str, str]]) -> None:
        super().__init__()
        self.log = log

    async def save(self, business_id: BusinessId, rail: Rail, secrets: Mapping[str, str]) -> None:
        await super().save(business_id, rail, secrets)
        if secrets.get("access_token"):
            self.log.append(("saved", secrets["access_token"]))


@dataclass
class Env:
    firm: DemoFirm
    state: RampState
    plan: FaultPlan
    clock: ManualClock
    store: RecordingStore
    network: FlakyTransport
    url: str
    target: Swappable
    sleeps: list[float]
    log: list[tuple[str, str]] = field(default_factory=list)
    rails: list[RampPaymentRail] = field(default_factory=list)

    def rail(self, **options: Any) -> RampPaymentRail:
        async def sleep(seconds: float) -> None:
            self.sleeps.append(seconds)

        caller_options = options.pop("caller_options", {})
        http = options.pop("http", None) or httpx.AsyncClient(
            transport=self.network,
            timeout=options.pop("timeout", 10.0),
            event_hooks={"request": [self._log_request]},
        )
        rail = RampPaymentRail(
            base_url=options.pop("base_url", self.url),
            credentials=self.store,
            clock=self.clock,
            caller=ramp_caller(
                RailHealthMonitor(self.clock),
                rate_limit=RateLimit(10_000, 10.0),
                sleep=sleep,
                **caller_options,
            ),
            http=http,
            **options,
        )
        self.rails.append(rail)
        return rail

    async def _log_request(self, request: httpx.Request) -> None:
        token = request.headers.get("authorization", "")
        if token.startswith("Bearer "):
            self.log.append(("used", token[7:]))

    def stored_token(self, business_id: BusinessId) -> str:
        return self.store.secrets[(business_id, Rail.RAMP)]["access_token"]

    def requests(self, method: str, path: str) -> int:
        with self.state.lock:
            return sum(1 for m, p, _ in self.state.requests if m == method and p == path)


@pytest.fixture(scope="module")
def firm() -> DemoFirm:
    return generate_firm(clients=2, seed=11, today=TODAY, history_months=2)


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, Swappable]]:
    target = Swappable()
    with BackgroundServer(target) as running:
        yield running.url, target


@pytest.fixture
async def env(firm: DemoFirm, server: tuple[str, Swappable]) -> AsyncIterator[Env]:
    url, target = server
    clock = ManualClock(NOW)
    state = seed_from_demo(firm, now=clock.now)
    plan = FaultPlan()
    target.app = create_app(state, plan)
    log: list[tuple[str, str]] = []
    store = RecordingStore(log)
    for data in firm.records:
        await store.save(
            data.business_id,
            Rail.RAMP,
            {
                "client_id": client_id_for(data.business_id),
                "client_secret": client_secret_for(data.business_id),
            },
        )
    network = FlakyTransport()
    environment = Env(firm, state, plan, clock, store, network, url, target, [], log)
    yield environment
    for rail in environment.rails:
        await rail.aclose()
    await network.aclose()


def request_for(env: Env, reference: str, **changes: Any) -> PaymentRequest:
    data = env.firm.records[0]
    fields: dict[str, Any] = {
        "reference": reference,
        "business_id": data.business_id,
        "bill_id": data.bills[-1].bill_id,
        "vendor_id": data.bills[-1].vendor_id,
        "amount": Money(250_000_00, "USD"),
        "pay_on": PAY_ON,
    }
    fields.update(changes)
    return PaymentRequest(**fields)


def biz(env: Env, index: int = 0) -> BusinessId:
    return env.firm.records[index].business_id


# Paging -------------------------------------------------------------------------------


async def test_list_bills_follows_page_next_until_it_is_null(env: Env) -> None:
    rail = env.rail(page_size=5)
    data = env.firm.records[0]

    bills = await rail.list_bills(data.business_id)

    assert len(bills) == len(data.bills)
    assert len({b.bill_id for b in bills}) == len(bills)
    assert env.requests("GET", BILLS) == -(-len(data.bills) // 5)
    by_amount = sorted((b.amount, b.issue_date, b.status) for b in bills)
    expected = sorted((b.amount, b.issue_date, b.status) for b in data.bills)
    assert by_amount == expected
    assert all(b.external_ref == f"ramp:{b.bill_id.removeprefix('ramp-')}" for b in bills)


async def test_list_bills_from_a_creation_time_brings_only_newer_bills(env: Env) -> None:
    rail = env.rail()
    await rail.submit_payment(request_for(env, "pay-new"))

    newer = await rail.list_bills(biz(env), from_created_at=NOW - timedelta(minutes=1))

    assert len(newer) == 1
    assert newer[0].amount == Money(250_000_00, "USD")
    assert newer[0].status is BillStatus.OPEN
    assert newer[0].due_date == PAY_ON


async def test_list_vendors_maps_every_active_vendor(env: Env) -> None:
    rail = env.rail(page_size=4)
    data = env.firm.records[1]
    env.state.deactivate_vendor(data.business_id, data.vendors[0].vendor_id)

    vendors = await rail.list_vendors(data.business_id)

    assert sorted(v.name for v in vendors) == sorted(v.name for v in data.vendors[1:])
    assert all(v.vendor_id.startswith("ramp-") for v in vendors)
    assert all(v.external_ref and v.external_ref.startswith("ramp:") for v in vendors)


# Retries ------------------------------------------------------------------------------


async def test_a_429_is_retried_no_sooner_than_its_retry_after(env: Env) -> None:
    rail = env.rail()
    fault = env.plan.add(FaultKind.RATE_LIMIT, path=f"^{BILLS}$", method="GET", times=2)
    fault.retry_after = 3

    bills = await rail.list_bills(biz(env))

    assert bills
    assert fault.hits == 2
    assert len(env.sleeps) == 2 and all(s >= 3 for s in env.sleeps)


async def test_a_5xx_on_a_read_is_retried(env: Env) -> None:
    rail = env.rail()
    submitted = await rail.submit_payment(request_for(env, "pay-5xx-read"))
    fault = env.plan.add(FaultKind.SERVER_ERROR, path=f"^{BILLS}/", method="GET", times=2)

    status = await rail.payment_status(biz(env), submitted.rail_payment_id)

    assert status.status is RailPaymentStatus.SCHEDULED
    assert fault.hits == 2


async def test_reads_that_keep_failing_are_unavailable(env: Env) -> None:
    rail = env.rail()
    env.plan.add(FaultKind.SERVER_ERROR, path=f"^{BILLS}$", method="GET", times=100)

    with pytest.raises(Unavailable):
        await rail.list_bills(biz(env))


async def test_a_5xx_on_bill_creation_is_outcome_unknown_and_never_resent(env: Env) -> None:
    rail = env.rail()
    request = request_for(env, "pay-5xx-create")
    fault = env.plan.add(FaultKind.SERVER_ERROR, path=f"^{BILLS}$", method="POST", times=5)

    with pytest.raises(OutcomeUnknown):
        await rail.submit_payment(request)

    assert fault.hits == 1
    # Ramp lists bills from a read replica: "not found" is not trusted at once, and
    # neither is sending again.
    with pytest.raises(Unavailable, match="read replica"):
        await rail.find_payment(request.business_id, request.reference)
    env.plan.clear()
    with pytest.raises(Unavailable, match="read replica"):
        await rail.submit_payment(request)
    assert fault.hits == 1 and env.requests("POST", BILLS) == 0
    env.clock.advance(timedelta(seconds=31))
    # This 500 came before Ramp acted, so the look-up finds nothing and a new
    # submission under the same reference is safe.
    assert await rail.find_payment(request.business_id, request.reference) is None
    assert (await rail.submit_payment(request)).status is RailPaymentStatus.SCHEDULED


async def test_a_dropped_connection_after_creation_is_outcome_unknown_then_found(
    env: Env,
) -> None:
    rail = env.rail()
    request = request_for(env, "pay-dropped")
    env.network.drop_answer_to = ("POST", BILLS)

    with pytest.raises(OutcomeUnknown):
        await rail.submit_payment(request)
    posts = env.requests("POST", BILLS)
    found = await rail.find_payment(request.business_id, request.reference)

    assert posts == 1
    assert found is not None and found.status is RailPaymentStatus.SCHEDULED
    assert found.amount == request.amount


async def test_a_timeout_after_sending_is_outcome_unknown_and_the_bill_appears(env: Env) -> None:
    rail = env.rail(timeout=0.3)
    request = request_for(env, "pay-slow")
    env.target.slow_answer = ("POST", BILLS, 0.6)

    with pytest.raises(OutcomeUnknown):
        await rail.submit_payment(request)
    found = await rail.find_payment(request.business_id, request.reference)

    assert found is not None and found.amount == request.amount
    assert env.requests("POST", BILLS) == 1


async def test_a_refused_connection_before_sending_is_retried_and_pays_once(env: Env) -> None:
    rail = env.rail()
    request = request_for(env, "pay-refused-once")
    env.network.refuse_next = ("POST", BILLS)

    payment = await rail.submit_payment(request)

    assert payment.status is RailPaymentStatus.SCHEDULED
    assert env.network.refuse_next is None
    assert env.requests("POST", BILLS) == 1
    assert len(env.sleeps) == 1


async def test_a_circuit_opens_after_repeated_failures(env: Env) -> None:
    rail = env.rail(caller_options={"failure_threshold": 2, "retry": RetryPolicy(attempts=1)})
    env.plan.add(FaultKind.SERVER_ERROR, path=f"^{BILLS}$", method="GET", times=100)
    for _ in range(2):
        with pytest.raises(Unavailable):
            await rail.list_bills(biz(env))

    with pytest.raises(Unavailable, match="circuit open"):
        await rail.list_bills(biz(env))


# Tokens -------------------------------------------------------------------------------


async def test_the_token_is_saved_before_it_is_first_used(env: Env) -> None:
    rail = env.rail()

    await rail.list_vendors(biz(env))

    token = env.stored_token(biz(env))
    assert env.log.index(("saved", token)) < env.log.index(("used", token))
    saved = env.store.secrets[(biz(env), Rail.RAMP)]
    assert saved["client_id"] == client_id_for(biz(env))
    assert saved["client_secret"] == client_secret_for(biz(env))
    assert datetime.fromisoformat(saved["access_expires_at"]) == NOW + timedelta(days=10)


async def test_an_expired_token_is_renewed_once_and_saved_before_use(env: Env) -> None:
    rail = env.rail()
    await rail.list_vendors(biz(env))
    old = env.stored_token(biz(env))
    env.state.expire_tokens()

    await rail.list_vendors(biz(env))

    new = env.stored_token(biz(env))
    assert new != old
    assert [entry for entry in env.log if entry[0] == "saved"][-1] == ("saved", new)
    assert env.log.index(("saved", new)) < env.log.index(("used", new))
    tokens_requested = sum(1 for m, p, _ in env.network.seen if p == "/developer/v1/token")
    assert tokens_requested == 2


async def test_a_token_near_its_expiry_is_renewed_before_the_call(env: Env) -> None:
    rail = env.rail()
    await rail.list_vendors(biz(env))
    old = env.stored_token(biz(env))
    env.clock.advance(timedelta(days=10) - timedelta(seconds=30))

    await rail.list_vendors(biz(env))

    new = env.stored_token(biz(env))
    assert new != old
    used = [token for kind, token in env.log if kind == "used"]
    assert old not in used[used.index(new) :]


async def test_a_second_401_after_renewal_is_rejected(env: Env) -> None:
    rail = env.rail()
    env.plan.add(FaultKind.EXPIRED_TOKEN, path="^/developer/v1/vendors$", times=2)

    with pytest.raises(Rejected, match="fresh access token"):
        await rail.list_vendors(biz(env))


async def test_wrong_client_credentials_are_rejected(env: Env) -> None:
    rail = env.rail()
    await env.store.save(
        biz(env), Rail.RAMP, {"client_id": client_id_for(biz(env)), "client_secret": "nope"}
    )

    with pytest.raises(Rejected, match="client credentials"):
        await rail.list_vendors(biz(env))


async def test_a_business_without_credentials_is_unavailable(env: Env) -> None:
    rail = env.rail()

    with pytest.raises(Unavailable, match="no Ramp connection"):
        await rail.list_bills(BusinessId("biz-9999"))


async def test_a_token_without_the_write_scope_is_rejected_as_missing_scope(env: Env) -> None:
    rail = env.rail(scope="bills:read vendors:read entities:read")

    with pytest.raises(Rejected, match="missing scope"):
        await rail.submit_payment(request_for(env, "pay-no-scope"))

    assert env.state.bill_by_remote_id(biz(env), "pay-no-scope") is None


# Refusals and look-ups ----------------------------------------------------------------


async def test_rampss_validation_message_reaches_the_caller(env: Env) -> None:
    rail = env.rail()

    with pytest.raises(Rejected, match="DEVELOPER_7001: The selected payment arrival date"):
        await rail.submit_payment(request_for(env, "pay-past", pay_on=TODAY - timedelta(days=2)))


async def test_a_non_positive_amount_is_refused_before_calling_ramp(env: Env) -> None:
    rail = env.rail()

    with pytest.raises(Rejected, match="positive"):
        await rail.submit_payment(request_for(env, "pay-zero", amount=Money(0, "USD")))

    assert env.network.seen == []


async def test_an_archived_bill_is_found_as_canceled_and_its_reference_stays_used(
    env: Env,
) -> None:
    rail = env.rail()
    request = request_for(env, "pay-archived")
    submitted = await rail.submit_payment(request)
    business = env.state.business_for(request.business_id)
    env.state.archive_bill(business, submitted.rail_payment_id)

    found = await env.rail().find_payment(request.business_id, request.reference)

    assert found is not None and found.status is RailPaymentStatus.CANCELED
    with pytest.raises(Rejected, match="already exists"):
        await rail.submit_payment(request)


async def test_a_long_reference_fits_the_invoice_number_and_is_still_found(env: Env) -> None:
    rail = env.rail()
    reference = "pay-2026-11-02-biz-0001-bill-0001-000052-attempt-1"
    await rail.submit_payment(request_for(env, reference))

    bill = env.state.bill_by_remote_id(biz(env), reference)
    found = await env.rail().find_payment(biz(env), reference)

    assert bill is not None
    assert len(bill.invoice_number) <= 20
    assert bill.invoice_number == ramp_mapping.invoice_number_for(reference)
    assert found is not None and found.rail_payment_id == bill.id


async def test_another_process_finds_the_payment_by_scanning_all_bills(env: Env) -> None:
    await env.rail().submit_payment(request_for(env, "pay-restart"))
    fresh = env.rail(page_size=10)

    found = await fresh.find_payment(biz(env), "pay-restart")

    assert found is not None
    filtered = [q for m, p, q in env.state.requests if p == BILLS and "vendor_id" in q]
    unfiltered = [q for m, p, q in env.state.requests if p == BILLS and "vendor_id" not in q]
    assert filtered  # the submitting process narrowed by vendor
    assert len(unfiltered) >= 2  # the fresh one paged through everything


async def test_the_bill_carries_the_payment_details_ramp_needs(env: Env) -> None:
    rail = env.rail()
    request = request_for(env, "pay-details", amount=Money(1_234_56, "USD"))

    await rail.submit_payment(request)

    bill = env.state.bill_by_remote_id(biz(env), "pay-details")
    assert bill is not None
    assert bill.amount_minor == 1_234_56
    assert bill.arrival_date == PAY_ON
    assert bill.due_at == PAY_ON
    assert bill.issued_at == TODAY
    assert bill.payment_method == "ACH"
    assert bill.invoice_number == "pay-details"
    assert bill.approval_status == "APPROVED"


# Vendors ------------------------------------------------------------------------------


async def test_a_custom_vendor_resolver_decides_the_payee(env: Env) -> None:
    data = env.firm.records[0]
    chosen = env.state.add_vendor(data.business_id, "Chosen Supply Co")
    asked: list[tuple[BusinessId, VendorId]] = []

    async def resolver(business_id: BusinessId, vendor_id: VendorId) -> str:
        asked.append((business_id, vendor_id))
        return chosen.id

    rail = env.rail(vendor_resolver=resolver)
    request = request_for(env, "pay-resolved")

    await rail.submit_payment(request)

    bill = env.state.bill_by_remote_id(data.business_id, "pay-resolved")
    assert bill is not None and bill.vendor_id == chosen.id
    assert asked == [(data.business_id, request.vendor_id)]


async def test_a_quickbooks_vendor_is_matched_by_its_accounting_remote_id(env: Env) -> None:
    data = env.firm.records[0]
    synced = env.state.add_vendor(data.business_id, "Synced From QBO LLC", remote_id="130")
    rail = env.rail()

    await rail.submit_payment(request_for(env, "pay-qbo", vendor_id=VendorId("qbo-130")))

    bill = env.state.bill_by_remote_id(data.business_id, "pay-qbo")
    assert bill is not None and bill.vendor_id == synced.id


async def test_a_vendor_without_a_bank_account_is_refused(env: Env) -> None:
    data = env.firm.records[0]
    env.state.add_vendor(
        data.business_id, "Paper Only Inc", remote_id="ven-paper", with_account=False
    )
    rail = env.rail()

    with pytest.raises(Rejected, match="no ACH bank account"):
        await rail.submit_payment(request_for(env, "pay-paper", vendor_id=VendorId("ven-paper")))

    assert env.requests("POST", BILLS) == 0


# Webhooks -----------------------------------------------------------------------------


async def test_subscribing_answers_the_secret_and_the_challenge_activates_it(env: Env) -> None:
    rail = env.rail()
    receiver = Receiver()
    with BackgroundServer(receiver) as hook_server:
        webhook_id, secret = await rail.subscribe_webhooks(
            biz(env), f"{hook_server.url}/hooks/ramp", ["bills.paid", "bills.approved"]
        )
        verifier = RampWebhookVerifier.with_secrets(secret)
        submitted = await rail.submit_payment(request_for(env, "pay-hooked"))
        env.state.advance(3)

        await deliver_webhooks(env.state)
        handshake = await verify_all(verifier, receiver)
        assert [e.event_type for e in handshake] == ["webhooks.verification"]
        assert handshake[0].challenge
        await rail.confirm_webhook(biz(env), webhook_id, handshake[0].challenge)
        receiver.received.clear()
        await deliver_webhooks(env.state)
        events = await verify_all(verifier, receiver)

    business = env.state.business_for(biz(env))
    assert business.webhooks[webhook_id].status == "active"
    assert [e.event_type for e in events] == ["bills.approved", "bills.paid"]
    assert {e.payload["object"]["id"] for e in events} == {submitted.rail_payment_id}
    assert {e.account for e in events} == {business.id}


async def test_a_wrong_challenge_is_rejected(env: Env) -> None:
    rail = env.rail()
    webhook_id, _ = await rail.subscribe_webhooks(biz(env), "http://127.0.0.1:9/x", ["bills.paid"])

    with pytest.raises(Rejected, match="Invalid challenge"):
        await rail.confirm_webhook(biz(env), webhook_id, "ramp_challenge_guess")


async def verify_all(verifier: RampWebhookVerifier, receiver: Receiver) -> list[WebhookEvent]:
    events: list[WebhookEvent] = []
    for headers, body in receiver.received:
        events.extend(await verifier.verify(headers, body))
    return events


async def test_duplicate_and_reordered_deliveries_verify_and_dedupe_by_event_id(env: Env) -> None:
    rail = env.rail()
    receiver = Receiver()
    with BackgroundServer(receiver) as hook_server:
        webhook_id, secret = await rail.subscribe_webhooks(
            biz(env), hook_server.url, ["bills.created", "bills.paid"]
        )
        business = env.state.business_for(biz(env))
        env.state.verify_webhook(business, webhook_id, business.webhooks[webhook_id].challenge)
        await rail.submit_payment(request_for(env, "pay-dup-1"))
        await rail.submit_payment(request_for(env, "pay-dup-2"))

        await deliver_webhooks(env.state, duplicate=True, reverse=True, delay=0.01)

    events = await verify_all(RampWebhookVerifier.with_secrets(secret), receiver)
    assert len(events) == 4
    unique = {e.event_id: e for e in events}
    assert len(unique) == 2
    created = sorted(unique.values(), key=lambda e: e.occurred_at or NOW)
    assert [e.event_type for e in created] == ["bills.created", "bills.created"]
    assert events[0].event_id == events[1].event_id


async def test_an_endpoint_that_fails_is_owed_the_events_again(env: Env) -> None:
    rail = env.rail()
    receiver = Receiver()
    receiver.status = 503
    with BackgroundServer(receiver) as hook_server:
        webhook_id, _ = await rail.subscribe_webhooks(biz(env), hook_server.url, ["bills.created"])
        business = env.state.business_for(biz(env))
        env.state.verify_webhook(business, webhook_id, business.webhooks[webhook_id].challenge)
        await rail.submit_payment(request_for(env, "pay-retry-hook"))

        first = await deliver_webhooks(env.state)
        receiver.status = 200
        second = await deliver_webhooks(env.state)

    assert first == [503]
    assert second == [200]


def signed(secret: str, event: dict[str, Any]) -> tuple[bytes, str]:
    body = json.dumps(event).encode()
    return body, signature(secret, body)


EVENT = {
    "id": "3c1f5f0a-0b7e-4c55-9d1e-2b6f0c3e7a11",
    "type": "bills.paid",
    "created_at": "2026-11-02T14:59:00+00:00",
    "business_id": "7d2b0f0e-5a3a-4f0e-9d9e-1f2e3d4c5b6a",
    "object": {"id": "0d3e2c1b-1111-4a4a-8b8b-123456789abc"},
}


@pytest.mark.parametrize("header", ["X-Ramp-Webhook-Signature", "X-Ramp-Signature"])
async def test_a_genuine_event_is_accepted_under_either_header(header: str) -> None:
    body, sig = signed("whsec-a", EVENT)

    events = await RampWebhookVerifier.with_secrets("whsec-a").verify({header: sig}, body)

    assert [(e.event_id, e.event_type, e.account) for e in events] == [
        (EVENT["id"], "bills.paid", EVENT["business_id"])
    ]
    assert events[0].occurred_at == datetime(2026, 11, 2, 14, 59, tzinfo=UTC)
    assert events[0].challenge is None


async def test_a_prefixed_upper_case_or_base64_signature_is_accepted() -> None:
    body, sig = signed("whsec-a", EVENT)
    raw = bytes.fromhex(sig)
    verifier = RampWebhookVerifier.with_secrets("whsec-a")

    for rendering in (f"sha256={sig}", sig.upper(), base64.b64encode(raw).decode()):
        assert await verifier.verify({"x-ramp-webhook-signature": rendering}, body)


async def test_a_forged_or_tampered_event_is_rejected() -> None:
    body, sig = signed("whsec-a", EVENT)
    verifier = RampWebhookVerifier.with_secrets("whsec-a")

    with pytest.raises(WebhookRejected, match="does not match"):
        await verifier.verify({"X-Ramp-Webhook-Signature": signature("guess", body)}, body)
    with pytest.raises(WebhookRejected, match="does not match"):
        await verifier.verify({"X-Ramp-Webhook-Signature": sig}, body.replace(b"paid", b"pain"))
    with pytest.raises(WebhookRejected, match="missing"):
        await verifier.verify({}, body)
    with pytest.raises(WebhookRejected, match="malformed"):
        await verifier.verify({"X-Ramp-Signature": "not-a-signature"}, body)


async def test_the_secret_is_chosen_by_the_claimed_business() -> None:
    body, sig = signed("secret-of-b", EVENT)
    asked: list[str | None] = []

    async def lookup(business_id: str | None) -> list[str]:
        asked.append(business_id)
        return ["secret-of-b"] if business_id == EVENT["business_id"] else []

    verifier = RampWebhookVerifier(secrets=lookup)

    assert await verifier.verify({"X-Ramp-Signature": sig}, body)
    other = dict(EVENT, business_id="someone-else")
    body2, sig2 = signed("secret-of-b", other)
    with pytest.raises(WebhookRejected, match="no Ramp webhook secret"):
        await verifier.verify({"X-Ramp-Signature": sig2}, body2)
    assert asked == [EVENT["business_id"], "someone-else"]


async def test_a_stale_event_is_rejected_when_a_max_age_is_set() -> None:
    body, sig = signed("whsec-a", EVENT)
    clock = ManualClock(datetime(2026, 11, 3, 15, 0, tzinfo=UTC))
    strict = RampWebhookVerifier.with_secrets("whsec-a", clock=clock, max_age=timedelta(hours=6))
    lenient = RampWebhookVerifier.with_secrets("whsec-a")

    with pytest.raises(WebhookRejected, match="older than"):
        await strict.verify({"X-Ramp-Signature": sig}, body)
    # Ramp signs no timestamp: without max_age a replay verifies, and the event id
    # (the same on every retry) is what dedupes it.
    assert (await lenient.verify({"X-Ramp-Signature": sig}, body))[0].event_id == EVENT["id"]


async def test_the_verification_event_carries_its_challenge() -> None:
    event = dict(EVENT, type="webhooks.verification", challenge="ramp_challenge_abc")
    body, sig = signed("whsec-a", event)

    events = await RampWebhookVerifier.with_secrets("whsec-a").verify(
        {"X-Ramp-Webhook-Signature": sig}, body
    )

    assert events[0].challenge == "ramp_challenge_abc"


# Mapping properties ----------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(st.integers(min_value=1, max_value=10**13), st.sampled_from(["USD", "JPY", "KWD"]))
def test_bill_amounts_cross_the_wire_exactly(amount_minor: int, currency: str) -> None:
    money = Money(amount_minor, currency)

    wire_amount = ramp_mapping.decimal_amount(money)

    assert minor_units(wire_amount, currency, "amount") == amount_minor


@settings(max_examples=40, deadline=None)
@given(st.text(min_size=1, max_size=80))
def test_every_reference_has_a_stable_invoice_number_within_ramps_limit(reference: str) -> None:
    number = ramp_mapping.invoice_number_for(reference)

    assert 1 <= len(number) <= 20
    assert number == ramp_mapping.invoice_number_for(reference)
    if len(reference) <= 20 and reference.isascii() and reference.isprintable():
        assert number == reference


def test_payment_states_follow_ramps_bill_and_approval_states() -> None:
    def bill(**fields: Any) -> Any:
        base: dict[str, Any] = {"id": "b1", "amount": {"amount": 100, "currency_code": "USD"}}
        base.update(fields)
        from rowcol.adapters.ramp import wire

        return wire.Bill(**{**base, "amount": wire.CurrencyAmount(**base["amount"])})

    cases = {
        RailPaymentStatus.SCHEDULED: bill(status="OPEN", approval_status="APPROVED"),
        RailPaymentStatus.PENDING: bill(status="OPEN", approval_status="PENDING"),
        RailPaymentStatus.PAID: bill(status="PAID", approval_status="APPROVED"),
        RailPaymentStatus.CANCELED: bill(status="OPEN", approval_status="REJECTED"),
        RailPaymentStatus.FAILED: bill(status="OPEN", approval_status="TERMINATED"),
    }
    for expected, case in cases.items():
        assert ramp_mapping.payment_status(case) is expected
    archived = bill(status="OPEN", approval_status="APPROVED", archived_at="2026-11-02T00:00:00Z")
    assert ramp_mapping.payment_status(archived) is RailPaymentStatus.CANCELED


def test_a_ramp_bill_maps_to_a_rowcol_bill() -> None:
    from rowcol.adapters.ramp import wire

    paid = wire.Bill(
        id="0d3e2c1b-1111-4a4a-8b8b-123456789abc",
        amount=wire.CurrencyAmount(amount=98_765, currency_code="USD"),
        status="PAID",
        approval_status="APPROVED",
        vendor=wire.BillVendor(id="v-1", name="Acme"),
        issued_at="2026-10-01T00:00:00+00:00",
        due_at="2026-10-31T00:00:00+00:00",
        paid_at="2026-10-30T12:00:00+00:00",
        memo="Office supplies",
    )

    bill = ramp_mapping.to_bill(BusinessId("biz-0001"), paid)

    assert bill.bill_id == BillId("ramp-0d3e2c1b-1111-4a4a-8b8b-123456789abc")
    assert bill.vendor_id == VendorId("ramp-v-1")
    assert bill.amount == Money(98_765, "USD") and bill.balance == Money(0, "USD")
    assert (bill.issue_date, bill.due_date, bill.paid_date) == (
        date(2026, 10, 1),
        date(2026, 10, 31),
        date(2026, 10, 30),
    )
    assert bill.status is BillStatus.PAID
    assert bill.external_ref == "ramp:0d3e2c1b-1111-4a4a-8b8b-123456789abc"


async def test_a_subscription_is_ended_and_ending_it_again_is_harmless(env: Env) -> None:
    rail = env.rail()
    webhook_id, _ = await rail.subscribe_webhooks(biz(env), "http://127.0.0.1:9/x", ["bills.paid"])
    business = env.state.business_for(biz(env))
    assert webhook_id in business.webhooks

    await rail.unsubscribe(biz(env), webhook_id)
    assert webhook_id not in business.webhooks
    await rail.unsubscribe(biz(env), webhook_id)  # gone already: nothing to do
    with pytest.raises(Rejected):
        await rail.unsubscribe(biz(env), "../../vendors")


async def test_subscribing_again_keeps_one_subscription_and_a_new_url_replaces_it(
    env: Env,
) -> None:
    from rowcol.adapters.memory.repository import MemoryUnitOfWorkFactory
    from rowcol.core.services.webhooks import WebhookSubscriptions

    uow = MemoryUnitOfWorkFactory()
    subscriptions = WebhookSubscriptions(uow, env.clock, env.store, {Rail.RAMP: env.rail()})
    business = env.state.business_for(biz(env))

    first = await subscriptions.subscribe(biz(env), Rail.RAMP, "https://rowcol.example/a")
    again = await subscriptions.subscribe(biz(env), Rail.RAMP, "https://rowcol.example/a")
    assert (first.new, again.new, again.subscription_id) == (True, False, first.subscription_id)
    assert list(business.webhooks) == [first.subscription_id]

    moved = await subscriptions.subscribe(biz(env), Rail.RAMP, "https://rowcol.example/b")
    assert (moved.new, moved.replaced, moved.old_ended) == (True, first.subscription_id, True)
    assert list(business.webhooks) == [moved.subscription_id]
    kept = await env.store.load(biz(env), Rail.RAMP)
    assert kept is not None and kept["webhook_id"] == moved.subscription_id
    assert kept["webhook_url"] == "https://rowcol.example/b"

    # Ramp will not end the old one now: the new one stands, and the answer says so.
    env.plan.add(FaultKind.SERVER_ERROR, method="DELETE", path="/developer/v1/webhooks/", times=50)
    last = await subscriptions.subscribe(biz(env), Rail.RAMP, "https://rowcol.example/c")
    assert (last.replaced, last.old_ended) == (moved.subscription_id, False)
    assert set(business.webhooks) == {moved.subscription_id, last.subscription_id}
    kept = await env.store.load(biz(env), Rail.RAMP)
    assert kept is not None and kept["webhook_id"] == last.subscription_id
    async with uow() as unit:
        audited = [e for e in await unit.audit.events() if e.action == "rail.webhooks_subscribed"]
    assert [e.before for e in audited] == [
        None,
        {"subscription": first.subscription_id},
        {"subscription": moved.subscription_id},
    ]
