"""A scan keeps each client's issues current: new ones detected, vanished ones fixed,
what people decided kept; cross-rail issues survive a rail that cannot answer."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from rowcol.adapters.clock import ManualClock
from rowcol.adapters.memory.rails import MemoryLedger
from rowcol.adapters.memory.repository import MemoryUnitOfWorkFactory
from rowcol.core.domain.connections import ConnectionStatus, RailConnection
from rowcol.core.domain.crossrail import LedgerDeposit
from rowcol.core.domain.errors import Forbidden, InvalidInput, NotFound
from rowcol.core.domain.hygiene import HygieneKind, IssueStatus
from rowcol.core.domain.ids import (
    AdvisorId,
    BankAccountId,
    BankTransactionId,
    BillId,
    BusinessId,
    FirmId,
    Rail,
    UserId,
    VendorId,
)
from rowcol.core.domain.money import Money
from rowcol.core.domain.records import BankTransaction, Bill, Payout, PayoutStatus, Vendor
from rowcol.core.domain.tenancy import Actor, Advisor, Business, Client, Role
from rowcol.core.services.crossrail import CrossRailService
from rowcol.core.services.hygiene import HygieneService
from rowcol.core.services.portfolio import PortfolioService

ADV = AdvisorId("adv-1")
OTHER_ADV = AdvisorId("adv-2")
BIZ = BusinessId("biz-1")
BIZ2 = BusinessId("biz-2")
START = datetime(2026, 11, 20, 14, 0, tzinfo=UTC)
BOOKKEEPER = Actor(UserId("u-bk"), ADV, FirmId("firm-1"), Role.BOOKKEEPER)
STRANGER = Actor(UserId("u-x"), OTHER_ADV, FirmId("firm-2"), Role.FIRM_ADMIN)
NO_DUE_KEY = "bill_without_due_date:biz-1:b-1"


def usd(minor: int) -> Money:
    return Money(minor, "USD")


def open_bill(bill_id: str = "b-1", due: date | None = None) -> Bill:
    return Bill(
        BillId(bill_id),
        BIZ,
        VendorId("v-1"),
        usd(120_000),
        usd(120_000),
        date(2026, 11, 2),
        due,
    )


async def console_counts(
    uow_factory: MemoryUnitOfWorkFactory, clock: ManualClock
) -> dict[str, dict[str, int]]:
    """Open issues by severity per client, as the portfolio console shows them."""
    console = await PortfolioService(uow_factory, clock).console(BOOKKEEPER, ADV)
    return {
        a.facts.business_id: dict(a.facts.hygiene) for a in console.page.rows if a.facts.hygiene
    }


async def setup() -> tuple[MemoryUnitOfWorkFactory, ManualClock]:
    uow_factory = MemoryUnitOfWorkFactory()
    clock = ManualClock(START)
    async with uow_factory() as uow:
        await uow.advisors.add(Advisor(ADV, FirmId("firm-1"), "adv@firm.example", "Adv"))
        await uow.advisors.add(Advisor(OTHER_ADV, FirmId("firm-2"), "b@firm2.example", "Other"))
        await uow.businesses.add(Business(BIZ, "Acme Widgets"))
        await uow.businesses.add(Business(BIZ2, "Beta Bakery"))
        await uow.clients.add(Client(ADV, BIZ, START))
        await uow.clients.add(Client(ADV, BIZ2, START))
        await uow.vendors.upsert([Vendor(VendorId("v-1"), BIZ, "Rent Co")])
        await uow.bills.upsert([open_bill()])
        await uow.commit()
    return uow_factory, clock


async def actions(uow_factory: MemoryUnitOfWorkFactory) -> list[str]:
    async with uow_factory() as uow:
        return [e.action for e in await uow.audit.events()]


async def test_a_scan_stores_new_issues_once_and_marks_vanished_ones_fixed() -> None:
    uow_factory, clock = await setup()
    hygiene = HygieneService(uow_factory, clock)

    first = await hygiene.scan(BOOKKEEPER, ADV, BIZ)
    again = await hygiene.scan(BOOKKEEPER, ADV, BIZ)
    assert (first.new, again.new, again.fixed) == (1, 0, 0)
    [item] = await hygiene.tray(BOOKKEEPER, ADV)
    assert item.issue.key == NO_DUE_KEY
    assert item.client_name == "Acme Widgets" and item.status is IssueStatus.OPEN
    assert item.tracked.first_detected_at == START
    assert (await actions(uow_factory)).count("hygiene.detected") == 1

    async with uow_factory() as uow:
        await uow.bills.upsert([open_bill(due=date(2026, 12, 2))])
        await uow.commit()
    clock.advance(timedelta(hours=1))
    fixed = await hygiene.scan(BOOKKEEPER, ADV, BIZ)
    assert fixed.fixed == 1
    assert await hygiene.tray(BOOKKEEPER, ADV) == []
    [gone] = await hygiene.tray(BOOKKEEPER, ADV, status="fixed")
    assert gone.tracked.changed_at == START + timedelta(hours=1)
    assert (await actions(uow_factory)).count("hygiene.fixed") == 1

    # The due date is cleared again: the same issue is back, open.
    async with uow_factory() as uow:
        await uow.bills.upsert([open_bill(due=None)])
        await uow.commit()
    back = await hygiene.scan(BOOKKEEPER, ADV, BIZ)
    assert (back.new, back.reopened) == (0, 1)
    [item] = await hygiene.tray(BOOKKEEPER, ADV)
    assert item.tracked.first_detected_at == START
    assert (await actions(uow_factory)).count("hygiene.detected") == 2


async def test_a_resolved_issue_stays_resolved_while_detected_and_needs_a_note() -> None:
    uow_factory, clock = await setup()
    hygiene = HygieneService(uow_factory, clock)
    await hygiene.scan(BOOKKEEPER, ADV, BIZ)
    with pytest.raises(InvalidInput):
        await hygiene.resolve(BOOKKEEPER, ADV, BIZ, NO_DUE_KEY, "  ")
    done = await hygiene.resolve(BOOKKEEPER, ADV, BIZ, NO_DUE_KEY, "Vendor pays on receipt")
    assert done.status is IssueStatus.RESOLVED
    assert done.tracked.changed_by == "bookkeeper:u-bk"
    await hygiene.scan(BOOKKEEPER, ADV, BIZ)
    [still] = await hygiene.tray(BOOKKEEPER, ADV, status="resolved")
    assert still.tracked.note == "Vendor pays on receipt"
    assert await hygiene.tray(BOOKKEEPER, ADV) == []
    assert "hygiene.resolved" in await actions(uow_factory)
    reopened = await hygiene.reopen(BOOKKEEPER, ADV, BIZ, NO_DUE_KEY, "asked again")
    assert reopened.status is IssueStatus.OPEN


async def test_a_snoozed_issue_comes_back_when_its_snooze_ends() -> None:
    uow_factory, clock = await setup()
    hygiene = HygieneService(uow_factory, clock)
    await hygiene.scan(BOOKKEEPER, ADV, BIZ)
    with pytest.raises(InvalidInput):
        await hygiene.snooze(BOOKKEEPER, ADV, BIZ, NO_DUE_KEY, "later", START.date())
    until = START.date() + timedelta(days=3)
    snoozed = await hygiene.snooze(BOOKKEEPER, ADV, BIZ, NO_DUE_KEY, "after month end", until)
    assert snoozed.status is IssueStatus.SNOOZED
    assert await hygiene.tray(BOOKKEEPER, ADV) == []
    assert await console_counts(uow_factory, clock) == {}
    clock.advance(timedelta(days=3))
    [back] = await hygiene.tray(BOOKKEEPER, ADV)
    assert back.status is IssueStatus.OPEN
    assert await console_counts(uow_factory, clock) == {BIZ: {"low": 1}}


async def test_the_tray_spans_clients_and_filters_by_client_and_kind() -> None:
    uow_factory, clock = await setup()
    async with uow_factory() as uow:
        await uow.connections.upsert(
            RailConnection(
                BIZ2,
                Rail.PLAID,
                ConnectionStatus.FAILING,
                detail="rate limited",
                last_synced_at=START - timedelta(days=4),
                last_error_at=START - timedelta(hours=1),
            )
        )
        await uow.commit()
    hygiene = HygieneService(uow_factory, clock)
    results = await hygiene.scan_all(BOOKKEEPER, ADV)
    assert [r.business_id for r in results] == [BIZ, BIZ2]

    tray = await hygiene.tray(BOOKKEEPER, ADV)
    assert [(i.client_name, i.issue.kind) for i in tray] == [
        ("Beta Bakery", HygieneKind.SYNC_FAILING),
        ("Acme Widgets", HygieneKind.BILL_WITHOUT_DUE_DATE),
    ]
    only = await hygiene.tray(BOOKKEEPER, ADV, business_id=BIZ2)
    assert [i.issue.kind for i in only] == [HygieneKind.SYNC_FAILING]
    kind = await hygiene.tray(BOOKKEEPER, ADV, kind="bill_without_due_date")
    assert [i.issue.business_id for i in kind] == [BIZ]
    assert await console_counts(uow_factory, clock) == {
        BIZ: {"low": 1},
        BIZ2: {"critical": 1},
    }
    with pytest.raises(InvalidInput):
        await hygiene.tray(BOOKKEEPER, ADV, kind="nonsense")
    with pytest.raises(InvalidInput):
        await hygiene.tray(BOOKKEEPER, ADV, status="done")


async def test_only_the_advisors_own_staff_see_or_change_its_issues() -> None:
    uow_factory, clock = await setup()
    hygiene = HygieneService(uow_factory, clock)
    await hygiene.scan(BOOKKEEPER, ADV, BIZ)
    with pytest.raises(Forbidden):
        await hygiene.tray(STRANGER, ADV)
    with pytest.raises(Forbidden):
        await hygiene.resolve(STRANGER, ADV, BIZ, NO_DUE_KEY, "mine now")
    with pytest.raises(NotFound):
        await hygiene.resolve(BOOKKEEPER, ADV, BIZ, "bill_without_due_date:biz-1:b-9", "x")
    with pytest.raises(NotFound):
        await hygiene.tray(BOOKKEEPER, ADV, business_id=BusinessId("biz-9"))
    other_staff = Actor(UserId("u-y"), OTHER_ADV, FirmId("firm-2"), Role.BOOKKEEPER)
    with pytest.raises(NotFound):
        await hygiene.scan(other_staff, OTHER_ADV, BIZ)


async def test_cross_rail_issues_are_kept_while_their_rail_is_down_and_fixed_when_it_agrees() -> (
    None
):
    uow_factory, clock = await setup()
    payout = Payout("po_1", BIZ, usd(50_000), START.date() - timedelta(days=9), PayoutStatus.PAID)
    async with uow_factory() as uow:
        await uow.payouts.upsert([payout])
        await uow.connections.upsert(
            RailConnection(BIZ, Rail.QBO, ConnectionStatus.OK, "realm-1", last_synced_at=START)
        )
        await uow.commit()
    ledger = MemoryLedger(clock)
    ledger.books[BIZ].deposits = []
    hygiene = HygieneService(
        uow_factory, clock, CrossRailService(uow_factory, clock, ledger=ledger)
    )

    await hygiene.scan(BOOKKEEPER, ADV, BIZ)
    [cross] = await hygiene.tray(BOOKKEEPER, ADV, kind="cross_rail_mismatch")
    assert cross.issue.key == "payout_not_in_bank:biz-1:po_1"
    assert cross.issue.records[0].rail is Rail.STRIPE

    # The deposit reaches the bank and the books, but QBO cannot answer: nothing changes.
    async with uow_factory() as uow:
        await uow.bank_transactions.upsert(
            [
                BankTransaction(
                    BankTransactionId("t-1"),
                    BIZ,
                    BankAccountId("acct-1"),
                    usd(-50_000),
                    payout.arrival_date,
                    "STRIPE TRANSFER",
                    category="card_deposit",
                )
            ]
        )
        await uow.commit()
    ledger.books[BIZ].deposits = [LedgerDeposit("dep-1", BIZ, usd(50_000), payout.arrival_date)]
    ledger.unavailable = True
    down = await hygiene.scan(BOOKKEEPER, ADV, BIZ)
    assert down.kept == 1 and down.fixed == 0
    assert down.unavailable and down.unavailable[0].startswith("qbo")
    assert [i.issue.key for i in await hygiene.tray(BOOKKEEPER, ADV, kind="cross_rail_mismatch")]

    ledger.unavailable = False
    up = await hygiene.scan(BOOKKEEPER, ADV, BIZ)
    assert (up.fixed, up.kept) == (1, 0)
    assert await hygiene.tray(BOOKKEEPER, ADV, kind="cross_rail_mismatch") == []


async def test_without_cross_rail_checks_stored_cross_rail_issues_are_left_alone() -> None:
    uow_factory, clock = await setup()
    ledger = MemoryLedger(clock)
    payout = Payout("po_1", BIZ, usd(50_000), START.date() - timedelta(days=9), PayoutStatus.PAID)
    async with uow_factory() as uow:
        await uow.payouts.upsert([payout])
        await uow.connections.upsert(
            RailConnection(BIZ, Rail.QBO, ConnectionStatus.OK, "realm-1", last_synced_at=START)
        )
        await uow.commit()
    ledger.books[BIZ].deposits = []
    checked = HygieneService(
        uow_factory, clock, CrossRailService(uow_factory, clock, ledger=ledger)
    )
    await checked.scan(BOOKKEEPER, ADV, BIZ)
    unchecked = await HygieneService(uow_factory, clock).scan(BOOKKEEPER, ADV, BIZ)
    assert (unchecked.fixed, unchecked.kept) == (0, 1)
    kept = await checked.tray(BOOKKEEPER, ADV, kind="cross_rail_mismatch")
    assert [i.issue.key for i in kept] == ["payout_not_in_bank:biz-1:po_1"]


async def test_scanning_every_business_runs_as_rowcol_once_per_business() -> None:
    uow_factory, clock = await setup()
    async with uow_factory() as uow:
        await uow.clients.add(Client(OTHER_ADV, BIZ, START))
        await uow.commit()
    hygiene = HygieneService(uow_factory, clock)
    assert await hygiene.targets() == [(ADV, BIZ), (ADV, BIZ2)]
    results = await hygiene.scan_businesses([BIZ])
    assert [(r.business_id, r.new) for r in results] == [(BIZ, 1)]
