"""QBO wire records → RowCol's domain records: pure functions, money exact.

Ids: a QBO id is a numeric string unique per realm and entity; the domain id is
`qbo-<Id>` and the external reference `qbo:<Id>`. Domain records are already scoped by
business, so two realms may both have a `qbo-12`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Final

import msgspec

from rowcol.adapters.qbo.wire import (
    QboAccount,
    QboBill,
    QboBillPayment,
    QboCustomer,
    QboDeposit,
    QboInvoice,
    QboPayment,
    QboVendor,
    Ref,
)
from rowcol.core.domain.crossrail import LedgerDeposit
from rowcol.core.domain.ids import (
    BankAccountId,
    BillId,
    BusinessId,
    CustomerId,
    ExternalRef,
    InvoiceId,
    Rail,
    VendorId,
)
from rowcol.core.domain.money import Money
from rowcol.core.domain.records import (
    BankAccount,
    Bill,
    BillStatus,
    Customer,
    Invoice,
    InvoiceStatus,
    Vendor,
)
from rowcol.core.domain.time import require_utc

ID_PREFIX: Final = "qbo-"
BANK_ACCOUNT_TYPE: Final = "Bank"
_QBO_ID = re.compile(r"^[0-9]{1,40}$")
_DAYS_IN_TERMS = re.compile(r"(\d{1,4})")


# Ids ----------------------------------------------------------------------------------


def domain_id(qbo_id: str) -> str:
    return f"{ID_PREFIX}{qbo_id}"


def external_ref(qbo_id: str) -> str:
    return str(ExternalRef(Rail.QBO, qbo_id))


def qbo_id(record_id: str) -> str | None:
    """The QBO id inside a domain id (`qbo-130` → `130`), or None if it is not one."""
    if not record_id.startswith(ID_PREFIX):
        return None
    ident = record_id[len(ID_PREFIX) :]
    return ident if _QBO_ID.match(ident) else None


# Values -------------------------------------------------------------------------------


def money(amount: Decimal, currency: str) -> Money:
    """QBO money is a JSON decimal; it arrives as a Decimal and stays exact."""
    return Money.of(Decimal(str(amount)), currency)


def currency_of(ref: Ref | None, home_currency: str) -> str:
    """A record without CurrencyRef is in the company's home currency."""
    return ref.value if ref is not None and ref.value else home_currency


