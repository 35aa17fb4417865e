"""Records mirrored from the rails: vendors, customers, bills, invoices, bank data."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum

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
from rowcol.core.domain.time import require_utc


@dataclass(frozen=True, slots=True)
class Vendor:
    vendor_id: VendorId
    business_id: BusinessId
    name: str
    category: str = "general"
    payment_terms_days: int | None = 30
    has_payment_details: bool = True
    is_critical: bool = False
    external_ref: str | None = None


@dataclass(frozen=True, slots=True)
class Customer:
    customer_id: CustomerId
    business_id: BusinessId
    name: str
    email: str | None = None
    external_ref: str | None = None


class BillStatus(StrEnum):
    OPEN = "open"
    PAID = "paid"
    VOID = "void"


@dataclass(frozen=True, slots=True)
class Bill:
    bill_id: BillId
    business_id: BusinessId
    vendor_id: VendorId
    amount: Money
    balance: Money
    issue_date: date
    due_date: date | None
    status: BillStatus = BillStatus.OPEN
    category: str = "general"
    memo: str = ""
    recurring: bool = False
    prepared_by: str | None = None
    paid_date: date | None = None
    external_ref: str | None = None

    def __post_init__(self) -> None:
        if self.amount.is_negative:
            raise InvalidInput("a bill amount may not be negative")
        if self.balance.currency != self.amount.currency:
            raise InvalidInput("bill balance and amount must share a currency")
        if self.balance.is_negative or self.balance > self.amount:
            raise InvalidInput("bill balance must lie between zero and the amount")
        if self.due_date is not None and self.due_date < self.issue_date:
            raise InvalidInput("a bill cannot fall due before it was issued")


class InvoiceStatus(StrEnum):
    OPEN = "open"
    PAID = "paid"
    VOID = "void"
    DISPUTED = "disputed"


@dataclass(frozen=True, slots=True)
class Invoice:
    invoice_id: InvoiceId
    business_id: BusinessId
    customer_id: CustomerId
    amount: Money
    balance: Money
    issue_date: date
    due_date: date
    status: InvoiceStatus = InvoiceStatus.OPEN
    paid_date: date | None = None
    external_ref: str | None = None

    def __post_init__(self) -> None:
        if self.amount.is_negative:
            raise InvalidInput("an invoice amount may not be negative")
        if self.balance.currency != self.amount.currency:
            raise InvalidInput("invoice balance and amount must share a currency")
        if self.balance.is_negative or self.balance > self.amount:
            raise InvalidInput("invoice balance must lie between zero and the amount")
        if self.due_date < self.issue_date:
            raise InvalidInput("an invoice cannot fall due before it was issued")


@dataclass(frozen=True, slots=True)
class BankAccount:
    """A bank account as the bank (Plaid) or the books (QBO's bank account record) know it."""

    account_id: BankAccountId
    business_id: BusinessId
    name: str
    currency: str = "USD"
    mask: str | None = None
    external_ref: str | None = None
    books_balance: Money | None = None
    """The books' balance of the account (QBO's CurrentBalance) when the record comes from
    the books; a bank's own account has its balances as `Balance` records instead."""

    def __post_init__(self) -> None:
        if self.books_balance is not None and self.books_balance.currency != self.currency:
            raise InvalidInput("a books balance is in its account's currency")


@dataclass(frozen=True, slots=True)
class Balance:
    """A bank balance as seen at `as_of`; its age decides whether money may move."""

    account_id: BankAccountId
    business_id: BusinessId
    current: Money
    available: Money | None
    as_of: datetime

    def __post_init__(self) -> None:
        object.__setattr__(self, "as_of", require_utc(self.as_of))
        if self.available is not None and self.available.currency != self.current.currency:
            raise InvalidInput("available and current balance must share a currency")


@dataclass(frozen=True, slots=True)
class BankTransaction:
    """Positive amount = money out of the account (Plaid's sign), negative = money in."""

    transaction_id: BankTransactionId
    business_id: BusinessId
    account_id: BankAccountId
    amount: Money
    posted_on: date
    description: str
    category: str = "uncategorized"
    pending: bool = False
    counterparty: str | None = None
    external_ref: str | None = None
    tags: tuple[str, ...] = field(default_factory=tuple)

    @property
    def is_outflow(self) -> bool:
        return self.amount.amount_minor > 0


class PayoutStatus(StrEnum):
    PENDING = "pending"
    IN_TRANSIT = "in_transit"
    PAID = "paid"
    FAILED = "failed"
    CANCELED = "canceled"


@dataclass(frozen=True, slots=True)
class Payout:
    """Money a card processor sends to the business's bank (Stripe payouts)."""

    payout_id: str
    business_id: BusinessId
    amount: Money
    arrival_date: date
    status: PayoutStatus
    external_ref: str | None = None
