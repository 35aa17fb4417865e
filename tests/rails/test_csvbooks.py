"""The books folder (docs/formats.md): what is written reads back the same, payments
settle bills and invoices, bad rows are named by file and row, bad folders refused."""

from __future__ import annotations

import dataclasses
import re
import tempfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rowcol.adapters.csvbooks import REQUIRED_FILES, CsvBooksFolder
from rowcol.core.domain.errors import InvalidInput
from rowcol.core.domain.ids import (
    BankAccountId,
    BankTransactionId,
    BillId,
    BusinessId,
    CustomerId,
    InvoiceId,
    VendorId,
)
from rowcol.core.domain.money import Money
from rowcol.core.domain.records import (
    Balance,
    BankAccount,
    BankTransaction,
    Bill,
    BillStatus,
    Customer,
    Invoice,
    InvoiceStatus,
    Vendor,
)
from rowcol.demodata import generate_firm
from rowcol.ports.books import BooksBundle, BooksRowError, MissingBooksFile

BIZ = BusinessId("biz-books")
FORMATS = Path(__file__).parents[2] / "docs" / "formats.md"
FOLDER = CsvBooksFolder()

ACCOUNTS = "id,name,currency\nacct-1,Operating,USD\n"
TRANSACTIONS = "id,account_id,amount,currency,posted_on\ntx-1,acct-1,12.50,USD,2026-10-01\n"
BALANCES = "account_id,current,currency,as_of\nacct-1,100.00,USD,2026-10-01T12:00:00Z\n"


def folder(tmp_path: Path, **files: str) -> str:
    """A books folder with the required files (overridable) and any others."""
    contents = {
        "bank_accounts.csv": ACCOUNTS,
        "bank_transactions.csv": TRANSACTIONS,
        "balances.csv": BALANCES,
    }
    contents.update({f"{name}.csv": text for name, text in files.items()})
    for name, text in contents.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    return str(tmp_path)


# -- round trip -------------------------------------------------------------------

ids = st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9_.:-]{0,20}\Z")
text = st.text(
    alphabet=st.characters(exclude_categories=("Cs", "Cc")) | st.sampled_from(',"\n\r;'),
    min_size=1,
    max_size=12,
).filter(lambda s: s.strip() != "")
optional_text = st.none() | text
currencies = st.sampled_from(["USD", "EUR", "JPY", "BHD"])
days = st.dates(min_value=date(2000, 1, 1), max_value=date(2035, 12, 31))
flags = st.booleans()


@dataclasses.dataclass(frozen=True)
class Owed:
    amount: Money
    balance: Money
    issue_date: date
    due_date: date
    paid_date: date | None
    status: str


@st.composite
def owed(draw: st.DrawFn, currency: str, statuses: list[str]) -> Owed:
    """Amount, balance, dates and status the format can hold: a void record owes
    nothing, and only a record paid in full has a paid date."""
    amount = Money(draw(st.integers(0, 10**9)), currency)
    status = draw(st.sampled_from(statuses))
    issue = draw(days)
    due = issue + timedelta(days=draw(st.integers(0, 120)))
    if status == "void":
        return Owed(amount, Money.zero(currency), issue, due, None, status)
    balance = Money(draw(st.integers(0, amount.amount_minor)), currency)
    paid_date = draw(st.none() | days) if balance.is_zero else None
    return Owed(amount, balance, issue, due, paid_date, status)


