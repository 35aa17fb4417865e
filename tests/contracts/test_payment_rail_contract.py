"""One behaviour suite for every PaymentRail: the in-memory fake (`[fake]`), and the
Ramp adapter talking to the Ramp simulator over HTTP (`[ramp]`). Both start from the
same demo books.

Exactly-once is the point: a reference is paid at most once, a lost answer is
`OutcomeUnknown`, and looking the reference up afterwards finds what happened.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest

from rowcol.adapters.clock import ManualClock
from rowcol.adapters.memory.credentials import MemoryCredentialStore
from rowcol.adapters.memory.rails import MemoryPaymentRail
from rowcol.adapters.railkit.resilience import RailHealthMonitor, RateLimit
from rowcol.adapters.ramp import RampPaymentRail, ramp_caller
from rowcol.core.domain.ids import BusinessId, Rail, VendorId
from rowcol.core.domain.money import Money
from rowcol.demodata.generator import BusinessData, DemoFirm, generate_firm
from rowcol.ports.errors import OutcomeUnknown, Rejected, Unavailable
from rowcol.ports.payment_rail import (
    PaymentRail,
    PaymentRequest,
    RailBill,
    RailPayment,
    RailPaymentStatus,
)
from rowcol.simulators.faults import FaultKind, FaultPlan
from rowcol.simulators.ramp import (
    client_id_for,
    client_secret_for,
    create_app,
    seed_from_demo,
)
from rowcol.simulators.server import BackgroundServer

TODAY = date(2026, 11, 2)
NOW = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)
PAY_ON = TODAY + timedelta(days=3)


@dataclass
class Rig:
    """A rail under test and the levers a test pulls on the world behind it."""

    kind: str
    rail: PaymentRail
    settle: Callable[[BusinessId, str], None]
    cancel: Callable[[BusinessId, str], None]
    lose_next_answer: Callable[[], None]
    go_down: Callable[[], None]
    refuse: Callable[[PaymentRequest], None]
    payments_for: Callable[[BusinessId, str], int]
    """How many payments the rail holds for a reference."""
    payee_of: Callable[[BusinessId, str], VendorId | None]
    """RowCol's vendor that the rail pays for a reference."""


@pytest.fixture(scope="module")
def firm() -> DemoFirm:
    return generate_firm(clients=2, seed=11, today=TODAY, history_months=2)


def fake_rig(firm: DemoFirm) -> Rig:
    fake = MemoryPaymentRail(ManualClock(NOW))
    for data in firm.records:
        fake.connect(data.business_id, [v.vendor_id for v in data.vendors])

    def settle(business_id: BusinessId, reference: str) -> None:
        fake.settle(business_id, reference, RailPaymentStatus.PAID)

    def cancel(business_id: BusinessId, reference: str) -> None:
        fake.settle(business_id, reference, RailPaymentStatus.CANCELED)

    def lose_next_answer() -> None:
        fake.lose_next_answer = True

    def go_down() -> None:
        fake.unavailable = True

    def refuse(request: PaymentRequest) -> None:
        fake.reject_references.add(request.reference)

    def payments_for(business_id: BusinessId, reference: str) -> int:
        return sum(
            1 for r in fake.requests if r.business_id == business_id and r.reference == reference
        )

    def payee_of(business_id: BusinessId, reference: str) -> VendorId | None:
        found = [
            r for r in fake.requests if r.business_id == business_id and r.reference == reference
        ]
        return found[-1].vendor_id if found else None

    return Rig(
        "fake", fake, settle, cancel, lose_next_answer, go_down, refuse, payments_for, payee_of
    )


