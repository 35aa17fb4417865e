"""Hygiene: data-quality problems in one business's synced data, each an issue to act on.

Rules run over what RowCol mirrors from the rails (bills, vendors, invoices, bank data,
rail connections, payments, reminder sends) plus the cross-rail findings, and return
issues a bookkeeper can work through, most urgent first. An issue's `key` names the
problem, not its current numbers (kind, business and the ids involved, as
`crossrail.finding_key` does), so the same problem found on the next scan is the same
issue, and one that stops being found was fixed at its source.

Priority, higher = look first:

    priority = severity weight × money factor × age factor
    severity weight = 1 (low), 3 (medium), 9 (high), 27 (critical)
    money factor    = 1 + log10(1 + money at stake in major units)
    age factor      = 1 + log2(1 + age in days / 7),  age = today − since (never negative)

Severity dominates; money and age order issues within a severity and only overturn it
when large: a $10 high issue (9 × 2.04 = 18.4) comes before a $10,000 medium one of the
same age (3 × 5.0 = 15.0). The score is taken on the day of the scan that found it.
"""

from __future__ import annotations

import dataclasses
import math
import re
from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Final

from rowcol.core.domain.collections import CollectionSend, SendStatus, StopReason, stop_reason
from rowcol.core.domain.connections import ConnectionStatus, RailConnection
from rowcol.core.domain.crossrail import (
    Evidence,
    Finding,
    FindingKind,
    LedgerDeposit,
    RailBillCopy,
)
from rowcol.core.domain.crossrail import Severity as FindingSeverity
from rowcol.core.domain.errors import InvalidInput
from rowcol.core.domain.ids import (
    BankAccountId,
    BankTransactionId,
    BusinessId,
    ExternalRef,
    Rail,
    VendorId,
)
from rowcol.core.domain.money import Money, total
from rowcol.core.domain.payments import (
    Payment,
    PaymentStatus,
    VerificationDeadlines,
    overdue_step,
)
from rowcol.core.domain.records import (
    Balance,
    BankAccount,
    BankTransaction,
    Bill,
    BillStatus,
    Invoice,
    InvoiceStatus,
    Payout,
    Vendor,
)
from rowcol.core.domain.time import require_utc


class HygieneKind(StrEnum):
    """What is wrong. Values never clash with `FindingKind` values, so a key's first
    part says whether the issue came from a cross-rail finding."""

    DUPLICATE_BILL = "duplicate_bill"
    """Two bills of one vendor for (nearly) the same amount a few days apart, or a bill
    copied twice on the payment rail / a rail copy the books lack (cross-rail)."""
    BILL_WITHOUT_DUE_DATE = "bill_without_due_date"
    VENDOR_WITHOUT_PAYMENT_DETAILS = "vendor_without_payment_details"
    UNMATCHED_BANK_TRANSACTION = "unmatched_bank_transaction"
    BANK_BALANCE_DRIFT = "bank_balance_drift"
    SYNC_FAILING = "sync_failing"
    SYNC_STALE = "sync_stale"
    OVERDUE_INVOICE_NOT_CHASED = "overdue_invoice_not_chased"
    CROSS_RAIL_MISMATCH = "cross_rail_mismatch"
    STUCK_PAYMENT = "stuck_payment"


class Severity(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


SEVERITY_WEIGHT: Final[Mapping[Severity, int]] = {
    Severity.LOW: 1,
    Severity.MEDIUM: 3,
    Severity.HIGH: 9,
    Severity.CRITICAL: 27,
}

_FROM_FINDING: Final[Mapping[FindingSeverity, Severity]] = {
    FindingSeverity.LOW: Severity.LOW,
    FindingSeverity.MEDIUM: Severity.MEDIUM,
    FindingSeverity.HIGH: Severity.HIGH,
}

CROSS_RAIL_DUPLICATES: Final = frozenset(
    {FindingKind.BILL_COPIED_TWICE, FindingKind.BILL_MISSING_IN_LEDGER}
)
"""Cross-rail findings that mean a bill exists twice (on the rail, or only there)."""


def priority(severity: Severity, money_at_stake: Money, age_days: int) -> float:
    """The score issues are sorted by (see the module docstring for the formula)."""
    major = max(0.0, float(money_at_stake.to_decimal()))
    money_factor = 1.0 + math.log10(1.0 + major)
    age_factor = 1.0 + math.log2(1.0 + max(0, age_days) / 7.0)
    return SEVERITY_WEIGHT[Severity(severity)] * money_factor * age_factor


def issue_key(kind: HygieneKind, business_id: BusinessId, *ids: str) -> str:
    """The stable name of a problem: its kind, business and the ids involved."""
    return ":".join((kind.value, business_id, *ids))


def finding_kind_of(key: str) -> FindingKind | None:
    """The cross-rail finding kind an issue key came from; None for the other rules."""
    head = key.partition(":")[0]
    try:
        return FindingKind(head)
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class RecordRef:
    """One record an issue points at, small enough to show beside the others:
    "QBO bill B-12 $1,200 due 3 Dec" next to "Ramp bill R-9 $1,200"."""

    rail: Rail
    record_kind: str
    """bill, vendor, invoice, bank_transaction, bank_account, payment, connection,
    payout, ledger_deposit, rail_bill."""
    record_id: str
    label: str
    amount: Money | None = None
    on: date | None = None
    """The date that matters for the record; `date_label` says which (due, posted, ...)."""
    date_label: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "rail", Rail(self.rail))
        if not self.record_kind or not self.record_id:
            raise InvalidInput("a record reference needs a kind and an id")


