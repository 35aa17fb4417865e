from __future__ import annotations

import dataclasses
import random
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rowcol.core.domain.collections import CollectionSend, SendStatus, Tone
from rowcol.core.domain.connections import ConnectionStatus, RailConnection
from rowcol.core.domain.crossrail import RailBillCopy, compare_bills
from rowcol.core.domain.errors import InvalidInput
from rowcol.core.domain.hygiene import (
    HygieneInput,
    HygieneIssue,
    HygieneKind,
    Severity,
    books_balances,
    detect,
    finding_kind_of,
    priority,
)
from rowcol.core.domain.ids import (
    BankAccountId,
    BankTransactionId,
    BillId,
    BusinessId,
    CustomerId,
    InvoiceId,
    PaymentId,
    Rail,
    VendorId,
)
from rowcol.core.domain.money import Money
from rowcol.core.domain.payments import Payment, PaymentStatus
from rowcol.core.domain.records import (
    Balance,
    BankAccount,
    BankTransaction,
    Bill,
    BillStatus,
    Invoice,
    InvoiceStatus,
    Vendor,
)

BIZ = BusinessId("biz-1")
TODAY = date(2026, 11, 20)
NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
CHECKING = BankAccountId("acct-1")


def usd(minor: int) -> Money:
    return Money(minor, "USD")


def vendor(vendor_id: str = "v-1", *, details: bool = True, terms: int | None = 30) -> Vendor:
    return Vendor(
        VendorId(vendor_id),
        BIZ,
        f"Vendor {vendor_id}",
        payment_terms_days=terms,
        has_payment_details=details,
    )


def bill(
    bill_id: str,
    minor: int = 120_000,
    *,
    vendor_id: str = "v-1",
    issued: date = date(2026, 11, 1),
    due: date | None = date(2026, 12, 1),
    status: BillStatus = BillStatus.OPEN,
    paid: date | None = None,
) -> Bill:
    return Bill(
        BillId(bill_id),
        BIZ,
        VendorId(vendor_id),
        usd(minor),
        usd(0 if status is BillStatus.PAID else minor),
        issued,
        due,
        status=status,
        paid_date=paid,
    )


def invoice(
    invoice_id: str,
    minor: int = 50_000,
    *,
    due: date = date(2026, 11, 1),
    status: InvoiceStatus = InvoiceStatus.OPEN,
    paid: date | None = None,
) -> Invoice:
    return Invoice(
        InvoiceId(invoice_id),
        BIZ,
        CustomerId("c-1"),
        usd(minor),
        usd(0 if status is InvoiceStatus.PAID else minor),
        due - timedelta(days=30),
        due,
        status=status,
        paid_date=paid,
    )


def txn(
    txn_id: str,
    minor: int,
    *,
    posted: date = date(2026, 11, 2),
    category: str = "uncategorized",
    pending: bool = False,
) -> BankTransaction:
    return BankTransaction(
        BankTransactionId(txn_id),
        BIZ,
        CHECKING,
        usd(minor),
        posted,
        f"TXN {txn_id}",
        category=category,
        pending=pending,
    )


def payment(
    payment_id: str,
    *,
    status: PaymentStatus = PaymentStatus.SUBMITTED,
    submitted: datetime = NOW - timedelta(hours=3),
    pay_on: date = TODAY,
) -> Payment:
    return Payment(
        payment_id=PaymentId(payment_id),
        business_id=BIZ,
        bill_id=BillId("b-9"),
        vendor_id=VendorId("v-1"),
        amount=usd(99_000),
        pay_on=pay_on,
        reference=f"rowcol-{payment_id}",
        status=status,
        created_at=submitted - timedelta(hours=1),
        updated_at=submitted,
        submitted_at=submitted,
        stuck_reason="no bank confirmation" if status is PaymentStatus.STUCK else None,
    )


def data(**kwargs: object) -> HygieneInput:
    return HygieneInput(business_id=BIZ, **kwargs)  # type: ignore[arg-type]


def scan(**kwargs: object) -> list[HygieneIssue]:
    return detect(data(**kwargs), today=TODAY, now=NOW)


def kinds(issues: list[HygieneIssue]) -> set[HygieneKind]:
    return {i.kind for i in issues}


# -- examples, one story per kind -----------------------------------------------------------


