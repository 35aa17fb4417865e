"""A/P execution (Ramp): receives bills RowCol approved and pays them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Protocol

from rowcol.core.domain.ids import BillId, BusinessId, VendorId
from rowcol.core.domain.money import Money


class RailPaymentStatus(StrEnum):
    PENDING = "pending"
    SCHEDULED = "scheduled"
    PAID = "paid"
    FAILED = "failed"
    CANCELED = "canceled"


@dataclass(frozen=True, slots=True)
class PaymentRequest:
    """`reference` is RowCol's own id for the payment, stored before the rail is called;
    a retry looks it up first, since the rail takes no idempotency key."""

    reference: str
    business_id: BusinessId
    bill_id: BillId
    vendor_id: VendorId
    amount: Money
    pay_on: date
    due_on: date | None = None
    """The bill's own due date, which the rail's copy carries (default: `pay_on`)."""


@dataclass(frozen=True, slots=True)
class RailPayment:
    reference: str
    rail_payment_id: str
    amount: Money
    status: RailPaymentStatus


@dataclass(frozen=True, slots=True)
class RailBill:
    """A bill RowCol sent to the rail, as the rail now holds it."""

    rail_bill_id: str
    reference: str
    vendor: str
    """The books' vendor id when the rail knows it, else the vendor's name there."""
    amount: Money
    due_date: date | None
    status: RailPaymentStatus


class PaymentRail(Protocol):
    async def submit_payment(self, request: PaymentRequest) -> RailPayment:
        """Raises OutcomeUnknown when the answer is lost; Rejected when refused."""
        ...

    async def find_payment(self, business_id: BusinessId, reference: str) -> RailPayment | None: ...

    async def payment_status(
        self, business_id: BusinessId, rail_payment_id: str
    ) -> RailPayment: ...

    async def list_sent(self, business_id: BusinessId) -> Sequence[RailBill]:
        """Every bill the rail holds that RowCol sent (it carries RowCol's reference),
        cancelled ones included, for checking it against the books."""
        ...