@dataclass(frozen=True, slots=True)
class HygieneIssue:
    """One data-quality problem of one business, with the records that show it.

    `since` is the day the problem began, read from the data; `priority` follows from
    severity, money at stake and age on the day it was detected.
    """

    key: str
    kind: HygieneKind
    business_id: BusinessId
    severity: Severity
    money_at_stake: Money
    since: date
    summary: str
    records: tuple[RecordRef, ...]
    priority: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", HygieneKind(self.kind))
        object.__setattr__(self, "severity", Severity(self.severity))
        object.__setattr__(self, "records", tuple(self.records))
        if self.money_at_stake.is_negative:
            raise InvalidInput("money at stake may not be negative")
        if not self.key or not self.summary:
            raise InvalidInput("an issue needs a key and a summary")
        if not math.isfinite(self.priority) or self.priority < 0:
            raise InvalidInput("an issue's priority is a non-negative number")

    @property
    def from_cross_rail(self) -> bool:
        return finding_kind_of(self.key) is not None


@dataclass(frozen=True, slots=True)
class HygieneRules:
    """The thresholds the rules use; the defaults are what RowCol runs with."""

    duplicate_window_days: int = 7
    """Issue dates strictly less than this many days apart (a weekly bill is not a copy)."""
    duplicate_tolerance_percent: int = 1
    bank_match_days: int = 5
    """A bill or invoice paid this many days either side of a bank transaction explains it."""
    unknown_paid_date_days: int = 120
    """A settled record without a paid date is matched up to this long after it fell due."""
    bank_settle_days: int = 5
    """Transactions younger than this are left alone: the books may not have caught up."""
    bank_lookback_days: int = 90
    small_amount_minor: int = 25_000
    """Unmatched transactions under this amount (minor units) are low severity."""
    large_amount_minor: int = 1_000_000
    """Unmatched transactions at or over this amount are high severity."""
    explained_outflows: frozenset[str] = frozenset(
        {"payroll", "bank_fees", "transfer", "owner_draw", "interest"}
    )
    """Bank categories that need no bill: payroll runs, fees, own transfers, draws."""
    explained_inflows: frozenset[str] = frozenset({"card_deposit", "transfer", "interest"})
    """Bank categories that need no invoice: card processor payouts, own transfers."""
    balance_tolerance_minor: int = 100
    stale_after: timedelta = timedelta(hours=24)
    critical_after: timedelta = timedelta(hours=72)
    deadlines: VerificationDeadlines = field(default_factory=VerificationDeadlines)

    def __post_init__(self) -> None:
        numbers = (
            self.duplicate_window_days,
            self.duplicate_tolerance_percent,
            self.bank_match_days,
            self.bank_settle_days,
            self.unknown_paid_date_days,
            self.bank_lookback_days,
            self.small_amount_minor,
            self.large_amount_minor,
            self.balance_tolerance_minor,
        )
        if any(n < 0 for n in numbers):
            raise InvalidInput("hygiene thresholds may not be negative")
        if not timedelta(0) <= self.stale_after <= self.critical_after:
            raise InvalidInput("a sync is stale before it is critically stale")


@dataclass(frozen=True, slots=True)
class HygieneInput:
    """Everything the rules look at for one business.

    `bank_accounts` are the bank's accounts and the books' records of them; the books'
    balances (QBO's CurrentBalance) are paired with the bank's accounts to check drift.
    `books_balances`, when given, says the books' balance of each bank account outright.
    `findings` are the cross-rail findings, when they could be computed.
    """

    business_id: BusinessId
    currency: str = "USD"
    vendors: Sequence[Vendor] = ()
    bills: Sequence[Bill] = ()
    invoices: Sequence[Invoice] = ()
    bank_transactions: Sequence[BankTransaction] = ()
    balances: Sequence[Balance] = ()
    connections: Sequence[RailConnection] = ()
    payments: Sequence[Payment] = ()
    collection_sends: Sequence[CollectionSend] = ()
    findings: Sequence[Finding] = ()
    bank_accounts: Sequence[BankAccount] = ()
    books_balances: Mapping[BankAccountId, Money] | None = None


@dataclass(frozen=True, slots=True)
class _Draft:
    key: str
    kind: HygieneKind
    severity: Severity
    money_at_stake: Money
    since: date
    summary: str
    records: tuple[RecordRef, ...]


def detect(
    data: HygieneInput,
    *,
    today: date,
    now: datetime,
    rules: HygieneRules | None = None,
) -> list[HygieneIssue]:
    """Every issue in the business's data, highest priority first (then by key).

    Only the business's own records are looked at; keys are unique, and the same data
    in any order gives the same issues.
    """
    rules = rules or HygieneRules()
    now = require_utc(now)
    biz = data.business_id
    vendors = {v.vendor_id: v for v in data.vendors if v.business_id == biz}
    bills = sorted((b for b in data.bills if b.business_id == biz), key=lambda b: b.bill_id)
    invoices = sorted(
        (i for i in data.invoices if i.business_id == biz), key=lambda i: i.invoice_id
    )
    drafts: list[_Draft] = []
    drafts += _duplicate_bills(biz, bills, vendors, rules)
    drafts += _bills_without_due_date(biz, bills, vendors)
    drafts += _vendors_without_details(biz, bills, vendors, today)
    drafts += _unmatched_bank_transactions(data, bills, invoices, today, rules)
    drafts += _balance_drift(data, rules)
    drafts += _sync_health(data, now, rules)
    drafts += _overdue_not_chased(biz, invoices, data.collection_sends, today)
    drafts += _stuck_payments(data, vendors, now, rules)
    drafts += [_from_finding(f, vendors, today) for f in data.findings if f.business_id == biz]

    issues: dict[str, HygieneIssue] = {}
    for draft in sorted(drafts, key=lambda d: (d.key, -SEVERITY_WEIGHT[d.severity])):
        if draft.key in issues:
            continue
        age = max(0, (today - draft.since).days)
        issues[draft.key] = HygieneIssue(
            key=draft.key,
            kind=draft.kind,
            business_id=biz,
            severity=draft.severity,
            money_at_stake=draft.money_at_stake,
            since=draft.since,
            summary=draft.summary,
            records=draft.records,
            priority=priority(draft.severity, draft.money_at_stake, age),
        )
    return sorted(issues.values(), key=lambda i: (-i.priority, i.key))