def test_two_bills_of_one_vendor_within_a_percent_and_a_week_are_a_duplicate() -> None:
    issues = scan(
        vendors=[vendor()],
        bills=[
            bill("b-1", 120_000, issued=date(2026, 11, 1)),
            bill("b-2", 120_900, issued=date(2026, 11, 5)),
        ],
    )
    [dup] = [i for i in issues if i.kind is HygieneKind.DUPLICATE_BILL]
    assert dup.key == "duplicate_bill:biz-1:b-1:b-2"
    assert dup.severity is Severity.HIGH
    assert dup.money_at_stake == usd(120_000)
    assert [r.record_id for r in dup.records] == ["b-1", "b-2"]
    assert dup.records[0].label.startswith("bill b-1 from Vendor v-1")
    assert dup.records[0].date_label == "due"
    assert "1,200.00 USD" in dup.summary


def test_bills_a_week_apart_or_more_than_a_percent_apart_are_not_duplicates() -> None:
    issues = scan(
        bills=[
            bill("b-1", 120_000, issued=date(2026, 11, 1)),
            bill("b-2", 120_000, issued=date(2026, 11, 8)),
            bill("b-3", 130_000, issued=date(2026, 11, 9)),
            bill("b-4", 120_000, issued=date(2026, 11, 9), vendor_id="v-2"),
        ]
    )
    assert HygieneKind.DUPLICATE_BILL not in kinds(issues)


def test_a_duplicate_paid_twice_is_critical_and_voiding_one_fixes_it() -> None:
    both_paid = [
        bill("b-1", status=BillStatus.PAID, paid=date(2026, 11, 3)),
        bill("b-2", issued=date(2026, 11, 2), status=BillStatus.PAID, paid=date(2026, 11, 4)),
    ]
    [dup] = [i for i in scan(bills=both_paid) if i.kind is HygieneKind.DUPLICATE_BILL]
    assert dup.severity is Severity.CRITICAL
    voided = [both_paid[0], dataclasses.replace(both_paid[1], status=BillStatus.VOID)]
    assert HygieneKind.DUPLICATE_BILL not in kinds(scan(bills=voided))


def test_a_bill_copied_twice_on_ramp_is_a_duplicate_with_both_sides() -> None:
    ledger = bill("b-1")
    copies = [
        RailBillCopy(
            f"r-{n}", BIZ, BillId("b-1"), "v-1", usd(120_000), ledger.due_date, BillStatus.OPEN
        )
        for n in (1, 2)
    ]
    findings = compare_bills([ledger], copies)
    [dup] = [i for i in scan(bills=[ledger], findings=findings) if i.from_cross_rail]
    assert dup.kind is HygieneKind.DUPLICATE_BILL
    assert dup.key == findings[0].key
    assert [(r.rail, r.record_id) for r in dup.records] == [
        (Rail.QBO, "b-1"),
        (Rail.RAMP, "r-1"),
        (Rail.RAMP, "r-2"),
    ]
    assert finding_kind_of(dup.key) is not None


def test_other_cross_rail_findings_become_mismatch_issues() -> None:
    ledger = bill("b-1")
    copy = RailBillCopy(
        "r-1", BIZ, BillId("b-1"), "v-1", usd(130_000), ledger.due_date, BillStatus.OPEN
    )
    [issue] = scan(findings=compare_bills([ledger], [copy]))
    assert issue.kind is HygieneKind.CROSS_RAIL_MISMATCH
    assert issue.severity is Severity.HIGH
    assert issue.money_at_stake == usd(10_000)


def test_an_open_bill_without_due_date_is_worse_when_the_vendor_has_no_terms() -> None:
    with_terms = scan(vendors=[vendor()], bills=[bill("b-1", due=None)])
    without = scan(vendors=[vendor(terms=None)], bills=[bill("b-1", due=None)])
    [a] = with_terms
    [b] = without
    assert a.kind is b.kind is HygieneKind.BILL_WITHOUT_DUE_DATE
    assert (a.severity, b.severity) == (Severity.LOW, Severity.MEDIUM)
    assert "2026-12-01" in a.summary
    assert "no payment terms" in b.summary
    assert scan(vendors=[vendor()], bills=[bill("b-1", due=None, status=BillStatus.PAID)]) == []


