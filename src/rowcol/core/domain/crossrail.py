"""Cross-rail checks: where two systems disagree about the same money.

Each check takes the records of both sides and returns findings a bookkeeper can act
on. A finding's `key` names the disagreement, not its current numbers, so finding it
again on the next sync is the same finding, and one that stops appearing was fixed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from typing import Final, TypeAlias

from rowcol.core.domain.errors import InvalidInput
from rowcol.core.domain.ids import BankTransactionId, BillId, BusinessId, Rail, VendorId
from rowcol.core.domain.money import Money
from rowcol.core.domain.records import BankTransaction, Bill, BillStatus, Payout, PayoutStatus
from rowcol.core.domain.verification import match_one_to_one, same_name, unique_by, whole_days


class FindingKind(StrEnum):
    """What disagrees. Which records sit on each side is given per kind."""

    BILL_VENDOR_MISMATCH = "bill_vendor_mismatch"
    """left: the ledger bill; right: the rail copy naming another vendor."""
    BILL_AMOUNT_MISMATCH = "bill_amount_mismatch"
    """left: the ledger bill; right: the rail copy with another amount."""
    BILL_DUE_DATE_MISMATCH = "bill_due_date_mismatch"
    """left: the ledger bill; right: the rail copy with another due date."""
    BILL_STATUS_MISMATCH = "bill_status_mismatch"
    """left: the ledger bill; right: the rail copy in another status."""
    BILL_MISSING_IN_LEDGER = "bill_missing_in_ledger"
    """left: nothing; right: the rail copy whose ledger bill is not in the books."""
    BILL_MISSING_ON_RAIL = "bill_missing_on_rail"
    """left: a ledger bill sent for payment; right: nothing, the rail has no copy."""
    BILL_COPIED_TWICE = "bill_copied_twice"
    """left: the ledger bill; right: its live (not void) rail copies, two or more."""
    PAYOUT_NOT_IN_BANK = "payout_not_in_bank"
    """left: the paid payout; right: nothing, no bank deposit matches it."""
    DEPOSIT_NOT_IN_LEDGER = "deposit_not_in_ledger"
    """left: the payout and its bank deposit; right: nothing, the books lack it."""


class Severity(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


@dataclass(frozen=True, slots=True)
class RailBillCopy:
    """A bill as the payment rail holds it, copied from the ledger bill RowCol sent.

    `vendor` is what the rail says it will pay: the ledger vendor id RowCol sent, or
    the vendor's name as the rail spells it. Rail statuses map onto the ledger's:
    anything not yet paid or void (draft, approved, scheduled) is OPEN.
    """

    rail_bill_id: str
    business_id: BusinessId
    ledger_bill_id: BillId
    vendor: str
    amount: Money
    due_date: date | None
    status: BillStatus
    rail: Rail = Rail.RAMP

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", BillStatus(self.status))
        object.__setattr__(self, "rail", Rail(self.rail))
        if not self.rail_bill_id:
            raise InvalidInput("a rail bill needs its rail's id")
        if self.amount.is_negative:
            raise InvalidInput("a rail bill amount may not be negative")


@dataclass(frozen=True, slots=True)
class LedgerDeposit:
    """A deposit recorded in the books."""

    deposit_id: str
    business_id: BusinessId
    amount: Money
    deposited_on: date
    memo: str = ""

    def __post_init__(self) -> None:
        if not self.deposit_id:
            raise InvalidInput("a ledger deposit needs an id")
        if self.amount.is_negative:
            raise InvalidInput("a ledger deposit amount may not be negative")


Evidence: TypeAlias = Bill | RailBillCopy | Payout | BankTransaction | LedgerDeposit
_PayoutKey: TypeAlias = tuple[BusinessId, str]
_DepositKey: TypeAlias = tuple[BusinessId, str]


@dataclass(frozen=True, slots=True)
class Finding:
    """One disagreement between rails, with the records that show it.

    `left` and `right` hold the records of each side (see FindingKind); an empty side
    is the missing record. `money_at_stake` is what could be lost or misstated if
    nobody acts; `key` stays the same for as long as the disagreement does.
    """

    kind: FindingKind
    business_id: BusinessId
    severity: Severity
    money_at_stake: Money
    summary: str
    left: tuple[Evidence, ...]
    right: tuple[Evidence, ...]
    key: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", FindingKind(self.kind))
        object.__setattr__(self, "severity", Severity(self.severity))
        object.__setattr__(self, "left", tuple(self.left))
        object.__setattr__(self, "right", tuple(self.right))
        if self.money_at_stake.is_negative:
            raise InvalidInput("money at stake may not be negative")
        if not self.summary or not self.key:
            raise InvalidInput("a finding needs a summary and a key")


def finding_key(kind: FindingKind, business_id: BusinessId, *ids: str) -> str:
    """The stable name of a disagreement: its kind, business and the ids involved."""
    return ":".join((kind.value, business_id, *ids))


_RAIL_NAMES: Final[Mapping[Rail, str]] = {
    Rail.QBO: "QuickBooks",
    Rail.RAMP: "Ramp",
    Rail.PLAID: "Plaid",
    Rail.STRIPE: "Stripe",
    Rail.SENDGRID: "SendGrid",
    Rail.ROWCOL: "RowCol",
}

_STATUS_WORDS: Final[Mapping[BillStatus, str]] = {
    BillStatus.OPEN: "open",
    BillStatus.PAID: "paid",
    BillStatus.VOID: "voided",
}

# (ledger status, rail status) -> how bad it is and what it means for the money.
_STATUS_GAPS: Final[Mapping[tuple[BillStatus, BillStatus], tuple[Severity, str]]] = {
    (BillStatus.PAID, BillStatus.OPEN): (Severity.HIGH, "it could be paid twice"),
    (BillStatus.VOID, BillStatus.OPEN): (Severity.HIGH, "a voided bill could be paid"),
    (BillStatus.VOID, BillStatus.PAID): (Severity.HIGH, "a voided bill was paid"),
    (BillStatus.OPEN, BillStatus.PAID): (
        Severity.MEDIUM,
        "the payment is missing from the books",
    ),
    (BillStatus.OPEN, BillStatus.VOID): (Severity.MEDIUM, "it will not be paid there"),
    (BillStatus.PAID, BillStatus.VOID): (Severity.LOW, "both sides are closed"),
}


def compare_bills(
    ledger_bills: Sequence[Bill],
    rail_bills: Sequence[RailBillCopy],
    *,
    vendor_names: Mapping[VendorId, str] | None = None,
    expected_on_rail: AbstractSet[BillId] = frozenset(),
) -> list[Finding]:
    """Disagreements between the books' bills and the payment rail's copies of them.

    Each copy is compared with the ledger bill it names: vendor, amount, due date and
    status; when either side is void only the status matters. A copy whose ledger bill
    is not in the books, and a bill with more than one live copy, are findings too.
    The vendor agrees when the copy names the ledger vendor id, or the same name as
    `vendor_names` gives for it. Bills in `expected_on_rail` (those RowCol sent) with
    no copy at all are reported missing on the rail. Findings come sorted by key.
    """
    names = vendor_names or {}
    ledger = unique_by(ledger_bills, lambda b: (b.business_id, b.bill_id), what="ledger bill")
    copies = unique_by(
        rail_bills, lambda c: (c.business_id, c.rail, c.rail_bill_id), what="rail bill"
    )
    copies_of: dict[tuple[BusinessId, BillId], list[RailBillCopy]] = defaultdict(list)
    for copy in copies.values():
        copies_of[(copy.business_id, copy.ledger_bill_id)].append(copy)

    findings: list[Finding] = []
    for where, group in copies_of.items():
        group.sort(key=lambda c: (c.rail, c.rail_bill_id))
        bill = ledger.get(where)
        if bill is None:
            findings.extend(_missing_in_ledger(copy) for copy in group)
            continue
        vendor = names.get(bill.vendor_id, bill.vendor_id)
        for copy in group:
            findings.extend(_compare_bill(bill, copy, vendor, names))
        live = [copy for copy in group if copy.status is not BillStatus.VOID]
        if len(live) > 1:
            findings.append(_copied_twice(bill, live, vendor))
    for where, bill in ledger.items():
        if bill.bill_id in expected_on_rail and where not in copies_of:
            findings.append(_missing_on_rail(bill, names.get(bill.vendor_id, bill.vendor_id)))
    return sorted(findings, key=lambda f: f.key)


def _compare_bill(
    bill: Bill, copy: RailBillCopy, vendor: str, names: Mapping[VendorId, str]
) -> list[Finding]:
    rail = _RAIL_NAMES.get(copy.rail, copy.rail.value)
    where = f"{rail} (bill {copy.rail_bill_id})"
    found: list[Finding] = []

    def add(kind: FindingKind, severity: Severity, stake: Money, summary: str) -> None:
        found.append(
            Finding(
                kind=kind,
                business_id=bill.business_id,
                severity=severity,
                money_at_stake=stake,
                summary=summary,
                left=(bill,),
                right=(copy,),
                key=finding_key(kind, bill.business_id, bill.bill_id, copy.rail_bill_id),
            )
        )

    if bill.status is not copy.status:
        severity, meaning = _STATUS_GAPS[(bill.status, copy.status)]
        add(
            FindingKind.BILL_STATUS_MISMATCH,
            severity,
            copy.amount,
            f"Bill {bill.bill_id} from {vendor} is {_STATUS_WORDS[bill.status]} in the "
            f"books but {_STATUS_WORDS[copy.status]} in {where}; {meaning}.",
        )
    if BillStatus.VOID in (bill.status, copy.status):
        return found

    if not _same_vendor(bill, copy, names):
        add(
            FindingKind.BILL_VENDOR_MISMATCH,
            Severity.HIGH,
            copy.amount,
            f"Bill {bill.bill_id} is from {vendor} in the books, but {where} "
            f"has it from {copy.vendor}; the money could go to the wrong vendor.",
        )
    if copy.amount != bill.amount:
        same_currency = copy.amount.currency == bill.amount.currency
        stake = _distance(copy.amount, bill.amount) if same_currency else copy.amount
        add(
            FindingKind.BILL_AMOUNT_MISMATCH,
            Severity.HIGH,
            stake,
            f"Bill {bill.bill_id} from {vendor} is {bill.amount} in the books but "
            f"{copy.amount} in {where}; the wrong amount could be paid.",
        )
    both_paid = bill.status is BillStatus.PAID and copy.status is BillStatus.PAID
    # Once both sides agree the bill is paid, a different due date changes nothing.
    if copy.due_date != bill.due_date and not both_paid:
        later = (
            bill.due_date is not None
            and copy.due_date is not None
            and copy.due_date > bill.due_date
        )
        add(
            FindingKind.BILL_DUE_DATE_MISMATCH,
            Severity.MEDIUM if later else Severity.LOW,
            copy.amount,
            f"Bill {bill.bill_id} from {vendor} is {_due(bill.due_date)} in the books "
            f"but {_due(copy.due_date)} in {where}"
            + ("; it could be paid late." if later else "."),
        )
    return found


def _same_vendor(bill: Bill, copy: RailBillCopy, names: Mapping[VendorId, str]) -> bool:
    if copy.vendor == bill.vendor_id:
        return True
    name = names.get(bill.vendor_id)
    return name is not None and same_name(name, copy.vendor)


def _missing_in_ledger(copy: RailBillCopy) -> Finding:
    kind = FindingKind.BILL_MISSING_IN_LEDGER
    rail = _RAIL_NAMES.get(copy.rail, copy.rail.value)
    void = copy.status is BillStatus.VOID
    return Finding(
        kind=kind,
        business_id=copy.business_id,
        severity=Severity.LOW if void else Severity.HIGH,
        money_at_stake=Money.zero(copy.amount.currency) if void else copy.amount,
        summary=(
            f"{rail} holds bill {copy.rail_bill_id} ({copy.amount}, "
            f"{_STATUS_WORDS[copy.status]}) for {copy.vendor}, copied from bill "
            f"{copy.ledger_bill_id}, which is not in the books."
        ),
        left=(),
        right=(copy,),
        key=finding_key(kind, copy.business_id, copy.ledger_bill_id, copy.rail_bill_id),
    )


def _copied_twice(bill: Bill, live: list[RailBillCopy], vendor: str) -> Finding:
    kind = FindingKind.BILL_COPIED_TWICE
    ids = ", ".join(
        f"{_RAIL_NAMES.get(copy.rail, copy.rail.value)} {copy.rail_bill_id}" for copy in live
    )
    return Finding(
        kind=kind,
        business_id=bill.business_id,
        severity=Severity.HIGH,
        # One copy is the bill; every further copy could pay it again.
        money_at_stake=bill.amount.times(len(live) - 1),
        summary=(
            f"Bill {bill.bill_id} from {vendor} ({bill.amount}) has {len(live)} live "
            f"copies on the payment rail ({ids}); it could be paid more than once."
        ),
        left=(bill,),
        right=tuple(live),
        key=finding_key(kind, bill.business_id, bill.bill_id),
    )


def _missing_on_rail(bill: Bill, vendor: str) -> Finding:
    kind = FindingKind.BILL_MISSING_ON_RAIL
    still_owed = bill.status is BillStatus.OPEN
    return Finding(
        kind=kind,
        business_id=bill.business_id,
        severity=Severity.MEDIUM if still_owed else Severity.LOW,
        money_at_stake=bill.balance if still_owed else Money.zero(bill.amount.currency),
        summary=(
            f"Bill {bill.bill_id} from {vendor} ({bill.amount}) was sent for payment "
            "but the payment rail has no copy of it"
            + ("; it will not be paid." if still_owed else ".")
        ),
        left=(bill,),
        right=(),
        key=finding_key(kind, bill.business_id, bill.bill_id),
    )


def compare_payouts(
    payouts: Sequence[Payout],
    bank_deposits: Sequence[BankTransaction],
    ledger_deposits: Sequence[LedgerDeposit],
    *,
    today: date,
    bank_window_before: timedelta = timedelta(days=1),
    bank_window_after: timedelta = timedelta(days=3),
    ledger_window: timedelta = timedelta(days=3),
) -> list[Finding]:
    """Paid payouts that never reached the bank, or reached it but not the books.

    A paid payout of a positive amount should appear as a posted bank inflow of the
    same amount, from `bank_window_before` before to `bank_window_after` after its
    arrival date; that deposit should appear in the books for the same amount within
    `ledger_window` of the day it posted. A gap is reported only once its window has
    passed by `today`, since banks and bookkeepers lag. Matching is one to one and
    deterministic (closest date, then lowest id); findings come sorted by key.
    """
    before = whole_days(bank_window_before, "bank_window_before")
    after = whole_days(bank_window_after, "bank_window_after")
    ledger_days = whole_days(ledger_window, "ledger_window")

    indexed = unique_by(payouts, lambda p: (p.business_id, p.payout_id), what="payout")
    paid = {
        where: payout
        for where, payout in indexed.items()
        # A negative payout is a withdrawal, and a zero one moves nothing: no deposit.
        if payout.status is PayoutStatus.PAID and payout.amount.amount_minor > 0
    }
    posted = unique_by(bank_deposits, lambda t: t.transaction_id, what="bank transaction")
    inflows: dict[tuple[BusinessId, Money], list[BankTransaction]] = defaultdict(list)
    for txn in posted.values():
        if txn.amount.is_negative and not txn.pending:
            inflows[(txn.business_id, -txn.amount)].append(txn)
    booked = unique_by(
        ledger_deposits, lambda d: (d.business_id, d.deposit_id), what="ledger deposit"
    )
    recorded: dict[tuple[BusinessId, Money], list[LedgerDeposit]] = defaultdict(list)
    for deposit in booked.values():
        recorded[(deposit.business_id, deposit.amount)].append(deposit)

    bank_ranks: dict[tuple[_PayoutKey, BankTransactionId], tuple[int, str, _PayoutKey]] = {}
    for where, payout in paid.items():
        for txn in inflows.get((payout.business_id, payout.amount), ()):
            offset = (txn.posted_on - payout.arrival_date).days
            if -before <= offset <= after:
                bank_ranks[(where, txn.transaction_id)] = (abs(offset), txn.transaction_id, where)
    in_bank = match_one_to_one(bank_ranks)

    ledger_ranks: dict[tuple[_PayoutKey, _DepositKey], tuple[int, str, _PayoutKey]] = {}
    for where, matched_id in in_bank.items():
        payout, txn = paid[where], posted[matched_id]
        for deposit in recorded.get((payout.business_id, payout.amount), ()):
            offset = abs((deposit.deposited_on - txn.posted_on).days)
            if offset <= ledger_days:
                ledger_ranks[(where, (deposit.business_id, deposit.deposit_id))] = (
                    offset,
                    deposit.deposit_id,
                    where,
                )
    in_ledger = match_one_to_one(ledger_ranks)

    findings: list[Finding] = []
    for where, payout in paid.items():
        transaction_id = in_bank.get(where)
        if transaction_id is None:
            due_by = payout.arrival_date + timedelta(days=after)
            if today > due_by:
                findings.append(_payout_not_in_bank(payout, due_by))
        elif where not in in_ledger:
            txn = posted[transaction_id]
            if today > txn.posted_on + timedelta(days=ledger_days):
                findings.append(_deposit_not_in_ledger(payout, txn))
    return sorted(findings, key=lambda f: f.key)


def _payout_not_in_bank(payout: Payout, due_by: date) -> Finding:
    kind = FindingKind.PAYOUT_NOT_IN_BANK
    return Finding(
        kind=kind,
        business_id=payout.business_id,
        severity=Severity.HIGH,
        money_at_stake=payout.amount,
        summary=(
            f"Payout {payout.payout_id} of {payout.amount} was due to arrive on "
            f"{payout.arrival_date}, but no matching deposit reached the bank by {due_by}."
        ),
        left=(payout,),
        right=(),
        key=finding_key(kind, payout.business_id, payout.payout_id),
    )


def _deposit_not_in_ledger(payout: Payout, txn: BankTransaction) -> Finding:
    kind = FindingKind.DEPOSIT_NOT_IN_LEDGER
    return Finding(
        kind=kind,
        business_id=payout.business_id,
        severity=Severity.MEDIUM,
        money_at_stake=payout.amount,
        summary=(
            f"Payout {payout.payout_id} of {payout.amount} reached the bank on "
            f"{txn.posted_on} ({txn.description}), but the books record no matching "
            "deposit."
        ),
        left=(payout, txn),
        right=(),
        key=finding_key(kind, payout.business_id, payout.payout_id),
    )


def _distance(a: Money, b: Money) -> Money:
    gap = a - b
    return -gap if gap.is_negative else gap


def _due(day: date | None) -> str:
    return "without a due date" if day is None else f"due on {day}"