# -- references ---------------------------------------------------------------------------


def _rail_of(external_ref: str | None, default: Rail) -> Rail:
    if external_ref:
        try:
            return ExternalRef.parse(external_ref).rail
        except InvalidInput:
            pass
    return default


def _vendor_name(vendors: Mapping[VendorId, Vendor], vendor_id: VendorId) -> str:
    vendor = vendors.get(vendor_id)
    return vendor.name if vendor is not None else vendor_id


def bill_ref(bill: Bill, vendors: Mapping[VendorId, Vendor] | None = None) -> RecordRef:
    name = _vendor_name(vendors or {}, bill.vendor_id)
    dated = bill.due_date is not None and bill.status is BillStatus.OPEN
    return RecordRef(
        rail=_rail_of(bill.external_ref, Rail.QBO),
        record_kind="bill",
        record_id=bill.bill_id,
        label=f"bill {bill.bill_id} from {name}" + (f" ({bill.memo})" if bill.memo else ""),
        amount=bill.amount,
        on=bill.due_date if dated else bill.issue_date,
        date_label="due" if dated else "issued",
    )


def vendor_ref(vendor: Vendor) -> RecordRef:
    return RecordRef(
        rail=_rail_of(vendor.external_ref, Rail.QBO),
        record_kind="vendor",
        record_id=vendor.vendor_id,
        label=vendor.name,
    )


def invoice_ref(invoice: Invoice) -> RecordRef:
    return RecordRef(
        rail=_rail_of(invoice.external_ref, Rail.QBO),
        record_kind="invoice",
        record_id=invoice.invoice_id,
        label=f"invoice {invoice.invoice_id}",
        amount=invoice.balance,
        on=invoice.due_date,
        date_label="due",
    )


def transaction_ref(txn: BankTransaction) -> RecordRef:
    direction = "out" if txn.is_outflow else "in"
    return RecordRef(
        rail=_rail_of(txn.external_ref, Rail.PLAID),
        record_kind="bank_transaction",
        record_id=txn.transaction_id,
        label=f"{txn.description} ({direction})",
        amount=txn.amount if txn.is_outflow else -txn.amount,
        on=txn.posted_on,
        date_label="posted",
    )


def payment_ref(payment: Payment) -> RecordRef:
    return RecordRef(
        rail=Rail.ROWCOL,
        record_kind="payment",
        record_id=payment.payment_id,
        label=f"payment {payment.payment_id} of bill {payment.bill_id} ({payment.status.value})",
        amount=payment.amount,
        on=payment.pay_on,
        date_label="pay on",
    )


def evidence_ref(item: Evidence, vendors: Mapping[VendorId, Vendor] | None = None) -> RecordRef:
    """A cross-rail finding's record as a reference."""
    if isinstance(item, Bill):
        return bill_ref(item, vendors)
    if isinstance(item, RailBillCopy):
        return RecordRef(
            rail=item.rail,
            record_kind="rail_bill",
            record_id=item.rail_bill_id,
            label=f"bill {item.rail_bill_id} for {item.vendor} ({item.status.value})",
            amount=item.amount,
            on=item.due_date,
            date_label="due" if item.due_date is not None else "",
        )
    if isinstance(item, Payout):
        return RecordRef(
            rail=_rail_of(item.external_ref, Rail.STRIPE),
            record_kind="payout",
            record_id=item.payout_id,
            label=f"payout {item.payout_id} ({item.status.value})",
            amount=item.amount,
            on=item.arrival_date,
            date_label="arrives",
        )
    if isinstance(item, BankTransaction):
        return transaction_ref(item)
    if isinstance(item, LedgerDeposit):
        return RecordRef(
            rail=Rail.QBO,
            record_kind="ledger_deposit",
            record_id=item.deposit_id,
            label=f"deposit {item.deposit_id}" + (f" ({item.memo})" if item.memo else ""),
            amount=item.amount,
            on=item.deposited_on,
            date_label="deposited",
        )
    raise InvalidInput(f"not a cross-rail record: {type(item).__name__}")


# -- rules --------------------------------------------------------------------------------


def _close_amounts(a: Money, b: Money, percent: int) -> bool:
    if a.currency != b.currency:
        return False
    gap = abs(a.amount_minor - b.amount_minor)
    return gap * 100 <= percent * max(a.amount_minor, b.amount_minor)


