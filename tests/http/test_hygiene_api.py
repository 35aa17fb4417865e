"""Hygiene through the API: scan every client, read the tray, and resolve, snooze or
reopen an issue by its key (which contains ':'), raw or URL-encoded."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

from litestar.testing import AsyncTestClient

from rowcol.adapters.clock import ManualClock
from rowcol.core.domain.ids import BillId, VendorId
from rowcol.core.domain.money import Money
from rowcol.core.domain.records import Bill, Vendor
from rowcol.core.domain.tenancy import Role
from rowcol.entrypoints.http.app import create_app
from support import NOW, add_tenant, bearer, make_services


async def test_the_tray_lists_issues_and_each_can_be_resolved_snoozed_and_reopened(
    tmp_path: Path,
) -> None:
    clock = ManualClock(NOW)
    services = make_services(tmp_path, clock=clock)
    tenant = await add_tenant(services, 1)
    other = await add_tenant(services, 2, firm="firm-2")
    controller = tenant.actors[Role.CONTROLLER]
    bookkeeper = tenant.actors[Role.BOOKKEEPER]
    view = await services.clients.add_client_to_advisor(controller, tenant.advisor_id, name="Acme")
    biz = view.business.business_id
    async with services.uow_factory() as uow:
        await uow.vendors.upsert([Vendor(VendorId("v-1"), biz, "Rent Co", payment_terms_days=None)])
        await uow.bills.upsert(
            [
                Bill(
                    BillId(f"b-{n}"),
                    biz,
                    VendorId("v-1"),
                    Money(n * 10_000, "USD"),
                    Money(n * 10_000, "USD"),
                    NOW.date() - timedelta(days=n),
                    None,
                )
                for n in (1, 3)
            ]
        )
        await uow.commit()
    base = f"/advisor/{tenant.advisor_id}/hygiene"
    async with AsyncTestClient(create_app(services)) as client:
        headers = bearer(services, bookkeeper)
        scanned = await client.post(f"{base}/scan", headers=headers)
        assert scanned.status_code == 200, scanned.text
        assert scanned.json()[0]["new"] == 2

        tray = await client.get(base, headers=headers)
        assert tray.status_code == 200
        issues = tray.json()
        assert [i["key"] for i in issues] == [
            f"bill_without_due_date:{biz}:b-3",
            f"bill_without_due_date:{biz}:b-1",
        ]
        first = issues[0]
        assert first["client_name"] == "Acme" and first["severity"] == "medium"
        assert first["money_at_stake"]["display"] == "300.00 USD"
        assert first["records"][0] == {
            "rail": "qbo",
            "record_kind": "bill",
            "record_id": "b-3",
            "label": "bill b-3 from Rent Co",
            "amount": {"amount_minor": 30_000, "currency": "USD", "display": "300.00 USD"},
            "date": str(NOW.date() - timedelta(days=3)),
            "date_label": "issued",
        }

        raw = f"{base}/{biz}/{first['key']}"
        encoded = f"{base}/{biz}/{quote(issues[1]['key'], safe='')}"
        no_note = await client.post(f"{raw}/resolve", json={}, headers=headers)
        assert no_note.status_code == 422, no_note.text
        done = await client.post(
            f"{raw}/resolve", json={"note": "paid on receipt"}, headers=headers
        )
        assert done.status_code == 200, done.text
        assert done.json()["status"] == "resolved"
        assert done.json()["changed_by"] == bookkeeper.label

        no_until = await client.post(f"{encoded}/snooze", json={"note": "x"}, headers=headers)
        assert no_until.status_code == 422
        until = str(NOW.date() + timedelta(days=7))
        snoozed = await client.post(
            f"{encoded}/snooze", json={"note": "waiting on vendor", "until": until}, headers=headers
        )
        assert snoozed.status_code == 200, snoozed.text
        assert snoozed.json()["snoozed_until"] == until

        assert (await client.get(base, headers=headers)).json() == []
        every = await client.get(base, params={"status": "all", "client": biz}, headers=headers)
        assert sorted(i["status"] for i in every.json()) == ["resolved", "snoozed"]
        by_kind = await client.get(
            base, params={"status": "all", "kind": "stuck_payment"}, headers=headers
        )
        assert by_kind.json() == []

        reopened = await client.post(f"{raw}/reopen", json={}, headers=headers)
        assert reopened.status_code == 200 and reopened.json()["status"] == "open"

        missing = await client.post(
            f"{base}/{biz}/nope:{biz}:x/resolve", json={"note": "n"}, headers=headers
        )
        assert missing.status_code == 404
        bad = await client.get(base, params={"status": "done"}, headers=headers)
        assert bad.status_code == 422
        unknown_field = await client.post(f"{raw}/resolve", json={"notes": "n"}, headers=headers)
        assert unknown_field.status_code == 400

        outsider = bearer(services, other.actors[Role.BOOKKEEPER])
        assert (await client.get(base, headers=outsider)).status_code == 403
        forbidden = await client.post(f"{raw}/resolve", json={"note": "n"}, headers=outsider)
        assert forbidden.status_code == 403

    async with services.uow_factory() as uow:
        actions = [e.action for e in await uow.audit.events(advisor_id=tenant.advisor_id)]
    assert actions.count("hygiene.detected") == 2
    assert {"hygiene.resolved", "hygiene.snoozed", "hygiene.reopened"} <= set(actions)


async def test_the_tray_page_shows_each_issue_with_its_records_and_acts_from_a_form(
    tmp_path: Path,
) -> None:
    services = make_services(tmp_path, clock=ManualClock(NOW))
    tenant = await add_tenant(services, 1)
    bookkeeper = tenant.actors[Role.BOOKKEEPER]
    controller = tenant.actors[Role.CONTROLLER]
    view = await services.clients.add_client_to_advisor(controller, tenant.advisor_id, name="Acme")
    biz = view.business.business_id
    async with services.uow_factory() as uow:
        await uow.vendors.upsert([Vendor(VendorId("v-1"), biz, "Rent Co", payment_terms_days=None)])
        amount = Money(25_000, "USD")
        await uow.bills.upsert(
            [Bill(BillId("b-1"), biz, VendorId("v-1"), amount, amount, NOW.date(), None)]
        )
        await uow.commit()
    base = f"/advisor/{tenant.advisor_id}/hygiene"
    page_headers = {**bearer(services, bookkeeper), "accept": "text/html"}
    async with AsyncTestClient(create_app(services)) as client:
        await client.post(f"{base}/scan", headers=bearer(services, bookkeeper))
        shown = await client.get(base, headers=page_headers)
        assert shown.status_code == 200 and shown.headers["content-type"].startswith("text/html")
        assert "Hygiene tray" in shown.text and "bill b-1 from Rent Co" in shown.text
        assert "250.00 USD at stake" in shown.text
        act = f"{base}/{biz}/{quote(f'bill_without_due_date:{biz}:b-1', safe='')}/act"
        refused = await client.post(
            act, data={"action": "resolve", "note": ""}, headers=page_headers
        )
        assert refused.status_code == 422 and "Nothing changed" in refused.text
        done = await client.post(
            act,
            data={"action": "resolve", "note": "terms agreed by phone", "back": base},
            headers=page_headers,
            follow_redirects=False,
        )
        assert done.status_code == 303 and done.headers["location"] == base
        empty = await client.get(base, headers=page_headers)
        assert "No open issue" in empty.text
        resolved = await client.get(f"{base}?status=resolved", headers=page_headers)
        assert "terms agreed by phone" in resolved.text and "Reopen" in resolved.text
