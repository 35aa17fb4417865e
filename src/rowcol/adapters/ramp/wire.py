"""Ramp's Developer API JSON as it arrives and as RowCol sends it: only the fields RowCol
uses. Unknown fields are ignored, so Ramp adding fields breaks nothing.

Bill amounts are `CurrencyAmount` objects in integer minor units; line-item amounts in a
create request are decimal strings in major units (the spec allows a string or a number,
and a string keeps them exact). Timestamps stay strings here and `mapping` parses them,
because Ramp mixes dates and date-times in fields typed as date-times.
"""

from __future__ import annotations

from typing import Any

import msgspec


class Wire(msgspec.Struct, forbid_unknown_fields=False):
    """Base for every Ramp payload RowCol reads."""


class Outgoing(msgspec.Struct, omit_defaults=True):
    """Base for request bodies: fields left at their default are not sent."""


# OAuth ------------------------------------------------------------------------------


class TokenResponse(Wire):
    access_token: str
    token_type: str = "Bearer"
    expires_in: int | None = None
    scope: str | None = None
    refresh_token: str | None = None


class TokenError(Wire):
    error: str | None = None
    error_description: str | None = None


# Errors -----------------------------------------------------------------------------


class ErrorV2(Wire):
    error_code: str | None = None
    message: str | None = None
    additional_info: Any = None
    notes: str | None = None


class ErrorBody(Wire):
    """`{"error_v2": {...}, "error": {...}}`; `error` is free-form (field → messages, or
    an OAuth error code string)."""

    error_v2: ErrorV2 | None = None
    error: Any = None


# Shared -----------------------------------------------------------------------------


class CurrencyAmount(Wire):
    amount: int
    currency_code: str = "USD"


class Page(Wire):
    next: str | None = None


# Bills ------------------------------------------------------------------------------


class BillVendor(Wire):
    id: str
    name: str = ""
    remote_id: str | None = None


class PaymentDetails(Wire):
    """One of Ramp's payment-details shapes (vendor, card or manual), flattened."""

    approval_status: str | None = None
    source_bank_account_id: str | None = None
    vendor_account_id: str | None = None
    manual_payment_method: str | None = None
    spend_limit_id: str | None = None


class TraceId(Wire):
    trace_id: str | None = None
    descriptor: str | None = None


class BillPayment(Wire):
    amount: CurrencyAmount | None = None
    payment_method: str | None = None
    payment_date: str | None = None
    effective_date: str | None = None
    details: PaymentDetails | None = None
    trace_id: TraceId | None = None


class BillLineItem(Wire):
    amount: CurrencyAmount | None = None
    memo: str | None = None


class Bill(Wire):
    id: str
    amount: CurrencyAmount
    status: str = "OPEN"
    approval_status: str | None = None
    vendor: BillVendor | None = None
    invoice_number: str | None = None
    remote_id: str | None = None
    memo: str | None = None
    entity_id: str | None = None
    vendor_contact_id: str | None = None
    issued_at: str | None = None
    due_at: str | None = None
    paid_at: str | None = None
    created_at: str | None = None
    archived_at: str | None = None
    payment: BillPayment | None = None
    line_items: list[BillLineItem] = msgspec.field(default_factory=list)


class BillPage(Wire):
    data: list[Bill]
    page: Page = msgspec.field(default_factory=Page)


class CreateLineItem(Outgoing):
    amount: str
    memo: str | None = None


class BankPaymentDetails(Outgoing):
    """Payment details for ACH, wires and international transfers."""

    payment_arrival_date: str
    source_bank_account_id: str
    vendor_account_id: str


class CreateBill(Outgoing):
    vendor_id: str
    vendor_contact_id: str
    entity_id: str
    invoice_number: str
    invoice_currency: str
    issued_at: str
    due_at: str
    payment_method: str
    line_items: list[CreateLineItem]
    payment_details: BankPaymentDetails | None = None
    remote_id: str | None = None
    memo: str | None = None


# Vendors ----------------------------------------------------------------------------


class Vendor(Wire):
    id: str
    name: str
    is_active: bool = True
    accounting_vendor_remote_id: str | None = None
    contacts: list[str] = msgspec.field(default_factory=list)
    country: str | None = None
    created_at: str | None = None
    sk_category_name: str | None = None


class VendorPage(Wire):
    data: list[Vendor]
    page: Page = msgspec.field(default_factory=Page)


class VendorContact(Wire):
    id: str
    is_default: bool = False
    email: str | None = None


class VendorContactPage(Wire):
    data: list[VendorContact]
    page: Page = msgspec.field(default_factory=Page)


class VendorAccount(Wire):
    id: str
    payment_method: str
    currency: str | None = None
    is_default: bool = False


class VendorAccountPage(Wire):
    data: list[VendorAccount]
    page: Page = msgspec.field(default_factory=Page)


# Entities ---------------------------------------------------------------------------


class EntityAccount(Wire):
    usage_type: str | None = None
    bank_account_id: str | None = None


class Entity(Wire):
    id: str
    currency: str | None = None
    is_primary: bool = False
    entity_name: str | None = None
    accounts: list[EntityAccount] = msgspec.field(default_factory=list)


class EntityPage(Wire):
    data: list[Entity]
    page: Page = msgspec.field(default_factory=Page)


# Webhooks ---------------------------------------------------------------------------


class CreateWebhook(Outgoing):
    endpoint_url: str
    event_types: list[str]


class VerifyWebhook(Outgoing):
    challenge: str


class WebhookSubscription(Wire):
    id: str
    status: str
    endpoint_url: str = ""
    event_types: list[str] = msgspec.field(default_factory=list)
    secret: str | None = None
    business_id: str | None = None


class SimpleSuccess(Wire):
    success: bool = True


class EventObject(Wire):
    id: str | None = None


class WebhookEnvelope(Wire):
    """`{id, type, created_at, business_id, object: {id}}`; the verification event also
    carries `challenge` (at the top, or inside `object`/`data` in other renderings)."""

    id: str
    type: str
    created_at: str | None = None
    business_id: str | None = None
    object: dict[str, Any] | None = None
    data: dict[str, Any] | None = None
    challenge: str | None = None