def test_a_vendor_with_open_bills_and_no_payment_details_is_flagged() -> None:
    issues = scan(
        vendors=[vendor(details=False)],
        bills=[
            bill("b-1", 10_000, issued=date(2026, 10, 1), due=date(2026, 11, 25)),
            bill("b-2", 50_000, issued=date(2026, 11, 12)),
        ],
    )
    [issue] = [i for i in issues if i.kind is HygieneKind.VENDOR_WITHOUT_PAYMENT_DETAILS]
    assert issue.money_at_stake == usd(60_000)
    assert issue.severity is Severity.HIGH  # b-1 is due within a week
    assert issue.since == date(2026, 10, 1)
    assert [r.record_kind for r in issue.records] == ["vendor", "bill", "bill"]


def test_bank_outflows_and_inflows_the_books_do_not_explain_are_flagged() -> None:
    issues = scan(
        bills=[bill("b-1", 45_000, status=BillStatus.PAID, paid=date(2026, 10, 30))],
        invoices=[invoice("i-1", 70_000, status=InvoiceStatus.PAID, paid=date(2026, 11, 6))],
        bank_transactions=[
            txn("t-bill", 45_000, posted=date(2026, 11, 2)),  # b-1 paid 3 days before
            txn("t-inv", -70_000, posted=date(2026, 11, 2)),  # i-1 paid 4 days after
            txn("t-payroll", 900_000, category="payroll"),
            txn("t-card", -33_000, category="card_deposit"),
            txn("t-atm", 8_000),
            txn("t-wire", 1_500_000),
            txn("t-zelle", -40_000),
            txn("t-pending", 60_000, pending=True),
            txn("t-fresh", 60_000, posted=TODAY - timedelta(days=2)),
            txn("t-old", 60_000, posted=TODAY - timedelta(days=120)),
        ],
    )
    found = {i.records[0].record_id: i for i in issues}
    assert set(found) == {"t-atm", "t-wire", "t-zelle"}
    assert found["t-atm"].severity is Severity.LOW
    assert found["t-wire"].severity is Severity.HIGH
    assert found["t-zelle"].severity is Severity.MEDIUM
    assert found["t-zelle"].money_at_stake == usd(40_000)
    assert "no invoice paid" in found["t-zelle"].summary


def unmatched(issues: list[HygieneIssue]) -> list[str]:
    return sorted(
        i.records[0].record_id for i in issues if i.kind is HygieneKind.UNMATCHED_BANK_TRANSACTION
    )


def test_a_customer_paying_in_two_parts_is_explained_by_what_the_books_received() -> None:
    """A partial payment, then the rest: neither line is the invoice's amount, but the first
    is what the still-open invoice has received, and two lines adding up to a paid
    invoice are its two parts. A line no part explains is still flagged."""
    half_paid = dataclasses.replace(invoice("i-open", 100_000), balance=usd(60_000))
    paid = invoice("i-paid", 90_000, status=InvoiceStatus.PAID, paid=date(2026, 11, 3))
    issues = scan(
        invoices=[half_paid, paid],
        bank_transactions=[
            txn("t-part", -40_000, posted=date(2026, 10, 20)),  # i-open's 40,000 received
            txn("t-first", -30_000, posted=date(2026, 10, 15)),  # i-paid: 30,000 ...
            txn("t-rest", -60_000, posted=date(2026, 11, 3)),  # ... and 60,000
            txn("t-stray", -25_000, posted=date(2026, 10, 20)),
        ],
    )
    assert unmatched(issues) == ["t-stray"]
    # Without the invoices, every line is unexplained.
    alone = scan(bank_transactions=[txn("t-first", -30_000), txn("t-rest", -60_000)])
    assert unmatched(alone) == ["t-first", "t-rest"]


def test_a_line_explains_one_part_of_one_payment_only() -> None:
    paid = [
        invoice("i-1", 90_000, status=InvoiceStatus.PAID, paid=date(2026, 11, 3)),
        invoice("i-2", 90_000, status=InvoiceStatus.PAID, paid=date(2026, 11, 3)),
    ]
    lines = [
        txn("t-a", -30_000, posted=date(2026, 10, 15)),
        txn("t-b", -60_000, posted=date(2026, 11, 3)),
        txn("t-c", -60_000, posted=date(2026, 10, 20)),
        txn("t-d", -45_000, posted=date(2026, 10, 16)),
        txn("t-e", -44_000, posted=date(2026, 11, 2)),
    ]
    left = unmatched(scan(invoices=paid, bank_transactions=lines))
    # 30,000 pairs with one of the 60,000 lines, not with both (it is one part of one
    # payment); 45,000 + 44,000 is 89,000, which pays nothing.
    assert len(left) == 3 and left[1:] == ["t-d", "t-e"]
    assert left[0] in ("t-b", "t-c")


