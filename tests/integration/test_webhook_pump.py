"""In the demo the simulated rails push their webhooks to RowCol by themselves: Ramp's
handshake is answered and the subscription becomes active with nobody calling."""

from __future__ import annotations

import asyncio
from datetime import date
from pathlib import Path

from rowcol.adapters.clock import SystemClock
from rowcol.adapters.memory.repository import MemoryUnitOfWorkFactory
from rowcol.bootstrap import RailSettings, Settings, build
from rowcol.core.domain.ids import Rail
from rowcol.demodata import generate_firm
from rowcol.demodata.seed import seed_firm
from rowcol.entrypoints.http.app import create_app
from rowcol.simulators.rig import SimulatorRig
from rowcol.simulators.server import BackgroundServer


async def test_the_pump_delivers_ramp_s_handshake_and_rowcol_answers_it(tmp_path: Path) -> None:
    firm = generate_firm(clients=1, seed=3, today=date(2026, 11, 2), history_months=1)
    biz = firm.businesses[0].business_id
    rig = SimulatorRig(firm)
    uow = MemoryUnitOfWorkFactory()
    await seed_firm(uow, firm)
    with BackgroundServer(rig.hub()) as simulators:
        settings = Settings(
            database_url="unused",
            data_dir=tmp_path,
            jwt_keys={"k": "k" * 40},
            jwt_active_kid="k",
            rails=RailSettings.from_env(rig.environment(simulators.url)),
        )
        services = build(settings, clock=SystemClock(), uow_factory=uow)
        served = build(
            settings, clock=SystemClock(), uow_factory=uow, credentials=services.credentials
        )
        with BackgroundServer(create_app(served, inbox_interval=1)) as rowcol:
            for connection in rig.connections():
                await services.credentials.save(biz, connection.rail, connection.secrets)
                await services.sync.connect(biz, connection.rail, account=connection.account)
            await services.subscriptions.subscribe(biz, Rail.RAMP, f"{rowcol.url}/webhooks/ramp")
            subscription = next(iter(rig.ramp.business_for(biz).webhooks.values()))
            assert subscription.status == "pending_verification"

            pump = rig.start_delivering(rowcol.url, every=0.1)
            try:
                for _ in range(100):
                    if subscription.status == "active":
                        break
                    await asyncio.sleep(0.1)
            finally:
                pump.stop()

    assert subscription.status == "active"
    async with uow() as unit:
        handshake = await unit.webhooks.count(Rail.RAMP)
        events = [e.action for e in await unit.audit.events()]
    assert handshake == 1
    assert "rail.webhooks_verified" in events
    await services.aclose()
