from pathlib import Path

from litestar.testing import AsyncTestClient

from rowcol.core.domain.tenancy import Role, RunwayTier
from rowcol.entrypoints.http.app import create_app
from support import add_tenant, bearer, make_services


async def test_a_controller_adds_lists_and_removes_a_client_and_each_change_is_audited(
    tmp_path: Path,
) -> None:
    services = make_services(tmp_path)
    tenant = await add_tenant(services, 1)
    headers = bearer(services, tenant.actors[Role.CONTROLLER])
    base = f"/advisor/{tenant.advisor_id}/clients"
    async with AsyncTestClient(create_app(services)) as client:
        created = await client.post(base, json={"name": "  Acme   Bakery "}, headers=headers)
        assert created.status_code == 201, created.text
        body = created.json()
        assert body["name"] == "Acme Bakery"
        client_id = body["client_id"]

        listed = await client.get(base, headers=headers)
        assert [c["client_id"] for c in listed.json()] == [client_id]

        summary = await client.get(f"{base}/{client_id}", headers=headers)
        assert summary.status_code == 200
        assert summary.json()["position"]["cash"]["amount_minor"] == 0

        removed = await client.delete(f"{base}/{client_id}", headers=headers)
        assert removed.status_code == 204
        assert (await client.get(base, headers=headers)).json() == []
        gone = await client.get(f"{base}/{client_id}", headers=headers)
        assert gone.status_code == 404

        audit = await client.get(f"/advisor/{tenant.advisor_id}/audit", headers=headers)
        actions = [e["action"] for e in audit.json()]
        assert actions[-2:] == ["client.added", "client.removed"]
        assert audit.json()[-1]["actor"] == "controller:u-1-controller"


async def test_a_bookkeeper_may_read_clients_but_not_add_or_remove_them(tmp_path: Path) -> None:
    services = make_services(tmp_path)
    tenant = await add_tenant(services, 1)
    controller = bearer(services, tenant.actors[Role.CONTROLLER])
    bookkeeper = bearer(services, tenant.actors[Role.BOOKKEEPER])
    base = f"/advisor/{tenant.advisor_id}/clients"
    async with AsyncTestClient(create_app(services)) as client:
        client_id = (await client.post(base, json={"name": "Acme"}, headers=controller)).json()[
            "client_id"
        ]
        assert (await client.get(base, headers=bookkeeper)).status_code == 200
        denied = await client.post(base, json={"name": "Other"}, headers=bookkeeper)
        assert denied.status_code == 403
        assert "bookkeeper" in denied.json()["detail"]
        assert (await client.delete(f"{base}/{client_id}", headers=bookkeeper)).status_code == 403
        assert len((await client.get(base, headers=bookkeeper)).json()) == 1


async def test_a_route_behind_a_feature_answers_403_naming_the_feature(tmp_path: Path) -> None:
    services = make_services(tmp_path)
    basic = await add_tenant(services, 1)
    smart = await add_tenant(services, 2, tier=RunwayTier.SMART)
    async with AsyncTestClient(create_app(services)) as client:
        for tenant, expected in ((basic, 403), (smart, 200)):
            headers = bearer(services, tenant.actors[Role.ADVISOR])
            owner = bearer(services, tenant.actors[Role.CONTROLLER])
            base = f"/advisor/{tenant.advisor_id}/clients"
            cid = (await client.post(base, json={"name": "Acme"}, headers=owner)).json()[
                "client_id"
            ]
            response = await client.get(f"{base}/{cid}/runway", headers=headers)
            assert response.status_code == expected, response.text
            if expected == 403:
                assert response.json()["feature"] == "smart_features_enabled"
                assert "smart_features_enabled" in response.json()["detail"]


async def test_a_flag_can_withhold_the_basic_ritual_from_a_basic_advisor(tmp_path: Path) -> None:
    from rowcol.core.domain.tenancy import SYSTEM_ACTOR

    services = make_services(tmp_path)
    tenant = await add_tenant(services, 1)
    headers = bearer(services, tenant.actors[Role.CONTROLLER])
    base = f"/advisor/{tenant.advisor_id}/clients"
    async with AsyncTestClient(create_app(services)) as client:
        cid = (await client.post(base, json={"name": "Acme"}, headers=headers)).json()["client_id"]
        assert (await client.get(f"{base}/{cid}/bills", headers=headers)).status_code == 200
        await services.advisors.set_plan(
            SYSTEM_ACTOR, tenant.advisor_id, feature_flags={"basic_ritual_only": False}
        )
        blocked = await client.get(f"{base}/{cid}/bills", headers=headers)
        assert blocked.status_code == 403
        assert blocked.json()["feature"] == "basic_ritual_only"


async def test_bad_input_gets_a_4xx_problem_with_a_reason_and_stores_nothing(
    tmp_path: Path,
) -> None:
    services = make_services(tmp_path)
    tenant = await add_tenant(services, 1)
    headers = bearer(services, tenant.actors[Role.CONTROLLER])
    base = f"/advisor/{tenant.advisor_id}/clients"
    bad_bodies = [
        {"name": ""},
        {"name": "x" * 500},
        {"name": "Acme", "currency": "XYZ"},
        {"name": "Acme", "surprise": 1},
        {"nom": "Acme"},
        {"name": 42},
        [],
    ]
    async with AsyncTestClient(create_app(services)) as client:
        for body in bad_bodies:
            response = await client.post(base, json=body, headers=headers)
            assert 400 <= response.status_code < 500, (body, response.text)
            assert response.headers["content-type"].startswith("application/problem+json")
            assert response.json()["detail"], body
        raw = await client.post(
            base, content=b"{not json", headers={**headers, "content-type": "application/json"}
        )
        assert raw.status_code == 400
        bad_query = await client.get(f"/advisor/{tenant.advisor_id}/audit?limit=0", headers=headers)
        assert bad_query.status_code == 400
        weird_id = await client.get("/advisor/%00%ff/clients", headers=headers)
        assert 400 <= weird_id.status_code < 500
        assert (await client.get(base, headers=headers)).json() == []


async def test_health_docs_and_schema_are_public_and_the_docs_are_a_page(tmp_path: Path) -> None:
    services = make_services(tmp_path)
    async with AsyncTestClient(create_app(services)) as client:
        assert (await client.get("/health")).json()["status"] == "ok"
        docs = await client.get("/docs")
        assert docs.headers["content-type"].startswith("text/html")
        assert "/advisor/{advisor_id}/clients" in docs.text
        schema = (await client.get("/schema/openapi.json")).json()
        assert "/advisor/{advisor_id}/clients" in schema["paths"]
        unknown = await client.get("/no/such/page")
        assert unknown.status_code == 404
        assert unknown.headers["content-type"].startswith("application/problem+json")