def test_a_bank_outflow_proven_by_a_payment_is_not_flagged() -> None:
    proven = dataclasses.replace(
        payment("p-1", status=PaymentStatus.SUBMITTED),
        rail_confirmed_at=NOW - timedelta(hours=2),
        bank_confirmed_at=NOW - timedelta(hours=1),
        bank_transaction_id=BankTransactionId("t-1"),
        status=PaymentStatus.BANK_CONFIRMED,
    )
    assert scan(bank_transactions=[txn("t-1", 99_000)], payments=[proven]) == []


def test_balance_drift_is_checked_only_when_the_books_balance_is_known() -> None:
    bank = Balance(CHECKING, BIZ, usd(1_000_000), None, NOW - timedelta(hours=1))
    assert scan(balances=[bank]) == []
    assert scan(balances=[bank], books_balances={CHECKING: usd(1_000_050)}) == []
    [issue] = scan(balances=[bank], books_balances={CHECKING: usd(700_000)})
    assert issue.kind is HygieneKind.BANK_BALANCE_DRIFT
    assert issue.money_at_stake == usd(300_000)
    assert issue.severity is Severity.MEDIUM


def bank_account(
    account_id: str,
    name: str,
    *,
    mask: str | None = None,
    books: int | None = None,
    currency: str = "USD",
) -> BankAccount:
    return BankAccount(
        BankAccountId(account_id),
        BIZ,
        name,
        currency,
        mask,
        books_balance=None if books is None else Money(books, currency),
    )


def test_each_bank_account_pairs_with_its_books_record_by_mask_then_name_then_alone() -> None:
    accounts = [
        bank_account("plaid-chk", "Plaid Checking", mask="4321"),
        bank_account("plaid-sav", "Reserve Savings", mask="9876"),
        bank_account("plaid-eur", "Euro Account", mask="5555", currency="EUR"),
        bank_account("qbo-1", "Operating (4321)", books=100_00),
        bank_account("qbo-2", "reserve   savings", books=200_00),
        bank_account("qbo-3", "Euro", books=300_00, currency="EUR"),
    ]
    banks = [BankAccountId(a) for a in ("plaid-chk", "plaid-sav", "plaid-eur")]
    assert books_balances(accounts, banks) == {
        "plaid-chk": usd(100_00),  # its mask is in the books' name
        "plaid-sav": usd(200_00),  # the same name, case and spacing aside
        "plaid-eur": Money(300_00, "EUR"),  # the only one left in its currency
    }


def test_drift_names_the_bank_account_and_points_at_each_side_s_own_record() -> None:
    bank = Balance(CHECKING, BIZ, usd(1_000_000), None, NOW - timedelta(hours=1))
    accounts = [
        bank_account(CHECKING, "Operating", mask="4321"),
        bank_account("qbo-7", "Checking 4321", books=600_000),
    ]
    [issue] = scan(balances=[bank], bank_accounts=accounts)
    assert issue.kind is HygieneKind.BANK_BALANCE_DRIFT
    assert issue.money_at_stake == usd(400_000)
    assert issue.summary.startswith("The bank says Operating (…4321) holds 10,000.00 USD")
    assert [(r.rail, r.record_id) for r in issue.records] == [
        (Rail.PLAID, CHECKING),
        (Rail.QBO, "qbo-7"),
    ]
    # The books agree: nothing to say.
    agreed = [accounts[0], bank_account("qbo-7", "Checking 4321", books=1_000_000)]
    assert scan(balances=[bank], bank_accounts=agreed) == []


