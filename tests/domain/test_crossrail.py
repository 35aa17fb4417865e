from __future__ import annotations

import dataclasses
from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from rowcol.core.domain.crossrail import (
    Finding,
    FindingKind,
    LedgerDeposit,
    RailBillCopy,
    Severity,
    compare_bills,
    compare_payouts,
)
from rowcol.core.domain.errors import InvalidInput
from rowcol.core.domain.ids import BankAccountId, BankTransactionId, BillId, BusinessId, VendorId
from rowcol.core.domain.money import Money
from rowcol.core.domain.records import BankTransaction, Bill, BillStatus, Payout, PayoutStatus

BIZ = BusinessId("biz-1")
OTHER_BIZ = BusinessId("biz-2")
CHECKING = BankAccountId("acct-checking")
D0 = date(2024, 3, 11)
LONG_AFTER = date(2025, 1, 1)
DUE = date(2024, 3, 31)


def usd(minor: int) -> Money:
    return Money(minor, "USD")


def days(n: int) -> date:
    return D0 + timedelta(days=n)


# -- bills ------------------------------------------------------------------------------


def ledger_bill(
    bill_id: str = "bill-1",
    minor: int = 120_000,
    *,
    vendor: str = "v-acme",
    due: date | None = DUE,
    status: BillStatus = BillStatus.OPEN,
    business: BusinessId = BIZ,
) -> Bill:
    return Bill(
        BillId(bill_id),
        business,
        VendorId(vendor),
        usd(minor),
        usd(0 if status is BillStatus.PAID else minor),
        D0,
        due,
        status,
    )


def copy_of(bill: Bill, rail_bill_id: str | None = None, **changes: Any) -> RailBillCopy:
    copy = RailBillCopy(
        rail_bill_id or f"ramp-{bill.bill_id}",
        bill.business_id,
        bill.bill_id,
        bill.vendor_id,
        bill.amount,
        bill.due_date,
        bill.status,
    )
    return dataclasses.replace(copy, **changes)


def only(findings: list[Finding]) -> Finding:
    assert len(findings) == 1, findings
    return findings[0]


def test_a_bill_and_its_faithful_copy_agree() -> None:
    bill = ledger_bill()
    assert compare_bills([bill], [copy_of(bill)]) == []


def test_a_copy_for_another_amount_is_a_high_severity_finding_with_the_gap_at_stake() -> None:
    bill = ledger_bill()
    copy = copy_of(bill, amount=usd(125_000))
    finding = only(compare_bills([bill], [copy]))
    assert finding.kind is FindingKind.BILL_AMOUNT_MISMATCH
    assert finding.severity is Severity.HIGH
    assert finding.money_at_stake == usd(5_000)
    assert finding.left == (bill,) and finding.right == (copy,)
    assert finding.business_id == BIZ
    assert "1,200.00 USD" in finding.summary and "1,250.00 USD" in finding.summary


def test_a_copy_in_another_currency_puts_the_whole_rail_amount_at_stake() -> None:
    bill = ledger_bill()
    finding = only(compare_bills([bill], [copy_of(bill, amount=Money(120_000, "CAD"))]))
    assert finding.kind is FindingKind.BILL_AMOUNT_MISMATCH
    assert finding.money_at_stake == Money(120_000, "CAD")


def test_a_copy_paying_another_vendor_is_a_finding_but_the_same_name_is_not() -> None:
    bill = ledger_bill()
    names = {VendorId("v-acme"): "Acme Supply, Inc."}
    assert (
        compare_bills([bill], [copy_of(bill, vendor="ACME SUPPLY INC")], vendor_names=names) == []
    )
    finding = only(compare_bills([bill], [copy_of(bill, vendor="Globex")], vendor_names=names))
    assert finding.kind is FindingKind.BILL_VENDOR_MISMATCH
    assert finding.severity is Severity.HIGH
    assert "Acme Supply, Inc." in finding.summary and "Globex" in finding.summary


@pytest.mark.parametrize(
    ("ledger_due", "rail_due", "severity"),
    [
        (days(20), days(25), Severity.MEDIUM),
        (days(20), days(15), Severity.LOW),
        (None, days(5), Severity.LOW),
    ],
)
def test_a_due_date_disagreement_matters_more_when_the_rail_would_pay_later(
    ledger_due: date | None, rail_due: date, severity: Severity
) -> None:
    bill = ledger_bill(due=ledger_due)
    finding = only(compare_bills([bill], [copy_of(bill, due_date=rail_due)]))
    assert finding.kind is FindingKind.BILL_DUE_DATE_MISMATCH
    assert finding.severity is severity


