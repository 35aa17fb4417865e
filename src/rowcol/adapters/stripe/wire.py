"""Stripe's JSON as it arrives: only the fields RowCol reads; unknown fields are ignored.

Amounts are integers in the currency's minor units, currencies lower-case ISO codes, and
instants Unix seconds, as Stripe sends them. The invoice is the shape of API version
2025-03-31.basil and later: whether it is paid is its `status`, there is no `paid` flag.
Expandable references (`customer`, `source`, ...) arrive as ids because RowCol never asks
Stripe to expand them.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

import msgspec


class Wire(msgspec.Struct, forbid_unknown_fields=False):
    """Base for every Stripe payload."""


T = TypeVar("T", bound=Wire)


class ApiError(Wire):
    type: str = "api_error"
    code: str | None = None
    message: str | None = None
    param: str | None = None
    decline_code: str | None = None
    doc_url: str | None = None


class ErrorBody(Wire):
    error: ApiError


class Page(Wire, Generic[T]):
    """A list envelope: `{"object": "list", "data": [...], "has_more": ..., "url": ...}`."""

    data: list[T]
    has_more: bool
    object: str = "list"
    url: str = ""


class Customer(Wire):
    id: str
    created: int = 0
    name: str | None = None
    email: str | None = None
    description: str | None = None
    currency: str | None = None
    deleted: bool = False
    metadata: dict[str, str] = msgspec.field(default_factory=dict)


class StatusTransitions(Wire):
    finalized_at: int | None = None
    paid_at: int | None = None
    voided_at: int | None = None
    marked_uncollectible_at: int | None = None


class Invoice(Wire):
    id: str
    currency: str
    created: int
    amount_due: int
    amount_paid: int
    amount_remaining: int
    status: str | None = None
    """draft, open, paid, uncollectible or void (null only on old deleted drafts)."""
    customer: str | None = None
    customer_account: str | None = None
    total: int | None = None
    subtotal: int | None = None
    due_date: int | None = None
    effective_at: int | None = None
    number: str | None = None
    collection_method: str | None = None
    hosted_invoice_url: str | None = None
    status_transitions: StatusTransitions = msgspec.field(default_factory=StatusTransitions)
    metadata: dict[str, str] = msgspec.field(default_factory=dict)


class Payout(Wire):
    id: str
    amount: int
    currency: str
    arrival_date: int
    status: str
    created: int = 0
    automatic: bool = True
    method: str = "standard"
    type: str = "bank_account"
    balance_transaction: str | None = None
    failure_code: str | None = None
    failure_message: str | None = None
    reconciliation_status: str | None = None
    description: str | None = None


class FeeDetail(Wire):
    amount: int
    currency: str
    type: str
    description: str | None = None
    application: str | None = None


class BalanceTransaction(Wire):
    id: str
    amount: int
    fee: int
    net: int
    currency: str
    type: str
    created: int
    available_on: int
    status: str
    reporting_category: str = ""
    source: str | None = None
    description: str | None = None
    fee_details: list[FeeDetail] = msgspec.field(default_factory=list)


class Charge(Wire):
    id: str
    amount: int
    currency: str
    created: int
    status: str
    amount_captured: int = 0
    amount_refunded: int = 0
    paid: bool = False
    captured: bool = False
    refunded: bool = False
    disputed: bool = False
    customer: str | None = None
    payment_intent: str | None = None
    balance_transaction: str | None = None
    description: str | None = None
    failure_code: str | None = None


class EventData(Wire):
    object: dict[str, Any]
    previous_attributes: dict[str, Any] | None = None


class Event(Wire):
    id: str
    type: str
    created: int
    data: EventData
    object: str = "event"
    account: str | None = None
    api_version: str | None = None
    livemode: bool = False
