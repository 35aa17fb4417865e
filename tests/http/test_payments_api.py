"""Paying bills over HTTP, on memory storage with the in-memory payment rail and bank."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from rowcol.adapters.clock import ManualClock
from rowcol.adapters.memory.rails import MemoryBankVerifier, MemoryPaymentRail
from rowcol.bootstrap import Services
from rowcol.core.domain.ids import BankAccountId, BillId, BusinessId, VendorId
from rowcol.core.domain.money import Money
from rowcol.core.domain.records import Balance, BankAccount, Bill, Vendor
from rowcol.core.domain.tenancy import SYSTEM_ACTOR, Actor, Role
from rowcol.core.services.payments import PaymentService
from rowcol.entrypoints.http.app import create_app
from support import NOW, Tenant, add_tenant, bearer, make_services

TODAY = NOW.date()
CASH = 2_000_000  # $20,000.00


@dataclass
class World:
    services: Services
    tenant: Tenant
    business: BusinessId
    rail: MemoryPaymentRail
    bank: MemoryBankVerifier
    second_controller: Actor
    client: AsyncTestClient[Any]

    @property
    def base(self) -> str:
        return f"/advisor/{self.tenant.advisor_id}/clients/{self.business}"

    def headers(self, who: Role | Actor) -> dict[str, str]:
        actor = self.tenant.actors[who] if isinstance(who, Role) else who
        return bearer(self.services, actor)


def _bill(business: BusinessId, n: int, minor: int, prepared_by: str | None = None) -> Bill:
    amount = Money(minor, "USD")
    return Bill(
        bill_id=BillId(f"bill-{n}"),
        business_id=business,
        vendor_id=VendorId("ven-1"),
        amount=amount,
        balance=amount,
        issue_date=TODAY - timedelta(days=10),
        due_date=TODAY + timedelta(days=n),
        prepared_by=prepared_by,
    )


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    clock = ManualClock(NOW)
    services = make_services(tmp_path, clock=clock)
    rail = MemoryPaymentRail(clock)
    bank = MemoryBankVerifier(clock)
    services = dataclasses.replace(
        services, payments=PaymentService(services.uow_factory, clock, rail=rail, bank=bank)
    )
    tenant = await add_tenant(services, 1)
    user = await services.advisors.add_staff_user(
        SYSTEM_ACTOR,
        tenant.advisor_id,
        email="second.controller@firm-1.example",
        name="Second Controller",
        role=Role.CONTROLLER,
        user_id="u-1-controller-2",
    )
    second = await services.advisors.actor_for_user(user.user_id)
    view = await services.clients.add_client_to_advisor(
        tenant.actors[Role.CONTROLLER], tenant.advisor_id, name="Acme"
    )
    business = view.business.business_id
    account = BankAccountId("acct-1")
    balance = Balance(account, business, Money(CASH, "USD"), None, NOW)
    bookkeeper = tenant.actors[Role.BOOKKEEPER].user_id
    controller = tenant.actors[Role.CONTROLLER].user_id
    async with services.uow_factory() as uow:
        await uow.vendors.upsert([Vendor(VendorId("ven-1"), business, "Flour Mill")])
        await uow.bills.upsert(
            [
                _bill(business, 1, 100_000, prepared_by=bookkeeper),  # $1,000
                _bill(business, 2, 800_000, prepared_by=bookkeeper),  # $8,000: dual approval
                _bill(business, 3, 50_000, prepared_by=controller),  # the controller's own
                _bill(business, 4, 1_500_000, prepared_by=bookkeeper),  # $15,000
            ]
        )
        await uow.balances.add([balance])
        await uow.commit()
    rail.connect(business, ["ven-1"])
    bank.accounts[business].append(BankAccount(account, business, "Operating"))
    bank.balances[business].append(balance)
    async with AsyncTestClient(create_app(services)) as client:
        yield World(services, tenant, business, rail, bank, second, client)


async def approve(world: World, who: Role | Actor, *bill_ids: str, **extra: Any) -> Any:
    response = await world.client.post(
        f"{world.base}/approve-bills",
        json={"bill_ids": list(bill_ids), **extra},
        headers=world.headers(who),
    )
    assert response.status_code == 200, response.text
    return response.json()


async def test_one_approval_under_the_limit_pays_the_bill_once_on_the_rail(world: World) -> None:
    [result] = await approve(world, Role.CONTROLLER, "bill-1")

    assert result["outcome"] == "paid", result
    assert result["guardrail"]["outcome"] == "allowed"
    assert result["guardrail"]["balance"]["amount_minor"] == CASH
    assert len(world.rail.requests) == 1
    assert world.rail.requests[0].amount == Money(100_000, "USD")
    listed = await world.client.get(f"{world.base}/payments", headers=world.headers(Role.ADVISOR))
    assert [p["payment_id"] for p in listed.json()] == [result["payment_id"]]
    assert listed.json()[0]["status"] == "submitted"
    assert listed.json()[0]["rail_payment_id"] == "rp-1"


async def test_above_the_limit_a_second_distinct_controller_is_needed(world: World) -> None:
    [first] = await approve(world, Role.CONTROLLER, "bill-2")
    assert first["outcome"] == "needs_second_approval"
    assert world.rail.requests == []

    [again] = await approve(world, Role.CONTROLLER, "bill-2")
    assert again["outcome"] == "refused"
    assert world.rail.requests == []

    [second] = await approve(world, world.second_controller, "bill-2")
    assert second["outcome"] == "paid", second
    assert second["payment_id"] == first["payment_id"]
    assert len(world.rail.requests) == 1


async def test_a_bill_prepared_by_the_approver_is_refused(world: World) -> None:
    [result] = await approve(world, Role.CONTROLLER, "bill-3")

    assert result["outcome"] == "refused"
    assert "prepared" in result["reason"]
    assert world.rail.requests == []


async def test_a_bookkeeper_prepares_and_a_controller_approves_but_never_the_preparer(
    world: World,
) -> None:
    prepared = await world.client.post(
        f"{world.base}/prepare-bills",
        json={"bill_ids": ["bill-3"]},
        headers=world.headers(Role.BOOKKEEPER),
    )
    assert prepared.status_code == 200, prepared.text
    [result] = prepared.json()
    assert result["outcome"] == "prepared" and world.rail.requests == []

    refused = await world.client.post(
        f"{world.base}/approve-bills",
        json={"bill_ids": ["bill-3"]},
        headers=world.headers(Role.BOOKKEEPER),
    )
    assert refused.status_code == 403
    [paid] = await approve(world, world.second_controller, "bill-3")
    assert paid["outcome"] == "paid" and paid["payment_id"] == result["payment_id"]
    again = await world.client.post(
        f"{world.base}/prepare-bills",
        json={"bill_ids": ["bill-3"]},
        headers=world.headers(Role.BOOKKEEPER),
    )
    assert again.json()[0]["outcome"] == "refused"
    assert "already has payment" in again.json()[0]["reason"]
    advisor = await world.client.post(
        f"{world.base}/prepare-bills",
        json={"bill_ids": ["bill-1"]},
        headers=world.headers(Role.ADVISOR),
    )
    assert advisor.status_code == 403


async def test_a_payment_that_would_breach_the_buffer_is_blocked_with_the_numbers(
    world: World,
) -> None:
    policy = await world.client.put(
        f"{world.base}/approval-policy",
        json={
            "buffer": {"amount": {"amount_minor": 600_000, "currency": "USD"}},
            "single_approver_limit": {"amount_minor": 5_000_000, "currency": "USD"},
        },
        headers=world.headers(Role.CONTROLLER),
    )
    assert policy.status_code == 200, policy.text

    [paid, blocked] = await approve(world, Role.CONTROLLER, "bill-1", "bill-4")

    assert paid["outcome"] == "paid"
    assert blocked["outcome"] == "blocked"
    # $20,000 − $1,000 in flight − $15,000 leaves $4,000 against a $6,000 buffer.
    assert "4,000.00 USD" in blocked["reason"] and "6,000.00 USD" in blocked["reason"]
    assert "short by 2,000.00 USD" in blocked["reason"]
    guard = blocked["guardrail"]
    assert guard["shortfall"]["amount_minor"] == 200_000
    assert guard["in_flight"]["amount_minor"] == 100_000
    assert guard["headroom"]["amount_minor"] == 1_300_000
    assert len(world.rail.requests) == 1


async def test_submitting_twice_returns_the_same_payment_and_pays_once(world: World) -> None:
    [result] = await approve(world, Role.CONTROLLER, "bill-1", submit=False)
    assert result["outcome"] == "approved"
    url = f"{world.base}/payments/{result['payment_id']}/submit"

    first = await world.client.post(url, headers=world.headers(Role.CONTROLLER))
    second = await world.client.post(url, headers=world.headers(Role.CONTROLLER))

    assert first.status_code == second.status_code == 200
    assert first.json()["outcome"] == second.json()["outcome"] == "paid"
    assert first.json()["payment_id"] == second.json()["payment_id"] == result["payment_id"]
    assert len(world.rail.payments) == 1 and len(world.rail.requests) == 1


async def test_the_custody_lists_approved_then_submitted(world: World) -> None:
    [result] = await approve(world, Role.CONTROLLER, "bill-1")

    shown = await world.client.get(
        f"{world.base}/payments/{result['payment_id']}", headers=world.headers(Role.ADVISOR)
    )

    assert shown.status_code == 200
    actions = [e["action"] for e in shown.json()["custody"]]
    assert actions[:2] == ["payment.approved", "payment.submitted"]
    first = shown.json()["custody"][0]
    assert first["actor"] == "controller:u-1-controller"
    assert first["before"] is None and first["after"]["status"] == "approved"
    assert {"at", "actor", "action", "before", "after"} <= set(first)


async def test_cancel_stops_an_approved_payment_before_it_is_sent(world: World) -> None:
    [result] = await approve(world, Role.CONTROLLER, "bill-1", submit=False)
    url = f"{world.base}/payments/{result['payment_id']}"

    cancelled = await world.client.post(f"{url}/cancel", headers=world.headers(Role.CONTROLLER))
    submitted = await world.client.post(f"{url}/submit", headers=world.headers(Role.CONTROLLER))

    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert submitted.status_code == 200
    assert "cancelled" in submitted.json()["reason"]
    assert world.rail.requests == []
    shown = await world.client.get(url, headers=world.headers(Role.ADVISOR))
    assert shown.json()["payment"]["status"] == "cancelled"


async def test_a_held_payment_says_why_in_its_custody_and_its_bill_is_payable_again(
    world: World,
) -> None:
    [first] = await approve(world, Role.CONTROLLER, "bill-2")
    assert first["outcome"] == "needs_second_approval"
    url = f"{world.base}/payments/{first['payment_id']}"
    blank = await world.client.post(
        f"{url}/hold", json={"note": "   "}, headers=world.headers(Role.CONTROLLER)
    )
    assert blank.status_code == 422 and "why" in blank.text
    held = await world.client.post(
        f"{url}/hold",
        json={"note": "vendor disputes the quantity"},
        headers=world.headers(Role.CONTROLLER),
    )
    assert held.status_code == 200 and held.json()["status"] == "cancelled"
    shown = await world.client.get(url, headers=world.headers(Role.ADVISOR))
    [event] = [e for e in shown.json()["custody"] if e["action"] == "payment.held"]
    assert "vendor disputes the quantity" in str(event)
    by_bookkeeper = await world.client.post(
        f"{url}/hold", json={"note": "x"}, headers=world.headers(Role.BOOKKEEPER)
    )
    assert by_bookkeeper.status_code == 403
    payable = await world.client.get(
        f"{world.base}/payable-bills", headers=world.headers(Role.CONTROLLER)
    )
    bill = next(b for b in payable.json()["bills"] if b["bill_id"] == "bill-2")
    assert bill["payment"] is None
    assert world.rail.requests == []


async def test_reserves_lower_headroom_and_releasing_raises_it_again(world: World) -> None:
    async def headroom() -> int:
        got = await world.client.get(
            f"{world.base}/payable-bills", headers=world.headers(Role.ADVISOR)
        )
        assert got.status_code == 200, got.text
        value: int = got.json()["position"]["headroom"]["amount_minor"]
        return value

    before = await headroom()
    added = await world.client.post(
        f"{world.base}/reserves",
        json={
            "purpose": "Payroll",
            "amount": {"amount_minor": 500_000, "currency": "USD"},
            "until": (TODAY + timedelta(days=14)).isoformat(),
        },
        headers=world.headers(Role.BOOKKEEPER),
    )
    assert added.status_code == 201, added.text
    assert await headroom() == before - 500_000

    reserve_id = added.json()["reserve_id"]
    released = await world.client.post(
        f"{world.base}/reserves/{reserve_id}/release", headers=world.headers(Role.CONTROLLER)
    )
    assert released.status_code == 200 and released.json()["released"] is True
    assert await headroom() == before
    listed = await world.client.get(f"{world.base}/reserves", headers=world.headers(Role.ADVISOR))
    assert [(r["reserve_id"], r["active"]) for r in listed.json()] == [(reserve_id, False)]

    denied = await world.client.post(
        f"{world.base}/reserves",
        json={
            "purpose": "Tax",
            "amount": {"amount_minor": 1, "currency": "USD"},
            "until": "2027-01-01",
        },
        headers=world.headers(Role.ADVISOR),
    )
    assert denied.status_code == 403
    audit = await world.client.get(
        f"/advisor/{world.tenant.advisor_id}/audit", headers=world.headers(Role.CONTROLLER)
    )
    actions = [e["action"] for e in audit.json()]
    assert actions[-2:] == ["reserve.added", "reserve.released"]


async def test_payable_bills_show_impact_holding_payment_and_approvals_needed(
    world: World,
) -> None:
    [result] = await approve(world, Role.CONTROLLER, "bill-2")

    got = await world.client.get(f"{world.base}/payable-bills", headers=world.headers(Role.ADVISOR))

    body = got.json()
    assert body["position"]["cash"]["amount_minor"] == CASH
    assert body["position"]["balance_age_seconds"] == 0
    bills = {b["bill_id"]: b for b in body["bills"]}
    assert list(bills) == ["bill-1", "bill-2", "bill-3", "bill-4"]
    assert bills["bill-2"]["payment"] == {
        "payment_id": result["payment_id"],
        "status": "proposed",
    }
    assert bills["bill-2"]["approvals_required"] == 2
    assert bills["bill-1"]["approvals_required"] == 1
    assert bills["bill-1"]["vendor_name"] == "Flour Mill"
    impact = bills["bill-4"]["impact"]
    assert impact["headroom_before"]["amount_minor"] == CASH
    assert impact["headroom_after"]["amount_minor"] == CASH - 1_500_000
    assert impact["breaches_buffer"] is False


async def test_a_policy_edit_bumps_the_version_and_is_audited(world: World) -> None:
    url = f"{world.base}/approval-policy"
    start = await world.client.get(url, headers=world.headers(Role.ADVISOR))
    assert start.json()["version"] == 1 and start.json()["per_payment_cap"] is None

    edited = await world.client.put(
        url,
        json={
            "per_payment_cap": {"amount_minor": 1_000_000, "currency": "USD"},
            "buffer": {"weeks": 3},
            "hold_vendors": ["ven-1"],
        },
        headers=world.headers(Role.CONTROLLER),
    )
    assert edited.status_code == 200, edited.text
    # The default policy is never stored, so the first edit is stored as version 1.
    assert edited.json()["version"] == 1
    assert edited.json()["per_payment_cap"]["amount_minor"] == 1_000_000
    assert edited.json()["buffer"]["weeks"] == 3
    assert edited.json()["vendor_holds"] == ["ven-1"]

    cleared = await world.client.put(
        url,
        json={"per_payment_cap": None, "release_vendors": ["ven-1"]},
        headers=world.headers(Role.CONTROLLER),
    )
    assert cleared.json()["version"] == 2
    assert cleared.json()["per_payment_cap"] is None and cleared.json()["vendor_holds"] == []
    assert cleared.json()["buffer"]["weeks"] == 3  # left out, so kept
    audit = await world.client.get(
        f"/advisor/{world.tenant.advisor_id}/audit", headers=world.headers(Role.CONTROLLER)
    )
    changes = [e for e in audit.json() if e["action"] == "policy.changed"]
    assert [c["after"]["version"] for c in changes] == [1, 2]
    assert changes[0]["before"] is None and changes[1]["before"]["version"] == 1
    same = await world.client.put(
        url, json={"buffer": {"weeks": 3}}, headers=world.headers(Role.CONTROLLER)
    )
    assert same.json()["version"] == 2  # an edit that changes nothing is no new version
    assert changes[-1]["actor"] == "controller:u-1-controller"


async def test_roles_and_tenancy_decide_who_may_do_what(world: World) -> None:
    denied = await world.client.post(
        f"{world.base}/approve-bills",
        json={"bill_ids": ["bill-1"]},
        headers=world.headers(Role.BOOKKEEPER),
    )
    assert denied.status_code == 403
    assert "bookkeeper" in denied.json()["detail"]
    assert denied.headers["content-type"].startswith("application/problem+json")
    policy_denied = await world.client.put(
        f"{world.base}/approval-policy",
        json={"buffer": {"weeks": 1}},
        headers=world.headers(Role.ADVISOR),
    )
    assert policy_denied.status_code == 403
    assert world.rail.requests == []

    for path in ("payable-bills", "payments", "approval-policy", "reserves"):
        read = await world.client.get(f"{world.base}/{path}", headers=world.headers(Role.ADVISOR))
        assert read.status_code == 200, (path, read.text)

    other = await add_tenant(world.services, 2)
    stranger = other.actors[Role.CONTROLLER]
    own_base = f"/advisor/{other.advisor_id}/clients/{world.business}"
    for url in (f"{own_base}/payable-bills", f"{own_base}/payments"):
        response = await world.client.get(url, headers=world.headers(stranger))
        assert response.status_code == 404, response.text
    response = await world.client.post(
        f"{own_base}/approve-bills", json={"bill_ids": ["bill-1"]}, headers=world.headers(stranger)
    )
    assert response.status_code == 404
    assert world.rail.requests == []


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("approve-bills", {"bill_ids": ["bill-404"]}),
        ("approve-bills", {"bill_ids": ["bill-1", "bill-1"]}),
        ("approve-bills", {"bill_ids": []}),
        ("approve-bills", {"bill_ids": ["bill-1"], "pay_on": "next tuesday"}),
        ("approve-bills", {"bill_ids": ["bill-1"], "surprise": True}),
        (
            "reserves",
            {
                "purpose": "Tax",
                "amount": {"amount_minor": -5, "currency": "USD"},
                "until": "2027-01-01",
            },
        ),
        (
            "reserves",
            {
                "purpose": "Tax",
                "amount": {"amount_minor": 5, "currency": "USD"},
                "until": "2020-01-01",
            },
        ),
        (
            "reserves",
            {
                "purpose": "Tax",
                "amount": {"amount_minor": 5, "currency": "EUR"},
                "until": "2027-01-01",
            },
        ),
        (
            "reserves",
            {"purpose": "Tax", "amount": {"amount_minor": 5, "currency": "USD"}, "until": "soon"},
        ),
    ],
)
async def test_bad_input_is_a_4xx_problem_with_a_reason_and_changes_nothing(
    world: World, path: str, body: dict[str, Any]
) -> None:
    response = await world.client.post(
        f"{world.base}/{path}", json=body, headers=world.headers(Role.CONTROLLER)
    )

    assert 400 <= response.status_code < 500, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["detail"]
    assert world.rail.requests == []
    async with world.services.uow_factory() as uow:
        assert await uow.payments.list(world.business) == []
        assert await uow.reserves.list(world.business) == []


@pytest.mark.parametrize(
    "body",
    [
        {"single_approver_limit": {"amount_minor": -1, "currency": "USD"}},
        {"buffer": {"weeks": 2, "amount": {"amount_minor": 1, "currency": "USD"}}},
        {"buffer": {}},
        {"buffer": {"weeks": 99}},
        {"single_approver_limit": {"amount_minor": 1, "currency": "usdollars"}},
    ],
)
async def test_a_bad_policy_edit_is_refused_and_the_version_stays(
    world: World, body: dict[str, Any]
) -> None:
    url = f"{world.base}/approval-policy"
    response = await world.client.put(url, json=body, headers=world.headers(Role.CONTROLLER))

    assert 400 <= response.status_code < 500, response.text
    assert response.json()["detail"]
    assert (await world.client.get(url, headers=world.headers(Role.ADVISOR))).json()["version"] == 1


async def test_unknown_payments_and_reserves_are_not_found(world: World) -> None:
    controller = world.headers(Role.CONTROLLER)
    for response in (
        await world.client.get(f"{world.base}/payments/pay-nope", headers=controller),
        await world.client.post(f"{world.base}/payments/pay-nope/submit", headers=controller),
        await world.client.post(f"{world.base}/payments/pay-nope/cancel", headers=controller),
        await world.client.post(f"{world.base}/reserves/res-nope/release", headers=controller),
    ):
        assert response.status_code == 404, response.text
    bad_status = await world.client.get(f"{world.base}/payments?status=lost", headers=controller)
    assert bad_status.status_code == 400


async def test_the_openapi_document_lists_the_payment_endpoints(world: World) -> None:
    schema = (await world.client.get("/schema/openapi.json")).json()
    prefix = "/advisor/{advisor_id}/clients/{client_id}"
    for path in (
        "/payable-bills",
        "/approve-bills",
        "/payments",
        "/payments/{payment_id}",
        "/payments/{payment_id}/submit",
        "/payments/{payment_id}/cancel",
        "/approval-policy",
        "/reserves",
        "/reserves/{reserve_id}/release",
    ):
        assert prefix + path in schema["paths"], path


HTML = {"accept": "text/html"}


async def test_the_decision_page_approves_a_batch_and_shows_the_guardrail_s_numbers(
    world: World,
) -> None:
    await world.client.put(
        f"{world.base}/approval-policy",
        json={
            "buffer": {"amount": {"amount_minor": 600_000, "currency": "USD"}},
            "single_approver_limit": {"amount_minor": 5_000_000, "currency": "USD"},
        },
        headers=world.headers(Role.CONTROLLER),
    )
    page = f"{world.base}/decisions"
    shown = await world.client.get(page, headers={**world.headers(Role.CONTROLLER), **HTML})
    assert shown.status_code == 200 and "Flour Mill" in shown.text
    assert "Approve chosen" in shown.text and "Hold chosen" in shown.text
    form = {"action": "approve", "bill_id": ["bill-1", "bill-4"]}
    done = await world.client.post(page, data=form, headers=world.headers(Role.CONTROLLER))
    assert done.status_code == 200, done.text
    assert "submitted for payment" in done.text and "blocked by the guardrail" in done.text
    assert "short by" in done.text and "6,000.00 USD" in done.text
    assert len(world.rail.requests) == 1
    # The paid bill is now in flight, with its chain of custody.
    assert "Payments in flight" in done.text and "payment.submitted" in done.text

    unheld = await world.client.post(
        page, data={"action": "hold", "bill_id": "bill-2"}, headers=world.headers(Role.CONTROLLER)
    )
    assert unheld.status_code == 422 and "say why" in unheld.text
    bookkeeper = await world.client.get(page, headers={**world.headers(Role.BOOKKEEPER), **HTML})
    assert "Prepare chosen" in bookkeeper.text and "Approve chosen" not in bookkeeper.text
    nothing = await world.client.post(
        page, data={"action": "approve"}, headers=world.headers(Role.CONTROLLER)
    )
    assert nothing.status_code == 422 and "choose at least one bill" in nothing.text