@st.composite
def bundles(draw: st.DrawFn) -> BooksBundle:
    unique_ids = st.lists(ids, unique=True, max_size=5)
    vendors = tuple(
        Vendor(
            vendor_id=VendorId(i),
            business_id=BIZ,
            name=draw(text),
            category=draw(text),
            payment_terms_days=draw(st.none() | st.integers(0, 365)),
            has_payment_details=draw(flags),
            is_critical=draw(flags),
            external_ref=draw(optional_text),
        )
        for i in draw(unique_ids)
    )
    customers = tuple(
        Customer(
            customer_id=CustomerId(i),
            business_id=BIZ,
            name=draw(text),
            email=draw(optional_text),
            external_ref=draw(optional_text),
        )
        for i in draw(unique_ids)
    )
    bills = []
    for i in draw(unique_ids) if vendors else []:
        o = draw(owed(draw(currencies), [s.value for s in BillStatus]))
        bills.append(
            Bill(
                bill_id=BillId(i),
                business_id=BIZ,
                vendor_id=draw(st.sampled_from(vendors)).vendor_id,
                amount=o.amount,
                balance=o.balance,
                issue_date=o.issue_date,
                due_date=draw(st.none() | st.just(o.due_date)),
                status=BillStatus(o.status),
                category=draw(text),
                memo=draw(st.just("") | text),
                recurring=draw(flags),
                prepared_by=draw(optional_text),
                paid_date=o.paid_date,
                external_ref=draw(optional_text),
            )
        )
    invoices = []
    for i in draw(unique_ids) if customers else []:
        o = draw(owed(draw(currencies), [s.value for s in InvoiceStatus]))
        invoices.append(
            Invoice(
                invoice_id=InvoiceId(i),
                business_id=BIZ,
                customer_id=draw(st.sampled_from(customers)).customer_id,
                amount=o.amount,
                balance=o.balance,
                issue_date=o.issue_date,
                due_date=o.due_date,
                status=InvoiceStatus(o.status),
                paid_date=o.paid_date,
                external_ref=draw(optional_text),
            )
        )
    accounts = tuple(
        BankAccount(
            account_id=BankAccountId(i),
            business_id=BIZ,
            name=draw(text),
            currency=draw(currencies),
            mask=draw(optional_text),
            external_ref=draw(optional_text),
        )
        for i in draw(unique_ids)
    )
    transactions = []
    balances = []
    if accounts:
        for i in draw(unique_ids):
            account = draw(st.sampled_from(accounts))
            transactions.append(
                BankTransaction(
                    transaction_id=BankTransactionId(i),
                    business_id=BIZ,
                    account_id=account.account_id,
                    amount=Money(draw(st.integers(-(10**9), 10**9)), account.currency),
                    posted_on=draw(days),
                    description=draw(st.just("") | text),
                    category=draw(text),
                    pending=draw(flags),
                    counterparty=draw(optional_text),
                    external_ref=draw(optional_text),
                    tags=tuple(draw(st.lists(text.filter(lambda t: ";" not in t), max_size=3))),
                )
            )
        instants = st.datetimes(
            min_value=datetime(2000, 1, 1), max_value=datetime(2035, 1, 1), timezones=st.just(UTC)
        )
        for account in accounts:
            for moment in draw(st.lists(instants, unique=True, max_size=3)):
                current = Money(draw(st.integers(-(10**9), 10**9)), account.currency)
                available = draw(st.none() | st.just(current))
                balances.append(Balance(account.account_id, BIZ, current, available, moment))
    return BooksBundle(
        vendors=vendors,
        customers=customers,
        bills=tuple(bills),
        invoices=tuple(invoices),
        bank_accounts=accounts,
        bank_transactions=tuple(transactions),
        balances=tuple(balances),
    )


@given(bundles())
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_whatever_the_writer_writes_reads_back_to_the_same_books(bundle: BooksBundle) -> None:
    with tempfile.TemporaryDirectory() as path:
        FOLDER.write(bundle, path)
        read, errors = FOLDER.read(path, BIZ)
    assert errors == ()
    assert read == bundle


def test_a_demo_business_reads_back_exactly(tmp_path: Path) -> None:
    data = generate_firm(clients=1, seed=3, today=date(2026, 11, 2)).records[0]
    bundle = BooksBundle(
        vendors=data.vendors,
        customers=data.customers,
        bills=data.bills,
        invoices=data.invoices,
        bank_accounts=data.bank_accounts,
        bank_transactions=data.bank_transactions,
        balances=data.balances,
    )
    assert bundle.bills and bundle.invoices and bundle.balances

    FOLDER.write(bundle, str(tmp_path / "books"))
    read, errors = FOLDER.read(str(tmp_path / "books"), data.business_id)

    assert errors == ()
    assert read == bundle


