"""Ramp wire structs → RowCol's records and payment states. Pure functions; money exactly.

Ramp ids are UUIDs; a record's RowCol id is `ramp-<uuid>` and its `external_ref` is
`ramp:<uuid>`. A bill RowCol created carries RowCol's payment reference twice: in
`remote_id` (no length limit, the primary key for lookups) and in `invoice_number`
(at most 20 characters, so a longer reference goes there as a digest).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime
from typing import Final

from rowcol.adapters.ramp import wire
from rowcol.core.domain.ids import BillId, BusinessId, ExternalRef, Rail, VendorId
from rowcol.core.domain.money import Money
from rowcol.core.domain.records import Bill, BillStatus, Vendor
from rowcol.ports.payment_rail import RailPayment, RailPaymentStatus

ID_PREFIX: Final = "ramp-"
INVOICE_NUMBER_MAX: Final = 20
"""`invoice_number` is limited to 20 characters by Ramp's create-bill schema."""
_DIGEST_PREFIX: Final = "RC"


def domain_id(ramp_id: str) -> str:
    return f"{ID_PREFIX}{ramp_id}"


def external_ref(ramp_id: str) -> str:
    return str(ExternalRef(Rail.RAMP, ramp_id))


def invoice_number_for(reference: str) -> str:
    """The reference itself when it fits Ramp's 20 characters, else a stable digest."""
    if len(reference) <= INVOICE_NUMBER_MAX and reference.isascii() and reference.isprintable():
        return reference
    digest = hashlib.sha256(reference.encode("utf-8")).hexdigest()
    return (_DIGEST_PREFIX + digest)[:INVOICE_NUMBER_MAX]


def decimal_amount(amount: Money) -> str:
    """Major units as an exact decimal string (`Money(123456, "USD")` → `"1234.56"`)."""
    return str(amount.to_decimal())


def instant(text: str | None) -> datetime | None:
    """A Ramp timestamp or date as an aware UTC instant; a bare date is its UTC midnight,
    a naive timestamp is taken as UTC."""
    if not text:
        return None
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def day(text: str | None) -> date | None:
    """The calendar date Ramp meant: the date part as written, before any offset shift."""
    if not text:
        return None
    return date.fromisoformat(text[:10])


def money(amount: wire.CurrencyAmount) -> Money:
    """Raises InvalidMoney for a currency RowCol cannot hold exactly."""
    return Money(amount.amount, amount.currency_code)


def matches_reference(bill: wire.Bill, reference: str) -> bool:
    """Whether `bill` is the one RowCol created for `reference`: by remote_id, or by
    invoice_number when the remote_id has gone missing."""
    if bill.remote_id:
        return bill.remote_id == reference
    return bill.invoice_number == invoice_number_for(reference)


def payment_status(bill: wire.Bill) -> RailPaymentStatus:
    """Ramp's bill and approval states as RowCol's payment states.

    Archived (deleted) → canceled; PAID → paid; approval REJECTED → canceled and
    TERMINATED → failed; a payment-step approval that was refused → failed; OPEN and
    APPROVED → scheduled; anything still in approval → pending.
    """
    if bill.archived_at:
        return RailPaymentStatus.CANCELED
    if bill.status == "PAID":
        return RailPaymentStatus.PAID
    if bill.approval_status == "REJECTED":
        return RailPaymentStatus.CANCELED
    if bill.approval_status == "TERMINATED":
        return RailPaymentStatus.FAILED
    details = bill.payment.details if bill.payment is not None else None
    step = details.approval_status if details is not None else None
    if step in ("REJECTED", "TERMINATED"):
        return RailPaymentStatus.FAILED
    if bill.approval_status == "APPROVED" and step in (None, "APPROVED"):
        return RailPaymentStatus.SCHEDULED
    return RailPaymentStatus.PENDING


def to_rail_payment(bill: wire.Bill, reference: str | None = None) -> RailPayment:
    return RailPayment(
        reference=bill.remote_id or reference or bill.invoice_number or bill.id,
        rail_payment_id=bill.id,
        amount=money(bill.amount),
        status=payment_status(bill),
    )


def to_bill(business_id: BusinessId, bill: wire.Bill) -> Bill:
    """A Ramp bill as a RowCol bill: open bills owe their whole amount, paid ones nothing,
    archived ones are void."""
    amount = money(bill.amount)
    issued = day(bill.issued_at) or day(bill.created_at)
    if issued is None:
        raise ValueError(f"ramp bill {bill.id} has neither issued_at nor created_at")
    due = day(bill.due_at)
    if due is not None and due < issued:
        # A due date before the issue date is a data-entry slip in Ramp; unknown is
        # safer than a date RowCol would schedule against.
        due = None
    if bill.archived_at:
        status = BillStatus.VOID
    elif bill.status == "PAID":
        status = BillStatus.PAID
    else:
        status = BillStatus.OPEN
    return Bill(
        bill_id=BillId(domain_id(bill.id)),
        business_id=business_id,
        vendor_id=VendorId(domain_id(bill.vendor.id)) if bill.vendor else VendorId("ramp-unknown"),
        amount=amount,
        balance=amount if status is BillStatus.OPEN else Money.zero(amount.currency),
        issue_date=issued,
        due_date=due,
        status=status,
        memo=bill.memo or "",
        paid_date=day(bill.paid_at) if status is BillStatus.PAID else None,
        external_ref=external_ref(bill.id),
    )


def to_vendor(business_id: BusinessId, vendor: wire.Vendor) -> Vendor:
    return Vendor(
        vendor_id=VendorId(domain_id(vendor.id)),
        business_id=business_id,
        name=vendor.name,
        category=(vendor.sk_category_name or "general").lower(),
        payment_terms_days=None,
        external_ref=external_ref(vendor.id),
    )
