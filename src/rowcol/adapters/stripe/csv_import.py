"""Stripe Dashboard exports (CSV) → RowCol records, for firms without API access.

Two exports are read: Invoices (Billing → Invoices → Export) and Payouts (Balances →
Payouts → Export). Columns are found by name, ignoring case, spacing, order and any
extra columns; a byte-order mark is tolerated. A file missing a required column is
refused as a whole (`InvalidInput`); a bad row is reported with its row number and
skipped, so one typo does not lose the rest of the file. Row numbers count the header
as row 1, as a spreadsheet shows the file.

Amounts in these exports are decimals in major units ("96.22"), made exact `Money` or
refused; dates are UTC ("2022-01-04 02:59"), and RowCol keeps their calendar date.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Final, TypeVar

from rowcol.adapters.stripe.mapping import external_ref
from rowcol.core.domain.errors import InvalidInput
from rowcol.core.domain.ids import BusinessId, CustomerId, InvoiceId, check_id
from rowcol.core.domain.money import Money
from rowcol.core.domain.records import (
    Customer,
    Invoice,
    InvoiceStatus,
    Payout,
    PayoutStatus,
)
from rowcol.ports.ar_source import ARExportReader, ImportResult, RowError

T = TypeVar("T")


# Columns: the field RowCol reads -> the headers Stripe has used for it (normalised).
_INVOICE_COLUMNS: Final = {
    "id": ("id", "invoice id"),
    "customer": ("customer", "customer id"),
    "customer_name": ("customer name",),
    "customer_email": ("customer email",),
    "amount_due": ("amount due",),
    "amount_paid": ("amount paid",),
    "amount_remaining": ("amount remaining",),
    "currency": ("currency",),
    "status": ("status",),
    "date": ("date (utc)", "created (utc)", "date", "created"),
    "due_date": ("due date (utc)", "due date"),
    "paid_at": ("paid at (utc)", "paid at"),
}
_INVOICE_REQUIRED: Final = ("id", "customer", "amount_due", "currency", "status", "date")

_PAYOUT_COLUMNS: Final = {
    "id": ("id", "payout id"),
    "amount": ("amount",),
    "currency": ("currency",),
    "arrival_date": ("arrival date (utc)", "arrival date"),
    "status": ("status",),
}
_PAYOUT_REQUIRED: Final = ("id", "amount", "currency", "arrival_date", "status")

_INVOICE_STATUS: Final = {
    "draft": InvoiceStatus.OPEN,
    "open": InvoiceStatus.OPEN,
    "paid": InvoiceStatus.PAID,
    "void": InvoiceStatus.VOID,
    # Written off in Stripe, but still owed: it stays receivable.
    "uncollectible": InvoiceStatus.OPEN,
}
_PAYOUT_STATUS: Final = {status.value: status for status in PayoutStatus}

_THOUSANDS: Final = re.compile(r"^-?\d{1,3}(,\d{3})+(\.\d+)?$")

_HEADER_NAMES: Final = {
    "id": "id",
    "customer": "Customer",
    "amount_due": "Amount Due",
    "currency": "Currency",
    "status": "Status",
    "date": "Date (UTC)",
    "amount": "Amount",
    "arrival_date": "Arrival Date (UTC)",
}


class _RowProblem(Exception):
    pass


def _normalise(header: str) -> str:
    return " ".join(header.replace("\ufeff", "").strip().lower().split())


def _rows(
    text: str, columns: Mapping[str, Sequence[str]], required: Sequence[str], what: str
) -> Iterator[tuple[int, dict[str, str]]]:
    """(row number, {field: value}) for every non-blank data row."""
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff"), newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise InvalidInput(f"the {what} export is empty") from None
    except csv.Error as exc:
        raise InvalidInput(f"the {what} export is not a CSV file: {exc}") from None
    positions = {_normalise(name): index for index, name in reversed(list(enumerate(header)))}
    found: dict[str, int] = {}
    for name, aliases in columns.items():
        for alias in aliases:
            if alias in positions:
                found[name] = positions[alias]
                break
    absent = [_HEADER_NAMES.get(name, name) for name in required if name not in found]
    if absent:
        raise InvalidInput(
            f"this is not a Stripe {what} export: missing column(s) {', '.join(absent)}"
        )
    row = 1
    try:
        for cells in reader:
            row += 1
            if not any(cell.strip() for cell in cells):
                continue
            yield (
                row,
                {
                    name: cells[index].strip() if index < len(cells) else ""
                    for name, index in found.items()
                },
            )
    except csv.Error as exc:
        raise InvalidInput(f"the {what} export breaks off at row {row + 1}: {exc}") from None


def _required(values: Mapping[str, str], name: str, label: str) -> str:
    value = values.get(name, "")
    if not value:
        raise _RowProblem(f"{label} is empty")
    return value


def _currency(values: Mapping[str, str]) -> str:
    return _required(values, "currency", "Currency").upper()


def _amount(raw: str, currency: str, label: str) -> Money:
    text = raw.replace(" ", "")
    if _THOUSANDS.match(text):
        text = text.replace(",", "")
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise _RowProblem(f"{label} {raw!r} is not an amount") from None
    try:
        return Money.of(value, currency)
    except InvalidInput as exc:
        raise _RowProblem(f"{label} {raw!r}: {exc}") from None


def _date(raw: str, label: str) -> date:
    try:
        return datetime.fromisoformat(raw.strip()).date()
    except ValueError:
        raise _RowProblem(f"{label} {raw!r} is not a date") from None


def _id(raw: str, kind: str) -> str:
    try:
        return check_id(raw, kind)
    except InvalidInput as exc:
        raise _RowProblem(f"{kind} {raw!r}: {exc}") from None


def _collect(
    rows: Iterator[tuple[int, dict[str, str]]],
    build: Callable[[dict[str, str]], T],
    key: Callable[[T], str],
    kind: str,
) -> tuple[list[T], list[RowError]]:
    records: list[T] = []
    errors: list[RowError] = []
    first_row: dict[str, int] = {}
    for row, values in rows:
        try:
            record = build(values)
        except (_RowProblem, InvalidInput) as exc:
            errors.append(RowError(row, str(exc)))
            continue
        ident = key(record)
        if ident in first_row:
            errors.append(RowError(row, f"{kind} {ident} repeats row {first_row[ident]}"))
            continue
        first_row[ident] = row
        records.append(record)
    return records, errors


def import_invoices_csv(text: str, business_id: BusinessId) -> ImportResult:
    """Invoices, and the customers they name, from a Stripe invoices export."""
    customers: dict[str, Customer] = {}

    def build(values: dict[str, str]) -> Invoice:
        invoice_id = _id(_required(values, "id", "id"), "invoice id")
        customer_id = _id(_required(values, "customer", "Customer"), "customer id")
        currency = _currency(values)
        status_text = _required(values, "status", "Status").lower()
        status = _INVOICE_STATUS.get(status_text)
        if status is None:
            raise _RowProblem(f"Status {status_text!r} is not a Stripe invoice status")
        amount = _amount(_required(values, "amount_due", "Amount Due"), currency, "Amount Due")
        if status is not InvoiceStatus.OPEN:
            balance = Money.zero(currency)
        elif values.get("amount_remaining"):
            balance = _amount(values["amount_remaining"], currency, "Amount Remaining")
        elif values.get("amount_paid"):
            balance = amount - _amount(values["amount_paid"], currency, "Amount Paid")
        else:
            balance = amount
        issued = _date(_required(values, "date", "Date (UTC)"), "Date (UTC)")
        # Like the API: an invoice without a due date (charged automatically) falls due
        # when it is issued.
        due = _date(values["due_date"], "Due Date (UTC)") if values.get("due_date") else issued
        paid_at = values.get("paid_at")
        invoice = Invoice(
            invoice_id=InvoiceId(invoice_id),
            business_id=business_id,
            customer_id=CustomerId(customer_id),
            amount=amount,
            balance=balance,
            issue_date=issued,
            due_date=due,
            status=status,
            paid_date=_date(paid_at, "Paid At (UTC)")
            if status is InvoiceStatus.PAID and paid_at
            else None,
            external_ref=external_ref(invoice_id),
        )
        if customer_id not in customers:
            email = values.get("customer_email") or None
            customers[customer_id] = Customer(
                customer_id=CustomerId(customer_id),
                business_id=business_id,
                name=values.get("customer_name") or email or customer_id,
                email=email,
                external_ref=external_ref(customer_id),
            )
        return invoice

    rows = _rows(text, _INVOICE_COLUMNS, _INVOICE_REQUIRED, "invoices")
    invoices, errors = _collect(rows, build, lambda i: i.invoice_id, "invoice")
    named = {i.customer_id for i in invoices}
    return ImportResult(
        customers=tuple(c for c in customers.values() if c.customer_id in named),
        invoices=tuple(invoices),
        errors=tuple(errors),
    )


def import_payouts_csv(text: str, business_id: BusinessId) -> ImportResult:
    """Payouts from a Stripe payouts export."""

    def build(values: dict[str, str]) -> Payout:
        payout_id = _id(_required(values, "id", "id"), "payout id")
        currency = _currency(values)
        status_text = _required(values, "status", "Status").lower()
        status = _PAYOUT_STATUS.get(status_text)
        if status is None:
            raise _RowProblem(f"Status {status_text!r} is not a Stripe payout status")
        return Payout(
            payout_id=payout_id,
            business_id=business_id,
            amount=_amount(_required(values, "amount", "Amount"), currency, "Amount"),
            arrival_date=_date(
                _required(values, "arrival_date", "Arrival Date (UTC)"), "Arrival Date (UTC)"
            ),
            status=status,
            external_ref=external_ref(payout_id),
        )

    rows = _rows(text, _PAYOUT_COLUMNS, _PAYOUT_REQUIRED, "payouts")
    payouts, errors = _collect(rows, build, lambda p: p.payout_id, "payout")
    return ImportResult(payouts=tuple(payouts), errors=tuple(errors))


class StripeCsvReader(ARExportReader):
    """Stripe Dashboard exports through the `ARExportReader` port."""

    name = "Stripe"

    def read_invoices(self, text: str, business_id: BusinessId) -> ImportResult:
        return import_invoices_csv(text, business_id)

    def read_payouts(self, text: str, business_id: BusinessId) -> ImportResult:
        return import_payouts_csv(text, business_id)