def _duplicate_bills(
    biz: BusinessId,
    bills: Sequence[Bill],
    vendors: Mapping[VendorId, Vendor],
    rules: HygieneRules,
) -> list[_Draft]:
    by_vendor: dict[VendorId, list[Bill]] = defaultdict(list)
    for bill in bills:
        if bill.status is not BillStatus.VOID:
            by_vendor[bill.vendor_id].append(bill)
    found: list[_Draft] = []
    for vendor_id, group in by_vendor.items():
        group.sort(key=lambda b: (b.issue_date, b.bill_id))
        for i, first in enumerate(group):
            for second in group[i + 1 :]:
                apart = (second.issue_date - first.issue_date).days
                if apart >= rules.duplicate_window_days:
                    break
                if not _close_amounts(
                    first.amount, second.amount, rules.duplicate_tolerance_percent
                ):
                    continue
                a, b = sorted((first, second), key=lambda x: x.bill_id)
                both_paid = first.status is BillStatus.PAID and second.status is BillStatus.PAID
                smaller = min(first.amount, second.amount)
                name = _vendor_name(vendors, vendor_id)
                found.append(
                    _Draft(
                        key=issue_key(HygieneKind.DUPLICATE_BILL, biz, a.bill_id, b.bill_id),
                        kind=HygieneKind.DUPLICATE_BILL,
                        severity=Severity.CRITICAL if both_paid else Severity.HIGH,
                        money_at_stake=smaller,
                        since=max(first.issue_date, second.issue_date),
                        summary=(
                            f"Bills {a.bill_id} ({a.amount}, issued {a.issue_date}) and "
                            f"{b.bill_id} ({b.amount}, issued {b.issue_date}) from {name} "
                            f"look like the same bill {apart} day(s) apart; "
                            + ("both were paid." if both_paid else "it could be paid twice.")
                        ),
                        records=(bill_ref(a, vendors), bill_ref(b, vendors)),
                    )
                )
    return found


def _bills_without_due_date(
    biz: BusinessId, bills: Sequence[Bill], vendors: Mapping[VendorId, Vendor]
) -> list[_Draft]:
    found: list[_Draft] = []
    for bill in bills:
        if bill.status is not BillStatus.OPEN or bill.due_date is not None:
            continue
        vendor = vendors.get(bill.vendor_id)
        terms = vendor.payment_terms_days if vendor is not None else None
        name = _vendor_name(vendors, bill.vendor_id)
        if terms is None:
            severity = Severity.MEDIUM
            tail = f"and {name} has no payment terms either, so nothing says when to pay it."
        else:
            severity = Severity.LOW
            implied = bill.issue_date + timedelta(days=terms)
            tail = f"{name}'s {terms}-day terms would make it due on {implied}."
        records = (bill_ref(bill, vendors),) + ((vendor_ref(vendor),) if vendor else ())
        found.append(
            _Draft(
                key=issue_key(HygieneKind.BILL_WITHOUT_DUE_DATE, biz, bill.bill_id),
                kind=HygieneKind.BILL_WITHOUT_DUE_DATE,
                severity=severity,
                money_at_stake=bill.balance,
                since=bill.issue_date,
                summary=(
                    f"Open bill {bill.bill_id} from {name} ({bill.balance} owed, issued "
                    f"{bill.issue_date}) has no due date; {tail}"
                ),
                records=records,
            )
        )
    return found


def _vendors_without_details(
    biz: BusinessId,
    bills: Sequence[Bill],
    vendors: Mapping[VendorId, Vendor],
    today: date,
) -> list[_Draft]:
    open_bills: dict[VendorId, list[Bill]] = defaultdict(list)
    for bill in bills:
        if bill.status is BillStatus.OPEN and not bill.balance.is_zero:
            open_bills[bill.vendor_id].append(bill)
    found: list[_Draft] = []
    for vendor_id in sorted(open_bills):
        vendor = vendors.get(vendor_id)
        if vendor is None or vendor.has_payment_details:
            continue
        owed = open_bills[vendor_id]
        currencies = {b.balance.currency for b in owed}
        if len(currencies) != 1:
            continue
        stake = total((b.balance for b in owed), currencies.pop())
        soon = today + timedelta(days=7)
        urgent = any(b.due_date is not None and b.due_date <= soon for b in owed)
        found.append(
            _Draft(
                key=issue_key(HygieneKind.VENDOR_WITHOUT_PAYMENT_DETAILS, biz, vendor_id),
                kind=HygieneKind.VENDOR_WITHOUT_PAYMENT_DETAILS,
                severity=Severity.HIGH if urgent else Severity.MEDIUM,
                money_at_stake=stake,
                since=min(b.issue_date for b in owed),
                summary=(
                    f"{vendor.name} has {len(owed)} open bill(s) for {stake} but no payment "
                    "details on file; "
                    + ("one is due within a week." if urgent else "they cannot be paid yet.")
                ),
                records=(vendor_ref(vendor), *(bill_ref(b, vendors) for b in owed)),
            )
        )
    return found


@dataclass(frozen=True, slots=True)
class _Received:
    """What the books say a bill or invoice has been paid so far, and when a bank line
    paying it may post: at once (`whole`), or in two parts (`parts`, a wider span)."""

    amount: Money
    whole: tuple[date, date]
    parts: tuple[date, date]


def _received(
    amount: Money,
    balance: Money,
    settled: bool,
    paid: date | None,
    issued: date,
    due: date | None,
    rules: HygieneRules,
) -> _Received | None:
    got = amount if settled else amount - balance
    if got.amount_minor <= 0:
        return None
    whole = _paid_window(paid if settled else None, issued, due, rules)
    window = timedelta(days=rules.bank_match_days)
    last = whole[1] if paid is None or not settled else paid + window
    return _Received(got, whole, (issued - window, last))


