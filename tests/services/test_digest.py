"""The advisor digest: the numbers agree with the records, last week's forecast is what
"what changed" compares with, and another advisor's client is not found."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from rowcol.adapters.clock import ManualClock
from rowcol.core.domain.errors import NotFound
from rowcol.core.domain.ids import AdvisorId, BusinessId
from rowcol.core.domain.records import InvoiceStatus
from rowcol.core.domain.tenancy import Role
from rowcol.demodata import generate_firm
from rowcol.demodata.seed import seed_firm
from support import NOW, make_services


async def test_the_digest_adds_up_and_compares_with_last_week(tmp_path: Path) -> None:
    clock = ManualClock(NOW - timedelta(days=7))
    services = make_services(tmp_path, clock=clock)
    firm = generate_firm(clients=2, seed=5, today=NOW.date(), history_months=12)
    await seed_firm(services.uow_factory, firm)
    lead = AdvisorId(firm.advisors[0].advisor_id)
    biz = BusinessId(next(c.business_id for c in firm.clients if c.advisor_id == lead))
    advisor = next(u for u in firm.users if u.advisor_id == lead and u.role is Role.ADVISOR)
    actor = await services.advisors.actor_for_user(advisor.user_id)
    digests = services.digests

    first = await digests.digest(actor, lead, biz)
    assert first.forecast_made_at is None  # nothing stored yet: projected for the view
    last_week = await services.forecasts.forecast(actor, lead, biz)
    clock.set(NOW)
    made = await services.forecasts.forecast(actor, lead, biz)

    digest = await digests.digest(actor, lead, biz)
    assert digest.forecast == made.forecast and digest.forecast_made_at == made.created_at
    assert [p.on for p in digest.trend] == [last_week.created_at.date(), made.created_at.date()]
    data = firm.data_for(biz)
    open_invoices = [
        i for i in data.invoices if i.status in (InvoiceStatus.OPEN, InvoiceStatus.DISPUTED)
    ]
    assert digest.receivables.total.amount_minor == sum(
        i.balance.amount_minor for i in open_invoices
    )
    overdue = sum(i.balance.amount_minor for i in open_invoices if i.due_date < NOW.date())
    assert digest.receivables.overdue.amount_minor == overdue
    assert all(o.days_late > 0 for o in digest.overdue_invoices)
    assert all(
        b.due is None or b.due <= NOW.date() + timedelta(days=14) for b in digest.upcoming_bills
    )
    assert len(digest.forecast.weeks) == 13
    assert all(i.headline and i.why for i in digest.insights)

    other = AdvisorId(firm.advisors[1].advisor_id)
    foreign = BusinessId(next(c.business_id for c in firm.clients if c.advisor_id == other))
    with pytest.raises(NotFound):
        await digests.digest(actor, lead, foreign)