def test_a_due_date_disagreement_is_moot_once_both_sides_are_paid() -> None:
    bill = ledger_bill(status=BillStatus.PAID)
    assert compare_bills([bill], [copy_of(bill, due_date=days(30))]) == []


@pytest.mark.parametrize(
    ("ledger_status", "rail_status", "severity"),
    [
        (BillStatus.PAID, BillStatus.OPEN, Severity.HIGH),
        (BillStatus.VOID, BillStatus.OPEN, Severity.HIGH),
        (BillStatus.VOID, BillStatus.PAID, Severity.HIGH),
        (BillStatus.OPEN, BillStatus.PAID, Severity.MEDIUM),
        (BillStatus.OPEN, BillStatus.VOID, Severity.MEDIUM),
        (BillStatus.PAID, BillStatus.VOID, Severity.LOW),
    ],
)
def test_a_status_disagreement_is_as_severe_as_the_money_it_could_move(
    ledger_status: BillStatus, rail_status: BillStatus, severity: Severity
) -> None:
    bill = ledger_bill(status=ledger_status)
    finding = only(compare_bills([bill], [copy_of(bill, status=rail_status)]))
    assert finding.kind is FindingKind.BILL_STATUS_MISMATCH
    assert finding.severity is severity


def test_when_either_side_is_void_only_the_status_is_compared() -> None:
    bill = ledger_bill()
    copy = copy_of(bill, status=BillStatus.VOID, amount=usd(1), vendor="Globex")
    assert only(compare_bills([bill], [copy])).kind is FindingKind.BILL_STATUS_MISMATCH


def test_a_copy_whose_ledger_bill_is_gone_is_reported_and_matters_unless_void() -> None:
    bill = ledger_bill()
    live = only(compare_bills([], [copy_of(bill)]))
    assert live.kind is FindingKind.BILL_MISSING_IN_LEDGER
    assert live.severity is Severity.HIGH
    assert live.money_at_stake == bill.amount
    assert live.left == () and live.right == (copy_of(bill),)
    void = only(compare_bills([], [copy_of(bill, status=BillStatus.VOID)]))
    assert void.severity is Severity.LOW
    assert void.money_at_stake == usd(0)


def test_a_copy_never_matches_a_bill_of_another_business() -> None:
    bill = ledger_bill(business=OTHER_BIZ)
    copy = copy_of(ledger_bill())
    assert only(compare_bills([bill], [copy])).kind is FindingKind.BILL_MISSING_IN_LEDGER


def test_two_live_copies_of_one_bill_could_pay_it_twice() -> None:
    bill = ledger_bill()
    copies = [
        copy_of(bill, "ramp-2"),
        copy_of(bill, "ramp-1"),
        copy_of(bill, "ramp-3", status=BillStatus.VOID),
    ]
    findings = compare_bills([bill], copies)
    twice = [f for f in findings if f.kind is FindingKind.BILL_COPIED_TWICE]
    assert len(twice) == 1
    assert twice[0].right == (copies[1], copies[0])
    assert twice[0].money_at_stake == bill.amount
    assert twice[0].severity is Severity.HIGH


def test_a_bill_sent_for_payment_but_absent_from_the_rail_is_reported() -> None:
    sent, paid_elsewhere, kept = (
        ledger_bill("bill-1"),
        ledger_bill("bill-2", status=BillStatus.PAID),
        ledger_bill("bill-3"),
    )
    findings = compare_bills(
        [sent, paid_elsewhere, kept],
        [copy_of(kept)],
        expected_on_rail={sent.bill_id, paid_elsewhere.bill_id, kept.bill_id},
    )
    assert [(f.kind, f.left[0], f.severity) for f in findings] == [
        (FindingKind.BILL_MISSING_ON_RAIL, sent, Severity.MEDIUM),
        (FindingKind.BILL_MISSING_ON_RAIL, paid_elsewhere, Severity.LOW),
    ]


def test_the_same_disagreement_found_again_keeps_its_key_even_if_the_numbers_move() -> None:
    bill = ledger_bill()
    first = only(compare_bills([bill], [copy_of(bill, amount=usd(125_000))]))
    again = only(compare_bills([bill], [copy_of(bill, amount=usd(130_000))]))
    assert first.key == again.key
    assert first.summary != again.summary
    other = only(compare_bills([bill], [copy_of(bill, vendor="Globex")]))
    assert other.key != first.key