def test_no_pairing_is_guessed_on_a_tie_and_books_without_balances_check_nothing() -> None:
    banks = [BankAccountId("plaid-a"), BankAccountId("plaid-b")]
    tie = [
        bank_account("plaid-a", "Checking A"),
        bank_account("plaid-b", "Checking B"),
        bank_account("qbo-1", "Checking", books=1),
    ]
    assert books_balances(tie, banks) == {}
    # The books name the account as the bank does: the record is its own pair.
    same = [bank_account("plaid-a", "Checking", books=5_00), bank_account("plaid-b", "Other")]
    assert books_balances(same, banks) == {"plaid-a": usd(5_00)}
    assert books_balances([bank_account("plaid-a", "Checking")], banks) is None


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["Checking", "Savings", "Ops 1234", "checking"]),
            st.none() | st.sampled_from(["1234", "0000"]),
            st.none() | st.integers(0, 10_000),
        ),
        max_size=6,
    ),
    st.randoms(),
)
def test_a_books_account_pairs_once_whatever_the_order_accounts_come_in(
    specs: list[tuple[str, str | None, int | None]], rnd: random.Random
) -> None:
    accounts = [
        bank_account(f"a-{n}", name, mask=mask, books=books)
        for n, (name, mask, books) in enumerate(specs)
    ]
    banks = [a.account_id for a in accounts if a.books_balance is None]
    paired = books_balances(accounts, banks)
    shuffled = list(accounts)
    rnd.shuffle(shuffled)
    assert books_balances(shuffled, list(reversed(banks))) == paired
    if paired is None:
        assert all(a.books_balance is None for a in accounts)
        return
    assert set(paired) <= set(banks)
    # Each paired balance is one books account's, and no books account is used twice.
    books_left = [a.books_balance for a in accounts if a.books_balance is not None]
    for balance in paired.values():
        books_left.remove(balance)


def test_failing_and_stale_syncs_are_flagged_per_rail() -> None:
    issues = scan(
        connections=[
            RailConnection(
                BIZ, Rail.QBO, ConnectionStatus.OK, last_synced_at=NOW - timedelta(hours=2)
            ),
            RailConnection(
                BIZ, Rail.PLAID, ConnectionStatus.OK, last_synced_at=NOW - timedelta(hours=30)
            ),
            RailConnection(
                BIZ, Rail.STRIPE, ConnectionStatus.OK, last_synced_at=NOW - timedelta(hours=80)
            ),
            RailConnection(
                BIZ,
                Rail.RAMP,
                ConnectionStatus.NEEDS_ATTENTION,
                detail="login required",
                last_synced_at=NOW - timedelta(hours=5),
                last_error_at=NOW - timedelta(hours=1),
            ),
        ]
    )
    by_key = {i.key: i for i in issues}
    assert set(by_key) == {
        "sync_stale:biz-1:plaid",
        "sync_stale:biz-1:stripe",
        "sync_failing:biz-1:ramp",
    }
    assert by_key["sync_stale:biz-1:plaid"].severity is Severity.MEDIUM
    assert by_key["sync_stale:biz-1:stripe"].severity is Severity.CRITICAL
    assert by_key["sync_failing:biz-1:ramp"].severity is Severity.HIGH
    assert "login required" in by_key["sync_failing:biz-1:ramp"].summary
    assert all(i.money_at_stake == usd(0) for i in issues)


def test_overdue_invoices_without_a_reminder_are_flagged_until_one_goes_out() -> None:
    late = invoice("i-1", due=date(2026, 9, 1))
    [issue] = scan(invoices=[late, invoice("i-2", due=TODAY)])
    assert issue.kind is HygieneKind.OVERDUE_INVOICE_NOT_CHASED
    assert issue.severity is Severity.HIGH
    send = CollectionSend(
        BIZ, InvoiceId("i-1"), "overdue-7", Tone.FIRM, ("a@b.co",), NOW, status=SendStatus.SENT
    )
    assert scan(invoices=[late], collection_sends=[send]) == []
    bounced = dataclasses.replace(send, status=SendStatus.BOUNCED)
    assert len(scan(invoices=[late], collection_sends=[bounced])) == 1


def test_stuck_payments_and_payments_past_their_deadline_are_critical() -> None:
    fresh = payment("p-fresh")
    late = payment("p-late", submitted=NOW - timedelta(days=4), pay_on=TODAY - timedelta(days=4))
    stuck = payment("p-stuck", status=PaymentStatus.STUCK)
    issues = scan(payments=[fresh, late, stuck])
    assert {i.key for i in issues} == {
        "stuck_payment:biz-1:p-late",
        "stuck_payment:biz-1:p-stuck",
    }
    assert all(i.severity is Severity.CRITICAL for i in issues)
    assert any("no rail confirmation" in i.summary for i in issues)


