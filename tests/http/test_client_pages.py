"""A client's pages in the browser's terms (Accept: text/html): the forecast with its
fan, scenarios made from a form and run side by side, collections run from a button,
and the rail connections of every client; the same paths still answer JSON."""

from __future__ import annotations

import html
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from rowcol.adapters.clock import ManualClock
from rowcol.core.domain.ids import AdvisorId
from rowcol.core.domain.tenancy import SYSTEM_ACTOR, Role, RunwayTier
from rowcol.demodata import generate_firm
from rowcol.demodata.seed import seed_firm
from rowcol.entrypoints.http.app import create_app
from support import NOW, bearer, make_services

HTML = {"accept": "text/html,application/xhtml+xml"}


@dataclass
class Site:
    client: AsyncTestClient[Any]
    headers: dict[str, str]
    base: str
    advisor: str
    customer: str
    customer_name: str


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[Site]:
    services = make_services(tmp_path, clock=ManualClock(NOW))
    firm = generate_firm(clients=2, seed=5, today=NOW.date(), history_months=12)
    await seed_firm(services.uow_factory, firm)
    lead = firm.advisors[0].advisor_id
    biz = next(c.business_id for c in firm.clients if c.advisor_id == lead)
    user = next(u for u in firm.users if u.advisor_id == lead and u.role is Role.CONTROLLER)
    actor = await services.advisors.actor_for_user(user.user_id)
    await services.advisors.set_plan(SYSTEM_ACTOR, AdvisorId(lead), runway_tier=RunwayTier.SMART)
    customer = firm.data_for(biz).customers[0]
    async with AsyncTestClient(create_app(services)) as client:
        yield Site(
            client,
            bearer(services, actor),
            f"/advisor/{lead}/clients/{biz}",
            lead,
            customer.customer_id,
            customer.name,
        )


async def page(site: Site, path: str) -> str:
    shown = await site.client.get(f"{site.base}{path}", headers={**site.headers, **HTML})
    assert shown.status_code == 200, shown.text
    assert shown.headers["content-type"].startswith("text/html")
    return shown.text


async def test_the_forecast_page_offers_the_first_forecast_then_shows_its_fan(site: Site) -> None:
    empty = await page(site, "/forecast")
    assert "No forecast yet" in empty and "Make the first forecast" in empty
    json_missing = await site.client.get(f"{site.base}/forecast", headers=site.headers)
    assert json_missing.status_code == 404
    made = await site.client.post(
        f"{site.base}/forecast", headers={**site.headers, **HTML}, follow_redirects=False
    )
    assert made.status_code == 303 and made.headers["location"].endswith("/forecast")
    shown = await page(site, "/forecast?weeks=4")
    assert "<svg" in shown and "Closing balance, 4 weeks" in shown
    assert shown.count('<tr><th scope="row">') >= 4
    as_json = await site.client.get(f"{site.base}/forecast?weeks=4", headers=site.headers)
    assert len(as_json.json()["weeks"]) == 4


async def test_a_scenario_is_made_from_the_form_run_and_compared(site: Site) -> None:
    form = {
        "name": "late-customer",
        "description": "the biggest customer pays a month late",
        "kind": "customer_late",
        "customer": site.customer,
        "days": "30",
    }
    made = await site.client.post(
        f"{site.base}/scenarios/new", data=form, headers=site.headers, follow_redirects=False
    )
    assert made.status_code == 303, made.text
    listed = await page(site, "/scenarios")
    assert "late-customer" in listed and "Not run yet" in listed
    assert f"{html.escape(site.customer_name)} pays 30 days later than usual" in listed
    ran = await site.client.post(
        f"{site.base}/scenarios/late-customer/run",
        headers={**site.headers, **HTML},
        follow_redirects=False,
    )
    assert ran.status_code == 303
    compared = await page(site, "/scenarios")
    assert "Run again" in compared and "with the scenario" in compared and "<svg" in compared
    bad = await site.client.post(
        f"{site.base}/scenarios/new", data={**form, "days": "soon"}, headers=site.headers
    )
    assert bad.status_code == 422 and "whole number" in bad.text
    twice = await site.client.post(f"{site.base}/scenarios/new", data=form, headers=site.headers)
    assert twice.status_code == 409 and "late-customer" in twice.text
    gone = await site.client.post(
        f"{site.base}/scenarios/late-customer/delete", headers=site.headers, follow_redirects=False
    )
    assert gone.status_code == 303
    assert "No scenarios yet" in await page(site, "/scenarios")


async def test_collections_run_from_the_page_and_say_what_went_out(site: Site) -> None:
    shown = await page(site, "/collections")
    assert "Reminder sequence" in shown and "Send the reminders due today" in shown
    ran = await site.client.post(f"{site.base}/collections/run", headers={**site.headers, **HTML})
    assert ran.status_code == 200 and "Reminders run:" in ran.text
    as_json = await site.client.post(f"{site.base}/collections/run", headers=site.headers)
    assert as_json.json()["sent"] == 0  # each step goes out once


async def test_the_rails_page_lists_each_client_s_connections(site: Site) -> None:
    shown = await site.client.get(
        f"/advisor/{site.advisor}/rails", headers={**site.headers, **HTML}
    )
    assert shown.status_code == 200 and "Rail connections" in shown.text
    as_json = await site.client.get(f"/advisor/{site.advisor}/rails", headers=site.headers)
    assert set(as_json.json()) == {"connections", "calls"}
