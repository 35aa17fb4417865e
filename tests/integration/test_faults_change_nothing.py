"""Every fault the simulators can inject, on every rail RowCol syncs, ends with the same
stored data as a clean run; webhooks delivered twice, late and out of order are stored
once each and none is lost."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from rowcol.adapters.clock import SystemClock
from rowcol.bootstrap import Services, build
from rowcol.core.domain.ids import BusinessId, Rail
from rowcol.core.domain.money import Money
from rowcol.core.domain.records import Payout, PayoutStatus
from rowcol.demodata import generate_firm
from rowcol.entrypoints.http.app import create_app
from rowcol.simulators import plaid, qbo, ramp, stripe
from rowcol.simulators.faults import FaultKind
from rowcol.simulators.rig import SimulatorRig
from rowcol.simulators.server import BackgroundServer
from support import connected_to_rig

FIRM = generate_firm(clients=2, seed=21, today=date(2026, 11, 2), history_months=2)


async def stored(services: Services) -> dict[str, Any]:
    out: dict[str, Any] = {}
    async with services.uow_factory() as uow:
        for business in FIRM.businesses:
            biz = business.business_id
            out[biz] = (
                await uow.vendors.list(biz),
                await uow.customers.list(biz),
                await uow.bills.list(biz),
                await uow.invoices.list(biz),
                await uow.bank_accounts.list(biz),
                await uow.bank_transactions.list(biz),
                await uow.payouts.list(biz),
            )
    return out


def payout_for(biz: str) -> Payout:
    return Payout(
        f"po_late_{biz}",
        BusinessId(biz),
        Money(123_456, "USD"),
        date(2026, 11, 4),
        PayoutStatus.IN_TRANSIT,
    )


async def sync_everything(services: Services) -> None:
    for business in FIRM.businesses:
        results = await services.sync.sync_business(business.business_id)
        assert all(r.ok for r in results), [r.error for r in results]


async def test_a_sync_through_every_fault_stores_what_a_clean_sync_stores(tmp_path: Path) -> None:
    clean_rig = SimulatorRig(FIRM)
    with BackgroundServer(clean_rig.hub()) as server:
        clean = await connected_to_rig(clean_rig, server.url, tmp_path / "clean")
        await sync_everything(clean)
        expected = await stored(clean)
        await clean.aclose()

    rig = SimulatorRig(FIRM)
    for kind in (
        FaultKind.LATENCY,
        FaultKind.RATE_LIMIT,
        FaultKind.SERVER_ERROR,
        FaultKind.DROP,
        FaultKind.DROP_BEFORE,
    ):
        rig.plan.add(kind, path="/query", times=1, latency_ms=50, retry_after=0)
        rig.plan.add(kind, path="/transactions/sync", times=1, latency_ms=50, retry_after=0)
        rig.plan.add(kind, path="/v1/payouts", times=1, latency_ms=50, retry_after=0)
    rig.plan.add(FaultKind.EXPIRED_TOKEN, path="/v3/company/.*/query", times=1)
    with BackgroundServer(rig.hub()) as server:
        faulty = await connected_to_rig(rig, server.url, tmp_path / "faulty")
        for _ in range(3):  # the retry budget may run out on a run of faults; sync resumes
            results = [
                r for b in FIRM.businesses for r in await faulty.sync.sync_business(b.business_id)
            ]
            if all(r.ok for r in results):
                break
        assert all(r.ok for r in results), [r.error for r in results]
        assert await stored(faulty) == expected
        assert all(f.times == 0 for f in rig.plan.faults), "every fault was met"
        await faulty.aclose()


async def test_webhooks_delivered_twice_and_out_of_order_are_stored_once_and_none_lost(
    tmp_path: Path,
) -> None:
    rig = SimulatorRig(FIRM)
    with BackgroundServer(rig.hub()) as simulators:
        services = await connected_to_rig(rig, simulators.url, tmp_path)
        await sync_everything(services)
        for business in FIRM.businesses:
            biz = business.business_id
            rig.plaid.fire_webhook(plaid.item_id_for(biz), "TRANSACTIONS", "SYNC_UPDATES_AVAILABLE")
            rig.qbo.queue_event(biz, "Bill", "1", "Update")
            rig.stripe.put_payout(biz, payout_for(biz))
            await services.subscriptions.subscribe(biz, Rail.RAMP, "http://placeholder/")
        # The served app runs on its own event loop, so it gets its own adapters.
        served = build(
            services.settings,
            clock=SystemClock(),
            uow_factory=services.uow_factory,
            credentials=services.credentials,
        )
        with BackgroundServer(create_app(served)) as rowcol:
            plaid_statuses = await plaid.deliver_webhooks(
                rig.plaid, f"{rowcol.url}/webhooks/plaid", duplicate=True, reverse=True
            )
            qbo_statuses = await qbo.deliver_webhooks(
                rig.qbo, f"{rowcol.url}/webhooks/qbo", duplicate=True, reverse=True, batch=False
            )
            stripe_statuses = await stripe.deliver_webhooks(
                rig.stripe, f"{rowcol.url}/webhooks/stripe", duplicate=True, reverse=True
            )
            # Ramp's first event on a subscription is its handshake; RowCol answers it.
            ramp_statuses = await ramp.deliver_webhooks(
                rig.ramp, f"{rowcol.url}/webhooks/ramp", duplicate=True
            )
            assert plaid_statuses and set(plaid_statuses) == {200}
            assert qbo_statuses and set(qbo_statuses) == {200}
            assert stripe_statuses and set(stripe_statuses) == {200}
            assert ramp_statuses and set(ramp_statuses) == {200}
            for _ in range(600):
                async with services.uow_factory() as uow:
                    pending = await uow.webhooks.due(services.clock.now())
                if not pending:
                    break
                await asyncio.sleep(0.05)
        async with services.uow_factory() as uow:
            qbo_events = await uow.webhooks.count(Rail.QBO)
            plaid_events = await uow.webhooks.count(Rail.PLAID)
            leftover = await uow.webhooks.due(services.clock.now())
        assert qbo_events == len(FIRM.businesses)
        assert plaid_events >= len(FIRM.businesses)
        assert leftover == []
        for business in FIRM.businesses:
            biz = business.business_id
            async with services.uow_factory() as uow:
                payouts = {p.payout_id for p in await uow.payouts.list(biz)}
            assert f"po_late_{biz}" in payouts, "the payout event brought the new payout"
            subscriptions = rig.ramp.business_for(biz).webhooks.values()
            assert [w.status for w in subscriptions] == ["active"]
        async with services.uow_factory() as uow:
            later = services.clock.now() + timedelta(days=30)
            waiting = await uow.webhooks.due(later)
            assert waiting == [], [w.last_error for w in waiting]  # nothing failed or waits
        await services.aclose()
