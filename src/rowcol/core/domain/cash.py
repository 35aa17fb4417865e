"""Cash position and simple runway from what the bank and the books say."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from rowcol.core.domain.money import Money, total
from rowcol.core.domain.records import (
    Balance,
    BankTransaction,
    Bill,
    BillStatus,
    Invoice,
    InvoiceStatus,
)


@dataclass(frozen=True, slots=True)
class CashPosition:
    cash: Money
    as_of: datetime | None
    age_seconds: int | None
    open_payables: Money
    overdue_payables: Money
    open_receivables: Money
    overdue_receivables: Money


def cash_position(
    balances: Iterable[Balance],
    bills: Iterable[Bill],
    invoices: Iterable[Invoice],
    *,
    currency: str,
    now: datetime,
) -> CashPosition:
    balances = [b for b in balances if b.current.currency == currency]
    as_of = min((b.as_of for b in balances), default=None)
    today = now.date()
    open_bills = [b for b in bills if b.status is BillStatus.OPEN]
    open_invoices = [
        i for i in invoices if i.status in (InvoiceStatus.OPEN, InvoiceStatus.DISPUTED)
    ]
    return CashPosition(
        cash=total((b.current for b in balances), currency),
        as_of=as_of,
        age_seconds=int((now - as_of).total_seconds()) if as_of else None,
        open_payables=total((b.balance for b in open_bills), currency),
        overdue_payables=total(
            (b.balance for b in open_bills if b.due_date and b.due_date < today), currency
        ),
        open_receivables=total((i.balance for i in open_invoices), currency),
        overdue_receivables=total(
            (i.balance for i in open_invoices if i.due_date < today), currency
        ),
    )


@dataclass(frozen=True, slots=True)
class Runway:
    average_weekly_outflow: Money
    average_weekly_inflow: Money
    weeks: int | None
    """Whole weeks the cash lasts at the recent net burn; None when cash is not shrinking."""
    days: int | None


def runway(
    cash: Money, transactions: Iterable[BankTransaction], *, today: date, weeks_back: int = 13
) -> Runway:
    """Net burn over the last `weeks_back` whole weeks (the current one excluded)."""
    start = today - timedelta(weeks=weeks_back)
    window = [t for t in transactions if start <= t.posted_on < today and not t.pending]
    outflow = total((t.amount for t in window if t.is_outflow), cash.currency)
    inflow = -total((t.amount for t in window if not t.is_outflow), cash.currency)
    weekly_out = outflow.split_evenly(weeks_back)[0]
    weekly_in = inflow.split_evenly(weeks_back)[0]
    burn_minor = outflow.amount_minor - inflow.amount_minor
    if burn_minor <= 0:
        return Runway(weekly_out, weekly_in, None, None)
    if cash.amount_minor <= 0:
        return Runway(weekly_out, weekly_in, 0, 0)
    days = cash.amount_minor * weeks_back * 7 // burn_minor
    return Runway(weekly_out, weekly_in, days // 7, days)
