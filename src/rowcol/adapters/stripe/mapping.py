"""Stripe wire structs → RowCol records. Pure functions; money exactly.

Stripe ids are URL-safe, so they become RowCol's ids as they are; `external_ref` says
where an id came from (`stripe:<id>`). Stripe sends lower-case currencies and integer
minor units: the currency is upper-cased and the integer kept. Stripe stamps instants;
RowCol's records carry dates, taken as the UTC calendar date (as Stripe's own exports
label them).

`BalanceTransaction` and `Charge` are what payout reconciliation needs; they live here
until a domain module wants them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Final

from rowcol.adapters.stripe import wire
from rowcol.core.domain.errors import InvalidInput
from rowcol.core.domain.ids import BusinessId, CustomerId, InvoiceId, Rail
from rowcol.core.domain.money import Money
from rowcol.core.domain.records import (
    Customer,
    Invoice,
    InvoiceStatus,
    Payout,
    PayoutStatus,
)

_INVOICE_STATUS: Final = {
    "draft": InvoiceStatus.OPEN,
    "open": InvoiceStatus.OPEN,
    "paid": InvoiceStatus.PAID,
    "void": InvoiceStatus.VOID,
    # Written off in Stripe, but the customer still owes it: it stays receivable.
    "uncollectible": InvoiceStatus.OPEN,
}

_PAYOUT_STATUS: Final = {status.value: status for status in PayoutStatus}


@dataclass(frozen=True, slots=True)
class BalanceTransaction:
    """One movement of a Stripe balance. `amount` is gross and signed (into the balance
    positive, out of it, as payouts and refunds, negative); `net` = `amount` - `fee`."""

    transaction_id: str
    business_id: BusinessId
    amount: Money
    fee: Money
    net: Money
    type: str
    """Stripe's type: charge, payment, refund, payout, stripe_fee, adjustment, ..."""
    reporting_category: str
    source_id: str | None
    """The charge, refund or payout that moved the money."""
    status: str
    """`available` or `pending`."""
    available_on: date
    created_at: datetime
    description: str | None = None
    external_ref: str | None = None

    def __post_init__(self) -> None:
        if self.amount - self.fee != self.net:
            raise InvalidInput(f"balance transaction {self.transaction_id}: net != amount - fee")


@dataclass(frozen=True, slots=True)
class Charge:
    """A card (or other) payment taken through Stripe."""

    charge_id: str
    business_id: BusinessId
    amount: Money
    amount_captured: Money
    amount_refunded: Money
    status: str
    """`succeeded`, `pending` or `failed`."""
    paid: bool
    disputed: bool
    created_at: datetime
    customer_id: CustomerId | None = None
    payment_intent_id: str | None = None
    balance_transaction_id: str | None = None
    description: str | None = None
    external_ref: str | None = None

    def __post_init__(self) -> None:
        if self.amount.is_negative or self.amount_refunded > self.amount:
            raise InvalidInput(f"charge {self.charge_id}: refunds exceed the amount")


def external_ref(stripe_id: str) -> str:
    return f"{Rail.STRIPE.value}:{stripe_id}"


def money(amount_minor: int, currency: str) -> Money:
    return Money(amount_minor, currency.upper())


def utc_date(epoch_seconds: int) -> date:
    return datetime.fromtimestamp(epoch_seconds, UTC).date()


def utc_instant(epoch_seconds: int) -> datetime:
    return datetime.fromtimestamp(epoch_seconds, UTC)


def to_customer(business_id: BusinessId, customer: wire.Customer) -> Customer:
    return Customer(
        customer_id=CustomerId(customer.id),
        business_id=business_id,
        # A customer may be nameless in Stripe; the email, else the id, names it.
        name=customer.name or customer.email or customer.id,
        email=customer.email or None,
        external_ref=external_ref(customer.id),
    )


def to_invoice(business_id: BusinessId, invoice: wire.Invoice) -> Invoice:
    """`amount` is `amount_due` (what the customer was asked for, after credit applied)
    and `balance` is `amount_remaining`; a void invoice is owed nothing."""
    status = _INVOICE_STATUS.get(invoice.status or "")
    if status is None:
        raise InvalidInput(f"invoice {invoice.id} has unknown status {invoice.status!r}")
    customer = invoice.customer or invoice.customer_account
    if not customer:
        raise InvalidInput(f"invoice {invoice.id} names no customer")
    amount = money(invoice.amount_due, invoice.currency)
    balance = money(
        0 if status is InvoiceStatus.VOID else invoice.amount_remaining, amount.currency
    )
    issued = utc_date(invoice.created)
    # Stripe leaves `due_date` empty on invoices charged automatically: they fall due
    # when they are created.
    due = utc_date(invoice.due_date) if invoice.due_date is not None else issued
    paid_at = invoice.status_transitions.paid_at
    return Invoice(
        invoice_id=InvoiceId(invoice.id),
        business_id=business_id,
        customer_id=CustomerId(customer),
        amount=amount,
        balance=balance,
        issue_date=issued,
        due_date=max(due, issued),
        status=status,
        paid_date=utc_date(paid_at) if status is InvoiceStatus.PAID and paid_at else None,
        external_ref=external_ref(invoice.id),
    )


def to_payout(business_id: BusinessId, payout: wire.Payout) -> Payout:
    status = _PAYOUT_STATUS.get(payout.status)
    if status is None:
        raise InvalidInput(f"payout {payout.id} has unknown status {payout.status!r}")
    return Payout(
        payout_id=payout.id,
        business_id=business_id,
        amount=money(payout.amount, payout.currency),
        arrival_date=utc_date(payout.arrival_date),
        status=status,
        external_ref=external_ref(payout.id),
    )


def to_balance_transaction(
    business_id: BusinessId, txn: wire.BalanceTransaction
) -> BalanceTransaction:
    return BalanceTransaction(
        transaction_id=txn.id,
        business_id=business_id,
        amount=money(txn.amount, txn.currency),
        fee=money(txn.fee, txn.currency),
        net=money(txn.net, txn.currency),
        type=txn.type,
        reporting_category=txn.reporting_category or txn.type,
        source_id=txn.source,
        status=txn.status,
        available_on=utc_date(txn.available_on),
        created_at=utc_instant(txn.created),
        description=txn.description,
        external_ref=external_ref(txn.id),
    )


def to_charge(business_id: BusinessId, charge: wire.Charge) -> Charge:
    return Charge(
        charge_id=charge.id,
        business_id=business_id,
        amount=money(charge.amount, charge.currency),
        amount_captured=money(charge.amount_captured, charge.currency),
        amount_refunded=money(charge.amount_refunded, charge.currency),
        status=charge.status,
        paid=charge.paid,
        disputed=charge.disputed,
        created_at=utc_instant(charge.created),
        customer_id=CustomerId(charge.customer) if charge.customer else None,
        payment_intent_id=charge.payment_intent,
        balance_transaction_id=charge.balance_transaction,
        description=charge.description,
        external_ref=external_ref(charge.id),
    )