def test_issues_come_highest_priority_first() -> None:
    issues = scan(
        vendors=[vendor(terms=None)],
        bills=[bill("b-1", 1_000, due=None)],
        payments=[payment("p-stuck", status=PaymentStatus.STUCK)],
    )
    assert [i.kind for i in issues] == [
        HygieneKind.STUCK_PAYMENT,
        HygieneKind.BILL_WITHOUT_DUE_DATE,
    ]


def test_an_issue_refuses_negative_money() -> None:
    with pytest.raises(InvalidInput):
        HygieneIssue("k", HygieneKind.SYNC_STALE, BIZ, Severity.LOW, usd(-1), TODAY, "s", (), 1.0)


# -- properties ----------------------------------------------------------------------------

VENDORS = ("v-1", "v-2", "v-3")


@st.composite
def vendors_st(draw: st.DrawFn) -> list[Vendor]:
    return [
        vendor(v, details=draw(st.booleans()), terms=draw(st.sampled_from([None, 15, 30])))
        for v in VENDORS
    ]


@st.composite
def bills_st(draw: st.DrawFn) -> list[Bill]:
    out = []
    for n in range(draw(st.integers(0, 8))):
        issued = TODAY - timedelta(days=draw(st.integers(0, 60)))
        status = draw(st.sampled_from(list(BillStatus)))
        out.append(
            bill(
                f"b-{n}",
                draw(st.sampled_from([10_000, 10_050, 12_000, 500_000])),
                vendor_id=draw(st.sampled_from(VENDORS)),
                issued=issued,
                due=draw(st.sampled_from([None, issued + timedelta(days=30)])),
                status=status,
                paid=issued + timedelta(days=3) if status is BillStatus.PAID else None,
            )
        )
    return out


@st.composite
def inputs(draw: st.DrawFn) -> HygieneInput:
    invoices = [
        invoice(
            f"i-{n}",
            draw(st.sampled_from([10_000, 70_000])),
            due=TODAY - timedelta(days=draw(st.integers(-20, 90))),
        )
        for n in range(draw(st.integers(0, 4)))
    ]
    txns = [
        txn(
            f"t-{n}",
            draw(st.sampled_from([10_000, -10_000, 12_000, -70_000, 3_000])),
            posted=TODAY - timedelta(days=draw(st.integers(0, 100))),
            category=draw(st.sampled_from(["uncategorized", "payroll", "card_deposit"])),
        )
        for n in range(draw(st.integers(0, 5)))
    ]
    connections = [
        RailConnection(
            BIZ,
            rail,
            draw(st.sampled_from(list(ConnectionStatus))),
            last_synced_at=NOW - timedelta(hours=draw(st.integers(0, 100))),
        )
        for rail in draw(st.sets(st.sampled_from([Rail.QBO, Rail.PLAID, Rail.STRIPE])))
    ]
    return data(
        vendors=draw(vendors_st()),
        bills=draw(bills_st()),
        invoices=invoices,
        bank_transactions=txns,
        connections=connections,
    )


def _shuffled(d: HygieneInput, rnd: st.DataObject) -> HygieneInput:
    return dataclasses.replace(
        d,
        vendors=rnd.draw(st.permutations(d.vendors)),
        bills=rnd.draw(st.permutations(d.bills)),
        invoices=rnd.draw(st.permutations(d.invoices)),
        bank_transactions=rnd.draw(st.permutations(d.bank_transactions)),
        connections=rnd.draw(st.permutations(d.connections)),
    )


@settings(max_examples=150)
@given(inputs(), st.data())
def test_the_same_data_in_any_order_gives_the_same_issues(
    d: HygieneInput, rnd: st.DataObject
) -> None:
    assert detect(_shuffled(d, rnd), today=TODAY, now=NOW) == detect(d, today=TODAY, now=NOW)


