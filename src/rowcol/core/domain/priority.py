"""Which open bills matter most when cash is short, and why.

Payroll and taxes come first (people and penalties), then vendors the business cannot
operate without, then bills that charge late fees, then long relationships; overdue
bills move up within their tier.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Final

from rowcol.core.domain.ids import BillId, VendorId
from rowcol.core.domain.records import Bill, BillStatus, Vendor

PAYROLL_CATEGORIES: Final = frozenset({"payroll", "wages", "salaries"})
TAX_CATEGORIES: Final = frozenset({"tax", "taxes", "estimated_tax", "sales_tax", "payroll_tax"})

_BASE: Final = 20
_PAYROLL: Final = 100
_TAXES: Final = 90
_CRITICAL: Final = 35
_LATE_FEE: Final = 10
_RELATIONSHIP: Final = 10
_OVERDUE: Final = 5
_RELATIONSHIP_BILLS: Final = 6
"""Paid bills from one vendor that make a relationship worth protecting."""
MAX_SCORE: Final = 100


@dataclass(frozen=True, slots=True)
class BillPriority:
    bill_id: BillId
    score: int
    """0 to 100; higher is paid first when cash is short."""
    reasons: tuple[str, ...]


class PriorityEngine:
    """Ranks open bills, highest priority first, each with the reasons for its rank."""

    def rank(
        self,
        bills: Iterable[Bill],
        vendors: Mapping[VendorId, Vendor],
        *,
        today: date,
        history: Sequence[Bill] = (),
        late_fee_bills: frozenset[BillId] = frozenset(),
    ) -> tuple[BillPriority, ...]:
        """`history` is the business's bills (paid ones count toward relationships);
        `late_fee_bills` are those whose terms state a late fee."""
        paid_per_vendor = Counter(b.vendor_id for b in history if b.status is BillStatus.PAID)
        ranked = [
            self.score(
                bill,
                vendors.get(bill.vendor_id),
                today=today,
                paid_bills_from_vendor=paid_per_vendor[bill.vendor_id],
                states_late_fee=bill.bill_id in late_fee_bills,
            )
            for bill in bills
            if bill.status is BillStatus.OPEN
        ]
        due = {b.bill_id: b.due_date or date.max for b in bills}
        return tuple(sorted(ranked, key=lambda p: (-p.score, due[p.bill_id], p.bill_id)))

    def score(
        self,
        bill: Bill,
        vendor: Vendor | None,
        *,
        today: date,
        paid_bills_from_vendor: int = 0,
        states_late_fee: bool = False,
    ) -> BillPriority:
        categories = {bill.category.lower()}
        if vendor is not None:
            categories.add(vendor.category.lower())
        reasons: list[str] = []
        if categories & PAYROLL_CATEGORIES:
            score = _PAYROLL
            reasons.append("payroll: people are paid first")
        elif categories & TAX_CATEGORIES:
            score = _TAXES
            reasons.append("taxes: penalties and interest accrue")
        else:
            score = _BASE
            if vendor is not None and vendor.is_critical:
                score += _CRITICAL
                reasons.append(f"{vendor.name} is a critical vendor")
            if states_late_fee:
                score += _LATE_FEE
                reasons.append("its terms charge a late fee")
            if paid_bills_from_vendor >= _RELATIONSHIP_BILLS:
                score += _RELATIONSHIP
                reasons.append(f"long relationship ({paid_bills_from_vendor} bills paid)")
        if bill.due_date is not None and bill.due_date < today:
            score += _OVERDUE
            reasons.append(f"overdue since {bill.due_date.isoformat()}")
        if not reasons:
            reasons.append("ordinary vendor bill")
        return BillPriority(bill.bill_id, min(score, MAX_SCORE), tuple(reasons))
