"""A books folder lands in a business whole, once, audited; and comes back out the same."""

from __future__ import annotations

import dataclasses
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from rowcol.adapters.csvbooks import CsvBooksFolder
from rowcol.bootstrap import Services
from rowcol.core.domain.errors import NotFound
from rowcol.core.domain.ids import BusinessId
from rowcol.core.domain.tenancy import SYSTEM_ACTOR, Role
from rowcol.core.services.receivables import BadRows
from rowcol.demodata import generate_firm
from rowcol.ports.books import BooksBundle
from support import add_tenant, make_services


async def _advisors(services: Services) -> list[Any]:
    async with services.uow_factory() as uow:
        return [a.advisor_id for a in await uow.advisors.list()]


@pytest.fixture
async def services(tmp_path: Path) -> Services:
    built = make_services(tmp_path)
    await add_tenant(built, 1)
    return built


async def business(services: Services, name: str) -> BusinessId:
    (advisor_id,) = await _advisors(services)
    actor = await services.advisors.operator_for(advisor_id)
    view = await services.clients.add_client_to_advisor(actor, advisor_id, name=name)
    return view.business.business_id


def demo_folder(path: Path) -> BooksBundle:
    data = generate_firm(clients=1, seed=3, today=date(2026, 11, 2)).records[0]
    bundle = BooksBundle(
        vendors=data.vendors,
        customers=data.customers,
        bills=data.bills,
        invoices=data.invoices,
        bank_accounts=data.bank_accounts,
        bank_transactions=data.bank_transactions,
        balances=data.balances,
    )
    CsvBooksFolder().write(bundle, str(path))
    return bundle


async def stored(services: Services, business_id: BusinessId) -> dict[str, list[Any]]:
    """Everything stored for the business, with the business id blanked out."""
    async with services.uow_factory() as uow:
        found: dict[str, list[Any]] = {
            "vendors": list(await uow.vendors.list(business_id)),
            "customers": list(await uow.customers.list(business_id)),
            "bills": list(await uow.bills.list(business_id)),
            "invoices": list(await uow.invoices.list(business_id)),
            "bank_accounts": list(await uow.bank_accounts.list(business_id)),
            "bank_transactions": list(await uow.bank_transactions.list(business_id)),
            "balances": [
                b
                for a in await uow.bank_accounts.list(business_id)
                for b in await uow.balances.history(business_id, a.account_id)
            ],
        }
    return {
        kind: [dataclasses.replace(r, business_id=BusinessId("-")) for r in records]
        for kind, records in found.items()
    }


async def test_a_folder_is_stored_in_the_business_and_audited(
    services: Services, tmp_path: Path
) -> None:
    biz = await business(services, "Acme Bakery")
    bundle = demo_folder(tmp_path / "books")

    done = await services.books_import.import_folder(SYSTEM_ACTOR, biz, str(tmp_path / "books"))

    assert done.by_kind() == {
        "vendors": len(bundle.vendors),
        "customers": len(bundle.customers),
        "bills": len(bundle.bills),
        "invoices": len(bundle.invoices),
        "bank_accounts": len(bundle.bank_accounts),
        "bank_transactions": len(bundle.bank_transactions),
        "balances": len(bundle.balances),
    }
    assert done.skipped == ()
    records = await stored(services, biz)
    assert {kind: len(found) for kind, found in records.items()} == done.by_kind()
    assert sorted(b.bill_id for b in records["bills"]) == sorted(b.bill_id for b in bundle.bills)
    async with services.uow_factory() as uow:
        assert all(b.business_id == biz for b in await uow.bills.list(biz))
        events = await uow.audit.events()
    assert events[-1].action == "books.imported"
    assert events[-1].subject == f"business:{biz}"


async def test_importing_the_same_folder_twice_changes_nothing(
    services: Services, tmp_path: Path
) -> None:
    biz = await business(services, "Acme Bakery")
    demo_folder(tmp_path / "books")
    first = await services.books_import.import_folder(SYSTEM_ACTOR, biz, str(tmp_path / "books"))
    before = await stored(services, biz)

    again = await services.books_import.import_folder(SYSTEM_ACTOR, biz, str(tmp_path / "books"))

    assert again == first
    assert await stored(services, biz) == before


async def test_one_bad_row_stores_nothing_unless_bad_rows_are_skipped(
    services: Services, tmp_path: Path
) -> None:
    biz = await business(services, "Acme Bakery")
    demo_folder(tmp_path / "books")
    bills = tmp_path / "books" / "bills.csv"
    lines = bills.read_text().splitlines(keepends=True)
    cells = lines[3].split(",")
    cells[2] = "12.3.4"
    lines[3] = ",".join(cells)
    bills.write_text("".join(lines))

    with pytest.raises(BadRows, match=r"bills\.csv row 4: amount '12\.3\.4'") as refused:
        await services.books_import.import_folder(SYSTEM_ACTOR, biz, str(tmp_path / "books"))
    # The bill's payment names a bill that was not read: its row is listed too.
    assert len(refused.value.errors) in (1, 2)
    assert all(not found for found in (await stored(services, biz)).values())

    done = await services.books_import.import_folder(
        SYSTEM_ACTOR, biz, str(tmp_path / "books"), skip_bad_rows=True
    )

    assert done.skipped == refused.value.errors
    assert done.bills == len(lines) - 2
    async with services.uow_factory() as uow:
        assert await uow.bills.count(biz) == done.bills
        events = await uow.audit.events()
    after = events[-1].after
    assert isinstance(after, dict)
    assert after["skipped_rows"] == [str(e) for e in refused.value.errors]


async def test_an_unknown_business_is_not_found(services: Services, tmp_path: Path) -> None:
    demo_folder(tmp_path / "books")
    with pytest.raises(NotFound, match="business biz-nowhere"):
        await services.books_import.import_folder(
            SYSTEM_ACTOR, BusinessId("biz-nowhere"), str(tmp_path / "books")
        )
    with pytest.raises(NotFound):
        await services.books_import.export_folder(
            SYSTEM_ACTOR, BusinessId("biz-nowhere"), str(tmp_path / "out")
        )
    assert not (tmp_path / "out").exists()


async def test_an_exported_business_imports_into_another_unchanged(
    services: Services, tmp_path: Path
) -> None:
    source = await business(services, "Acme Bakery")
    copy = await business(services, "Acme Bakery (copy)")
    demo_folder(tmp_path / "books")
    await services.books_import.import_folder(SYSTEM_ACTOR, source, str(tmp_path / "books"))

    exported = await services.books_import.export_folder(
        SYSTEM_ACTOR, source, str(tmp_path / "out")
    )
    imported = await services.books_import.import_folder(SYSTEM_ACTOR, copy, str(tmp_path / "out"))

    assert exported == imported
    assert await stored(services, copy) == await stored(services, source)
    async with services.uow_factory() as uow:
        actions = [e.action for e in await uow.audit.events()]
    assert actions[-2:] == ["books.exported", "books.imported"]


async def test_the_actor_is_recorded(services: Services, tmp_path: Path) -> None:
    (advisor_id,) = await _advisors(services)
    actor = await services.advisors.operator_for(advisor_id, Role.BOOKKEEPER)
    biz = await business(services, "Acme Bakery")
    demo_folder(tmp_path / "books")

    await services.books_import.import_folder(actor, biz, str(tmp_path / "books"))

    async with services.uow_factory() as uow:
        events = await uow.audit.events()
    assert events[-1].actor == actor.label