def test_two_different_records_under_one_id_are_refused() -> None:
    with pytest.raises(InvalidInput):
        compare_bills([ledger_bill(), ledger_bill(minor=5)], [])
    bill = ledger_bill()
    with pytest.raises(InvalidInput):
        compare_bills([bill], [copy_of(bill), copy_of(bill, amount=usd(1))])


statuses = st.sampled_from([BillStatus.OPEN, BillStatus.PAID])


@st.composite
def ledgers(draw: st.DrawFn, status: st.SearchStrategy[BillStatus] = statuses) -> list[Bill]:
    count = draw(st.integers(1, 8))
    return [
        ledger_bill(
            f"bill-{i}",
            draw(st.integers(1, 10**9)),
            vendor=draw(st.sampled_from(["v-acme", "v-globex"])),
            due=draw(st.one_of(st.none(), st.integers(0, 60).map(days))),
            status=draw(status),
            business=draw(st.sampled_from([BIZ, OTHER_BIZ])),
        )
        for i in range(count)
    ]


@given(ledgers(st.sampled_from(list(BillStatus))))
def test_identical_bills_on_both_sides_give_no_findings(bills: list[Bill]) -> None:
    copies = [copy_of(b) for b in bills]
    assert compare_bills(bills, copies, expected_on_rail={b.bill_id for b in bills}) == []


@given(ledgers(), st.data())
def test_one_copy_with_another_amount_gives_exactly_one_amount_finding(
    bills: list[Bill], data: st.DataObject
) -> None:
    i = data.draw(st.integers(0, len(bills) - 1))
    delta = data.draw(st.integers(-(10**6), 10**6).filter(bool))
    assume(bills[i].amount.amount_minor + delta >= 0)
    copies = [copy_of(b) for b in bills]
    copies[i] = copy_of(bills[i], amount=bills[i].amount + usd(delta))
    finding = only(compare_bills(bills, copies))
    assert finding.kind is FindingKind.BILL_AMOUNT_MISMATCH
    assert finding.left == (bills[i],)
    assert finding.money_at_stake == usd(abs(delta))


@given(ledgers(), st.data())
def test_one_ledger_bill_with_another_amount_gives_exactly_one_amount_finding(
    bills: list[Bill], data: st.DataObject
) -> None:
    copies = [copy_of(b) for b in bills]
    i = data.draw(st.integers(0, len(bills) - 1))
    old = bills[i]
    minor = data.draw(st.integers(0, 10**9).filter(lambda m: m != old.amount.amount_minor))
    changed = ledger_bill(
        old.bill_id,
        minor,
        vendor=old.vendor_id,
        due=old.due_date,
        status=old.status,
        business=old.business_id,
    )
    finding = only(compare_bills([*bills[:i], changed, *bills[i + 1 :]], copies))
    assert finding.kind is FindingKind.BILL_AMOUNT_MISMATCH
    assert finding.right == (copies[i],)


@st.composite
def messy_copies(draw: st.DrawFn, bills: list[Bill]) -> list[RailBillCopy]:
    copies = []
    for n in range(draw(st.integers(0, 10))):
        bill = draw(st.sampled_from(bills))
        copies.append(
            RailBillCopy(
                f"ramp-{n}",
                bill.business_id,
                draw(st.sampled_from([bill.bill_id, BillId("bill-gone")])),
                draw(st.sampled_from([bill.vendor_id, "Globex"])),
                draw(st.sampled_from([bill.amount, usd(7)])),
                draw(st.sampled_from([bill.due_date, days(99)])),
                draw(st.sampled_from(list(BillStatus))),
            )
        )
    return copies


@given(ledgers(), st.data())
def test_the_order_of_the_bills_does_not_change_the_findings(
    bills: list[Bill], data: st.DataObject
) -> None:
    copies = data.draw(messy_copies(bills))
    sent = data.draw(st.sets(st.sampled_from([b.bill_id for b in bills])))
    before = compare_bills(bills, copies, expected_on_rail=sent)
    after = compare_bills(
        data.draw(st.permutations(bills)), data.draw(st.permutations(copies)), expected_on_rail=sent
    )
    assert after == before
    assert len({f.key for f in before}) == len(before)


# -- payouts ----------------------------------------------------------------------------


def payout(
    payout_id: str = "po-1",
    minor: int = 80_000,
    arrival: date = D0,
    *,
    status: PayoutStatus = PayoutStatus.PAID,
    business: BusinessId = BIZ,
) -> Payout:
    return Payout(payout_id, business, usd(minor), arrival, status)


