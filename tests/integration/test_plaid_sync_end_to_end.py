"""Bank data reaches RowCol from the Plaid simulator: a sync, then a webhook-driven sync,
through the real adapter, the real HTTP app and the SQL or in-memory storage."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

from rowcol.adapters.clock import SystemClock
from rowcol.bootstrap import RailSettings, Settings, build
from rowcol.core.domain.connections import ConnectionStatus
from rowcol.core.domain.ids import Rail
from rowcol.demodata import generate_firm
from rowcol.demodata.seed import seed_firm
from rowcol.entrypoints.http.app import create_app
from rowcol.ports.repository import UnitOfWorkFactory
from rowcol.simulators.faults import FaultKind, FaultPlan
from rowcol.simulators.plaid.app import CLIENT_ID, SECRET, deliver_webhooks
from rowcol.simulators.plaid.app import create_app as plaid_app
from rowcol.simulators.plaid.state import (
    SimTransaction,
    access_token_for,
    item_id_for,
    seed_from_demo,
)
from rowcol.simulators.server import BackgroundServer


async def test_a_business_syncs_from_plaid_and_a_webhook_brings_new_transactions(
    uow_factory: UnitOfWorkFactory, tmp_path: Path
) -> None:
    firm = generate_firm(clients=1, seed=3, today=date(2026, 11, 2), history_months=2)
    data = firm.records[0]
    business = data.business_id
    await seed_firm(uow_factory, dataclasses.replace(firm, records=()))
    state = seed_from_demo(firm)
    plan = FaultPlan()
    with BackgroundServer(plaid_app(state, plan)) as plaid:
        settings = Settings(
            database_url="unused",
            data_dir=tmp_path,
            jwt_keys={"k": "k" * 40},
            jwt_active_kid="k",
            rails=RailSettings(
                plaid_base_url=plaid.url, plaid_client_id=CLIENT_ID, plaid_secret=SECRET
            ),
        )
        services = build(settings, clock=SystemClock(), uow_factory=uow_factory)
        await services.credentials.save(
            business,
            Rail.PLAID,
            {"access_token": access_token_for(business), "item_id": item_id_for(business)},
        )
        await services.sync.connect(business, Rail.PLAID, account=item_id_for(business))

        # A rate limit and an outage on the way are retried, not fatal.
        plan.add(FaultKind.RATE_LIMIT, path="/transactions/sync", times=1, retry_after=0)
        plan.add(FaultKind.SERVER_ERROR, path="/accounts/get", times=1)
        (first,) = await services.sync.sync_business(business)
        assert first.ok, first.error
        async with uow_factory() as uow:
            stored = await uow.bank_transactions.list(business)
            balances = await uow.balances.latest(business)
        assert {t.transaction_id for t in stored} == {
            t.transaction_id for t in data.bank_transactions
        }
        assert sum(t.amount.amount_minor for t in stored) == sum(
            t.amount.amount_minor for t in data.bank_transactions
        )
        assert balances

        # The bank reports a new payment; Plaid tells us by webhook, twice.
        account = data.bank_accounts[0].account_id
        state.add_transaction(
            item_id_for(business),
            SimTransaction("txn-new-1", account, Decimal("1234.56"), date(2026, 11, 2), "Rent"),
        )
        # The served app runs on its own event loop, so it gets its own adapters.
        served = build(
            settings, clock=SystemClock(), uow_factory=uow_factory, credentials=services.credentials
        )
        with BackgroundServer(create_app(served)) as rowcol:
            statuses = await deliver_webhooks(state, f"{rowcol.url}/webhooks/plaid", duplicate=True)
            assert statuses and all(s == 200 for s in statuses)
            for _ in range(100):
                async with uow_factory() as uow:
                    found = await uow.bank_transactions.get(business, "txn-new-1")
                if found is not None:
                    break
                await asyncio.sleep(0.05)
        assert found is not None
        assert found.amount.amount_minor == 123456
        async with uow_factory() as uow:
            connection = await uow.connections.get(business, Rail.PLAID)
            assert await uow.bank_transactions.count(business) == len(data.bank_transactions) + 1
        assert connection is not None
        assert connection.status is ConnectionStatus.OK
        assert connection.last_synced_at is not None
        assert connection.last_synced_at <= datetime.now(UTC)
        health = services.monitor.snapshot({business})
        assert any(h.rail == "plaid" and h.calls > 0 for h in health)
        await services.aclose()
