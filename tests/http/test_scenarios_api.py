"""Scenario endpoints: smart tier only; kept, shown, run and removed over HTTP."""

from __future__ import annotations

from pathlib import Path

from litestar.testing import AsyncTestClient

from rowcol.adapters.clock import ManualClock
from rowcol.core.domain.ids import AdvisorId
from rowcol.core.domain.tenancy import SYSTEM_ACTOR, Role, RunwayTier
from rowcol.demodata import generate_firm
from rowcol.demodata.seed import seed_firm
from rowcol.entrypoints.http.app import create_app
from support import NOW, bearer, make_services


async def test_scenarios_are_kept_run_and_removed_for_the_smart_tier_only(
    tmp_path: Path,
) -> None:
    services = make_services(tmp_path, clock=ManualClock(NOW))
    firm = generate_firm(clients=1, seed=3, today=NOW.date(), history_months=12)
    await seed_firm(services.uow_factory, firm)
    lead = firm.advisors[0].advisor_id
    biz = next(c.business_id for c in firm.clients if c.advisor_id == lead)
    controller = next(u for u in firm.users if u.advisor_id == lead and u.role is Role.CONTROLLER)
    actor = await services.advisors.actor_for_user(controller.user_id)
    base = f"/advisor/{lead}/clients/{biz}/scenarios"
    body = {
        "name": "slow-q1",
        "description": "revenue down a fifth",
        "changes": [{"kind": "revenue", "percent": "-20", "from": "2026-11-16"}],
    }
    async with AsyncTestClient(create_app(services)) as client:
        headers = bearer(services, actor)
        await services.advisors.set_plan(
            SYSTEM_ACTOR, AdvisorId(lead), runway_tier=RunwayTier.BASIC
        )
        refused = await client.post(base, json=body, headers=headers)
        assert refused.status_code == 403 and "smart_features_enabled" in refused.text
        assert (await client.get(base, headers=headers)).status_code == 403
        await services.advisors.set_plan(
            SYSTEM_ACTOR, AdvisorId(lead), runway_tier=RunwayTier.SMART
        )

        made = await client.post(base, json=body, headers=headers)
        assert made.status_code == 201, made.text
        assert made.json()["changes"] == body["changes"]
        bad = await client.post(
            base, json={"name": "x", "changes": [{"kind": "fly"}]}, headers=headers
        )
        assert bad.status_code == 422 and "change 1" in bad.text
        listed = await client.get(base, headers=headers)
        assert [s["name"] for s in listed.json()] == ["slow-q1"]
        shown = await client.get(f"{base}/slow-q1", headers=headers)
        assert shown.status_code == 200 and shown.json()["description"] == body["description"]

        ran = await client.post(f"{base}/slow-q1/run", headers=headers)
        assert ran.status_code == 201, ran.text
        result = ran.json()
        assert len(result["weeks"]) == 13 and result["scenario"] == "slow-q1"
        assert result["weeks"][0]["difference"]["amount_minor"] == 0
        assert result["weeks"][-1]["difference"]["amount_minor"] < 0

        gone = await client.delete(f"{base}/slow-q1", headers=headers)
        assert gone.status_code == 204
        missing = await client.get(f"{base}/slow-q1", headers=headers)
        assert missing.status_code == 404