@settings(max_examples=150)
@given(inputs())
def test_keys_are_unique_money_never_negative_and_order_follows_priority(d: HygieneInput) -> None:
    issues = detect(d, today=TODAY, now=NOW)
    keys = [i.key for i in issues]
    assert len(keys) == len(set(keys))
    assert all(not i.money_at_stake.is_negative for i in issues)
    assert all(i.since <= TODAY for i in issues)
    assert [i.priority for i in issues] == sorted((i.priority for i in issues), reverse=True)
    assert all(i.key.split(":")[1] == BIZ for i in issues)


@settings(max_examples=100)
@given(inputs())
def test_paying_every_bill_and_filling_in_every_gap_clears_the_bill_issues(d: HygieneInput) -> None:
    fixed = dataclasses.replace(
        d,
        vendors=[dataclasses.replace(v, has_payment_details=True) for v in d.vendors],
        bills=[
            dataclasses.replace(b, due_date=b.due_date or b.issue_date + timedelta(days=30))
            for b in d.bills
        ],
    )
    left = kinds(detect(fixed, today=TODAY, now=NOW))
    assert HygieneKind.BILL_WITHOUT_DUE_DATE not in left
    assert HygieneKind.VENDOR_WITHOUT_PAYMENT_DETAILS not in left


@settings(max_examples=100)
@given(inputs(), st.data())
def test_fixing_one_cause_removes_exactly_that_issue(d: HygieneInput, rnd: st.DataObject) -> None:
    issues = detect(d, today=TODAY, now=NOW)
    fixable = [
        i
        for i in issues
        if i.kind in (HygieneKind.BILL_WITHOUT_DUE_DATE, HygieneKind.VENDOR_WITHOUT_PAYMENT_DETAILS)
    ]
    if not fixable:
        return
    target = rnd.draw(st.sampled_from(fixable))
    record_id = target.records[0].record_id
    if target.kind is HygieneKind.BILL_WITHOUT_DUE_DATE:
        # Paying the bill fixes it as surely as a due date does.
        fixed = dataclasses.replace(
            d,
            bills=[
                dataclasses.replace(
                    b, status=BillStatus.PAID, balance=usd(0), paid_date=b.issue_date
                )
                if b.bill_id == record_id
                else b
                for b in d.bills
            ],
        )
    else:
        fixed = dataclasses.replace(
            d,
            vendors=[
                dataclasses.replace(v, has_payment_details=True) if v.vendor_id == record_id else v
                for v in d.vendors
            ],
        )
    after = {i.key for i in detect(fixed, today=TODAY, now=NOW)}
    assert target.key not in after
    untouched = {
        i.key
        for i in issues
        if i.kind in (HygieneKind.BILL_WITHOUT_DUE_DATE, HygieneKind.VENDOR_WITHOUT_PAYMENT_DETAILS)
        and i.key != target.key
        and not (
            target.kind is HygieneKind.BILL_WITHOUT_DUE_DATE
            and i.kind is HygieneKind.VENDOR_WITHOUT_PAYMENT_DETAILS
        )
    }
    assert untouched <= after


severities = st.sampled_from(list(Severity))
amounts = st.integers(0, 10**12)
ages = st.integers(0, 5_000)


@given(severities, amounts, amounts, ages)
def test_priority_never_falls_as_money_at_stake_grows(
    s: Severity, a: int, b: int, age: int
) -> None:
    low, high = sorted((a, b))
    assert priority(s, usd(low), age) <= priority(s, usd(high), age)


@given(severities, amounts, ages, ages)
def test_priority_never_falls_as_an_issue_ages(s: Severity, m: int, a: int, b: int) -> None:
    young, old = sorted((a, b))
    assert priority(s, usd(m), young) <= priority(s, usd(m), old)


@given(amounts, ages)
def test_a_worse_severity_never_lowers_priority(m: int, age: int) -> None:
    ranked = [priority(s, usd(m), age) for s in Severity]
    assert ranked == sorted(ranked)
    assert ranked[0] > 0


def test_a_settled_bill_without_a_paid_date_explains_a_payment_after_it_was_issued() -> None:
    settled = dataclasses.replace(bill("b-1", 45_000, status=BillStatus.PAID), paid_date=None)
    explained = txn("t-1", 45_000, posted=date(2026, 11, 10))
    before_issue = txn("t-2", 45_000, posted=date(2026, 10, 1))
    issues = scan(bills=[settled], bank_transactions=[explained, before_issue])
    assert [i.records[0].record_id for i in issues] == ["t-2"]