def test_writing_twice_replaces_the_files(tmp_path: Path) -> None:
    account = BankAccount(BankAccountId("a-1"), BIZ, "Operating")
    FOLDER.write(BooksBundle(bank_accounts=(account,)), str(tmp_path))
    FOLDER.write(BooksBundle(), str(tmp_path))

    read, _ = FOLDER.read(str(tmp_path), BIZ)

    assert read == BooksBundle()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [
            "vendors.csv",
            "customers.csv",
            "bills.csv",
            "invoices.csv",
            "payments.csv",
            "bank_accounts.csv",
            "bank_transactions.csv",
            "balances.csv",
        ]
    )


def test_a_record_the_format_cannot_hold_is_refused_and_nothing_is_written(
    tmp_path: Path,
) -> None:
    bill = Bill(
        bill_id=BillId("b-1"),
        business_id=BIZ,
        vendor_id=VendorId("v-1"),
        amount=Money(10_000, "USD"),
        balance=Money(4_000, "USD"),
        issue_date=date(2026, 1, 1),
        due_date=None,
        paid_date=date(2026, 1, 5),
    )
    vendor = Vendor(VendorId("v-1"), BIZ, "Northwind")

    with pytest.raises(InvalidInput, match="bill b-1 has a paid date"):
        FOLDER.write(BooksBundle(vendors=(vendor,), bills=(bill,)), str(tmp_path / "out"))

    assert not (tmp_path / "out").exists()


# -- reading what people write -----------------------------------------------------


def test_the_example_in_the_format_document_reads_as_it_says(tmp_path: Path) -> None:
    blocks = re.findall(r"`(\w+\.csv)`\n\n```csv\n(.*?)```", FORMATS.read_text(), re.S)
    assert len(blocks) == 8
    for name, body in blocks:
        (tmp_path / name).write_text(body, encoding="utf-8")

    read, errors = FOLDER.read(str(tmp_path), BIZ)

    assert errors == ()
    bills = {b.bill_id: b for b in read.bills}
    assert bills[BillId("bill-1")].balance == Money(0, "USD")
    assert bills[BillId("bill-1")].paid_date == date(2026, 10, 12)
    assert bills[BillId("bill-1")].status is BillStatus.PAID
    assert bills[BillId("bill-2")].balance == Money(80_000, "USD")
    assert bills[BillId("bill-2")].status is BillStatus.OPEN
    (invoice,) = read.invoices
    assert (invoice.balance, invoice.paid_date, invoice.status) == (
        Money(25_000, "USD"),
        None,
        InvoiceStatus.OPEN,
    )
    assert [t.is_outflow for t in read.bank_transactions] == [False, True]
    assert read.bank_transactions[1].tags == ("bill", "ach")
    assert read.customers[0].name == "Hale & Sons, LLC"
    assert read.balances[0].as_of == datetime(2026, 10, 12, 23, 59, tzinfo=UTC)


def test_payments_settle_balances_and_the_last_one_dates_a_paid_invoice(
    tmp_path: Path,
) -> None:
    path = folder(
        tmp_path,
        customers="id,name\nc-1,Hale\n",
        invoices=(
            "ID, Customer ID ,Amount,Currency,Issue Date,Due Date,Status\n"
            "i-1,c-1,100.00,usd,2026-01-01,2026-01-31,\n"
            "i-2,c-1,100.00,USD,2026-01-01,2026-01-31,\n"
            "i-3,c-1,100.00,USD,2026-01-01,2026-01-31,void\n"
            "i-4,c-1,100.00,USD,2026-01-01,2026-01-31,disputed\n"
        ),
        payments=(
            "id,kind,record_id,amount,currency,date\n"
            "p-1,invoice,i-1,60,USD,2026-02-10\n"
            "p-2,invoice,i-1,40.00,USD,2026-02-03\n"
            "p-3,invoice,i-2,25.5,USD,2026-02-01\n"
            "p-4,invoice,i-3,100,USD,2026-02-01\n"
            "p-5,invoice,i-4,100,USD,\n"
        ),
    )

    read, errors = FOLDER.read(path, BIZ)

    assert errors == ()
    got = {i.invoice_id: (i.balance.amount_minor, i.paid_date, i.status) for i in read.invoices}
    assert got == {
        "i-1": (0, date(2026, 2, 10), InvoiceStatus.PAID),
        "i-2": (7_450, None, InvoiceStatus.OPEN),
        "i-3": (0, None, InvoiceStatus.VOID),
        "i-4": (0, None, InvoiceStatus.DISPUTED),
    }


