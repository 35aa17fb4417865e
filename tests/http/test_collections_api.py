"""Collections through the API: the smart tier sees each invoice's place in the
sequence, runs today's reminders (each step once), and edits the sequence."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from pathlib import Path

from litestar.testing import AsyncTestClient

from rowcol.adapters.clock import ManualClock
from rowcol.adapters.memory.rails import MemoryNotifier
from rowcol.core.domain.ids import CustomerId, InvoiceId
from rowcol.core.domain.money import Money
from rowcol.core.domain.records import Customer, Invoice
from rowcol.core.domain.tenancy import SYSTEM_ACTOR, Role, RunwayTier
from rowcol.core.services.collections import (
    CustomerCommunicationService,
    EarlyCollectionService,
)
from rowcol.entrypoints.http.app import create_app
from support import NOW, add_tenant, bearer, make_services


async def test_reminders_run_once_per_step_and_the_sequence_is_editable(tmp_path: Path) -> None:
    clock = ManualClock(NOW)
    services = make_services(tmp_path, clock=clock)
    notifier = MemoryNotifier()
    messages = CustomerCommunicationService(services.uow_factory, clock, notifier)
    services = dataclasses.replace(
        services, collections=EarlyCollectionService(services.uow_factory, clock, messages)
    )
    tenant = await add_tenant(services, 1, tier=RunwayTier.SMART)
    controller = tenant.actors[Role.CONTROLLER]
    view = await services.clients.add_client_to_advisor(controller, tenant.advisor_id, name="Acme")
    biz = view.business.business_id
    async with services.uow_factory() as uow:
        await uow.customers.upsert(
            [Customer(CustomerId("cus-1"), biz, "Globex", email="ap@globex.example")]
        )
        await uow.invoices.upsert(
            [
                Invoice(
                    InvoiceId("inv-1"),
                    biz,
                    CustomerId("cus-1"),
                    Money(250_000, "USD"),
                    Money(250_000, "USD"),
                    NOW.date() - timedelta(days=40),
                    NOW.date() - timedelta(days=10),
                )
            ]
        )
        await uow.commit()
    base = f"/advisor/{tenant.advisor_id}/clients/{biz}/collections"
    async with AsyncTestClient(create_app(services)) as client:
        headers = bearer(services, controller)
        first = await client.post(f"{base}/run", headers=headers)
        again = await client.post(f"{base}/run", headers=headers)
        listed = await client.get(f"{base}/", headers=headers)
        sequence = await client.get(f"{base}/sequence", headers=headers)
        steps = [
            {"step_id": "nudge", "offset_days": -3, "template": "Hi $customer", "tone": "friendly"}
        ]
        edited = await client.put(f"{base}/sequence", json={"steps": steps}, headers=headers)
        bad = await client.put(
            f"{base}/sequence",
            json={"steps": [{"step_id": "Bad Id", "offset_days": 1, "template": "x"}]},
            headers=headers,
        )
        early = await client.post(f"{base}/early-pay", json={}, headers=headers)
        wrong = await client.post(f"{base}/early-pay", json={"percent": "abc"}, headers=headers)
        await services.advisors.set_plan(
            SYSTEM_ACTOR, tenant.advisor_id, runway_tier=RunwayTier.BASIC
        )
        basic = await client.get(f"{base}/", headers=headers)

    assert first.status_code == 200 and first.json()["sent"] == 1, first.text
    assert again.json()["sent"] == 0, "the same step is never sent twice"
    assert len(notifier.sent) == 1 and notifier.sent[0].to == ("ap@globex.example",)
    (case,) = listed.json()["cases"]
    assert case["invoice_id"] == "inv-1" and case["reminders"] == 1
    assert [s["status"] for s in case["sends"]] == ["sent"]
    assert sequence.status_code == 200 and sequence.json()["steps"]
    assert edited.status_code == 200 and edited.json()["version"] == 1
    assert edited.json()["steps"][0]["step_id"] == "nudge"
    assert bad.status_code in (400, 422) and "step id" in bad.text
    assert early.status_code == 200 and early.json()["cash_short"] is False
    assert "no forecast" in early.json()["reason"]
    assert wrong.status_code in (400, 422)
    assert basic.status_code == 403
