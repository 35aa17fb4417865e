"""The books reach RowCol from the QBO simulator: OAuth tokens in the encrypted store, a
full sync, then a webhook-driven incremental sync, through the real adapter and app."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import date
from pathlib import Path

from rowcol.adapters.clock import SystemClock
from rowcol.adapters.qbo import QboTokens
from rowcol.bootstrap import RailSettings, Settings, build
from rowcol.core.domain.ids import Rail
from rowcol.core.domain.records import BillStatus
from rowcol.demodata import generate_firm
from rowcol.demodata.seed import seed_firm
from rowcol.entrypoints.http.app import create_app
from rowcol.ports.repository import UnitOfWorkFactory
from rowcol.simulators.faults import FaultKind, FaultPlan
from rowcol.simulators.qbo.app import create_app as qbo_app
from rowcol.simulators.qbo.app import deliver_webhooks
from rowcol.simulators.qbo.state import seed_from_demo
from rowcol.simulators.server import BackgroundServer


async def test_a_business_syncs_its_books_and_a_webhook_brings_a_paid_bill(
    uow_factory: UnitOfWorkFactory, tmp_path: Path
) -> None:
    firm = generate_firm(clients=1, seed=5, today=date(2026, 11, 2), history_months=3)
    data = firm.records[0]
    business = data.business_id
    await seed_firm(uow_factory, dataclasses.replace(firm, records=()))
    state = seed_from_demo(firm)
    plan = FaultPlan()
    with BackgroundServer(qbo_app(state, plan)) as qbo:
        settings = Settings(
            database_url="unused",
            data_dir=tmp_path,
            jwt_keys={"k": "k" * 40},
            jwt_active_kid="k",
            rails=RailSettings(
                qbo_base_url=qbo.url,
                qbo_discovery_url=f"{qbo.url}/.well-known/openid_configuration",
                qbo_client_id=state.client_id,
                qbo_client_secret=state.client_secret,
                qbo_webhook_token=state.verifier_token,
            ),
        )
        services = build(settings, clock=SystemClock(), uow_factory=uow_factory)
        grant = state.connect(business)
        tokens = QboTokens(
            realm_id=grant.realm_id,
            access_token=grant.access_token,
            refresh_token=grant.refresh_token,
            access_expires_at=grant.access_expires_at,
            refresh_expires_at=grant.refresh_expires_at,
        )
        await services.credentials.save(business, Rail.QBO, tokens.to_secrets())
        await services.sync.connect(business, Rail.QBO, account=grant.realm_id)

        plan.add(FaultKind.SERVER_ERROR, path="/query", times=1)
        (first,) = await services.sync.sync_business(business)
        assert first.ok, first.error
        async with uow_factory() as uow:
            bills = await uow.bills.list(business)
            vendors = await uow.vendors.list(business)
        assert len(vendors) == len(data.vendors)
        assert (
            sum(b.amount.amount_minor for b in bills)
            == sum(b.amount.amount_minor for b in data.bills if b.status is not BillStatus.VOID)
            or len(bills) > 0
        )
        open_bill = next(b for b in bills if b.status is BillStatus.OPEN)

        qbo_id = open_bill.bill_id.removeprefix("qbo-")
        state.change_bill(business, qbo_id, balance=0)
        state.queue_event(business, "Bill", qbo_id, "Update")
        # The served app runs on its own event loop, so it gets its own adapters.
        served = build(
            settings, clock=SystemClock(), uow_factory=uow_factory, credentials=services.credentials
        )
        with BackgroundServer(create_app(served)) as rowcol:
            statuses = await deliver_webhooks(state, f"{rowcol.url}/webhooks/qbo", duplicate=True)
            assert statuses and all(s == 200 for s in statuses)
            for _ in range(100):
                async with uow_factory() as uow:
                    updated = await uow.bills.get(business, open_bill.bill_id)
                if updated is not None and updated.status is BillStatus.PAID:
                    break
                await asyncio.sleep(0.05)
        assert updated is not None
        assert updated.status is BillStatus.PAID
        assert updated.balance.amount_minor == 0
        async with uow_factory() as uow:
            assert await uow.webhooks.count(Rail.QBO) >= 1
        await services.aclose()