def _all_received(
    records: Iterable[tuple[Money, Money, bool, date | None, date, date | None]],
    rules: HygieneRules,
) -> list[_Received]:
    """What each bill or invoice received, from (amount, balance, settled, paid, issued,
    due); those that received nothing are left out."""
    return [r for record in records if (r := _received(*record, rules)) is not None]


def _explained(
    lines: Sequence[tuple[BankTransaction, Money]], received: Sequence[_Received]
) -> set[BankTransactionId]:
    """The lines the books explain: one line of exactly what a bill or invoice received,
    in its window; or, for one paid in two parts (a partial payment, then the rest), two
    lines in its wider window that add up to it, each line used once."""
    by_amount: dict[Money, list[tuple[date, date]]] = defaultdict(list)
    for r in received:
        by_amount[r.amount].append(r.whole)
    explained: set[BankTransactionId] = {
        txn.transaction_id
        for txn, amount in lines
        if any(first <= txn.posted_on <= last for first, last in by_amount.get(amount, ()))
    }
    left = sorted(
        ((txn, amount) for txn, amount in lines if txn.transaction_id not in explained),
        key=lambda pair: (pair[0].posted_on, pair[0].transaction_id),
    )
    if not left:
        return explained
    days = [txn.posted_on for txn, _ in left]
    for r in sorted(received, key=lambda r: (r.parts, r.amount.amount_minor)):
        first, last = r.parts
        inside: dict[int, BankTransaction] = {}
        # Only the lines posted in its span (`left` is in date order).
        for txn, amount in left[bisect_left(days, first) : bisect_right(days, last)]:
            if txn.transaction_id in explained:
                continue
            other = inside.get(r.amount.amount_minor - amount.amount_minor)
            if other is not None:
                explained |= {other.transaction_id, txn.transaction_id}
                break
            inside.setdefault(amount.amount_minor, txn)
    return explained


def _unmatched_bank_transactions(
    data: HygieneInput,
    bills: Sequence[Bill],
    invoices: Sequence[Invoice],
    today: date,
    rules: HygieneRules,
) -> list[_Draft]:
    biz = data.business_id
    paid_bills = _all_received(
        (
            (
                b.amount,
                b.balance,
                b.status is BillStatus.PAID,
                b.paid_date,
                b.issue_date,
                b.due_date,
            )
            for b in bills
            if b.status is not BillStatus.VOID
        ),
        rules,
    )
    paid_invoices = _all_received(
        (
            (
                i.amount,
                i.balance,
                stop_reason(i) is StopReason.PAID,
                i.paid_date,
                i.issue_date,
                i.due_date,
            )
            for i in invoices
            if i.status is not InvoiceStatus.VOID
        ),
        rules,
    )
    proven = {p.bank_transaction_id for p in data.payments if p.bank_transaction_id is not None}

    oldest = today - timedelta(days=rules.bank_lookback_days)
    newest = today - timedelta(days=rules.bank_settle_days)
    outflows: list[tuple[BankTransaction, Money]] = []
    inflows: list[tuple[BankTransaction, Money]] = []
    seen: set[str] = set()
    for txn in sorted(data.bank_transactions, key=lambda t: t.transaction_id):
        if txn.business_id != biz or txn.pending or txn.amount.is_zero:
            continue
        if not oldest <= txn.posted_on < newest or txn.transaction_id in seen:
            continue
        seen.add(txn.transaction_id)
        if txn.is_outflow:
            if txn.category not in rules.explained_outflows and txn.transaction_id not in proven:
                outflows.append((txn, txn.amount))
        elif txn.category not in rules.explained_inflows:
            inflows.append((txn, -txn.amount))
    explained = _explained(outflows, paid_bills) | _explained(inflows, paid_invoices)

    found: list[_Draft] = []
    for txn, amount in sorted(outflows + inflows, key=lambda pair: pair[0].transaction_id):
        if txn.transaction_id in explained:
            continue
        if amount.amount_minor < rules.small_amount_minor:
            severity = Severity.LOW
        elif amount.amount_minor >= rules.large_amount_minor:
            severity = Severity.HIGH
        else:
            severity = Severity.MEDIUM
        direction = "left" if txn.is_outflow else "reached"
        what = "no bill paid" if txn.is_outflow else "no invoice paid"
        found.append(
            _Draft(
                key=issue_key(HygieneKind.UNMATCHED_BANK_TRANSACTION, biz, txn.transaction_id),
                kind=HygieneKind.UNMATCHED_BANK_TRANSACTION,
                severity=severity,
                money_at_stake=amount,
                since=txn.posted_on,
                summary=(
                    f"{amount} {direction} the bank on {txn.posted_on} ({txn.description}), "
                    f"but the books show {what} for that amount around then."
                ),
                records=(transaction_ref(txn),),
            )
        )
    return found


def _paid_window(
    paid: date | None, issued: date, due: date | None, rules: HygieneRules
) -> tuple[date, date]:
    """When a bank transaction may pay a settled bill or invoice: around the day it was
    paid; when the books say paid but not when, from its issue date to well after its
    due date (late payers are common, the exact amount is the stronger evidence)."""
    window = timedelta(days=rules.bank_match_days)
    if paid is not None:
        return paid - window, paid + window
    return issued - window, (due or issued) + timedelta(days=rules.unknown_paid_date_days)


