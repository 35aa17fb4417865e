"""Stripe exports land in a business once, whole, and never beside the books' invoices."""

from __future__ import annotations

from pathlib import Path

import pytest

from rowcol.core.domain.errors import Conflict
from rowcol.core.domain.ids import Rail
from rowcol.core.domain.tenancy import SYSTEM_ACTOR, Role
from support import add_tenant, make_services

EXPORTS = Path(__file__).parents[1] / "rails" / "data" / "stripe"


def export(name: str) -> str:
    return (EXPORTS / name).read_text(encoding="utf-8-sig")


async def test_a_business_with_connected_books_takes_payouts_but_not_invoices(
    tmp_path: Path,
) -> None:
    services = make_services(tmp_path)
    tenant = await add_tenant(services, 1)
    view = await services.clients.add_client_to_advisor(
        tenant.actors[Role.CONTROLLER], tenant.advisor_id, name="Booked Co"
    )
    biz = view.business.business_id
    await services.sync.connect(biz, Rail.QBO, account="realm-1")

    with pytest.raises(Conflict, match="from its qbo books"):
        await services.receivables_import.import_files(
            SYSTEM_ACTOR,
            biz,
            invoices=export("invoices_export.csv"),
            payouts=export("payouts_export.csv"),
        )
    async with services.uow_factory() as uow:
        assert await uow.payouts.count(biz) == 0, "nothing is half-written"

    done = await services.receivables_import.import_files(
        SYSTEM_ACTOR, biz, payouts=export("payouts_export.csv")
    )

    assert (done.invoices, done.payouts) == (0, 3)
    async with services.uow_factory() as uow:
        assert await uow.payouts.count(biz) == 3
        assert await uow.invoices.count(biz) == 0
        events = await uow.audit.events()
    assert events[-1].action == "receivables.imported"
