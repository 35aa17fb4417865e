"""The advisor digest over HTTP: JSON for programs, a page with its charts for people,
the forecast only on the smart plan, and nothing of another advisor's clients."""

from __future__ import annotations

import html
from datetime import timedelta
from pathlib import Path

from litestar.testing import AsyncTestClient

from rowcol.adapters.clock import ManualClock
from rowcol.core.domain.ids import AdvisorId, BankAccountId, BusinessId
from rowcol.core.domain.money import Money
from rowcol.core.domain.records import Balance
from rowcol.core.domain.tenancy import SYSTEM_ACTOR, Role, RunwayTier
from rowcol.demodata import generate_firm
from rowcol.demodata.seed import seed_firm
from rowcol.entrypoints.http.app import create_app
from support import NOW, bearer, make_services

HTML = {"accept": "text/html,application/xhtml+xml"}


async def test_the_digest_is_json_for_programs_and_a_page_for_people(tmp_path: Path) -> None:
    services = make_services(tmp_path, clock=ManualClock(NOW))
    firm = generate_firm(clients=2, seed=5, today=NOW.date(), history_months=12)
    await seed_firm(services.uow_factory, firm)
    lead = firm.advisors[0].advisor_id
    biz = next(c.business_id for c in firm.clients if c.advisor_id == lead)
    other = next(c.business_id for c in firm.clients if c.advisor_id != lead)
    user = next(u for u in firm.users if u.advisor_id == lead and u.role is Role.ADVISOR)
    actor = await services.advisors.actor_for_user(user.user_id)
    await services.advisors.set_plan(SYSTEM_ACTOR, AdvisorId(lead), runway_tier=RunwayTier.SMART)
    url = f"/advisor/{lead}/clients/{biz}/digest"
    async with AsyncTestClient(create_app(services)) as client:
        headers = bearer(services, actor)
        shown = await client.get(url, headers=headers)
        assert shown.status_code == 200, shown.text
        body = shown.json()
        assert len(body["forecast"]) == 13
        assert body["receivables"]["total"]["amount_minor"] == sum(
            b["amount"]["amount_minor"] for b in body["receivables"]["buckets"]
        )
        # A month-old balance in another currency is not the cash shown, nor its age.
        async with services.uow_factory() as uow:
            await uow.balances.add(
                [
                    Balance(
                        BankAccountId("acct-eur"),
                        BusinessId(biz),
                        Money(1_00, "EUR"),
                        None,
                        NOW - timedelta(days=30),
                    )
                ]
            )
            await uow.commit()
        again = (await client.get(url, headers=headers)).json()
        assert (again["cash"], again["cash_as_of"]) == (body["cash"], body["cash_as_of"])
        page = await client.get(url, headers={**headers, **HTML})
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        text = page.text
        assert "13-week cash forecast" in text and "<svg" in text and 'role="img"' in text
        assert "What changed and why it matters" in text
        assert html.escape(body["name"]) in text

        await services.advisors.set_plan(
            SYSTEM_ACTOR, AdvisorId(lead), runway_tier=RunwayTier.BASIC
        )
        basic = await client.get(url, headers=headers)
        assert basic.status_code == 200 and basic.json()["forecast"] is None
        basic_page = await client.get(url, headers={**headers, **HTML})
        assert "come with the smart plan" in basic_page.text

        foreign = await client.get(f"/advisor/{lead}/clients/{other}/digest", headers=headers)
        assert foreign.status_code == 404
