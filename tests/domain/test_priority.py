"""Priorities: payroll and taxes first, then critical vendors, late fees and long
relationships, each with its reasons."""

from __future__ import annotations

from datetime import date, timedelta

from rowcol.core.domain.ids import BillId, BusinessId, VendorId
from rowcol.core.domain.money import Money
from rowcol.core.domain.priority import PriorityEngine
from rowcol.core.domain.records import Bill, BillStatus, Vendor

TODAY = date(2025, 3, 3)
BIZ = BusinessId("biz-1")


def _vendor(vid: str, category: str = "general", critical: bool = False) -> Vendor:
    return Vendor(VendorId(vid), BIZ, vid.title(), category=category, is_critical=critical)


def _bill(bid: str, vid: str, due_in: int = 10, status: BillStatus = BillStatus.OPEN) -> Bill:
    amount = Money(10_000, "USD")
    return Bill(
        BillId(bid),
        BIZ,
        VendorId(vid),
        amount,
        amount if status is BillStatus.OPEN else Money(0, "USD"),
        issue_date=TODAY - timedelta(days=20),
        due_date=TODAY + timedelta(days=due_in),
        status=status,
    )


def test_payroll_then_taxes_then_critical_then_late_fees_then_the_rest() -> None:
    vendors = {
        v.vendor_id: v
        for v in (
            _vendor("pay", "payroll"),
            _vendor("irs", "taxes"),
            _vendor("landlord", "rent", critical=True),
            _vendor("paper"),
            _vendor("ink"),
        )
    }
    bills = [
        _bill("b-ink", "ink"),
        _bill("b-paper", "paper"),
        _bill("b-landlord", "landlord"),
        _bill("b-irs", "irs"),
        _bill("b-pay", "pay"),
    ]
    ranked = PriorityEngine().rank(
        bills, vendors, today=TODAY, late_fee_bills=frozenset({BillId("b-paper")})
    )
    assert [p.bill_id for p in ranked] == ["b-pay", "b-irs", "b-landlord", "b-paper", "b-ink"]
    assert "payroll" in ranked[0].reasons[0]
    assert any("critical" in r for r in ranked[2].reasons)
    assert any("late fee" in r for r in ranked[3].reasons)


def test_a_long_relationship_and_being_overdue_raise_a_bill() -> None:
    vendors = {v.vendor_id: v for v in (_vendor("old"), _vendor("new"))}
    history = [_bill(f"h{n}", "old", status=BillStatus.PAID) for n in range(6)]
    ranked = PriorityEngine().rank(
        [_bill("b-new", "new", due_in=-3), _bill("b-old", "old")],
        vendors,
        today=TODAY,
        history=history,
    )
    by_id = {p.bill_id: p for p in ranked}
    assert by_id[BillId("b-old")].score > 20
    assert any("relationship" in r for r in by_id[BillId("b-old")].reasons)
    assert any("overdue" in r for r in by_id[BillId("b-new")].reasons)
    assert all(0 <= p.score <= 100 for p in ranked)
