"""A business's books as a folder of CSV files: the format of docs/formats.md.

Columns are found by name (case, spaces and order do not matter; extra columns are
ignored). A file missing a required column, or a required file missing, refuses the
whole folder (`InvalidInput`); a bad row is reported with its file and row number
(the header is row 1) and left out, together with whatever names it. Money is a decimal
in major units beside a currency, made exact or refused; dates are ISO 8601.

Structural cells (ids, amounts, dates, flags) are read with surrounding spaces removed;
free text (names, memos, descriptions) is kept exactly as written, so what the writer
writes reads back to the same records.
"""

from __future__ import annotations

import csv
import dataclasses
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Final, TypeVar

from rowcol.core.domain.errors import InvalidInput
from rowcol.core.domain.ids import (
    BankAccountId,
    BankTransactionId,
    BillId,
    BusinessId,
    CustomerId,
    InvoiceId,
    VendorId,
    check_id,
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
from rowcol.core.domain.time import require_utc
from rowcol.ports.ar_source import RowError
from rowcol.ports.books import BooksBundle, BooksFolder, BooksRowError, MissingBooksFile

T = TypeVar("T")

VENDORS: Final = "vendors.csv"
CUSTOMERS: Final = "customers.csv"
BILLS: Final = "bills.csv"
INVOICES: Final = "invoices.csv"
PAYMENTS: Final = "payments.csv"
BANK_ACCOUNTS: Final = "bank_accounts.csv"
BANK_TRANSACTIONS: Final = "bank_transactions.csv"
BALANCES: Final = "balances.csv"

REQUIRED_FILES: Final = (BANK_ACCOUNTS, BANK_TRANSACTIONS, BALANCES)
OPTIONAL_FILES: Final = (VENDORS, CUSTOMERS, BILLS, INVOICES, PAYMENTS)

# Every file's columns in the order the writer writes them; the required ones first.
COLUMNS: Final[dict[str, tuple[str, ...]]] = {
    VENDORS: (
        "id",
        "name",
        "category",
        "payment_terms_days",
        "has_payment_details",
        "is_critical",
        "external_ref",
    ),
    CUSTOMERS: ("id", "name", "email", "external_ref"),
    BILLS: (
        "id",
        "vendor_id",
        "amount",
        "currency",
        "issue_date",
        "due_date",
        "status",
        "category",
        "memo",
        "recurring",
        "prepared_by",
        "external_ref",
    ),
    INVOICES: (
        "id",
        "customer_id",
        "amount",
        "currency",
        "issue_date",
        "due_date",
        "status",
        "external_ref",
    ),
    PAYMENTS: ("id", "kind", "record_id", "amount", "currency", "date"),
    BANK_ACCOUNTS: ("id", "name", "currency", "mask", "external_ref"),
    BANK_TRANSACTIONS: (
        "id",
        "account_id",
        "amount",
        "currency",
        "posted_on",
        "description",
        "category",
        "pending",
        "counterparty",
        "external_ref",
        "tags",
    ),
    BALANCES: ("account_id", "current", "available", "currency", "as_of"),
}
REQUIRED_COLUMNS: Final[dict[str, tuple[str, ...]]] = {
    VENDORS: ("id", "name"),
    CUSTOMERS: ("id", "name"),
    BILLS: ("id", "vendor_id", "amount", "currency", "issue_date"),
    INVOICES: ("id", "customer_id", "amount", "currency", "issue_date", "due_date"),
    PAYMENTS: ("id", "kind", "record_id", "amount", "currency"),
    BANK_ACCOUNTS: ("id", "name", "currency"),
    BANK_TRANSACTIONS: ("id", "account_id", "amount", "currency", "posted_on"),
    BALANCES: ("account_id", "current", "currency", "as_of"),
}

TAG_SEPARATOR: Final = ";"
_TRUE: Final = frozenset({"true", "yes", "y", "1"})
_FALSE: Final = frozenset({"false", "no", "n", "0"})


class _RowProblem(Exception):
    pass


def _normalise(header: str) -> str:
    return "_".join(header.replace("\ufeff", "").strip().lower().replace("-", " ").split())


def _rows(folder: Path, name: str) -> Iterator[tuple[int, dict[str, str]]]:
    """(row number, {column: raw cell}) for every non-blank data row of a present file."""
    path = folder / name
    if not path.is_file():
        return
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        try:
            header = next(reader)
        except StopIteration:
            raise InvalidInput(f"{name} is empty: it needs at least a header row") from None
        except (csv.Error, UnicodeDecodeError) as exc:
            raise InvalidInput(f"{name} is not a UTF-8 CSV file: {exc}") from None
        positions = {_normalise(h): i for i, h in reversed(list(enumerate(header)))}
        absent = [c for c in REQUIRED_COLUMNS[name] if c not in positions]
        if absent:
            raise InvalidInput(f"{name} lacks the column(s) {', '.join(absent)}")
        found = {c: positions[c] for c in COLUMNS[name] if c in positions}
        row = 1
        try:
            for cells in reader:
                row += 1
                if not any(cell.strip() for cell in cells):
                    continue
                yield row, {c: cells[i] if i < len(cells) else "" for c, i in found.items()}
        except (csv.Error, UnicodeDecodeError) as exc:
            raise InvalidInput(f"{name} breaks off at row {row + 1}: {exc}") from None


# -- cells ------------------------------------------------------------------------


def _required(values: Mapping[str, str], column: str) -> str:
    value = values.get(column, "").strip()
    if not value:
        raise _RowProblem(f"{column} is empty")
    return value


def _text(values: Mapping[str, str], column: str, default: str = "") -> str:
    return values.get(column, "") or default


def _optional_text(values: Mapping[str, str], column: str) -> str | None:
    return values.get(column, "") or None


def _id(values: Mapping[str, str], column: str) -> str:
    raw = _required(values, column)
    try:
        return check_id(raw, column)
    except InvalidInput as exc:
        raise _RowProblem(f"{column} {raw!r}: {exc}") from None


def _currency(values: Mapping[str, str]) -> str:
    return _required(values, "currency").upper()


def _money(raw: str, currency: str, column: str) -> Money:
    try:
        value = Decimal(raw.strip())
    except InvalidOperation:
        raise _RowProblem(f"{column} {raw!r} is not an amount") from None
    try:
        return Money.of(value, currency)
    except InvalidInput as exc:
        raise _RowProblem(f"{column} {raw!r}: {exc}") from None


def _date(values: Mapping[str, str], column: str) -> date | None:
    raw = values.get(column, "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise _RowProblem(f"{column} {raw!r} is not a date (YYYY-MM-DD)") from None


def _required_date(values: Mapping[str, str], column: str) -> date:
    found = _date(values, column)
    if found is None:
        raise _RowProblem(f"{column} is empty")
    return found


def _instant(values: Mapping[str, str], column: str) -> datetime:
    raw = _required(values, column)
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise _RowProblem(f"{column} {raw!r} is not an ISO 8601 date and time") from None
    if moment.tzinfo is None:
        raise _RowProblem(f"{column} {raw!r} has no UTC offset (end it with Z or +00:00)")
    return require_utc(moment)


def _flag(values: Mapping[str, str], column: str, default: bool) -> bool:
    raw = values.get(column, "").strip().lower()
    if not raw:
        return default
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise _RowProblem(f"{column} {raw!r} is not true or false")


def _status(values: Mapping[str, str], allowed: Mapping[str, T]) -> T | None:
    raw = values.get("status", "").strip().lower()
    if not raw:
        return None
    if raw not in allowed:
        raise _RowProblem(f"status {raw!r} is not one of {', '.join(allowed)}")
    return allowed[raw]


# -- records ----------------------------------------------------------------------


def _collect(
    folder: Path,
    name: str,
    build: Callable[[dict[str, str]], T],
    key: Callable[[T], str],
    what: str,
    errors: list[RowError],
) -> list[tuple[int, T]]:
    """The file's readable records in order, each with its row; a repeated key is an
    error on the later row."""
    records: list[tuple[int, T]] = []
    first_row: dict[str, int] = {}
    for row, values in _rows(folder, name):
        try:
            record = build(values)
        except (_RowProblem, InvalidInput) as exc:
            errors.append(BooksRowError(row, str(exc), name))
            continue
        ident = key(record)
        if ident in first_row:
            errors.append(
                BooksRowError(row, f"{what} {ident} repeats row {first_row[ident]}", name)
            )
            continue
        first_row[ident] = row
        records.append((row, record))
    return records


def _known(ident: str, known: Collection[str], what: str, file: str) -> None:
    if ident not in known:
        raise _RowProblem(f"{what} {ident} is not among the rows read from {file}")


@dataclasses.dataclass(frozen=True, slots=True)
class _Payment:
    payment_id: str
    kind: str
    record_id: str
    amount: Money
    paid_on: date | None


@dataclasses.dataclass(slots=True)
class _Owed:
    """What has been paid of a bill or invoice while payments.csv is applied."""

    amount: Money
    paid: Money
    latest: date | None = None
    payments: int = 0

    def settled(self) -> tuple[Money, date | None, bool]:
        """(balance, paid date, paid in full by at least one payment)."""
        balance = self.amount - self.paid
        if not balance.is_zero:
            return balance, None, False
        return balance, self.latest, self.payments > 0


def _read(folder: Path, business_id: BusinessId) -> tuple[BooksBundle, tuple[RowError, ...]]:
    if not folder.is_dir():
        raise InvalidInput(f"{folder} is not a folder")
    for name in REQUIRED_FILES:
        if not (folder / name).is_file():
            raise MissingBooksFile(f"{folder} has no {name}, which the books format requires")
    errors: list[RowError] = []

    def vendor(v: dict[str, str]) -> Vendor:
        terms = v.get("payment_terms_days", "").strip()
        if terms and not (terms.isascii() and terms.isdigit()):
            raise _RowProblem(f"payment_terms_days {terms!r} is not a whole number of days")
        return Vendor(
            vendor_id=VendorId(_id(v, "id")),
            business_id=business_id,
            name=_required_text(v, "name"),
            category=_text(v, "category", "general"),
            payment_terms_days=int(terms) if terms else None,
            has_payment_details=_flag(v, "has_payment_details", True),
            is_critical=_flag(v, "is_critical", False),
            external_ref=_optional_text(v, "external_ref"),
        )

    vendors = [r for _, r in _collect(folder, VENDORS, vendor, _vendor_id, "vendor", errors)]
    vendor_ids = {v.vendor_id for v in vendors}

    def customer(v: dict[str, str]) -> Customer:
        return Customer(
            customer_id=CustomerId(_id(v, "id")),
            business_id=business_id,
            name=_required_text(v, "name"),
            email=_optional_text(v, "email"),
            external_ref=_optional_text(v, "external_ref"),
        )

    customers = [
        r for _, r in _collect(folder, CUSTOMERS, customer, _customer_id, "customer", errors)
    ]
    customer_ids = {c.customer_id for c in customers}

    # The status each row wrote, or None: an unwritten status follows from the payments.
    bill_status: dict[str, BillStatus | None] = {}

    def bill(v: dict[str, str]) -> Bill:
        ident = _id(v, "id")
        vendor_id = _id(v, "vendor_id")
        _known(vendor_id, vendor_ids, "vendor", VENDORS)
        currency = _currency(v)
        amount = _money(_required(v, "amount"), currency, "amount")
        status = _status(v, {s.value: s for s in BillStatus})
        made = Bill(
            bill_id=BillId(ident),
            business_id=business_id,
            vendor_id=VendorId(vendor_id),
            amount=amount,
            balance=amount,
            issue_date=_required_date(v, "issue_date"),
            due_date=_date(v, "due_date"),
            status=status or BillStatus.OPEN,
            category=_text(v, "category", "general"),
            memo=_text(v, "memo"),
            recurring=_flag(v, "recurring", False),
            prepared_by=_optional_text(v, "prepared_by"),
            external_ref=_optional_text(v, "external_ref"),
        )
        bill_status.setdefault(ident, status)
        return made

    bills = [r for _, r in _collect(folder, BILLS, bill, _bill_id, "bill", errors)]

    invoice_status: dict[str, InvoiceStatus | None] = {}

    def invoice(v: dict[str, str]) -> Invoice:
        ident = _id(v, "id")
        customer_id = _id(v, "customer_id")
        _known(customer_id, customer_ids, "customer", CUSTOMERS)
        currency = _currency(v)
        amount = _money(_required(v, "amount"), currency, "amount")
        status = _status(v, {s.value: s for s in InvoiceStatus})
        made = Invoice(
            invoice_id=InvoiceId(ident),
            business_id=business_id,
            customer_id=CustomerId(customer_id),
            amount=amount,
            balance=amount,
            issue_date=_required_date(v, "issue_date"),
            due_date=_required_date(v, "due_date"),
            status=status or InvoiceStatus.OPEN,
            external_ref=_optional_text(v, "external_ref"),
        )
        invoice_status.setdefault(ident, status)
        return made

    invoices = [r for _, r in _collect(folder, INVOICES, invoice, _invoice_id, "invoice", errors)]

    owed: dict[tuple[str, str], _Owed] = {}
    for b in bills:
        owed["bill", b.bill_id] = _Owed(b.amount, Money.zero(b.amount.currency))
    for i in invoices:
        owed["invoice", i.invoice_id] = _Owed(i.amount, Money.zero(i.amount.currency))

    def payment(v: dict[str, str]) -> _Payment:
        ident = _required(v, "id")
        kind = _required(v, "kind").lower()
        if kind not in ("bill", "invoice"):
            raise _RowProblem(f"kind {kind!r} is not bill or invoice")
        record_id = _required(v, "record_id")
        target = owed.get((kind, record_id))
        if target is None:
            raise _RowProblem(f"{kind} {record_id} is not among the rows read from {kind}s.csv")
        currency = _currency(v)
        amount = _money(_required(v, "amount"), currency, "amount")
        if amount.is_negative:
            raise _RowProblem("amount may not be negative (a refund is not a payment)")
        if currency != target.amount.currency:
            raise _RowProblem(
                f"paid in {currency}, but {kind} {record_id} is in {target.amount.currency}"
            )
        return _Payment(ident, kind, record_id, amount, _date(v, "date"))

    paid = _collect(folder, PAYMENTS, payment, _payment_key, "payment", errors)
    for row, p in paid:
        target = owed[p.kind, p.record_id]
        if target.paid + p.amount > target.amount:
            left = target.amount - target.paid
            message = f"pays {p.amount} where {p.kind} {p.record_id} has {left} left to pay"
            errors.append(BooksRowError(row, message, PAYMENTS))
            continue
        target.paid = target.paid + p.amount
        target.payments += 1
        if p.paid_on is not None and (target.latest is None or p.paid_on > target.latest):
            target.latest = p.paid_on

    applied_bills: list[Bill] = []
    for b in bills:
        written = bill_status[b.bill_id]
        if written is BillStatus.VOID:
            applied_bills.append(dataclasses.replace(b, balance=Money.zero(b.amount.currency)))
            continue
        balance, paid_date, done = owed["bill", b.bill_id].settled()
        status = written or (BillStatus.PAID if done else BillStatus.OPEN)
        applied_bills.append(
            dataclasses.replace(b, balance=balance, paid_date=paid_date, status=status)
        )

    applied_invoices: list[Invoice] = []
    for i in invoices:
        stated = invoice_status[i.invoice_id]
        if stated is InvoiceStatus.VOID:
            applied_invoices.append(dataclasses.replace(i, balance=Money.zero(i.amount.currency)))
            continue
        balance, paid_date, done = owed["invoice", i.invoice_id].settled()
        state = stated or (InvoiceStatus.PAID if done else InvoiceStatus.OPEN)
        applied_invoices.append(
            dataclasses.replace(i, balance=balance, paid_date=paid_date, status=state)
        )

    def bank_account(v: dict[str, str]) -> BankAccount:
        return BankAccount(
            account_id=BankAccountId(_id(v, "id")),
            business_id=business_id,
            name=_required_text(v, "name"),
            currency=_currency(v),
            mask=_optional_text(v, "mask"),
            external_ref=_optional_text(v, "external_ref"),
        )

    accounts = [
        r for _, r in _collect(folder, BANK_ACCOUNTS, bank_account, _account_id, "account", errors)
    ]
    currency_of = {a.account_id: a.currency for a in accounts}

    def account_currency(v: dict[str, str]) -> tuple[BankAccountId, str]:
        account_id = BankAccountId(_id(v, "account_id"))
        _known(account_id, currency_of, "account", BANK_ACCOUNTS)
        currency = _currency(v)
        if currency != currency_of[account_id]:
            raise _RowProblem(
                f"currency {currency}, but account {account_id} is in {currency_of[account_id]}"
            )
        return account_id, currency

    def bank_transaction(v: dict[str, str]) -> BankTransaction:
        ident = _id(v, "id")
        account_id, currency = account_currency(v)
        tags = v.get("tags", "")
        return BankTransaction(
            transaction_id=BankTransactionId(ident),
            business_id=business_id,
            account_id=account_id,
            amount=_money(_required(v, "amount"), currency, "amount"),
            posted_on=_required_date(v, "posted_on"),
            description=_text(v, "description"),
            category=_text(v, "category", "uncategorized"),
            pending=_flag(v, "pending", False),
            counterparty=_optional_text(v, "counterparty"),
            external_ref=_optional_text(v, "external_ref"),
            tags=tuple(tags.split(TAG_SEPARATOR)) if tags else (),
        )

    transactions = [
        r
        for _, r in _collect(
            folder, BANK_TRANSACTIONS, bank_transaction, _transaction_id, "transaction", errors
        )
    ]

    def bank_balance(v: dict[str, str]) -> Balance:
        account_id, currency = account_currency(v)
        available = v.get("available", "").strip()
        return Balance(
            account_id=account_id,
            business_id=business_id,
            current=_money(_required(v, "current"), currency, "current"),
            available=_money(available, currency, "available") if available else None,
            as_of=_instant(v, "as_of"),
        )

    balances = [
        r for _, r in _collect(folder, BALANCES, bank_balance, _balance_key, "balance of", errors)
    ]

    bundle = BooksBundle(
        vendors=tuple(vendors),
        customers=tuple(customers),
        bills=tuple(applied_bills),
        invoices=tuple(applied_invoices),
        bank_accounts=tuple(accounts),
        bank_transactions=tuple(transactions),
        balances=tuple(balances),
    )
    return bundle, tuple(sorted(errors, key=_error_order))


_FILE_ORDER: Final = {name: n for n, name in enumerate(COLUMNS)}


def _error_order(error: RowError) -> tuple[int, int]:
    return _FILE_ORDER.get(getattr(error, "file", ""), len(_FILE_ORDER)), error.row


def _vendor_id(v: Vendor) -> str:
    return v.vendor_id


def _customer_id(c: Customer) -> str:
    return c.customer_id


def _bill_id(b: Bill) -> str:
    return b.bill_id


def _invoice_id(i: Invoice) -> str:
    return i.invoice_id


def _account_id(a: BankAccount) -> str:
    return a.account_id


def _transaction_id(t: BankTransaction) -> str:
    return t.transaction_id


def _payment_key(p: _Payment) -> str:
    return p.payment_id


def _balance_key(b: Balance) -> str:
    return f"{b.account_id} at {b.as_of.isoformat()}"


def _required_text(values: Mapping[str, str], column: str) -> str:
    value = values.get(column, "")
    if not value.strip():
        raise _RowProblem(f"{column} is empty")
    return value


# -- writing ----------------------------------------------------------------------


def _amount(money: Money) -> str:
    return format(money.to_decimal(), "f")


def _opt(value: object | None) -> str:
    return "" if value is None else str(value)


def _bool(value: bool) -> str:
    return "true" if value else "false"


def _payment_row(
    kind: str,
    ident: str,
    amount: Money,
    balance: Money,
    paid_date: date | None,
    void: bool,
) -> list[str] | None:
    """The one payment that reproduces a record's balance and paid date, if any."""
    if void:
        if not balance.is_zero or paid_date is not None:
            raise InvalidInput(
                f"{kind} {ident} is void but has a balance or a paid date; the books "
                "format holds a void record as owing nothing"
            )
        return None
    paid = amount - balance
    if paid_date is not None and not balance.is_zero:
        raise InvalidInput(
            f"{kind} {ident} has a paid date but {balance} still to pay; the books format "
            "gives a paid date only to a record paid in full"
        )
    if paid.is_zero and paid_date is None:
        return None
    return [f"{kind}:{ident}", kind, ident, _amount(paid), paid.currency, _opt(paid_date)]


def _check_text(record: str, column: str, value: str | None, *, nullable: bool) -> None:
    if value is None:
        return
    if nullable and value == "":
        raise InvalidInput(f"{record}: an empty {column} would read back as none")
    if not nullable and not value.strip():
        raise InvalidInput(f"{record}: {column} may not be blank")


def _rows_for(bundle: BooksBundle) -> dict[str, list[list[str]]]:
    out: dict[str, list[list[str]]] = {name: [] for name in COLUMNS}
    for v in bundle.vendors:
        _check_text(f"vendor {v.vendor_id}", "name", v.name, nullable=False)
        _check_text(f"vendor {v.vendor_id}", "category", v.category, nullable=False)
        _check_text(f"vendor {v.vendor_id}", "external_ref", v.external_ref, nullable=True)
        out[VENDORS].append(
            [
                v.vendor_id,
                v.name,
                v.category,
                _opt(v.payment_terms_days),
                _bool(v.has_payment_details),
                _bool(v.is_critical),
                _opt(v.external_ref),
            ]
        )
    for c in bundle.customers:
        _check_text(f"customer {c.customer_id}", "name", c.name, nullable=False)
        _check_text(f"customer {c.customer_id}", "email", c.email, nullable=True)
        _check_text(f"customer {c.customer_id}", "external_ref", c.external_ref, nullable=True)
        out[CUSTOMERS].append([c.customer_id, c.name, _opt(c.email), _opt(c.external_ref)])
    for b in bundle.bills:
        _check_text(f"bill {b.bill_id}", "category", b.category, nullable=False)
        _check_text(f"bill {b.bill_id}", "prepared_by", b.prepared_by, nullable=True)
        _check_text(f"bill {b.bill_id}", "external_ref", b.external_ref, nullable=True)
        out[BILLS].append(
            [
                b.bill_id,
                b.vendor_id,
                _amount(b.amount),
                b.amount.currency,
                b.issue_date.isoformat(),
                _opt(b.due_date),
                b.status.value,
                b.category,
                b.memo,
                _bool(b.recurring),
                _opt(b.prepared_by),
                _opt(b.external_ref),
            ]
        )
        paid = _payment_row(
            "bill", b.bill_id, b.amount, b.balance, b.paid_date, b.status is BillStatus.VOID
        )
        if paid is not None:
            out[PAYMENTS].append(paid)
    for i in bundle.invoices:
        _check_text(f"invoice {i.invoice_id}", "external_ref", i.external_ref, nullable=True)
        out[INVOICES].append(
            [
                i.invoice_id,
                i.customer_id,
                _amount(i.amount),
                i.amount.currency,
                i.issue_date.isoformat(),
                i.due_date.isoformat(),
                i.status.value,
                _opt(i.external_ref),
            ]
        )
        paid = _payment_row(
            "invoice",
            i.invoice_id,
            i.amount,
            i.balance,
            i.paid_date,
            i.status is InvoiceStatus.VOID,
        )
        if paid is not None:
            out[PAYMENTS].append(paid)
    for a in bundle.bank_accounts:
        _check_text(f"bank account {a.account_id}", "name", a.name, nullable=False)
        _check_text(f"bank account {a.account_id}", "mask", a.mask, nullable=True)
        _check_text(f"bank account {a.account_id}", "external_ref", a.external_ref, nullable=True)
        out[BANK_ACCOUNTS].append(
            [a.account_id, a.name, a.currency, _opt(a.mask), _opt(a.external_ref)]
        )
    for t in bundle.bank_transactions:
        record = f"bank transaction {t.transaction_id}"
        _check_text(record, "category", t.category, nullable=False)
        _check_text(record, "counterparty", t.counterparty, nullable=True)
        _check_text(record, "external_ref", t.external_ref, nullable=True)
        if any(not tag or TAG_SEPARATOR in tag for tag in t.tags):
            raise InvalidInput(f"{record}: a tag may be neither empty nor hold {TAG_SEPARATOR!r}")
        out[BANK_TRANSACTIONS].append(
            [
                t.transaction_id,
                t.account_id,
                _amount(t.amount),
                t.amount.currency,
                t.posted_on.isoformat(),
                t.description,
                t.category,
                _bool(t.pending),
                _opt(t.counterparty),
                _opt(t.external_ref),
                TAG_SEPARATOR.join(t.tags),
            ]
        )
    for x in bundle.balances:
        out[BALANCES].append(
            [
                x.account_id,
                _amount(x.current),
                _amount(x.available) if x.available is not None else "",
                x.current.currency,
                x.as_of.isoformat(),
            ]
        )
    return out


def _write(bundle: BooksBundle, folder: Path) -> None:
    # Every row is made before any file is touched: a record the format cannot hold
    # leaves an existing folder as it was.
    tables = _rows_for(bundle)
    folder.mkdir(parents=True, exist_ok=True)
    for name, rows in tables.items():
        _write_file(folder / name, COLUMNS[name], rows)


def _write_file(path: Path, header: Sequence[str], rows: Iterable[Sequence[str]]) -> None:
    partial = path.with_name(path.name + ".partial")
    with partial.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    partial.replace(path)


class CsvBooksFolder(BooksFolder):
    """The books format on the local file system."""

    def read(self, path: str, business_id: BusinessId) -> tuple[BooksBundle, tuple[RowError, ...]]:
        return _read(Path(path), business_id)

    def write(self, bundle: BooksBundle, path: str) -> None:
        _write(bundle, Path(path))
