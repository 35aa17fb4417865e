"""Hygiene issues on memory, SQLite and PostgreSQL: saved over the version read, listed
by priority with a snooze that has ended counted as open, and counted by severity for
many businesses in one call."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from rowcol.core.domain.errors import Conflict
from rowcol.core.domain.hygiene import (
    HygieneIssue,
    HygieneKind,
    IssueStatus,
    RecordRef,
    Severity,
    TrackedIssue,
    issue_key,
    mark_fixed,
    observe,
    resolve,
    snooze,
)
from rowcol.core.domain.ids import BusinessId, Rail
from rowcol.core.domain.money import Money
from rowcol.core.domain.tenancy import Business
from rowcol.ports.repository import StaleWrite, UnitOfWorkFactory

NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
TODAY = NOW.date()
BIZ = BusinessId("biz-1")
OTHER = BusinessId("biz-2")


def issue(
    bill: str,
    *,
    business: BusinessId = BIZ,
    severity: Severity = Severity.HIGH,
    priority: float = 10.0,
    kind: HygieneKind = HygieneKind.BILL_WITHOUT_DUE_DATE,
) -> HygieneIssue:
    return HygieneIssue(
        key=issue_key(kind, business, bill),
        kind=kind,
        business_id=business,
        severity=severity,
        money_at_stake=Money(120_000, "USD"),
        since=date(2026, 11, 1),
        summary=f"Open bill {bill} has no due date.",
        records=(
            RecordRef(
                Rail.QBO,
                "bill",
                bill,
                f"bill {bill}",
                Money(120_000, "USD"),
                date(2026, 11, 1),
                "issued",
            ),
            RecordRef(Rail.QBO, "vendor", "v-1", "Acme"),
        ),
        priority=priority,
    )


async def _businesses(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        await uow.businesses.add(Business(BIZ, "Acme"))
        await uow.businesses.add(Business(OTHER, "Beta"))
        await uow.commit()


async def test_an_issue_round_trips_and_is_saved_over_the_version_it_was_read_at(
    uow_factory: UnitOfWorkFactory,
) -> None:
    await _businesses(uow_factory)
    first = observe(None, issue("b-1", priority=12.345678901234), NOW)
    async with uow_factory() as uow:
        assert await uow.hygiene.get(BIZ, first.key) is None
        await uow.hygiene.save(first)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.hygiene.get(BIZ, first.key) == first
        with pytest.raises(StaleWrite):
            await uow.hygiene.save(first)
    done = resolve(first, by="bookkeeper:u-1", note="Due date asked from vendor", now=NOW)
    async with uow_factory() as uow:
        await uow.hygiene.save(done)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.hygiene.get(BIZ, first.key) == done
        with pytest.raises(StaleWrite):
            await uow.hygiene.save(resolve(first, by="x:y", note="late", now=NOW))
    async with uow_factory() as uow:
        with pytest.raises(Conflict):
            await uow.hygiene.save(observe(None, issue("b-1", business=BusinessId("nope")), NOW))


async def test_issues_are_listed_by_priority_with_ended_snoozes_counted_as_open(
    uow_factory: UnitOfWorkFactory,
) -> None:
    await _businesses(uow_factory)
    low = observe(None, issue("b-1", priority=3.0, severity=Severity.LOW), NOW)
    high = observe(None, issue("b-2", priority=30.0), NOW)
    other = observe(None, issue("b-3", business=OTHER, priority=20.0), NOW)
    ended = snooze(
        observe(None, issue("b-4", priority=5.0), NOW),
        until=TODAY + timedelta(days=1),
        by="u",
        note="wait a day",
        now=NOW,
        today=TODAY,
    )
    later = snooze(
        observe(None, issue("b-5", priority=50.0), NOW),
        until=TODAY + timedelta(days=10),
        by="u",
        note="after month end",
        now=NOW,
        today=TODAY,
    )
    gone = mark_fixed(observe(None, issue("b-6", priority=1.0), NOW), NOW)
    gone = replace(gone, version=1)
    stale = observe(None, issue("b-7", kind=HygieneKind.SYNC_STALE, priority=4.0), NOW)
    async with uow_factory() as uow:
        for tracked in (low, high, other, replace(ended, version=1), replace(later, version=1)):
            await uow.hygiene.save(tracked)
        await uow.hygiene.save(gone)
        await uow.hygiene.save(stale)
        await uow.commit()

    tomorrow = TODAY + timedelta(days=1)
    async with uow_factory() as uow:
        everything = await uow.hygiene.list([BIZ, OTHER], today=TODAY)
        open_today = await uow.hygiene.list([BIZ, OTHER], today=TODAY, status=IssueStatus.OPEN)
        open_tomorrow = await uow.hygiene.list([BIZ], today=tomorrow, status=IssueStatus.OPEN)
        snoozed = await uow.hygiene.list([BIZ], today=TODAY, status=IssueStatus.SNOOZED)
        fixed = await uow.hygiene.list([BIZ], today=TODAY, status=IssueStatus.FIXED)
        stale_only = await uow.hygiene.list([BIZ], today=TODAY, kind=HygieneKind.SYNC_STALE)
        top_two = await uow.hygiene.list([BIZ, OTHER], today=TODAY, limit=2)
        none = await uow.hygiene.list([], today=TODAY)

    def bills(found: Sequence[TrackedIssue]) -> list[str]:
        return [t.key.rsplit(":", 1)[1] for t in found]

    assert bills(everything) == ["b-5", "b-2", "b-3", "b-4", "b-7", "b-1", "b-6"]
    assert bills(open_today) == ["b-2", "b-3", "b-7", "b-1"]
    assert bills(open_tomorrow) == ["b-2", "b-4", "b-7", "b-1"]
    assert bills(snoozed) == ["b-5", "b-4"]
    assert bills(fixed) == ["b-6"]
    assert bills(stale_only) == ["b-7"]
    assert bills(top_two) == ["b-5", "b-2"]
    assert none == []


async def test_open_counts_by_severity_cover_many_businesses_in_one_call(
    uow_factory: UnitOfWorkFactory,
) -> None:
    await _businesses(uow_factory)
    rows: list[TrackedIssue] = [
        observe(None, issue("b-1", severity=Severity.HIGH), NOW),
        observe(None, issue("b-2", severity=Severity.HIGH), NOW),
        observe(None, issue("b-3", severity=Severity.CRITICAL), NOW),
        replace(resolve(observe(None, issue("b-4"), NOW), by="u", note="fine", now=NOW), version=1),
        replace(
            snooze(
                observe(None, issue("b-5", severity=Severity.LOW), NOW),
                until=TODAY + timedelta(days=2),
                by="u",
                note="later",
                now=NOW,
                today=TODAY,
            ),
            version=1,
        ),
        observe(None, issue("b-6", business=OTHER, severity=Severity.MEDIUM), NOW),
    ]
    async with uow_factory() as uow:
        for tracked in rows:
            await uow.hygiene.save(tracked)
        await uow.commit()
    async with uow_factory() as uow:
        today = await uow.hygiene.open_counts([BIZ, OTHER, BusinessId("none")], today=TODAY)
        later = await uow.hygiene.open_counts([BIZ], today=TODAY + timedelta(days=2))
        nothing = await uow.hygiene.open_counts([], today=TODAY)
    assert today == {BIZ: {"high": 2, "critical": 1}, OTHER: {"medium": 1}}
    assert later == {BIZ: {"high": 2, "critical": 1, "low": 1}}
    assert nothing == {}
