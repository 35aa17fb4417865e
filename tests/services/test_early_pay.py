"""Early-pay incentives go out only when the forecast says cash is short, once per
invoice not yet due, with the discount in the message."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from rowcol.adapters.clock import ManualClock
from rowcol.adapters.memory.rails import MemoryNotifier
from rowcol.core.domain.forecast import Forecast, WeekForecast
from rowcol.core.domain.ids import CustomerId, InvoiceId
from rowcol.core.domain.money import Money
from rowcol.core.domain.records import Customer, Invoice
from rowcol.core.domain.tenancy import Role
from rowcol.core.services.collections import (
    CustomerCommunicationService,
    PaymentAccelerationService,
)
from rowcol.ports.repository import ForecastSnapshot
from support import NOW, add_tenant, make_services


def week_with_low(biz: str, low: int) -> Forecast:
    day = NOW.date()
    closing = Money(low, "USD")
    week = WeekForecast(
        week=1,
        starts_on=day + timedelta(days=1),
        ends_on=day + timedelta(days=7),
        opening=Money(0, "USD"),
        inflows=Money(0, "USD"),
        outflows=Money(0, "USD") if low >= 0 else -closing,
        closing=closing,
        by_category={} if low == 0 else {"other": closing},
        p10=closing,
        p50=closing,
        p90=closing,
        breach_probability=1.0 if low < 0 else 0.0,
    )
    return Forecast(biz, day, (week,), ())  # type: ignore[arg-type]


async def test_offers_go_out_once_and_only_when_cash_is_short(tmp_path: Path) -> None:
    clock = ManualClock(NOW)
    services = make_services(tmp_path, clock=clock)
    tenant = await add_tenant(services, 1)
    controller = tenant.actors[Role.CONTROLLER]
    view = await services.clients.add_client_to_advisor(controller, tenant.advisor_id, name="Acme")
    biz = view.business.business_id
    notifier = MemoryNotifier()
    offers = PaymentAccelerationService(
        services.uow_factory,
        clock,
        CustomerCommunicationService(services.uow_factory, clock, notifier),
    )
    due_later = Invoice(
        InvoiceId("inv-1"),
        biz,
        CustomerId("cus-1"),
        Money(400_000, "USD"),
        Money(400_000, "USD"),
        NOW.date() - timedelta(days=5),
        NOW.date() + timedelta(days=25),
    )
    async with services.uow_factory() as uow:
        await uow.customers.upsert(
            [Customer(CustomerId("cus-1"), biz, "Globex", "ap@globex.example")]
        )
        await uow.invoices.upsert(
            [due_later, replace(due_later, invoice_id=InvoiceId("inv-2"), due_date=NOW.date())]
        )
        await uow.forecasts.add(ForecastSnapshot("fc-1", biz, NOW, week_with_low(biz, 10_000)))
        await uow.commit()

    calm = await offers.offer(controller, tenant.advisor_id, biz)
    assert not calm.cash_short and calm.offers == () and notifier.sent == []

    async with services.uow_factory() as uow:
        short = week_with_low(biz, -50_000)
        await uow.forecasts.add(ForecastSnapshot("fc-2", biz, NOW + timedelta(minutes=1), short))
        await uow.commit()
    first = await offers.offer(controller, tenant.advisor_id, biz, percent=Decimal("2"))
    again = await offers.offer(controller, tenant.advisor_id, biz, percent=Decimal("2"))

    assert first.cash_short and [o.invoice_id for o in first.offers] == ["inv-1"]
    assert first.offers[0].discount == Money(8_000, "USD")
    assert len(notifier.sent) == 1, "one offer per invoice, however often it is asked"
    assert again.cash_short and len(notifier.sent) == 1
    assert "80.00" in (notifier.sent[0].text or "")
