"""Stripe Dashboard exports (invoices, payouts) read into RowCol records: exact money,
columns found by name, bad rows reported by number, wrong files refused."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rowcol.adapters.stripe import import_invoices_csv, import_payouts_csv
from rowcol.core.domain.errors import InvalidInput
from rowcol.core.domain.ids import BusinessId
from rowcol.core.domain.money import Money
from rowcol.core.domain.records import Customer, Invoice, InvoiceStatus, PayoutStatus

BIZ = BusinessId("biz-0001")
DATA = Path(__file__).parent / "data" / "stripe"


def export(rows: list[list[str]]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue()


INVOICE_HEADER = [
    "id",
    "Customer",
    "Customer Name",
    "Customer Email",
    "Amount Due",
    "Amount Paid",
    "Amount Remaining",
    "Currency",
    "Status",
    "Date (UTC)",
    "Due Date (UTC)",
    "Paid At (UTC)",
]


def invoice_row(**overrides: str) -> list[str]:
    values = {
        "id": "in_1",
        "Customer": "cus_1",
        "Customer Name": "Mesa Logistics",
        "Customer Email": "ap@mesa.example",
        "Amount Due": "100.00",
        "Amount Paid": "0.00",
        "Amount Remaining": "100.00",
        "Currency": "usd",
        "Status": "open",
        "Date (UTC)": "2026-10-01 09:30",
        "Due Date (UTC)": "2026-10-31 00:00",
        "Paid At (UTC)": "",
    } | overrides
    return [values[column] for column in INVOICE_HEADER]


# A real-looking export --------------------------------------------------------------------


def test_reads_a_dashboard_invoices_export_with_bom_crlf_and_extra_columns() -> None:
    text = (DATA / "invoices_export.csv").read_bytes().decode("utf-8")

    result = import_invoices_csv(text, BIZ)

    assert result.errors == ()
    invoices: dict[str, Invoice] = {i.invoice_id: i for i in result.invoices}
    paid = invoices["in_1QxA2bC3dE4fG5hI"]
    assert paid.amount == Money(3_902_17, "USD")
    assert paid.balance == Money(0, "USD")
    assert paid.status is InvoiceStatus.PAID
    assert (paid.issue_date, paid.due_date, paid.paid_date) == (
        date(2026, 6, 5),
        date(2026, 7, 20),
        date(2026, 8, 17),
    )
    assert paid.external_ref == "stripe:in_1QxA2bC3dE4fG5hI"
    partly = invoices["in_1QxA2bC3dE4fG5hJ"]
    assert (partly.amount, partly.balance) == (Money(1_250_50, "USD"), Money(1_000_00, "USD"))
    assert invoices["in_1QxA2bC3dE4fG5hK"].status is InvoiceStatus.OPEN  # uncollectible
    assert invoices["in_1QxA2bC3dE4fG5hK"].balance == Money(480_00, "USD")
    assert invoices["in_1QxA2bC3dE4fG5hL"].status is InvoiceStatus.VOID
    assert invoices["in_1QxA2bC3dE4fG5hL"].balance.is_zero
    draft = invoices["in_1QxA2bC3dE4fG5hM"]
    assert draft.status is InvoiceStatus.OPEN
    assert draft.due_date == draft.issue_date


def test_the_customers_named_by_the_invoices_come_once_each() -> None:
    text = (DATA / "invoices_export.csv").read_bytes().decode("utf-8")

    result = import_invoices_csv(text, BIZ)

    customers: dict[str, Customer] = {c.customer_id: c for c in result.customers}
    assert len(result.customers) == len(customers) == 3
    assert customers["cus_QXg1o8vcGmoR32"].name == "Mesa Logistics"
    assert customers["cus_QXg1o8vcGmoR32"].email == "ap@mesa-logistics.example"
    assert customers["cus_RZk2p9wdHnpS43"].email is None
    assert customers["cus_Tq7m3LxWvB8n21"].name == "billing@cedar.example"
    assert {c.business_id for c in result.customers} == {BIZ}
    assert all(c.external_ref == f"stripe:{c.customer_id}" for c in result.customers)


def test_reads_a_dashboard_payouts_export() -> None:
    text = (DATA / "payouts_export.csv").read_bytes().decode("utf-8")

    result = import_payouts_csv(text, BIZ)

    assert result.errors == ()
    assert [(p.payout_id, p.amount, p.arrival_date, p.status) for p in result.payouts] == [
        ("po_1KE3FRDSYPMwkcNz9SFKuaYd", Money(96_22, "USD"), date(2026, 10, 5), PayoutStatus.PAID),
        (
            "po_1KE3FRDSYPMwkcNz9SFKuaYe",
            Money(2_583_66, "USD"),
            date(2026, 10, 8),
            PayoutStatus.PAID,
        ),
        (
            "po_1KE3FRDSYPMwkcNz9SFKuaYf",
            Money(1_004_10, "USD"),
            date(2026, 11, 4),
            PayoutStatus.IN_TRANSIT,
        ),
    ]
    assert (result.invoices, result.customers) == ((), ())


# Columns ----------------------------------------------------------------------------------


def test_columns_are_found_by_name_in_any_order_and_case() -> None:
    header = [h.upper() for h in reversed(INVOICE_HEADER)]
    row = list(reversed(invoice_row(**{"Amount Due": "12.34", "Amount Remaining": "12.34"})))

    result = import_invoices_csv(export([header, row]), BIZ)

    assert result.errors == ()
    assert result.invoices[0].amount == Money(12_34, "USD")


def test_a_file_missing_required_columns_is_refused_naming_them() -> None:
    header = [h for h in INVOICE_HEADER if h not in ("Currency", "Status")]

    with pytest.raises(InvalidInput, match="missing column\\(s\\) Currency, Status"):
        import_invoices_csv(export([header]), BIZ)


def test_a_payouts_export_is_not_an_invoices_export() -> None:
    text = (DATA / "payouts_export.csv").read_bytes().decode("utf-8")

    with pytest.raises(InvalidInput, match="not a Stripe invoices export"):
        import_invoices_csv(text, BIZ)


def test_an_empty_file_is_refused() -> None:
    with pytest.raises(InvalidInput, match="empty"):
        import_payouts_csv("", BIZ)


def test_without_amount_remaining_the_balance_is_due_less_paid() -> None:
    header = [h for h in INVOICE_HEADER if h != "Amount Remaining"]
    row = invoice_row(**{"Amount Due": "100.00", "Amount Paid": "40.00"})
    row.pop(INVOICE_HEADER.index("Amount Remaining"))

    result = import_invoices_csv(export([header, row]), BIZ)

    assert result.invoices[0].balance == Money(60_00, "USD")


# Rows -------------------------------------------------------------------------------------


def test_bad_rows_are_reported_by_row_number_and_good_rows_kept() -> None:
    rows = [
        INVOICE_HEADER,
        invoice_row(id="in_good1"),
        invoice_row(id="in_cents", **{"Amount Due": "10.001"}),
        invoice_row(id="in_status", Status="pending"),
        [],
        invoice_row(id="in_date", **{"Date (UTC)": "yesterday"}),
        invoice_row(id="in_good1"),
        invoice_row(id="in_over", **{"Amount Remaining": "150.00"}),
        invoice_row(id="in_money", Currency="sek"),
        invoice_row(id="in_blank", Customer=""),
        invoice_row(id="in good2 with spaces"),
        invoice_row(id="in_good3"),
    ]

    result = import_invoices_csv(export(rows), BIZ)

    assert [i.invoice_id for i in result.invoices] == ["in_good1", "in_good3"]
    assert [e.row for e in result.errors] == [3, 4, 6, 7, 8, 9, 10, 11]
    messages = [e.message for e in result.errors]
    assert "more precision than USD allows" in messages[0]
    assert "'pending' is not a Stripe invoice status" in messages[1]
    assert "'yesterday' is not a date" in messages[2]
    assert "repeats row 2" in messages[3]
    assert "balance must lie between zero and the amount" in messages[4]
    assert "unsupported currency 'SEK'" in messages[5]
    assert "Customer is empty" in messages[6]
    assert str(result.errors[0]).startswith("row 3: ")


def test_bad_payout_rows_are_reported_and_good_ones_kept() -> None:
    rows = [
        ["Status", "id", "Currency", "Amount", "Arrival Date (UTC)", "Notes"],
        ["paid", "po_1", "usd", "10.00", "2026-10-05 00:00", "x"],
        ["lost", "po_2", "usd", "10.00", "2026-10-05 00:00", ""],
        ["paid", "po_3", "usd", "ten", "2026-10-05 00:00", ""],
        ["paid", "po_4", "jpy", "1500", "2026-10-05", ""],
    ]

    result = import_payouts_csv(export(rows), BIZ)

    assert [(p.payout_id, p.amount) for p in result.payouts] == [
        ("po_1", Money(10_00, "USD")),
        ("po_4", Money(1500, "JPY")),
    ]
    assert [e.row for e in result.errors] == [3, 4]


def test_a_short_row_reads_its_missing_cells_as_empty() -> None:
    row = invoice_row()[: INVOICE_HEADER.index("Due Date (UTC)")]

    result = import_invoices_csv(export([INVOICE_HEADER, row]), BIZ)

    assert result.errors == ()
    assert result.invoices[0].due_date == result.invoices[0].issue_date


@settings(max_examples=40, deadline=None)
@given(
    cents=st.integers(min_value=0, max_value=10**12),
    currency=st.sampled_from(["USD", "EUR", "JPY", "KWD"]),
)
def test_an_exported_amount_reads_back_as_exactly_the_same_money(cents: int, currency: str) -> None:
    money = Money(cents, currency)
    rows = [
        ["id", "Amount", "Currency", "Arrival Date (UTC)", "Status"],
        ["po_1", str(money.to_decimal()), currency.lower(), "2026-10-05 00:00", "paid"],
    ]

    result = import_payouts_csv(export(rows), BIZ)

    assert result.payouts[0].amount == money
    assert Decimal(rows[1][1]) == money.to_decimal()