def deposit(
    tid: str = "t-1",
    minor: int = 80_000,
    posted_on: date = D0,
    *,
    pending: bool = False,
    business: BusinessId = BIZ,
) -> BankTransaction:
    # Money coming in is negative in the bank feed.
    return BankTransaction(
        BankTransactionId(tid),
        business,
        CHECKING,
        usd(-minor),
        posted_on,
        "STRIPE TRANSFER",
        pending=pending,
    )


def booked(
    dep_id: str = "dep-1", minor: int = 80_000, on: date = D0, *, business: BusinessId = BIZ
) -> LedgerDeposit:
    return LedgerDeposit(dep_id, business, usd(minor), on, "Stripe payout")


def test_a_payout_seen_in_the_bank_and_the_books_gives_no_findings() -> None:
    assert (
        compare_payouts(
            [payout()], [deposit(posted_on=days(1))], [booked(on=days(2))], today=LONG_AFTER
        )
        == []
    )


def test_a_paid_payout_missing_from_the_bank_is_high_severity_once_its_window_has_passed() -> None:
    missing = [payout(arrival=D0)]
    assert compare_payouts(missing, [], [], today=days(3)) == []
    finding = only(compare_payouts(missing, [], [], today=days(4)))
    assert finding.kind is FindingKind.PAYOUT_NOT_IN_BANK
    assert finding.severity is Severity.HIGH
    assert finding.money_at_stake == usd(80_000)
    assert finding.left == (missing[0],) and finding.right == ()
    assert finding.key == "payout_not_in_bank:biz-1:po-1"


@pytest.mark.parametrize(
    "bank",
    [
        deposit(pending=True),
        deposit(minor=79_999),
        deposit(business=OTHER_BIZ),
        deposit(posted_on=days(-2)),
        deposit(posted_on=days(4)),
        dataclasses.replace(deposit(), amount=usd(80_000)),
    ],
    ids=["pending", "short", "other-business", "too-early", "too-late", "outflow"],
)
def test_a_deposit_that_does_not_fit_leaves_the_payout_missing(bank: BankTransaction) -> None:
    finding = only(compare_payouts([payout()], [bank], [booked()], today=LONG_AFTER))
    assert finding.kind is FindingKind.PAYOUT_NOT_IN_BANK


@pytest.mark.parametrize(
    "status",
    [PayoutStatus.PENDING, PayoutStatus.IN_TRANSIT, PayoutStatus.FAILED, PayoutStatus.CANCELED],
)
def test_only_paid_payouts_are_expected_in_the_bank(status: PayoutStatus) -> None:
    assert compare_payouts([payout(status=status)], [], [], today=LONG_AFTER) == []


def test_a_deposit_in_the_bank_but_not_the_books_is_reported_with_both_records() -> None:
    po, bank = payout(), deposit(posted_on=days(1))
    assert compare_payouts([po], [bank], [], today=days(4)) == []
    finding = only(compare_payouts([po], [bank], [booked(on=days(5))], today=days(5)))
    assert finding.kind is FindingKind.DEPOSIT_NOT_IN_LEDGER
    assert finding.severity is Severity.MEDIUM
    assert finding.left == (po, bank) and finding.right == ()


def test_payouts_of_the_same_amount_each_take_their_own_deposit() -> None:
    payouts = [payout("po-1", arrival=days(0)), payout("po-2", arrival=days(3))]
    banks = [deposit("t-1", posted_on=days(3)), deposit("t-2", posted_on=days(0))]
    books = [booked("dep-1", on=days(0)), booked("dep-2", on=days(3))]
    assert compare_payouts(payouts, banks, books, today=LONG_AFTER) == []
    finding = only(compare_payouts(payouts, banks[:1], books, today=LONG_AFTER))
    assert finding.left == (payouts[0],)


def test_one_deposit_cannot_account_for_two_payouts() -> None:
    payouts = [payout("po-1"), payout("po-2")]
    finding = only(
        compare_payouts(payouts, [deposit()], [booked("d-1"), booked("d-2")], today=LONG_AFTER)
    )
    assert finding.kind is FindingKind.PAYOUT_NOT_IN_BANK


def test_payout_windows_must_be_whole_days() -> None:
    with pytest.raises(InvalidInput):
        compare_payouts([], [], [], today=D0, ledger_window=timedelta(hours=1))


