"""Wire shapes of the HTTP API (msgspec), and the mapping from domain values."""

from __future__ import annotations

from datetime import date, datetime

import msgspec

from rowcol.core.domain.audit import AuditEvent
from rowcol.core.domain.cash import CashPosition, Runway
from rowcol.core.domain.money import Money
from rowcol.core.domain.records import BankAccount, BankTransaction, Bill, Customer, Invoice, Vendor
from rowcol.core.domain.tenancy import Advisor, StaffUser
from rowcol.core.services.client_records import ClientSummary
from rowcol.core.services.clients import ClientView


class Strict(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Requests refuse fields they do not know, so a typo is an error, not a no-op."""


class AddClient(Strict):
    name: str = msgspec.field()
    currency: str = "USD"
    timezone: str = "America/New_York"


class MoneyOut(msgspec.Struct):
    amount_minor: int
    currency: str
    display: str

    @classmethod
    def of(cls, money: Money) -> MoneyOut:
        return cls(money.amount_minor, money.currency, money.format())


class AdvisorOut(msgspec.Struct):
    advisor_id: str
    firm_id: str
    email: str
    name: str
    runway_tier: str
    feature_flags: dict[str, bool]
    features: list[str]

    @classmethod
    def of(cls, advisor: Advisor, features: list[str]) -> AdvisorOut:
        return cls(
            advisor.advisor_id,
            advisor.firm_id,
            advisor.email,
            advisor.name,
            advisor.runway_tier.value,
            dict(advisor.feature_flags),
            features,
        )


class StaffOut(msgspec.Struct):
    user_id: str
    email: str
    name: str
    role: str

    @classmethod
    def of(cls, user: StaffUser) -> StaffOut:
        return cls(user.user_id, user.email, user.name, user.role.value)


class ClientOut(msgspec.Struct):
    client_id: str
    business_id: str
    advisor_id: str
    name: str
    currency: str
    timezone: str
    added_at: datetime

    @classmethod
    def of(cls, view: ClientView) -> ClientOut:
        return cls(
            view.client.client_id,
            view.business.business_id,
            view.client.advisor_id,
            view.business.name,
            view.business.currency,
            view.business.timezone,
            view.client.created_at,
        )


class BalanceOut(msgspec.Struct):
    account_id: str
    current: MoneyOut
    available: MoneyOut | None
    as_of: datetime


class PositionOut(msgspec.Struct):
    cash: MoneyOut
    cash_as_of: datetime | None
    cash_age_seconds: int | None
    open_payables: MoneyOut
    overdue_payables: MoneyOut
    open_receivables: MoneyOut
    overdue_receivables: MoneyOut

    @classmethod
    def of(cls, p: CashPosition) -> PositionOut:
        return cls(
            MoneyOut.of(p.cash),
            p.as_of,
            p.age_seconds,
            MoneyOut.of(p.open_payables),
            MoneyOut.of(p.overdue_payables),
            MoneyOut.of(p.open_receivables),
            MoneyOut.of(p.overdue_receivables),
        )


class ClientSummaryOut(msgspec.Struct):
    business_id: str
    name: str
    position: PositionOut
    balances: list[BalanceOut]
    counts: dict[str, int]

    @classmethod
    def of(cls, s: ClientSummary) -> ClientSummaryOut:
        return cls(
            s.business.business_id,
            s.business.name,
            PositionOut.of(s.position),
            [
                BalanceOut(
                    b.account_id,
                    MoneyOut.of(b.current),
                    MoneyOut.of(b.available) if b.available else None,
                    b.as_of,
                )
                for b in s.balances
            ],
            s.counts,
        )


class RunwayOut(msgspec.Struct):
    average_weekly_outflow: MoneyOut
    average_weekly_inflow: MoneyOut
    runway_weeks: int | None
    runway_days: int | None

    @classmethod
    def of(cls, r: Runway) -> RunwayOut:
        return cls(
            MoneyOut.of(r.average_weekly_outflow),
            MoneyOut.of(r.average_weekly_inflow),
            r.weeks,
            r.days,
        )


class BillOut(msgspec.Struct):
    bill_id: str
    vendor_id: str
    amount: MoneyOut
    balance: MoneyOut
    issue_date: date
    due_date: date | None
    status: str
    category: str
    memo: str
    paid_date: date | None

    @classmethod
    def of(cls, b: Bill) -> BillOut:
        return cls(
            b.bill_id,
            b.vendor_id,
            MoneyOut.of(b.amount),
            MoneyOut.of(b.balance),
            b.issue_date,
            b.due_date,
            b.status.value,
            b.category,
            b.memo,
            b.paid_date,
        )


class InvoiceOut(msgspec.Struct):
    invoice_id: str
    customer_id: str
    amount: MoneyOut
    balance: MoneyOut
    issue_date: date
    due_date: date
    status: str
    paid_date: date | None

    @classmethod
    def of(cls, i: Invoice) -> InvoiceOut:
        return cls(
            i.invoice_id,
            i.customer_id,
            MoneyOut.of(i.amount),
            MoneyOut.of(i.balance),
            i.issue_date,
            i.due_date,
            i.status.value,
            i.paid_date,
        )


class VendorOut(msgspec.Struct):
    vendor_id: str
    name: str
    category: str
    payment_terms_days: int | None
    has_payment_details: bool
    is_critical: bool

    @classmethod
    def of(cls, v: Vendor) -> VendorOut:
        return cls(
            v.vendor_id,
            v.name,
            v.category,
            v.payment_terms_days,
            v.has_payment_details,
            v.is_critical,
        )


class CustomerOut(msgspec.Struct):
    customer_id: str
    name: str
    email: str | None

    @classmethod
    def of(cls, c: Customer) -> CustomerOut:
        return cls(c.customer_id, c.name, c.email)


class BankAccountOut(msgspec.Struct):
    account_id: str
    name: str
    currency: str
    mask: str | None

    @classmethod
    def of(cls, a: BankAccount) -> BankAccountOut:
        return cls(a.account_id, a.name, a.currency, a.mask)


class BankTransactionOut(msgspec.Struct):
    transaction_id: str
    account_id: str
    amount: MoneyOut
    posted_on: date
    description: str
    category: str
    pending: bool
    counterparty: str | None

    @classmethod
    def of(cls, t: BankTransaction) -> BankTransactionOut:
        return cls(
            t.transaction_id,
            t.account_id,
            MoneyOut.of(t.amount),
            t.posted_on,
            t.description,
            t.category,
            t.pending,
            t.counterparty,
        )


class AuditEventOut(msgspec.Struct):
    seq: int
    at: datetime
    actor: str
    action: str
    subject: str
    before: object
    after: object
    hash: str

    @classmethod
    def of(cls, e: AuditEvent) -> AuditEventOut:
        return cls(e.seq, e.at, e.actor, e.action, e.subject, e.before, e.after, e.hash)


class TransactionsPage(msgspec.Struct):
    items: list[BankTransactionOut]
    total: int
    offset: int
    limit: int
