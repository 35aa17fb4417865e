"""The bank and the books disagree: QBO's balance of a bank account (synced with the
books) against Plaid's (synced from the bank) raises a hygiene issue with both sides,
and it is marked fixed when they agree again."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

from rowcol.bootstrap import Services
from rowcol.core.domain.hygiene import HygieneKind, IssueStatus, TrackedIssue
from rowcol.core.domain.ids import BusinessId, Rail
from rowcol.core.domain.records import BillStatus
from rowcol.demodata import generate_firm
from rowcol.simulators import plaid
from rowcol.simulators.rig import SimulatorRig
from rowcol.simulators.server import BackgroundServer
from support import connected_to_rig

FIRM = generate_firm(clients=1, seed=33, today=date(2026, 11, 2), history_months=2)
BIZ = BusinessId(FIRM.businesses[0].business_id)


async def drift_issues(services: Services) -> list[TrackedIssue]:
    for result in await services.sync.sync_business(BIZ):
        assert result.ok, result.error
    await services.hygiene.scan_businesses([BIZ])
    async with services.uow_factory() as uow:
        tracked = await uow.hygiene.list([BIZ], today=services.clock.today())
    return [t for t in tracked if t.issue.kind is HygieneKind.BANK_BALANCE_DRIFT]


async def test_a_bill_paid_in_the_books_but_not_at_the_bank_shows_as_drift_until_it_clears(
    tmp_path: Path,
) -> None:
    rig = SimulatorRig(FIRM)
    with BackgroundServer(rig.hub()) as server:
        services = await connected_to_rig(rig, server.url, tmp_path, rails=(Rail.QBO, Rail.PLAID))
        # Seeded alike: the books' balance of each account is the bank's.
        assert await drift_issues(services) == []
        async with services.uow_factory() as uow:
            accounts = await uow.bank_accounts.list(BIZ)
            bill = next(b for b in await uow.bills.list(BIZ) if b.status is BillStatus.OPEN)
        assert any(a.books_balance is not None for a in accounts)

        # The bookkeeper records a check in QBO; the bank has not seen it yet.
        paid = bill.balance
        rig.qbo.pay_bill(BIZ, bill.bill_id.removeprefix("qbo-"), amount=paid.to_decimal())
        [drift] = await drift_issues(services)
        assert (drift.status, drift.issue.money_at_stake) == (IssueStatus.OPEN, paid)
        bank_side, books_side = drift.issue.records
        assert (bank_side.rail, books_side.rail) == (Rail.PLAID, Rail.QBO)
        # Each side names its own record: the bank's account and the books' account.
        assert bank_side.record_id != books_side.record_id
        assert books_side.record_id.startswith("qbo-")
        assert "Operating Checking" in drift.issue.summary

        # The check clears: the bank's balance drops by as much, and the issue is fixed.
        item = rig.plaid.items[plaid.item_id_for(BIZ)]
        account = sorted(item.accounts.values(), key=lambda a: a.account_id)[0]
        assert account.current is not None
        lower = account.current - Decimal(paid.to_decimal())
        rig.plaid.set_balance(item.item_id, account.account_id, current=lower, available=lower)
        [drift] = await drift_issues(services)
        assert drift.status is IssueStatus.FIXED
        await services.aclose()
