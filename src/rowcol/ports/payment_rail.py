"""A/P execution (Ramp): receives bills RowCol approved and pays them."""

from __future__ import annotations

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


@dataclass(frozen=True, slots=True)
class RailPayment:
    reference: str
    rail_payment_id: str
    amount: Money
    status: RailPaymentStatus


class PaymentRail(Protocol):
    async def submit_payment(self, request: PaymentRequest) -> RailPayment:
        """Raises OutcomeUnknown when the answer is lost; Rejected when refused."""
        ...

    async def find_payment(self, business_id: BusinessId, reference: str) -> RailPayment | None: ...

    async def payment_status(
        self, business_id: BusinessId, rail_payment_id: str
    ) -> RailPayment: ...
