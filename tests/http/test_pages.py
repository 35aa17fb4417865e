"""Browser sign-in, the page frame and the portfolio console, through the HTTP app:
the cookie session, redirects for pages and 401s for the API, tenant scoping on the
console, its query parameters, and cross-site requests refused."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from litestar.testing import AsyncTestClient

from rowcol.bootstrap import Services
from rowcol.core.domain.connections import ConnectionStatus, RailConnection
from rowcol.core.domain.ids import BankAccountId, BusinessId, Rail
from rowcol.core.domain.money import Money
from rowcol.core.domain.records import Balance
from rowcol.core.domain.tenancy import Actor, Role
from rowcol.entrypoints.http.app import create_app
from support import NOW, Tenant, add_tenant, bearer, make_services

HTML = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
ORIGIN = {"Origin": "http://testserver.local"}


def token(services: Services, actor: Actor) -> str:
    return services.tokens.issue(actor, ttl=timedelta(hours=1))


async def _clients(services: Services, tenant: Tenant, *names: str) -> dict[str, BusinessId]:
    made = {}
    for name in names:
        view = await services.clients.add_client_to_advisor(
            tenant.actors[Role.CONTROLLER], tenant.advisor_id, name=name
        )
        made[name] = view.business.business_id
    return made


async def _setup(tmp_path: Path) -> tuple[Services, Tenant, Tenant, dict[str, BusinessId]]:
    services = make_services(tmp_path)
    mine = await add_tenant(services, 1)
    theirs = await add_tenant(services, 2)
    ids = await _clients(services, mine, "Acme Bakery", "Birch Dental", "Cobalt Works")
    await _clients(services, theirs, "Other Firm Client")
    async with services.uow_factory() as uow:
        # Acme: fresh cash and a failing bank feed; Birch: cash five days old.
        await uow.balances.add(
            [
                Balance(BankAccountId("a"), ids["Acme Bakery"], Money(500_00, "USD"), None, NOW),
                Balance(
                    BankAccountId("b"),
                    ids["Birch Dental"],
                    Money(90_000_00, "USD"),
                    None,
                    NOW - timedelta(days=5),
                ),
                Balance(
                    BankAccountId("c"),
                    ids["Cobalt Works"],
                    Money(20_000_00, "USD"),
                    None,
                    NOW - timedelta(hours=1),
                ),
            ]
        )
        await uow.connections.upsert(
            RailConnection(ids["Acme Bakery"], Rail.PLAID, ConnectionStatus.FAILING, "item")
        )
        await uow.commit()
    return services, mine, theirs, ids


async def test_signing_in_sets_a_strict_http_only_cookie_that_opens_the_console(
    tmp_path: Path,
) -> None:
    services, mine, _, _ = await _setup(tmp_path)
    controller = mine.actors[Role.CONTROLLER]
    console = f"/advisor/{mine.advisor_id}/portfolio"
    async with AsyncTestClient(create_app(services)) as client:
        page = await client.get("/signin", headers=HTML)
        assert page.status_code == 200
        assert '<label for="token">' in page.text and 'name="token"' in page.text
        assert "Demo users" not in page.text

        signed = await client.post(
            "/signin",
            data={"token": token(services, controller), "next": console},
            headers={**HTML, **ORIGIN},
            follow_redirects=False,
        )
        assert signed.status_code == 303
        assert signed.headers["location"] == console
        cookie = signed.headers["set-cookie"]
        assert cookie.startswith("rowcol_session=")
        lowered = cookie.lower()
        assert "httponly" in lowered and "samesite=strict" in lowered and "path=/" in lowered

        shown = await client.get(console, headers=HTML)
        assert shown.status_code == 200
        assert shown.headers["content-type"].startswith("text/html")
        assert "Controller 1" in shown.text and "controller" in shown.text
        assert 'href="#main"' in shown.text
        assert f'href="/advisor/{mine.advisor_id}/hygiene"' in shown.text

        home = await client.get("/", headers=HTML, follow_redirects=False)
        assert (home.status_code, home.headers["location"]) == (303, console)

        out = await client.post("/signout", headers={**HTML, **ORIGIN}, follow_redirects=False)
        assert out.status_code == 303 and out.headers["location"] == "/signin"
        assert 'rowcol_session=""' in out.headers["set-cookie"] or "max-age=0" in (
            out.headers["set-cookie"].lower()
        )
        client.cookies.clear()
        again = await client.get(console, headers=HTML, follow_redirects=False)
        assert again.status_code == 303


async def test_a_bad_or_expired_token_shows_the_sign_in_page_again_with_the_reason(
    tmp_path: Path,
) -> None:
    services, mine, _, _ = await _setup(tmp_path)
    expired = services.tokens.issue(mine.actors[Role.ADVISOR], ttl=timedelta(seconds=-10))
    async with AsyncTestClient(create_app(services)) as client:
        for value, words in (("not-a-token", "malformed"), (expired, "expired")):
            answer = await client.post("/signin", data={"token": value}, headers={**HTML, **ORIGIN})
            assert answer.status_code == 401
            assert "Could not sign in" in answer.text
            assert words in answer.text.lower()
            assert "Traceback" not in answer.text
            assert "set-cookie" not in answer.headers


async def test_a_page_without_a_session_redirects_to_sign_in_while_the_api_still_answers_401(
    tmp_path: Path,
) -> None:
    services, mine, _, _ = await _setup(tmp_path)
    console = f"/advisor/{mine.advisor_id}/portfolio"
    async with AsyncTestClient(create_app(services)) as client:
        page = await client.get(f"{console}?sort=name", headers=HTML, follow_redirects=False)
        assert page.status_code == 303
        assert page.headers["location"] == f"/signin?next={console}%3Fsort%3Dname"

        api = await client.get(console, headers={"Accept": "application/json"})
        assert api.status_code == 401
        assert api.headers["content-type"].startswith("application/problem+json")
        assert "missing bearer token" in api.json()["detail"]

        home = await client.get("/", headers=HTML)
        assert home.status_code == 200 and 'href="/signin"' in home.text


async def test_the_console_lists_only_the_advisors_clients_riskiest_first(
    tmp_path: Path,
) -> None:
    services, mine, _, ids = await _setup(tmp_path)
    headers = bearer(services, mine.actors[Role.BOOKKEEPER])
    async with AsyncTestClient(create_app(services)) as client:
        answer = await client.get(f"/advisor/{mine.advisor_id}/portfolio", headers=headers)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        names = [r["name"] for r in body["rows"]]
        assert sorted(names) == ["Acme Bakery", "Birch Dental", "Cobalt Works"]
        assert names[0] == "Acme Bakery"
        acme = body["rows"][0]
        assert "PLAID sync failing" in acme["risk"]["reason"]
        assert acme["cash"]["amount_minor"] == 500_00
        assert acme["digest_url"] == (
            f"/advisor/{mine.advisor_id}/clients/{ids['Acme Bakery']}/digest"
        )
        birch = next(r for r in body["rows"] if r["name"] == "Birch Dental")
        assert birch["cash_age_seconds"] == 5 * 86400
        assert "bank balance is 5 days old" in birch["risk"]["reason"]
        assert body["totals"]["clients"] == 3
        assert body["totals"]["failing_rails"] == 1

        cookie = {"rowcol_session": token(services, mine.actors[Role.ADVISOR])}
        client.cookies.update(cookie)
        page = await client.get(f"/advisor/{mine.advisor_id}/portfolio", headers=HTML)
        assert page.status_code == 200
        assert "Other Firm Client" not in page.text
        assert page.text.index("Acme Bakery") < page.text.index("Cobalt Works")


async def test_another_advisors_console_is_a_403_page_for_browsers_and_a_problem_for_the_api(
    tmp_path: Path,
) -> None:
    services, mine, theirs, _ = await _setup(tmp_path)
    async with AsyncTestClient(create_app(services)) as client:
        client.cookies.update({"rowcol_session": token(services, mine.actors[Role.CONTROLLER])})
        page = await client.get(f"/advisor/{theirs.advisor_id}/portfolio", headers=HTML)
        assert page.status_code == 403
        assert page.headers["content-type"].startswith("text/html")
        assert "Forbidden" in page.text and "Other Firm Client" not in page.text
        assert (
            "Sign out" in page.text and f'href="/advisor/{mine.advisor_id}/portfolio"' in page.text
        )
        missing = await client.get("/no/such/page", headers=HTML)
        assert missing.status_code == 404 and "Not found" in missing.text

        client.cookies.clear()
        api = await client.get(
            f"/advisor/{theirs.advisor_id}/portfolio",
            headers=bearer(services, mine.actors[Role.CONTROLLER]),
        )
        assert api.status_code == 403
        assert api.headers["content-type"].startswith("application/problem+json")


async def test_sorting_searching_filtering_and_paging_come_from_the_query(
    tmp_path: Path,
) -> None:
    services, mine, _, _ = await _setup(tmp_path)
    headers = bearer(services, mine.actors[Role.CONTROLLER])
    base = f"/advisor/{mine.advisor_id}/portfolio"
    async with AsyncTestClient(create_app(services)) as client:

        async def names(query: str) -> list[str]:
            answer = await client.get(f"{base}?{query}", headers=headers)
            assert answer.status_code == 200, answer.text
            return [r["name"] for r in answer.json()["rows"]]

        assert await names("sort=name") == ["Acme Bakery", "Birch Dental", "Cobalt Works"]
        assert await names("sort=name&dir=desc") == ["Cobalt Works", "Birch Dental", "Acme Bakery"]
        assert await names("sort=cash&dir=desc") == ["Birch Dental", "Cobalt Works", "Acme Bakery"]
        assert await names("q=dental") == ["Birch Dental"]
        assert await names("filter=rail_failing") == ["Acme Bakery"]
        assert await names("filter=rail_failing&filter=stuck") == []
        assert await names("sort=name&per_page=2&page=2") == ["Cobalt Works"]
        paged = await client.get(f"{base}?sort=name&per_page=2", headers=headers)
        assert (paged.json()["pages"], paged.json()["matched"]) == (2, 3)

        bad = await client.get(f"{base}?sort=colour", headers=headers)
        assert bad.status_code == 422 and "unknown sort" in bad.json()["detail"]
        assert (await client.get(f"{base}?filter=nope", headers=headers)).status_code == 422

        client.cookies.update({"rowcol_session": token(services, mine.actors[Role.CONTROLLER])})
        page = await client.get(f"{base}?q=birch&sort=name", headers=HTML)
        assert "Birch Dental" in page.text and "Acme Bakery" not in page.text
        empty = await client.get(f"{base}?q=zzz", headers=HTML)
        assert "No client matches" in empty.text


async def test_a_cookie_request_from_another_site_is_refused_while_bearer_calls_are_not(
    tmp_path: Path,
) -> None:
    services, mine, _, _ = await _setup(tmp_path)
    clients = f"/advisor/{mine.advisor_id}/clients"
    async with AsyncTestClient(create_app(services)) as client:
        client.cookies.update({"rowcol_session": token(services, mine.actors[Role.CONTROLLER])})
        foreign = await client.post(
            clients, json={"name": "Forged"}, headers={"Origin": "https://evil.example"}
        )
        assert foreign.status_code == 403
        assert "cross-site" in foreign.json()["detail"]
        cross = await client.post(
            clients, json={"name": "Forged"}, headers={"Sec-Fetch-Site": "cross-site"}
        )
        assert cross.status_code == 403
        unsaid = await client.post(clients, json={"name": "Forged"})
        assert unsaid.status_code == 403
        signout = await client.post("/signout", headers={"Origin": "https://evil.example"})
        assert signout.status_code == 403

        same = await client.post(clients, json={"name": "Real"}, headers=ORIGIN)
        assert same.status_code == 201, same.text
        fetch = await client.post(
            clients, json={"name": "Real Two"}, headers={"Sec-Fetch-Site": "same-origin"}
        )
        assert fetch.status_code == 201

        client.cookies.clear()
        api = await client.post(
            clients,
            json={"name": "By API"},
            headers={
                **bearer(services, mine.actors[Role.CONTROLLER]),
                "Origin": "https://evil.example",
            },
        )
        assert api.status_code == 201
        listed = await client.get(clients, headers=bearer(services, mine.actors[Role.CONTROLLER]))
        assert "Forged" not in {c["name"] for c in listed.json()}


async def test_demo_users_sign_in_with_one_click_and_their_tokens_never_reach_the_page(
    tmp_path: Path,
) -> None:
    services, mine, _, _ = await _setup(tmp_path)
    secret = token(services, mine.actors[Role.ADVISOR])
    choices = [("Advisor 1 (advisor)", secret)]
    async with AsyncTestClient(create_app(services, sign_in_choices=choices)) as client:
        page = await client.get("/signin", headers=HTML)
        assert "Sign in as Advisor 1 (advisor)" in page.text
        assert secret not in page.text
        signed = await client.post(
            "/signin", data={"choice": "0"}, headers={**HTML, **ORIGIN}, follow_redirects=False
        )
        assert signed.status_code == 303 and secret in signed.headers["set-cookie"]
        landed = await client.get("/", headers=HTML, follow_redirects=False)
        assert landed.headers["location"] == f"/advisor/{mine.advisor_id}/portfolio"
        unknown = await client.post("/signin", data={"choice": "7"}, headers={**HTML, **ORIGIN})
        assert unknown.status_code == 400 and "unknown demo user" in unknown.text


async def test_a_firm_admin_with_several_advisors_chooses_one(tmp_path: Path) -> None:
    services, mine, theirs, _ = await _setup(tmp_path)
    async with AsyncTestClient(create_app(services)) as client:
        client.cookies.update({"rowcol_session": token(services, mine.actors[Role.FIRM_ADMIN])})
        chooser = await client.get("/", headers=HTML, follow_redirects=False)
        assert chooser.status_code == 200
        for advisor in (mine.advisor_id, theirs.advisor_id):
            assert f'href="/advisor/{advisor}/portfolio"' in chooser.text
        other = await client.get(f"/advisor/{theirs.advisor_id}/portfolio", headers=HTML)
        assert other.status_code == 200 and "Other Firm Client" in other.text