def books_balances(
    accounts: Sequence[BankAccount], bank_account_ids: Iterable[BankAccountId]
) -> dict[BankAccountId, Money] | None:
    """The books' balance of each bank account the bank reports, as paired by
    `pair_books_accounts`; None when the books give no balance at all."""
    pairs = pair_books_accounts(accounts, bank_account_ids)
    if pairs is None:
        return None
    return {i: a.books_balance for i, a in pairs.items() if a.books_balance is not None}


def pair_books_accounts(
    accounts: Sequence[BankAccount], bank_account_ids: Iterable[BankAccountId]
) -> dict[BankAccountId, BankAccount] | None:
    """The books' record of each bank account the bank reports (`bank_account_ids`), by
    pairing it with a books account that has a balance, in this order:

    - the same record (books that name the account as the bank does);
    - a books account whose name holds the bank account's mask ("Checking (4321)");
    - one whose name is the bank account's, ignoring case and spacing;
    - the one books account left in the currency when the bank has one left too.

    A books account pairs with one bank account at most; a tie pairs nothing. None when
    the books give no balance at all (then drift is not checked).
    """
    books = {a.account_id: a for a in accounts if a.books_balance is not None}
    if not books:
        return None
    by_id = {a.account_id: a for a in accounts}
    pending = [by_id[i] for i in sorted(set(bank_account_ids)) if i in by_id]
    paired: dict[BankAccountId, BankAccount] = {}
    for account in pending:
        if account.account_id in books:
            paired[account.account_id] = books[account.account_id]

    def free() -> list[BankAccount]:
        taken = {b.account_id for b in paired.values()}
        return [b for i, b in sorted(books.items()) if i not in taken]

    def name(text: str) -> str:
        return " ".join(text.casefold().split())

    def masked(bank: BankAccount, candidate: BankAccount) -> bool:
        mask = bank.mask
        if not mask or not mask.isdigit():
            return False
        digits = re.findall(r"\d+", candidate.name)
        return any(d == mask for d in digits)

    matchers = (masked, lambda bank, c: name(bank.name) == name(c.name))
    for matches in matchers:
        for account in pending:
            if account.account_id in paired:
                continue
            found = [c for c in free() if c.currency == account.currency and matches(account, c)]
            if len(found) == 1:
                paired[account.account_id] = found[0]
    left = [a for a in pending if a.account_id not in paired]
    for currency in sorted({a.currency for a in left}):
        banks = [a for a in left if a.currency == currency]
        candidates = [c for c in free() if c.currency == currency]
        if len(banks) == 1 and len(candidates) == 1:
            paired[banks[0].account_id] = candidates[0]
    return paired


def _account_words(account: BankAccount | None, account_id: str) -> str:
    if account is None:
        return f"account {account_id}"
    return f"{account.name} (…{account.mask})" if account.mask else account.name


def _balance_drift(data: HygieneInput, rules: HygieneRules) -> list[_Draft]:
    biz = data.business_id
    newest: dict[BankAccountId, Balance] = {}
    for balance in data.balances:
        if balance.business_id != biz:
            continue
        seen = newest.get(balance.account_id)
        if seen is None or balance.as_of > seen.as_of:
            newest[balance.account_id] = balance
    accounts = [a for a in data.bank_accounts if a.business_id == biz]
    records: Mapping[BankAccountId, BankAccount] = {}
    if data.books_balances is not None:
        books_of: Mapping[BankAccountId, Money] = data.books_balances
    else:
        pairs = pair_books_accounts(accounts, newest)
        if pairs is None:
            return []
        records = pairs
        books_of = {i: a.books_balance for i, a in pairs.items() if a.books_balance is not None}
    named = {a.account_id: a for a in accounts}
    found: list[_Draft] = []
    for account_id in sorted(newest):
        bank = newest[account_id]
        books = books_of.get(account_id)
        if books is None or books.currency != bank.current.currency:
            continue
        bank_words = _account_words(named.get(account_id), account_id)
        ledger = records.get(account_id)
        ledger_id = ledger.account_id if ledger is not None else account_id
        ledger_words = _account_words(ledger, account_id)
        gap = abs(bank.current.amount_minor - books.amount_minor)
        if gap <= rules.balance_tolerance_minor:
            continue
        stake = Money(gap, books.currency)
        if gap >= rules.large_amount_minor:
            severity = Severity.HIGH
        elif gap >= rules.small_amount_minor:
            severity = Severity.MEDIUM
        else:
            severity = Severity.LOW
        found.append(
            _Draft(
                key=issue_key(HygieneKind.BANK_BALANCE_DRIFT, biz, account_id),
                kind=HygieneKind.BANK_BALANCE_DRIFT,
                severity=severity,
                money_at_stake=stake,
                since=bank.as_of.date(),
                summary=(
                    f"The bank says {bank_words} holds {bank.current} (as of "
                    f"{bank.as_of.date()}), the books say {books}: {stake} apart. Something "
                    "is on one side only: a check not yet cleared, a deposit or fee not "
                    "recorded in the books."
                ),
                records=(
                    RecordRef(
                        Rail.PLAID,
                        "bank_account",
                        account_id,
                        f"bank balance of {bank_words}",
                        bank.current,
                        bank.as_of.date(),
                        "as of",
                    ),
                    RecordRef(
                        Rail.QBO,
                        "bank_account",
                        ledger_id,
                        f"books balance of {ledger_words}",
                        books,
                    ),
                ),
            )
        )
    return found