def parse_qbo_time(text: str) -> datetime:
    """QBO timestamps carry an offset (`2015-10-05T14:42:19-07:00`, webhooks also
    `-0700` or `Z` with nanoseconds); naive ones are taken as UTC."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def query_time(moment: datetime) -> str:
    """An instant for a query literal: whole seconds, UTC, explicit offset.

    QBO keeps whole seconds, so flooring `since` selects exactly the same records.
    """
    return require_utc(moment).replace(microsecond=0).isoformat()


def terms_days(ref: Ref | None) -> int | None:
    """Days of a vendor's payment terms, read from the TermRef's name.

    The TermRef names a Term ("Net 30", "Due on receipt"); its days are the number in
    the name, "due on receipt" is 0, and a name without a number gives None (unknown)
    rather than a guess.
    """
    if ref is None or not ref.name:
        return None
    name = ref.name.strip().lower()
    if "receipt" in name:
        return 0
    found = _DAYS_IN_TERMS.search(name)
    return int(found.group(1)) if found else None


def has_payment_details(vendor: QboVendor) -> bool:
    """Whether QBO holds enough to pay the vendor: a mailing address a check can go to
    (BillAddr with a street line), or bank details (VendorPaymentBankDetail).

    AcctNum does not count: it is the account number the vendor knows *us* by, not a
    way to pay them.
    """
    address = vendor.bill_addr
    if address is not None and (address.line1 or "").strip():
        return True
    return bool(vendor.vendor_payment_bank_detail)


# Records ------------------------------------------------------------------------------


def to_vendor(business_id: BusinessId, wire: QboVendor) -> Vendor:
    return Vendor(
        vendor_id=VendorId(domain_id(wire.id)),
        business_id=business_id,
        name=wire.display_name,
        payment_terms_days=terms_days(wire.term_ref),
        has_payment_details=has_payment_details(wire),
        external_ref=external_ref(wire.id),
    )


def to_customer(business_id: BusinessId, wire: QboCustomer) -> Customer:
    email = wire.primary_email_addr.address if wire.primary_email_addr else None
    return Customer(
        customer_id=CustomerId(domain_id(wire.id)),
        business_id=business_id,
        name=wire.display_name,
        email=email or None,
        external_ref=external_ref(wire.id),
    )


def to_bill(business_id: BusinessId, wire: QboBill, home_currency: str) -> Bill:
    """PAID when nothing is left to pay (Balance 0), else OPEN; QBO deletes bills
    rather than voiding them, so VOID never comes from here."""
    currency = currency_of(wire.currency_ref, home_currency)
    balance = money(wire.balance, currency)
    return Bill(
        bill_id=BillId(domain_id(wire.id)),
        business_id=business_id,
        vendor_id=VendorId(domain_id(wire.vendor_ref.value)),
        amount=money(wire.total_amt, currency),
        balance=balance,
        issue_date=wire.txn_date,
        due_date=wire.due_date,
        status=BillStatus.PAID if balance.is_zero else BillStatus.OPEN,
        memo=wire.private_note or "",
        external_ref=external_ref(wire.id),
    )


def to_invoice(business_id: BusinessId, wire: QboInvoice, home_currency: str) -> Invoice:
    """An invoice without DueDate is due on its TxnDate (QBO's "Due on receipt")."""
    currency = currency_of(wire.currency_ref, home_currency)
    balance = money(wire.balance, currency)
    return Invoice(
        invoice_id=InvoiceId(domain_id(wire.id)),
        business_id=business_id,
        customer_id=CustomerId(domain_id(wire.customer_ref.value)),
        amount=money(wire.total_amt, currency),
        balance=balance,
        issue_date=wire.txn_date,
        due_date=wire.due_date or wire.txn_date,
        status=InvoiceStatus.PAID if balance.is_zero else InvoiceStatus.OPEN,
        external_ref=external_ref(wire.id),
    )


def is_bank_account(wire: QboAccount) -> bool:
    return wire.account_type == BANK_ACCOUNT_TYPE


def to_bank_account(business_id: BusinessId, wire: QboAccount, home_currency: str) -> BankAccount:
    """QBO keeps no bank account number for QBO companies (BankNum is QuickBooks Desktop
    only), so there is no mask. CurrentBalance is the books' balance of the account."""
    currency = currency_of(wire.currency_ref, home_currency)
    return BankAccount(
        account_id=BankAccountId(domain_id(wire.id)),
        business_id=business_id,
        name=wire.name,
        currency=currency,
        external_ref=external_ref(wire.id),
        books_balance=None
        if wire.current_balance is None
        else Money.of(wire.current_balance, currency),
    )


@dataclass(frozen=True, slots=True)
class PaidBill:
    """The part of a bill payment applied to one bill."""

    bill_id: BillId
    amount: Money


@dataclass(frozen=True, slots=True)
class LedgerBillPayment:
    """A BillPayment recorded in the books: money paid to a vendor against bills."""

    payment_id: str
    business_id: BusinessId
    vendor_id: VendorId
    amount: Money
    paid_on: date
    pay_type: str | None
    bills: tuple[PaidBill, ...]
    doc_number: str | None = None
    memo: str = ""
    external_ref: str | None = None


@dataclass(frozen=True, slots=True)
class PaidInvoice:
    """The part of a customer payment applied to one invoice."""

    invoice_id: InvoiceId
    amount: Money


@dataclass(frozen=True, slots=True)
class LedgerPayment:
    """A Payment recorded in the books: money received from a customer for invoices."""

    payment_id: str
    business_id: BusinessId
    customer_id: CustomerId
    amount: Money
    received_on: date
    invoices: tuple[PaidInvoice, ...]
    reference: str | None = None
    memo: str = ""
    external_ref: str | None = None


def to_bill_payment(
    business_id: BusinessId, wire: QboBillPayment, home_currency: str
) -> LedgerBillPayment:
    currency = currency_of(wire.currency_ref, home_currency)
    bills = tuple(
        PaidBill(BillId(domain_id(link.txn_id)), money(line.amount or Decimal(0), currency))
        for line in wire.line
        for link in line.linked_txn
        if link.txn_type == "Bill"
    )
    return LedgerBillPayment(
        payment_id=domain_id(wire.id),
        business_id=business_id,
        vendor_id=VendorId(domain_id(wire.vendor_ref.value)),
        amount=money(wire.total_amt, currency),
        paid_on=wire.txn_date,
        pay_type=wire.pay_type,
        bills=bills,
        doc_number=wire.doc_number,
        memo=wire.private_note or "",
        external_ref=external_ref(wire.id),
    )


def to_payment(business_id: BusinessId, wire: QboPayment, home_currency: str) -> LedgerPayment:
    currency = currency_of(wire.currency_ref, home_currency)
    invoices = tuple(
        PaidInvoice(InvoiceId(domain_id(link.txn_id)), money(line.amount or Decimal(0), currency))
        for line in wire.line
        for link in line.linked_txn
        if link.txn_type == "Invoice"
    )
    return LedgerPayment(
        payment_id=domain_id(wire.id),
        business_id=business_id,
        customer_id=CustomerId(domain_id(wire.customer_ref.value)),
        amount=money(wire.total_amt, currency),
        received_on=wire.txn_date,
        invoices=invoices,
        reference=wire.payment_ref_num,
        memo=wire.private_note or "",
        external_ref=external_ref(wire.id),
    )


def is_money_in(wire: QboDeposit) -> bool:
    """A deposit whose cash back exceeds its lines nets money out of the bank; it is
    not a deposit in RowCol's sense."""
    return wire.total_amt >= 0


def to_deposit(business_id: BusinessId, wire: QboDeposit, home_currency: str) -> LedgerDeposit:
    currency = currency_of(wire.currency_ref, home_currency)
    return LedgerDeposit(
        deposit_id=domain_id(wire.id),
        business_id=business_id,
        amount=money(wire.total_amt, currency),
        deposited_on=wire.txn_date,
        memo=wire.private_note or "",
    )


# Change data capture -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DeletedRecord:
    """An object QBO reports as deleted (CDC `status: Deleted`)."""

    entity: str
    record_id: str
    external_ref: str
    deleted_at: datetime | None


@dataclass(frozen=True, slots=True)
class LedgerChanges:
    """Everything CDC reported changed since a moment.

    `as_of` is QBO's own clock at the answer: the next `since`, so no change slips
    between our clock and theirs. `truncated` means QBO hit its 1,000-object cap and
    some changes are missing: list everything instead.
    """

    since: datetime
    as_of: datetime | None
    vendors: tuple[Vendor, ...] = ()
    customers: tuple[Customer, ...] = ()
    bills: tuple[Bill, ...] = ()
    invoices: tuple[Invoice, ...] = ()
    bank_accounts: tuple[BankAccount, ...] = ()
    bill_payments: tuple[LedgerBillPayment, ...] = ()
    payments: tuple[LedgerPayment, ...] = ()
    deleted: tuple[DeletedRecord, ...] = ()
    truncated: bool = False


# Faults -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FaultInfo:
    code: str | None
    message: str


def _field(mapping: dict[str, Any], name: str) -> Any:
    """QBO spells Fault/Error/Message in PascalCase, except on 401s (fault/error/message)."""
    for key, value in mapping.items():
        if key.lower() == name:
            return value
    return None


def read_fault(body: bytes) -> FaultInfo | None:
    """The first error of a QBO Fault body, in either spelling; None if it is not one."""
    try:
        data = msgspec.json.decode(body)
    except msgspec.DecodeError:
        return None
    if not isinstance(data, dict):
        return None
    fault = _field(data, "fault")
    if not isinstance(fault, dict):
        return None
    errors = _field(fault, "error")
    first = errors[0] if isinstance(errors, list) and errors else errors
    if not isinstance(first, dict):
        kind = _field(fault, "type")
        return FaultInfo(None, str(kind) if kind else "QBO fault")
    message = _field(first, "message")
    detail = _field(first, "detail")
    code = _field(first, "code")
    text = str(message or "QBO fault")
    if detail and str(detail) != text:
        text = f"{text}: {detail}"
    return FaultInfo(str(code) if code is not None else None, text)