class SwitchableTransport(httpx.AsyncBaseTransport):
    """The network between RowCol and Ramp; `down` makes every connection fail."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.down = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            raise httpx.ConnectError("connection refused", request=request)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


class Swappable:
    """An ASGI app whose target each test replaces, so one server serves the module."""

    def __init__(self) -> None:
        self.app: Any = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                kind = message["type"].rsplit(".", 1)[-1]
                await send({"type": f"lifespan.{kind}.complete"})
                if kind == "shutdown":
                    return
        await self.app(scope, receive, send)


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[BackgroundServer, Swappable]]:
    target = Swappable()
    with BackgroundServer(target) as running:
        yield running, target


@pytest.fixture(params=["fake", "ramp"])
async def rig(
    request: pytest.FixtureRequest, firm: DemoFirm, server: tuple[BackgroundServer, Swappable]
) -> AsyncIterator[Rig]:
    if request.param == "fake":
        yield fake_rig(firm)
        return
    clock = ManualClock(NOW)
    state = seed_from_demo(firm, now=clock.now)
    plan = FaultPlan()
    credentials = MemoryCredentialStore()
    for data in firm.records:
        await credentials.save(
            data.business_id,
            Rail.RAMP,
            {
                "client_id": client_id_for(data.business_id),
                "client_secret": client_secret_for(data.business_id),
            },
        )

    async def no_sleep(seconds: float) -> None:
        return None

    network = SwitchableTransport()
    http = httpx.AsyncClient(transport=network, timeout=10.0)
    running, target = server
    target.app = create_app(state, plan)
    rail = RampPaymentRail(
        base_url=running.url,
        credentials=credentials,
        clock=clock,
        caller=ramp_caller(
            RailHealthMonitor(clock), rate_limit=RateLimit(10_000, 10.0), sleep=no_sleep
        ),
        http=http,
    )

    def bill_id(business_id: BusinessId, reference: str) -> str:
        bill = state.bill_by_remote_id(business_id, reference)
        assert bill is not None, f"no Ramp bill for {reference}"
        return bill.id

    def settle(business_id: BusinessId, reference: str) -> None:
        state.settle(bill_id(business_id, reference))

    def cancel(business_id: BusinessId, reference: str) -> None:
        state.reject(bill_id(business_id, reference))

    def lose_next_answer() -> None:
        # The bill is created, then the answer is lost; served by uvicorn the client
        # sees an HTTP 500 rather than a closed socket, ambiguous for a create either way.
        plan.add(FaultKind.DROP, path="^/developer/v1/bills$", method="POST")

    def go_down() -> None:
        network.down = True

    def refuse(request: PaymentRequest) -> None:
        state.deactivate_vendor(request.business_id, request.vendor_id)

    def payments_for(business_id: BusinessId, reference: str) -> int:
        with state.lock:
            bills = state.business_for(business_id).bills.values()
            return sum(1 for b in bills if b.remote_id == reference)

    def payee_of(business_id: BusinessId, reference: str) -> VendorId | None:
        bill = state.bill_by_remote_id(business_id, reference)
        if bill is None:
            return None
        remote = state.business_for(business_id).vendors[bill.vendor_id].remote_id
        return VendorId(remote) if remote else None

    yield Rig(
        "ramp", rail, settle, cancel, lose_next_answer, go_down, refuse, payments_for, payee_of
    )
    await http.aclose()


def payment_request(
    data: BusinessData, reference: str, amount_minor: int = 1_234_567
) -> PaymentRequest:
    bill = data.bills[-1]
    return PaymentRequest(
        reference=reference,
        business_id=data.business_id,
        bill_id=bill.bill_id,
        vendor_id=bill.vendor_id,
        amount=Money(amount_minor, "USD"),
        pay_on=PAY_ON,
    )


async def test_a_submitted_payment_is_scheduled_for_the_requested_amount(
    rig: Rig, firm: DemoFirm
) -> None:
    request = payment_request(firm.records[0], "pay-0001-a", amount_minor=987_654_31)

    payment = await rig.rail.submit_payment(request)

    assert payment.reference == "pay-0001-a"
    assert payment.amount == Money(987_654_31, "USD")
    assert payment.status is RailPaymentStatus.SCHEDULED
    assert payment.rail_payment_id
    assert rig.payments_for(request.business_id, request.reference) == 1


async def test_the_payment_is_found_by_rowcols_reference(rig: Rig, firm: DemoFirm) -> None:
    request = payment_request(firm.records[0], "pay-0001-b")
    submitted = await rig.rail.submit_payment(request)

    found = await rig.rail.find_payment(request.business_id, request.reference)

    assert found == submitted


async def test_an_unknown_reference_is_not_found(rig: Rig, firm: DemoFirm) -> None:
    assert await rig.rail.find_payment(firm.records[0].business_id, "pay-never-sent") is None


async def test_the_status_follows_the_rail_until_the_payment_is_paid(
    rig: Rig, firm: DemoFirm
) -> None:
    request = payment_request(firm.records[0], "pay-0001-c")
    submitted = await rig.rail.submit_payment(request)

    before = await rig.rail.payment_status(request.business_id, submitted.rail_payment_id)
    rig.settle(request.business_id, request.reference)
    after = await rig.rail.payment_status(request.business_id, submitted.rail_payment_id)

    assert before.status is RailPaymentStatus.SCHEDULED
    assert after.status is RailPaymentStatus.PAID
    assert after.amount == request.amount
    assert after.reference == request.reference


async def test_a_payment_canceled_on_the_rail_reads_as_canceled(rig: Rig, firm: DemoFirm) -> None:
    request = payment_request(firm.records[0], "pay-0001-d")
    submitted = await rig.rail.submit_payment(request)

    rig.cancel(request.business_id, request.reference)

    status = await rig.rail.payment_status(request.business_id, submitted.rail_payment_id)
    found = await rig.rail.find_payment(request.business_id, request.reference)
    assert status.status is RailPaymentStatus.CANCELED
    assert found is not None and found.status is RailPaymentStatus.CANCELED


async def test_the_bills_rowcol_sent_are_listed_as_the_rail_holds_them(
    rig: Rig, firm: DemoFirm
) -> None:
    data = firm.records[0]
    due = replace(payment_request(data, "rowcol-pay-sent-1"), due_on=PAY_ON - timedelta(days=3))
    other = payment_request(data, "rowcol-pay-sent-2", amount_minor=5_000)
    first = await rig.rail.submit_payment(due)
    second = await rig.rail.submit_payment(other)
    rig.cancel(other.business_id, other.reference)

    sent = {b.reference: b for b in await rig.rail.list_sent(data.business_id)}

    assert set(sent) == {due.reference, other.reference}
    assert sent[due.reference] == RailBill(
        rail_bill_id=first.rail_payment_id,
        reference=due.reference,
        vendor=due.vendor_id,
        amount=due.amount,
        due_date=due.due_on,
        status=RailPaymentStatus.SCHEDULED,
    )
    assert sent[other.reference].rail_bill_id == second.rail_payment_id
    assert sent[other.reference].due_date == other.pay_on
    assert sent[other.reference].status is RailPaymentStatus.CANCELED
    assert await rig.rail.list_sent(firm.records[1].business_id) == []


async def test_a_reference_is_paid_at_most_once(rig: Rig, firm: DemoFirm) -> None:
    request = payment_request(firm.records[0], "pay-0001-e")
    await rig.rail.submit_payment(request)

    with pytest.raises(Rejected, match="already exists"):
        await rig.rail.submit_payment(request)

    assert rig.payments_for(request.business_id, request.reference) == 1


async def test_a_lost_answer_is_outcome_unknown_and_the_lookup_finds_the_payment(
    rig: Rig, firm: DemoFirm
) -> None:
    request = payment_request(firm.records[0], "pay-0001-f")
    rig.lose_next_answer()

    with pytest.raises(OutcomeUnknown):
        await rig.rail.submit_payment(request)
    found = await rig.rail.find_payment(request.business_id, request.reference)

    assert found is not None
    assert found.amount == request.amount
    assert found.status is RailPaymentStatus.SCHEDULED
    assert rig.payments_for(request.business_id, request.reference) == 1


async def test_a_refused_payment_is_rejected_and_leaves_nothing_behind(
    rig: Rig, firm: DemoFirm
) -> None:
    request = payment_request(firm.records[0], "pay-0001-g")
    rig.refuse(request)

    with pytest.raises(Rejected):
        await rig.rail.submit_payment(request)

    assert rig.payments_for(request.business_id, request.reference) == 0
    assert await rig.rail.find_payment(request.business_id, request.reference) is None


async def test_an_unreachable_rail_is_unavailable_and_nothing_is_paid(
    rig: Rig, firm: DemoFirm
) -> None:
    request = payment_request(firm.records[0], "pay-0001-h")
    rig.go_down()

    with pytest.raises(Unavailable):
        await rig.rail.submit_payment(request)
    with pytest.raises(Unavailable):
        await rig.rail.find_payment(request.business_id, request.reference)
    with pytest.raises(Unavailable):
        await rig.rail.payment_status(request.business_id, "f0e1d2c3-0000-4000-8000-000000000000")

    assert rig.payments_for(request.business_id, request.reference) == 0


async def test_each_business_sees_only_its_own_payments(rig: Rig, firm: DemoFirm) -> None:
    mine, theirs = firm.records
    request = payment_request(mine, "pay-shared-ref")
    submitted = await rig.rail.submit_payment(request)

    assert await rig.rail.find_payment(theirs.business_id, request.reference) is None
    with pytest.raises(Rejected):
        await rig.rail.payment_status(theirs.business_id, submitted.rail_payment_id)


async def test_the_same_reference_in_two_businesses_is_two_payments(
    rig: Rig, firm: DemoFirm
) -> None:
    first, second = firm.records

    one = await rig.rail.submit_payment(payment_request(first, "pay-same"))
    two = await rig.rail.submit_payment(payment_request(second, "pay-same"))

    assert one.rail_payment_id != two.rail_payment_id
    assert rig.payments_for(first.business_id, "pay-same") == 1
    assert rig.payments_for(second.business_id, "pay-same") == 1


async def test_the_payment_goes_to_the_rails_copy_of_rowcols_vendor(
    rig: Rig, firm: DemoFirm
) -> None:
    data = firm.records[1]
    vendor = data.vendors[2]
    request = PaymentRequest(
        reference="pay-0002-vendor",
        business_id=data.business_id,
        bill_id=data.bills[0].bill_id,
        vendor_id=vendor.vendor_id,
        amount=Money(50_00, "USD"),
        pay_on=PAY_ON,
    )

    await rig.rail.submit_payment(request)

    assert rig.payee_of(request.business_id, request.reference) == vendor.vendor_id


async def test_a_vendor_unknown_to_the_rail_is_refused(rig: Rig, firm: DemoFirm) -> None:
    data = firm.records[0]
    request = PaymentRequest(
        reference="pay-0001-nobody",
        business_id=data.business_id,
        bill_id=data.bills[0].bill_id,
        vendor_id=VendorId("ven-does-not-exist"),
        amount=Money(10_00, "USD"),
        pay_on=PAY_ON,
    )

    with pytest.raises(Rejected, match="ven-does-not-exist"):
        await rig.rail.submit_payment(request)

    assert await rig.rail.find_payment(data.business_id, request.reference) is None


async def test_the_status_of_an_unknown_payment_id_is_rejected(rig: Rig, firm: DemoFirm) -> None:
    with pytest.raises(Rejected):
        await rig.rail.payment_status(
            firm.records[0].business_id, "f0e1d2c3-0000-4000-8000-000000000000"
        )


async def test_a_business_without_a_ramp_connection_is_unavailable(rig: Rig) -> None:
    with pytest.raises(Unavailable, match="no Ramp connection"):
        await rig.rail.find_payment(BusinessId("biz-unknown"), "pay-x")


async def test_a_payment_to_arrive_in_the_past_is_refused(rig: Rig, firm: DemoFirm) -> None:
    request = replace(
        payment_request(firm.records[0], "pay-0001-late"), pay_on=TODAY - timedelta(days=1)
    )

    with pytest.raises(Rejected, match="arrival date"):
        await rig.rail.submit_payment(request)

    assert rig.payments_for(request.business_id, request.reference) == 0


def _same(a: RailPayment, b: RailPayment) -> bool:
    return (a.reference, a.rail_payment_id, a.amount, a.status) == (
        b.reference,
        b.rail_payment_id,
        b.amount,
        b.status,
    )


async def test_a_retry_after_an_unknown_outcome_looks_up_instead_of_paying_twice(
    rig: Rig, firm: DemoFirm
) -> None:
    """The caller's recovery, as the port docstring prescribes: look up, then decide."""
    request = payment_request(firm.records[1], "pay-0002-retry")
    rig.lose_next_answer()
    with pytest.raises(OutcomeUnknown):
        await rig.rail.submit_payment(request)

    found = await rig.rail.find_payment(request.business_id, request.reference)
    if found is None:
        found = await rig.rail.submit_payment(request)
    again = await rig.rail.find_payment(request.business_id, request.reference)

    assert again is not None and _same(found, again)
    assert rig.payments_for(request.business_id, request.reference) == 1