@st.composite
def payout_worlds(
    draw: st.DrawFn, unique_amounts: bool = False
) -> tuple[list[Payout], list[BankTransaction], list[LedgerDeposit]]:
    count = draw(st.integers(1, 6))
    amounts = draw(
        st.lists(
            st.integers(1, 10**6) if unique_amounts else st.sampled_from([500, 900]),
            min_size=count,
            max_size=count,
            unique=unique_amounts,
        )
    )
    payouts, banks, books = [], [], []
    for i, minor in enumerate(amounts):
        business = draw(st.sampled_from([BIZ, OTHER_BIZ]))
        arrival = days(draw(st.integers(0, 20)))
        posted = arrival + timedelta(days=draw(st.integers(-1, 3)))
        payouts.append(payout(f"po-{i}", minor, arrival, business=business))
        banks.append(deposit(f"t-{i}", minor, posted, business=business))
        on = posted + timedelta(days=draw(st.integers(-3, 3)))
        books.append(booked(f"dep-{i}", minor, on, business=business))
    return payouts, banks, books


@given(payout_worlds())
def test_payouts_seen_identically_in_bank_and_books_give_no_findings(
    world: tuple[list[Payout], list[BankTransaction], list[LedgerDeposit]],
) -> None:
    payouts, banks, books = world
    assert compare_payouts(payouts, banks, books, today=LONG_AFTER) == []


@given(payout_worlds(unique_amounts=True), st.data())
def test_one_bank_deposit_with_another_amount_gives_exactly_one_payout_not_in_bank(
    world: tuple[list[Payout], list[BankTransaction], list[LedgerDeposit]], data: st.DataObject
) -> None:
    payouts, banks, books = world
    i = data.draw(st.integers(0, len(banks) - 1))
    minor = data.draw(st.integers(1, 10**6))
    assume(minor not in {p.amount.amount_minor for p in payouts})
    banks[i] = dataclasses.replace(banks[i], amount=usd(-minor))
    finding = only(compare_payouts(payouts, banks, books, today=LONG_AFTER))
    assert finding.kind is FindingKind.PAYOUT_NOT_IN_BANK
    assert finding.left == (payouts[i],)


@given(payout_worlds(unique_amounts=True), st.data())
def test_one_payout_with_another_amount_gives_exactly_one_payout_not_in_bank(
    world: tuple[list[Payout], list[BankTransaction], list[LedgerDeposit]], data: st.DataObject
) -> None:
    payouts, banks, books = world
    i = data.draw(st.integers(0, len(payouts) - 1))
    minor = data.draw(st.integers(1, 10**6))
    assume(minor not in {p.amount.amount_minor for p in payouts})
    payouts[i] = dataclasses.replace(payouts[i], amount=usd(minor))
    finding = only(compare_payouts(payouts, banks, books, today=LONG_AFTER))
    assert finding.kind is FindingKind.PAYOUT_NOT_IN_BANK
    assert finding.left == (payouts[i],)
    assert finding.money_at_stake == usd(minor)


@given(payout_worlds(unique_amounts=True), st.data())
def test_one_ledger_deposit_with_another_amount_gives_exactly_one_deposit_not_in_ledger(
    world: tuple[list[Payout], list[BankTransaction], list[LedgerDeposit]], data: st.DataObject
) -> None:
    payouts, banks, books = world
    i = data.draw(st.integers(0, len(books) - 1))
    minor = data.draw(st.integers(0, 10**6))
    assume(minor not in {p.amount.amount_minor for p in payouts})
    books[i] = dataclasses.replace(books[i], amount=usd(minor))
    finding = only(compare_payouts(payouts, banks, books, today=LONG_AFTER))
    assert finding.kind is FindingKind.DEPOSIT_NOT_IN_LEDGER
    assert finding.left == (payouts[i], banks[i])


@given(payout_worlds(), st.data())
def test_the_order_of_payouts_and_deposits_does_not_change_the_findings(
    world: tuple[list[Payout], list[BankTransaction], list[LedgerDeposit]], data: st.DataObject
) -> None:
    payouts, banks, books = world
    # Drop some records on each side so there is something to find.
    banks = data.draw(st.lists(st.sampled_from(banks), unique_by=lambda t: t.transaction_id))
    books = data.draw(st.lists(st.sampled_from(books), unique_by=lambda d: d.deposit_id))
    today = days(data.draw(st.integers(0, 30)))
    before = compare_payouts(payouts, banks, books, today=today)
    after = compare_payouts(
        data.draw(st.permutations(payouts)),
        data.draw(st.permutations(banks)),
        data.draw(st.permutations(books)),
        today=today,
    )
    assert after == before
    assert len({f.key for f in before}) == len(before)