def test_bad_rows_are_named_by_file_and_row_and_the_rest_is_read(tmp_path: Path) -> None:
    path = folder(
        tmp_path,
        vendors="id,name\nv-1,Northwind\nv 2,Bad Id\nv-1,Again\n",
        bills=(
            "id,vendor_id,amount,currency,issue_date\n"
            "b-1,v-1,10.00,USD,2026-01-01\n"
            "\n"
            "b-2,v-1,10.001,USD,2026-01-01\n"
            "b-3,v-9,10.00,USD,2026-01-01\n"
            "b-4,v-1,ten,USD,2026-01-01\n"
            "b-5,v-1,10.00,USD,01/02/2026\n"
        ),
        payments=(
            "id,kind,record_id,amount,currency,date\n"
            "p-1,bill,b-1,6.00,USD,2026-01-02\n"
            "p-2,bill,b-1,6.00,USD,2026-01-03\n"
            "p-3,bill,b-2,1.00,USD,2026-01-03\n"
            "p-4,bill,b-1,1.00,EUR,2026-01-03\n"
            "p-1,bill,b-1,1.00,USD,2026-01-03\n"
        ),
        bank_transactions=(
            "id,account_id,amount,currency,posted_on,pending\n"
            "tx-1,acct-1,12.50,USD,2026-10-01,maybe\n"
            "tx-2,acct-1,12.50,EUR,2026-10-01,\n"
        ),
        balances=(
            "account_id,current,currency,as_of\n"
            "acct-1,100.00,USD,2026-10-01T12:00:00\n"
            "acct-1,100.00,USD,2026-10-01T12:00:00+00:00\n"
            "acct-1,101.00,USD,2026-10-01T14:00:00+02:00\n"
        ),
    )

    read, errors = FOLDER.read(path, BIZ)

    shown = [str(e) for e in errors]
    named = [e for e in errors if isinstance(e, BooksRowError)]
    assert len(named) == len(errors)
    assert [(e.file, e.row) for e in named] == [
        ("vendors.csv", 3),
        ("vendors.csv", 4),
        ("bills.csv", 4),
        ("bills.csv", 5),
        ("bills.csv", 6),
        ("bills.csv", 7),
        ("payments.csv", 3),
        ("payments.csv", 4),
        ("payments.csv", 5),
        ("payments.csv", 6),
        ("bank_transactions.csv", 2),
        ("bank_transactions.csv", 3),
        ("balances.csv", 2),
        ("balances.csv", 4),
    ]
    assert "vendors.csv row 4: vendor v-1 repeats row 2" in shown
    assert any("bills.csv row 4: amount '10.001'" in s for s in shown)
    assert "bills.csv row 5: vendor v-9 is not among the rows read from vendors.csv" in shown
    assert any(s.startswith("payments.csv row 3: pays 6.00 USD") for s in shown)
    assert any(s.startswith("payments.csv row 4: bill b-2 is not among") for s in shown)
    assert "balances.csv row 2" in shown[12] and "no UTC offset" in shown[12]
    assert "balances.csv row 4: balance of acct-1 at 2026-10-01T12:00:00+00:00" in shown[13]
    assert [b.bill_id for b in read.bills] == ["b-1"]
    assert read.bills[0].balance == Money(400, "USD")
    assert read.bank_transactions == ()
    assert len(read.balances) == 1


def test_a_folder_without_a_required_file_is_refused_naming_it(tmp_path: Path) -> None:
    for missing in REQUIRED_FILES:
        path = folder(tmp_path)
        (tmp_path / missing).unlink()
        with pytest.raises(MissingBooksFile, match=missing):
            FOLDER.read(path, BIZ)


def test_a_file_without_a_required_column_is_refused(tmp_path: Path) -> None:
    path = folder(tmp_path, bills="id,vendor_id,currency,issue_date\n")
    with pytest.raises(InvalidInput, match=r"bills\.csv lacks the column"):
        FOLDER.read(path, BIZ)


def test_a_path_that_is_not_a_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="is not a folder"):
        FOLDER.read(str(tmp_path / "nowhere"), BIZ)