_RAIL_NAMES: Final[Mapping[Rail, str]] = {
    Rail.QBO: "QuickBooks",
    Rail.RAMP: "Ramp",
    Rail.PLAID: "Plaid",
    Rail.STRIPE: "Stripe",
    Rail.SENDGRID: "SendGrid",
    Rail.ROWCOL: "RowCol",
}


def _sync_health(data: HygieneInput, now: datetime, rules: HygieneRules) -> list[_Draft]:
    biz = data.business_id
    zero = Money.zero(data.currency)
    found: list[_Draft] = []
    by_rail = {c.rail: c for c in data.connections if c.business_id == biz}
    for rail in sorted(by_rail):
        conn = by_rail[rail]
        name = _RAIL_NAMES.get(rail, rail.value)
        last = require_utc(conn.last_synced_at) if conn.last_synced_at else None
        age = now - last if last is not None else None
        ref = RecordRef(
            rail,
            "connection",
            conn.account or rail.value,
            f"{name} connection" + (f" ({conn.detail})" if conn.detail else ""),
            None,
            last.date() if last is not None else None,
            "last synced" if last is not None else "",
        )
        synced = f"last synced {last:%Y-%m-%d %H:%M} UTC" if last else "never synced"
        if conn.status in (ConnectionStatus.FAILING, ConnectionStatus.NEEDS_ATTENTION):
            errored = require_utc(conn.last_error_at) if conn.last_error_at else None
            began = errored or last or now
            long_down = age is None or age > rules.critical_after
            person = conn.status is ConnectionStatus.NEEDS_ATTENTION
            found.append(
                _Draft(
                    key=issue_key(HygieneKind.SYNC_FAILING, biz, rail.value),
                    kind=HygieneKind.SYNC_FAILING,
                    severity=Severity.CRITICAL if long_down else Severity.HIGH,
                    money_at_stake=zero,
                    since=began.date(),
                    summary=(
                        f"Syncing {name} is failing ({synced})"
                        + ("; someone must reconnect it." if person else ".")
                        + (f" {conn.detail}" if conn.detail else "")
                    ),
                    records=(ref,),
                )
            )
        elif last is not None and age is not None and age > rules.stale_after:
            hours = int(age.total_seconds() // 3600)
            found.append(
                _Draft(
                    key=issue_key(HygieneKind.SYNC_STALE, biz, rail.value),
                    kind=HygieneKind.SYNC_STALE,
                    severity=(Severity.CRITICAL if age > rules.critical_after else Severity.MEDIUM),
                    money_at_stake=zero,
                    since=(last + rules.stale_after).date(),
                    summary=f"{name} has not synced for {hours} hours ({synced}).",
                    records=(ref,),
                )
            )
    return found


_CHASED: Final = frozenset({SendStatus.INTENDED, SendStatus.SENT, SendStatus.UNKNOWN})
"""Sends that (may) have reached the customer; a failed or bounced one chased no one."""


def _overdue_not_chased(
    biz: BusinessId,
    invoices: Sequence[Invoice],
    sends: Iterable[CollectionSend],
    today: date,
) -> list[_Draft]:
    chased = {s.invoice_id for s in sends if s.business_id == biz and s.status in _CHASED}
    found: list[_Draft] = []
    for invoice in invoices:
        if stop_reason(invoice) is not None or invoice.due_date >= today:
            continue
        if invoice.invoice_id in chased:
            continue
        late = (today - invoice.due_date).days
        severity = Severity.HIGH if late > 60 else Severity.MEDIUM if late > 14 else Severity.LOW
        found.append(
            _Draft(
                key=issue_key(HygieneKind.OVERDUE_INVOICE_NOT_CHASED, biz, invoice.invoice_id),
                kind=HygieneKind.OVERDUE_INVOICE_NOT_CHASED,
                severity=severity,
                money_at_stake=invoice.balance,
                since=invoice.due_date + timedelta(days=1),
                summary=(
                    f"Invoice {invoice.invoice_id} ({invoice.balance} owed) was due on "
                    f"{invoice.due_date}, {late} day(s) ago, and no reminder has gone out."
                ),
                records=(invoice_ref(invoice),),
            )
        )
    return found


def _stuck_payments(
    data: HygieneInput,
    vendors: Mapping[VendorId, Vendor],
    now: datetime,
    rules: HygieneRules,
) -> list[_Draft]:
    biz = data.business_id
    found: list[_Draft] = []
    for payment in sorted(data.payments, key=lambda p: p.payment_id):
        if payment.business_id != biz:
            continue
        late_step = overdue_step(payment, now, rules.deadlines)
        if payment.status is not PaymentStatus.STUCK and late_step is None:
            continue
        if payment.status is PaymentStatus.STUCK:
            why = payment.stuck_reason or "it is stuck"
        else:
            why = f"no {late_step} confirmation arrived by its deadline"
        began = payment.submitted_at or payment.updated_at
        name = _vendor_name(vendors, payment.vendor_id)
        found.append(
            _Draft(
                key=issue_key(HygieneKind.STUCK_PAYMENT, biz, payment.payment_id),
                kind=HygieneKind.STUCK_PAYMENT,
                severity=Severity.CRITICAL,
                money_at_stake=payment.amount,
                since=began.date(),
                summary=(
                    f"Payment {payment.payment_id} of {payment.amount} to {name} for bill "
                    f"{payment.bill_id} (pay on {payment.pay_on}) has not been verified: {why}."
                ),
                records=(payment_ref(payment),),
            )
        )
    return found


def _from_finding(finding: Finding, vendors: Mapping[VendorId, Vendor], today: date) -> _Draft:
    kind = (
        HygieneKind.DUPLICATE_BILL
        if finding.kind in CROSS_RAIL_DUPLICATES
        else HygieneKind.CROSS_RAIL_MISMATCH
    )
    records = tuple(evidence_ref(item, vendors) for item in (*finding.left, *finding.right))
    dates = [r.on for r in records if r.on is not None and r.on <= today]
    return _Draft(
        key=finding.key,
        kind=kind,
        severity=_FROM_FINDING[finding.severity],
        money_at_stake=finding.money_at_stake,
        since=min(dates, default=today),
        summary=finding.summary,
        records=records,
    )


# -- what people did about an issue ---------------------------------------------------------


class IssueStatus(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"
    """Someone dealt with it (or decided it is fine); it stays resolved while detected."""
    SNOOZED = "snoozed"
    """Put aside until `snoozed_until`; from that day it counts as open again."""
    FIXED = "fixed"
    """The last scan no longer found it: it was resolved at its source."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TrackedIssue:
    """An issue as last detected, and what people did about it.

    `version` grows by one with every change, for optimistic concurrency.
    """

    issue: HygieneIssue
    first_detected_at: datetime
    last_detected_at: datetime
    status: IssueStatus = IssueStatus.OPEN
    snoozed_until: date | None = None
    note: str = ""
    changed_by: str | None = None
    changed_at: datetime | None = None
    version: int = 1

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", IssueStatus(self.status))
        object.__setattr__(self, "first_detected_at", require_utc(self.first_detected_at))
        object.__setattr__(self, "last_detected_at", require_utc(self.last_detected_at))
        if self.changed_at is not None:
            object.__setattr__(self, "changed_at", require_utc(self.changed_at))
        if (self.status is IssueStatus.SNOOZED) != (self.snoozed_until is not None):
            raise InvalidInput("a snoozed issue, and only one, has a snooze end")
        if type(self.version) is not int or self.version < 1:
            raise InvalidInput("issue version starts at 1")

    @property
    def key(self) -> str:
        return self.issue.key

    @property
    def business_id(self) -> BusinessId:
        return self.issue.business_id

    def status_on(self, today: date) -> IssueStatus:
        """The status as people see it today: a snooze that has ended is open again."""
        if self.status is IssueStatus.SNOOZED and self.snoozed_until is not None:
            return IssueStatus.OPEN if self.snoozed_until <= today else IssueStatus.SNOOZED
        return self.status


def _bump(tracked: TrackedIssue, **changes: object) -> TrackedIssue:
    return dataclasses.replace(tracked, version=tracked.version + 1, **changes)  # type: ignore[arg-type]


def observe(tracked: TrackedIssue | None, issue: HygieneIssue, now: datetime) -> TrackedIssue:
    """The issue found by a scan: new, or the stored one with fresh numbers.

    A fixed issue that is found again is open again; a resolved or snoozed one stays so.
    """
    now = require_utc(now)
    if tracked is None:
        return TrackedIssue(issue=issue, first_detected_at=now, last_detected_at=now)
    if tracked.issue.key != issue.key:
        raise InvalidInput("an issue is observed under its own key")
    if tracked.status is IssueStatus.FIXED:
        return _bump(
            tracked,
            issue=issue,
            last_detected_at=now,
            status=IssueStatus.OPEN,
            changed_by="system",
            changed_at=now,
        )
    return _bump(tracked, issue=issue, last_detected_at=now)


def mark_fixed(tracked: TrackedIssue, now: datetime) -> TrackedIssue:
    """The scan no longer found it; whatever people had decided, the problem is gone."""
    if tracked.status is IssueStatus.FIXED:
        return tracked
    return _bump(
        tracked,
        status=IssueStatus.FIXED,
        snoozed_until=None,
        changed_by="system",
        changed_at=require_utc(now),
    )


def _note(note: str | None, *, required: bool) -> str:
    text = " ".join((note or "").split())
    if required and not text:
        raise InvalidInput("a note saying why is required")
    if len(text) > 2000:
        raise InvalidInput("a note is at most 2000 characters")
    return text


def resolve(tracked: TrackedIssue, *, by: str, note: str, now: datetime) -> TrackedIssue:
    if tracked.status is IssueStatus.FIXED:
        raise InvalidInput("the issue is already fixed at its source")
    return _bump(
        tracked,
        status=IssueStatus.RESOLVED,
        snoozed_until=None,
        note=_note(note, required=True),
        changed_by=by,
        changed_at=require_utc(now),
    )


def snooze(
    tracked: TrackedIssue, *, until: date, by: str, note: str, now: datetime, today: date
) -> TrackedIssue:
    if tracked.status is IssueStatus.FIXED:
        raise InvalidInput("the issue is already fixed at its source")
    if until <= today:
        raise InvalidInput("an issue is snoozed until a day after today")
    return _bump(
        tracked,
        status=IssueStatus.SNOOZED,
        snoozed_until=until,
        note=_note(note, required=True),
        changed_by=by,
        changed_at=require_utc(now),
    )


def reopen(tracked: TrackedIssue, *, by: str, note: str | None, now: datetime) -> TrackedIssue:
    if tracked.status is IssueStatus.FIXED:
        raise InvalidInput("the issue is fixed at its source; the next scan reopens it if not")
    if tracked.status is IssueStatus.OPEN:
        return tracked
    return _bump(
        tracked,
        status=IssueStatus.OPEN,
        snoozed_until=None,
        note=_note(note, required=False),
        changed_by=by,
        changed_at=require_utc(now),
    )
