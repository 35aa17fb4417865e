"""The simulated Ramp's data: one Ramp business per RowCol business, with its entity,
vendors (contacts, bank accounts), bills, client credentials, access tokens and webhook
subscriptions, plus the events those subscriptions are owed.

Behaviour follows Ramp's Developer API and Bill Pay guide: bills created through the API
are approved at once; a bank-paid bill is paid on its `payment_arrival_date` (tests move
time with `advance(days)` or pay one with `settle`); archiving is a soft delete. Every id
is a UUID derived from a name or a counter, so the same seed and the same calls give the
same ids. All reads and writes take `lock`: the HTTP server runs on another thread.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from rowcol.core.domain.errors import InvalidInput
from rowcol.core.domain.money import currency_exponent
from rowcol.core.domain.records import Bill
from rowcol.demodata.generator import DemoFirm

Json = dict[str, Any]

NAMESPACE: Final = uuid.UUID("6f1c8f0e-4b1a-5c55-9d8e-2a7b3c4d5e6f")
TOKEN_TTL_SECONDS: Final = 864_000
"""Client-credentials tokens live ten days."""

ALL_SCOPES: Final = frozenset(
    {
        "accounting:read",
        "accounting:write",
        "bank_accounts:read",
        "bills:read",
        "bills:write",
        "business:read",
        "entities:read",
        "purchase_orders:read",
        "reimbursements:read",
        "transactions:read",
        "vendors:read",
        "vendors:write",
    }
)
WEBHOOK_EVENT_TYPES: Final = (
    "bills.approved",
    "bills.created",
    "bills.paid",
    "bills.rejected",
    "purchase_orders.created",
    "purchase_orders.updated",
    "reimbursements.ready_for_review",
    "reimbursements.ready_to_sync",
    "tests.test_event",
    "transactions.authorized",
    "transactions.cleared",
    "transactions.ready_for_review",
    "transactions.ready_to_sync",
    "webhooks.verification",
)
PAYMENT_METHODS: Final = (
    "ACH",
    "CARD",
    "CHECK",
    "DOMESTIC_WIRE",
    "INTERNATIONAL",
    "ONE_TIME_CARD",
    "ONE_TIME_CARD_DELIVERY",
    "PAID_MANUALLY",
    "SWIFT",
    "UNSPECIFIED",
    "VENDOR_CREDIT",
)
BANK_METHODS: Final = frozenset({"ACH", "DOMESTIC_WIRE", "INTERNATIONAL", "SWIFT"})
APPROVAL_STATUSES: Final = ("APPROVED", "INITIALIZED", "PENDING", "REJECTED", "TERMINATED")
INVOICE_NUMBER_MAX: Final = 20
MEMO_MAX: Final = 1000
MISSING: Final = "Missing data for required field."


def _uuid(*parts: str) -> str:
    return str(uuid.uuid5(NAMESPACE, ":".join(parts)))


def ramp_business_id(business_id: str) -> str:
    return _uuid("business", business_id)


def client_id_for(business_id: str) -> str:
    return f"ramp-client-{business_id}"


def client_secret_for(business_id: str) -> str:
    return f"ramp-secret-{business_id}"


def ramp_vendor_id(business_id: str, vendor_id: str) -> str:
    return _uuid("vendor", business_id, vendor_id)


def stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def day_stamp(day: date) -> str:
    return stamp(datetime.combine(day, time(0, 0), UTC))


# Errors -----------------------------------------------------------------------------


class RampApiError(Exception):
    """An error answer in Ramp's shape: `{"error_v2": {...}, "error": {...}}`.

    Only `DEVELOPER_7001` (invalid input) is a code seen in Ramp's documentation; the
    other codes name the condition and are the simulator's own.
    """

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        additional_info: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.additional_info = dict(additional_info or {})

    def body(self) -> Json:
        return {
            "error_v2": {
                "error_code": self.code,
                "message": self.message,
                "additional_info": self.additional_info,
                "notes": "",
            },
            "error": self.additional_info or {"message": [self.message]},
        }


class OAuthError(Exception):
    """An RFC 6749 token error: `{"error": code, "error_description": ...}`."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description

    def body(self) -> Json:
        return {"error": self.error, "error_description": self.description}


def invalid_input(message: str, field_name: str | None = None) -> RampApiError:
    info = {field_name: [message]} if field_name else None
    return RampApiError(400, "DEVELOPER_7001", message, info)


def not_found(kind: str, ident: str) -> RampApiError:
    return RampApiError(404, "NOT_FOUND", f"{kind} {ident} not found")


def unauthorized(message: str = "Invalid or expired access token") -> RampApiError:
    return RampApiError(401, "UNAUTHORIZED", message)


def forbidden(scope: str) -> RampApiError:
    return RampApiError(403, "FORBIDDEN", f"Access token is missing the scope {scope}")


def rate_limited() -> RampApiError:
    return RampApiError(429, "RATE_LIMITED", "Too many requests, please retry later")


def internal_error() -> RampApiError:
    return RampApiError(500, "INTERNAL_ERROR", "Internal server error")


# Records ----------------------------------------------------------------------------


@dataclass
class SimContact:
    id: str
    email: str
    first_name: str | None = None
    last_name: str | None = None
    phone: str | None = None
    is_default: bool = True

    def to_json(self) -> Json:
        return {
            "id": self.id,
            "email": self.email,
            "first_name": self.first_name,
            "last_name": self.last_name,
            "phone": self.phone,
            "is_default": self.is_default,
        }


@dataclass
class SimVendorAccount:
    id: str
    payment_method: str = "ACH"
    currency: str = "USD"
    is_default: bool = True
    nickname: str = "Operating account"

    def to_json(self) -> Json:
        return {
            "id": self.id,
            "account_nickname": self.nickname,
            "currency": self.currency,
            "is_default": self.is_default,
            "payment_method": self.payment_method,
        }


@dataclass
class SimVendor:
    id: str
    name: str
    remote_id: str | None
    created_at: datetime
    is_active: bool = True
    country: str = "US"
    category: str | None = None
    contacts: list[SimContact] = field(default_factory=list)
    accounts: list[SimVendorAccount] = field(default_factory=list)


@dataclass
class SimEntity:
    id: str
    name: str
    currency: str
    bank_account_id: str
    created_at: datetime
    is_primary: bool = True

    def to_json(self) -> Json:
        return {
            "id": self.id,
            "entity_name": self.name,
            "currency": self.currency,
            "is_primary": self.is_primary,
            "location_ids": [],
            "accounts": [
                {
                    "bank_account_id": self.bank_account_id,
                    "classification": "ASSET",
                    "created_at": stamp(self.created_at),
                    "external_id": "1000",
                    "external_name": "Operating Checking",
                    "internal_id": "",
                    "usage_type": "BILL_PAY_BANK_ACCOUNT",
                }
            ],
        }


@dataclass
class SimLineItem:
    amount_minor: int
    memo: str | None = None


@dataclass
class SimBill:
    id: str
    vendor_id: str
    vendor_contact_id: str | None
    entity_id: str
    invoice_number: str
    currency: str
    line_items: list[SimLineItem]
    issued_at: date
    due_at: date
    created_at: datetime
    payment_method: str
    remote_id: str | None = None
    memo: str | None = None
    status: str = "OPEN"
    approval_status: str | None = "APPROVED"
    archived_at: datetime | None = None
    paid_at: datetime | None = None
    arrival_date: date | None = None
    source_bank_account_id: str | None = None
    vendor_account_id: str | None = None
    effective_date: date | None = None
    trace_id: str | None = None

    @property
    def amount_minor(self) -> int:
        return sum(item.amount_minor for item in self.line_items)

    def payment_date(self) -> date | None:
        """When the payment is initiated: two days before it is to arrive."""
        if self.arrival_date is None:
            return None
        return max(self.arrival_date - timedelta(days=2), self.created_at.date())


@dataclass
class SimWebhook:
    id: str
    secret: str
    endpoint_url: str
    event_types: list[str]
    challenge: str
    created_at: datetime
    updated_at: datetime
    status: str = "pending_verification"
    additional_headers: dict[str, str] = field(default_factory=dict)

    def to_json(self, business_id: str, *, with_secret: bool = False) -> Json:
        body: Json = {
            "id": self.id,
            "business_id": business_id,
            "endpoint_url": self.endpoint_url,
            "event_types": list(self.event_types),
            "status": self.status,
            "created_at": stamp(self.created_at),
            "updated_at": stamp(self.updated_at),
        }
        if with_secret:
            body["secret"] = self.secret
            body["additional_headers"] = dict(self.additional_headers)
        return body


@dataclass
class SimEvent:
    id: str
    type: str
    business_id: str
    object_id: str
    created_at: datetime
    challenge: str | None = None

    def body(self) -> bytes:
        envelope: Json = {
            "id": self.id,
            "type": self.type,
            "created_at": stamp(self.created_at),
            "business_id": self.business_id,
            "object": {"id": self.object_id},
        }
        if self.challenge is not None:
            envelope["challenge"] = self.challenge
        return json.dumps(envelope).encode()


@dataclass
class Delivery:
    """An event owed to one subscription."""

    webhook_id: str
    event: SimEvent


@dataclass
class SimBusiness:
    id: str
    rowcol_id: str
    name: str
    client_id: str
    client_secret: str
    owner_id: str
    scopes: frozenset[str] = ALL_SCOPES
    entities: list[SimEntity] = field(default_factory=list)
    vendors: dict[str, SimVendor] = field(default_factory=dict)
    bills: dict[str, SimBill] = field(default_factory=dict)
    webhooks: dict[str, SimWebhook] = field(default_factory=dict)

    def entity(self, entity_id: str) -> SimEntity | None:
        return next((e for e in self.entities if e.id == entity_id), None)


@dataclass
class SimToken:
    token: str
    business_id: str
    scopes: frozenset[str]
    expires_at: datetime


# The state --------------------------------------------------------------------------


class RampState:
    def __init__(
        self,
        *,
        now: Callable[[], datetime] | None = None,
        token_ttl_seconds: int = TOKEN_TTL_SECONDS,
    ) -> None:
        self._now = now or (lambda: datetime.now(UTC))
        self.offset = timedelta(0)
        self.token_ttl_seconds = token_ttl_seconds
        self.lock = threading.RLock()
        self.businesses: dict[str, SimBusiness] = {}
        self.by_rowcol: dict[str, str] = {}
        self.clients: dict[str, str] = {}
        self.tokens: dict[str, SimToken] = {}
        self.outbox: list[Delivery] = []
        self.delivered_verifications: list[str] = []
        self.requests: list[tuple[str, str, str]] = []
        """(method, path, query) of every API request, for tests that count calls."""
        self._counter = itertools.count(1)

    # Time and ids

    def now(self) -> datetime:
        return self._now().astimezone(UTC) + self.offset

    def today(self) -> date:
        return self.now().date()

    def new_id(self, kind: str) -> str:
        return _uuid(kind, str(next(self._counter)))

    # Setup helpers

    def add_business(self, rowcol_id: str, name: str, currency: str = "USD") -> SimBusiness:
        with self.lock:
            ramp_id = ramp_business_id(rowcol_id)
            created = self.now() - timedelta(days=400)
            business = SimBusiness(
                id=ramp_id,
                rowcol_id=rowcol_id,
                name=name,
                client_id=client_id_for(rowcol_id),
                client_secret=client_secret_for(rowcol_id),
                owner_id=_uuid("user", rowcol_id),
                entities=[
                    SimEntity(
                        id=_uuid("entity", rowcol_id),
                        name=name,
                        currency=currency,
                        bank_account_id=_uuid("bank-account", rowcol_id),
                        created_at=created,
                    )
                ],
            )
            self.businesses[ramp_id] = business
            self.by_rowcol[rowcol_id] = ramp_id
            self.clients[business.client_id] = ramp_id
            return business

    def business_for(self, rowcol_id: str) -> SimBusiness:
        with self.lock:
            return self.businesses[self.by_rowcol[rowcol_id]]

    def add_vendor(
        self,
        rowcol_id: str,
        name: str,
        *,
        remote_id: str | None = None,
        vendor_id: str | None = None,
        category: str | None = None,
        with_account: bool = True,
        created_at: datetime | None = None,
    ) -> SimVendor:
        """A vendor with one default contact and, unless told otherwise, one default ACH
        bank account."""
        with self.lock:
            business = self.business_for(rowcol_id)
            ident = vendor_id or self.new_id("vendor")
            slug = "".join(ch for ch in name.lower() if ch.isalnum())[:24] or "vendor"
            vendor = SimVendor(
                id=ident,
                name=name,
                remote_id=remote_id,
                created_at=created_at or self.now(),
                category=category,
                contacts=[SimContact(id=_uuid("contact", ident), email=f"billing@{slug}.example")],
            )
            if with_account:
                vendor.accounts.append(SimVendorAccount(id=_uuid("vendor-account", ident)))
            business.vendors[ident] = vendor
            return vendor

    def deactivate_vendor(self, rowcol_id: str, remote_id: str) -> None:
        with self.lock:
            for vendor in self.business_for(rowcol_id).vendors.values():
                if vendor.remote_id == remote_id:
                    vendor.is_active = False

    def restrict_scopes(self, rowcol_id: str, scopes: Iterable[str]) -> None:
        """The client may only be granted `scopes` from now on (tokens already issued
        keep theirs)."""
        with self.lock:
            self.business_for(rowcol_id).scopes = frozenset(scopes)

    # OAuth

    def issue_token(self, client_id: str, client_secret: str, scope: str | None) -> SimToken:
        with self.lock:
            ramp_id = self.clients.get(client_id)
            business = self.businesses.get(ramp_id) if ramp_id else None
            if business is None or not hmac.compare_digest(
                business.client_secret.encode(), client_secret.encode()
            ):
                raise OAuthError(401, "invalid_client", "Client authentication failed")
            if not scope or not scope.strip():
                raise OAuthError(400, "invalid_request", "scope is required")
            wanted = frozenset(scope.split())
            if not wanted <= business.scopes:
                raise OAuthError(
                    400, "invalid_scope", "These scopes are not allowed for this client"
                )
            token = SimToken(
                token="ramp_tok_" + uuid.UUID(self.new_id("token")).hex,
                business_id=business.id,
                scopes=wanted,
                expires_at=self.now() + timedelta(seconds=self.token_ttl_seconds),
            )
            self.tokens[token.token] = token
            return token

    def authenticate(self, authorization: str | None) -> tuple[SimBusiness, SimToken]:
        if not authorization or not authorization.lower().startswith("bearer "):
            raise unauthorized("Missing bearer token")
        with self.lock:
            token = self.tokens.get(authorization[7:].strip())
            if token is None:
                raise unauthorized("Invalid access token")
            if token.expires_at <= self.now():
                raise unauthorized("Access token has expired")
            return self.businesses[token.business_id], token

    def expire_tokens(self) -> None:
        """Every token issued so far is expired from now on."""
        with self.lock:
            for token in self.tokens.values():
                token.expires_at = min(token.expires_at, self.now() - timedelta(seconds=1))

    # Bills

    def create_bill(self, business: SimBusiness, body: Mapping[str, Any]) -> SimBill:
        with self.lock:
            required = (
                "vendor_id",
                "vendor_contact_id",
                "entity_id",
                "invoice_number",
                "invoice_currency",
                "issued_at",
                "due_at",
                "payment_method",
            )
            missing = {name: [MISSING] for name in required if body.get(name) in (None, "")}
            if missing:
                raise RampApiError(
                    400, "DEVELOPER_7001", "Missing data for required fields", missing
                )
            vendor = self._vendor(business, _text(body, "vendor_id"), for_bill=True)
            contact_id = _text(body, "vendor_contact_id")
            if all(c.id != contact_id for c in vendor.contacts):
                raise invalid_input(
                    "Vendor contact must be associated with the vendor", "vendor_contact_id"
                )
            entity = business.entity(_text(body, "entity_id"))
            if entity is None:
                raise invalid_input("Entity not found", "entity_id")
            invoice_number = _text(body, "invoice_number")
            if len(invoice_number) > INVOICE_NUMBER_MAX:
                raise invalid_input(
                    f"Longer than maximum length {INVOICE_NUMBER_MAX}.", "invoice_number"
                )
            currency = _currency(body.get("invoice_currency"))
            issued = _date(body, "issued_at")
            due = _date(body, "due_at")
            method = _choice(body, "payment_method", PAYMENT_METHODS)
            items = _line_items(body.get("line_items"), currency)
            memo = _optional_text(body, "memo", MEMO_MAX)
            remote_id = _optional_text(body, "remote_id", None)
            bill = SimBill(
                id=self.new_id("bill"),
                vendor_id=vendor.id,
                vendor_contact_id=contact_id,
                entity_id=entity.id,
                invoice_number=invoice_number,
                currency=currency,
                line_items=items,
                issued_at=issued,
                due_at=due,
                created_at=self.now(),
                payment_method=method,
                remote_id=remote_id,
                memo=memo,
            )
            if method in BANK_METHODS:
                self._schedule(bill, business, entity, vendor, body.get("payment_details"))
            business.bills[bill.id] = bill
            self._emit(business, "bills.created", bill.id)
            self._emit(business, "bills.approved", bill.id)
            return bill

    def _schedule(
        self,
        bill: SimBill,
        business: SimBusiness,
        entity: SimEntity,
        vendor: SimVendor,
        details: Any,
    ) -> None:
        if not isinstance(details, dict):
            raise invalid_input(
                f"payment_details are required for payment method {bill.payment_method}",
                "payment_details",
            )
        missing = {
            name: [MISSING]
            for name in ("payment_arrival_date", "source_bank_account_id", "vendor_account_id")
            if not details.get(name)
        }
        if missing:
            raise RampApiError(400, "DEVELOPER_7001", "Invalid payment_details", missing)
        arrival = _date(details, "payment_arrival_date")
        if arrival < self.today():
            raise invalid_input(
                "The selected payment arrival date is invalid", "payment_arrival_date"
            )
        if details.get("source_bank_account_id") != entity.bank_account_id:
            raise invalid_input(
                "Bank account is not a bill pay bank account of the entity",
                "source_bank_account_id",
            )
        account = next(
            (a for a in vendor.accounts if a.id == details.get("vendor_account_id")), None
        )
        if account is None or account.payment_method != bill.payment_method:
            raise invalid_input(
                f"Vendor account cannot receive {bill.payment_method} payments",
                "vendor_account_id",
            )
        bill.arrival_date = arrival
        bill.source_bank_account_id = entity.bank_account_id
        bill.vendor_account_id = account.id

    def update_bill(self, business: SimBusiness, bill_id: str, body: Mapping[str, Any]) -> SimBill:
        with self.lock:
            bill = self.bill(business, bill_id)
            if bill.status == "PAID" or bill.archived_at is not None:
                raise invalid_input("Paid or archived bills cannot be updated")
            if "invoice_number" in body:
                number = _text(body, "invoice_number")
                if len(number) > INVOICE_NUMBER_MAX:
                    raise invalid_input(
                        f"Longer than maximum length {INVOICE_NUMBER_MAX}.", "invoice_number"
                    )
                bill.invoice_number = number
            if "memo" in body:
                bill.memo = _optional_text(body, "memo", MEMO_MAX)
            if "remote_id" in body:
                bill.remote_id = _optional_text(body, "remote_id", None)
            if "issued_at" in body:
                bill.issued_at = _date(body, "issued_at")
            if "due_at" in body:
                bill.due_at = _date(body, "due_at")
            if body.get("line_items") is not None:
                bill.line_items = _line_items(body.get("line_items"), bill.currency)
            return bill

    def archive_bill(self, business: SimBusiness, bill_id: str) -> None:
        with self.lock:
            bill = self.bill(business, bill_id)
            if bill.status == "PAID":
                raise invalid_input("Paid bills cannot be deleted")
            if bill.archived_at is None:
                bill.archived_at = self.now()

    def bill(self, business: SimBusiness, bill_id: str) -> SimBill:
        with self.lock:
            bill = business.bills.get(bill_id)
            if bill is None:
                raise not_found("Bill", bill_id)
            return bill

    def find_bill(self, bill_id: str) -> tuple[SimBusiness, SimBill]:
        with self.lock:
            for business in self.businesses.values():
                if bill_id in business.bills:
                    return business, business.bills[bill_id]
        raise KeyError(bill_id)

    def bill_by_remote_id(self, rowcol_id: str, remote_id: str) -> SimBill | None:
        with self.lock:
            bills = self.business_for(rowcol_id).bills.values()
            return next((b for b in bills if b.remote_id == remote_id), None)

    def settle(self, bill_id: str, *, paid_at: datetime | None = None) -> SimBill:
        """Pays an approved open bill now (or at `paid_at`) and owes `bills.paid`."""
        with self.lock:
            business, bill = self.find_bill(bill_id)
            if bill.archived_at is not None or bill.status == "PAID":
                raise ValueError(f"bill {bill_id} is not open")
            if bill.approval_status != "APPROVED":
                raise ValueError(f"bill {bill_id} is not approved")
            moment = paid_at or self.now()
            bill.status = "PAID"
            bill.paid_at = moment
            bill.effective_date = bill.payment_date() or moment.date()
            bill.trace_id = hashlib.sha256(bill.id.encode()).hexdigest()[:15].upper()
            self._emit(business, "bills.paid", bill.id)
            return bill

    def advance(self, days: int) -> list[SimBill]:
        """Moves the simulator's clock on and pays every approved bank-paid bill whose
        arrival date has come, at noon UTC of that date (or now, if earlier)."""
        with self.lock:
            self.offset += timedelta(days=days)
            today = self.today()
            paid = []
            for business in self.businesses.values():
                for bill in list(business.bills.values()):
                    if (
                        bill.status == "OPEN"
                        and bill.archived_at is None
                        and bill.approval_status == "APPROVED"
                        and bill.arrival_date is not None
                        and bill.arrival_date <= today
                    ):
                        noon = datetime.combine(bill.arrival_date, time(12, 0), UTC)
                        paid.append(self.settle(bill.id, paid_at=min(noon, self.now())))
            return paid

    def reject(self, bill_id: str) -> SimBill:
        """An approver in Ramp rejects the bill; owes `bills.rejected`."""
        with self.lock:
            business, bill = self.find_bill(bill_id)
            if bill.status == "PAID":
                raise ValueError(f"bill {bill_id} is already paid")
            bill.approval_status = "REJECTED"
            self._emit(business, "bills.rejected", bill.id)
            return bill

    def list_bills(self, business: SimBusiness, filters: Mapping[str, Any]) -> list[SimBill]:
        """Bills in id order (the keyset `start` pages by), filtered as `GET /bills` does."""
        with self.lock:
            archived = bool(filters.get("is_archived", False))
            out = []
            for bill in sorted(business.bills.values(), key=lambda b: b.id):
                if (bill.archived_at is not None) != archived:
                    continue
                if not _bill_matches(bill, filters):
                    continue
                out.append(bill)
            return out

    # Vendors

    def _vendor(
        self, business: SimBusiness, vendor_id: str, *, for_bill: bool = False
    ) -> SimVendor:
        vendor = business.vendors.get(vendor_id)
        if vendor is None:
            if for_bill:
                raise invalid_input("Vendor not found", "vendor_id")
            raise not_found("Vendor", vendor_id)
        if for_bill and not vendor.is_active:
            raise invalid_input("Vendor is not active", "vendor_id")
        return vendor

    def vendor(self, business: SimBusiness, vendor_id: str) -> SimVendor:
        with self.lock:
            return self._vendor(business, vendor_id)

    def create_vendor(self, business: SimBusiness, body: Mapping[str, Any]) -> SimVendor:
        with self.lock:
            missing = {
                name: [MISSING]
                for name in ("business_vendor_contacts", "country", "vendor_owner_id", "name")
                if not body.get(name)
            }
            if missing:
                raise RampApiError(
                    400, "DEVELOPER_7001", "Missing data for required fields", missing
                )
            contact = body["business_vendor_contacts"]
            if not isinstance(contact, dict) or not contact.get("email"):
                raise invalid_input("A contact email is required", "business_vendor_contacts")
            vendor = self.add_vendor(
                business.rowcol_id,
                _text(body, "name"),
                remote_id=_optional_text(body, "accounting_vendor_remote_id", None),
                with_account=False,
            )
            vendor.country = _text(body, "country")
            vendor.contacts = [
                SimContact(
                    id=_uuid("contact", vendor.id),
                    email=str(contact["email"]),
                    first_name=contact.get("first_name"),
                    last_name=contact.get("last_name"),
                    phone=contact.get("phone"),
                )
            ]
            return vendor

    def list_vendors(self, business: SimBusiness, filters: Mapping[str, Any]) -> list[SimVendor]:
        with self.lock:
            out = []
            for vendor in sorted(business.vendors.values(), key=lambda v: v.id):
                if "is_active" in filters and vendor.is_active != filters["is_active"]:
                    continue
                if "name" in filters and vendor.name.lower() != str(filters["name"]).lower():
                    continue
                since = filters.get("from_created_at")
                if since is not None and vendor.created_at < since:
                    continue
                out.append(vendor)
            return out

    def vendor_spend(self, business: SimBusiness, vendor: SimVendor) -> dict[str, int]:
        """Paid amounts (minor units) for the spend windows Vendor reports."""
        now = self.now()
        windows = {
            "total_spend_all_time": datetime.min.replace(tzinfo=UTC),
            "total_spend_last_30_days": now - timedelta(days=30),
            "total_spend_last_365_days": now - timedelta(days=365),
            "total_spend_ytd": datetime(now.year, 1, 1, tzinfo=UTC),
        }
        paid = [
            b
            for b in business.bills.values()
            if b.vendor_id == vendor.id and b.status == "PAID" and b.paid_at is not None
        ]
        return {
            name: sum(b.amount_minor for b in paid if b.paid_at is not None and b.paid_at >= since)
            for name, since in windows.items()
        }

    # Webhooks

    def create_webhook(self, business: SimBusiness, body: Mapping[str, Any]) -> SimWebhook:
        with self.lock:
            url = body.get("endpoint_url")
            if not isinstance(url, str) or not url.startswith(("http://", "https://")):
                raise invalid_input("Not a valid URL.", "endpoint_url")
            types = body.get("event_types")
            if not isinstance(types, list) or not types:
                raise invalid_input(MISSING, "event_types")
            unknown = [t for t in types if t not in WEBHOOK_EVENT_TYPES]
            if unknown:
                raise invalid_input(
                    f"Must be one of: {', '.join(WEBHOOK_EVENT_TYPES)}.", "event_types"
                )
            headers = body.get("additional_headers") or {}
            if not isinstance(headers, dict) or len(headers) > 5:
                raise invalid_input("At most 5 additional headers", "additional_headers")
            ident = self.new_id("webhook")
            webhook = SimWebhook(
                id=ident,
                secret=hashlib.sha256(f"secret:{ident}".encode()).hexdigest(),
                endpoint_url=url,
                event_types=[str(t) for t in types],
                challenge="ramp_challenge_"
                + hashlib.sha256(f"ch:{ident}".encode()).hexdigest()[:32],
                created_at=self.now(),
                updated_at=self.now(),
                additional_headers={str(k): str(v) for k, v in headers.items()},
            )
            business.webhooks[ident] = webhook
            return webhook

    def webhook(self, business: SimBusiness, webhook_id: str) -> SimWebhook:
        with self.lock:
            webhook = business.webhooks.get(webhook_id)
            if webhook is None:
                raise not_found("Webhook subscription", webhook_id)
            return webhook

    def verify_webhook(self, business: SimBusiness, webhook_id: str, challenge: Any) -> None:
        with self.lock:
            webhook = self.webhook(business, webhook_id)
            if not isinstance(challenge, str) or not hmac.compare_digest(
                challenge.encode(), webhook.challenge.encode()
            ):
                raise invalid_input("Invalid challenge", "challenge")
            webhook.status = "active"
            webhook.updated_at = self.now()

    def delete_webhook(self, business: SimBusiness, webhook_id: str) -> None:
        with self.lock:
            self.webhook(business, webhook_id)
            del business.webhooks[webhook_id]
            self.outbox = [d for d in self.outbox if d.webhook_id != webhook_id]

    def _emit(self, business: SimBusiness, event_type: str, object_id: str) -> None:
        event = SimEvent(
            id=self.new_id("event"),
            type=event_type,
            business_id=business.id,
            object_id=object_id,
            created_at=self.now(),
        )
        for webhook in business.webhooks.values():
            if event_type in webhook.event_types and webhook.status != "inactive":
                self.outbox.append(Delivery(webhook.id, event))

    def verification_events(self) -> list[tuple[SimBusiness, SimWebhook, SimEvent]]:
        """The handshake each subscription still pending verification is owed."""
        with self.lock:
            out = []
            for business in self.businesses.values():
                for webhook in business.webhooks.values():
                    if webhook.status == "pending_verification":
                        event = SimEvent(
                            id=_uuid("verification", webhook.id),
                            type="webhooks.verification",
                            business_id=business.id,
                            object_id=webhook.id,
                            created_at=webhook.created_at,
                            challenge=webhook.challenge,
                        )
                        out.append((business, webhook, event))
            return out

    def take_deliveries(self) -> list[tuple[SimWebhook, Delivery]]:
        """Removes and answers what active subscriptions are owed; events for
        subscriptions still pending verification wait."""
        with self.lock:
            ready: list[tuple[SimWebhook, Delivery]] = []
            waiting: list[Delivery] = []
            for delivery in self.outbox:
                webhook = self._webhook_anywhere(delivery.webhook_id)
                if webhook is None:
                    continue
                if webhook.status == "active":
                    ready.append((webhook, delivery))
                else:
                    waiting.append(delivery)
            self.outbox = waiting
            return ready

    def requeue(self, deliveries: Iterable[Delivery]) -> None:
        with self.lock:
            self.outbox[:0] = list(deliveries)

    def _webhook_anywhere(self, webhook_id: str) -> SimWebhook | None:
        for business in self.businesses.values():
            if webhook_id in business.webhooks:
                return business.webhooks[webhook_id]
        return None

    def sign(self, webhook: SimWebhook, body: bytes) -> str:
        return hmac.new(webhook.secret.encode("utf-8"), body, hashlib.sha256).hexdigest()

    # JSON

    def bill_json(self, business: SimBusiness, bill: SimBill, *, detail: bool) -> Json:
        vendor = business.vendors.get(bill.vendor_id)
        amount = {"amount": bill.amount_minor, "currency_code": bill.currency}
        vendor_json: Json = {"id": bill.vendor_id, "name": vendor.name if vendor else ""}
        if vendor is not None and vendor.remote_id:
            vendor_json["remote_id"] = vendor.remote_id
        vendor_json["type"] = "BUSINESS"
        body: Json = {
            "id": bill.id,
            "accounting_date": day_stamp(bill.issued_at),
            "accounting_field_selections": [],
            "amount": amount,
            "approval_status": bill.approval_status,
            "archived_at": stamp(bill.archived_at) if bill.archived_at else None,
            "bill_owner": {"id": business.owner_id, "first_name": "Avery", "last_name": "Owner"},
            "created_at": stamp(bill.created_at),
            "due_at": day_stamp(bill.due_at),
            "entity_id": bill.entity_id,
            "fx_conversion_rate": "1.0",
            "inventory_line_items": [],
            "invoice_number": bill.invoice_number,
            "invoice_urls": [],
            "issued_at": day_stamp(bill.issued_at),
            "line_items": [
                {
                    "accounting_field_selections": [],
                    "amount": {"amount": item.amount_minor, "currency_code": bill.currency},
                    "memo": item.memo or "",
                }
                for item in bill.line_items
            ],
            "memo": bill.memo or "",
            "payment": self._payment_json(bill, detail=detail),
            "status": bill.status,
            "sync_status": "NOT_SYNCED",
            "vendor": vendor_json,
            "vendor_contact_id": bill.vendor_contact_id,
        }
        if bill.paid_at is not None:
            body["paid_at"] = stamp(bill.paid_at)
        if bill.remote_id is not None:
            body["remote_id"] = bill.remote_id
        return body

    def _payment_json(self, bill: SimBill, *, detail: bool) -> Json | None:
        if bill.arrival_date is None and bill.status != "PAID":
            return None
        scheduled = bill.payment_date()
        trace = (
            {"descriptor": "ACH Trace ID", "trace_id": bill.trace_id}
            if detail and bill.trace_id
            else None
        )
        return {
            "amount": {"amount": bill.amount_minor, "currency_code": bill.currency},
            "payment_method": bill.payment_method,
            "payment_date": day_stamp(scheduled) if scheduled else None,
            "effective_date": day_stamp(bill.effective_date) if bill.effective_date else None,
            "details": {
                "schema_type": "VendorPaymentDetailsSchema",
                "approval_status": bill.approval_status,
                "source_bank_account_id": bill.source_bank_account_id,
                "vendor_account_id": bill.vendor_account_id,
            },
            "trace_id": trace,
        }

    def vendor_json(self, business: SimBusiness, vendor: SimVendor, *, detail: bool) -> Json:
        spend = self.vendor_spend(business, vendor)
        currency = business.entities[0].currency if business.entities else "USD"
        body: Json = {
            "id": vendor.id,
            "name": vendor.name,
            "accounting_vendor_remote_id": vendor.remote_id,
            "contacts": [c.id for c in vendor.contacts],
            "country": vendor.country,
            "created_at": stamp(vendor.created_at),
            "is_active": vendor.is_active,
            "is_deletable": not any(b.vendor_id == vendor.id for b in business.bills.values()),
            "vendor_owner_id": business.owner_id,
            "vendor_type": "BUSINESS",
            **{
                name: {"amount": amount, "currency_code": currency}
                for name, amount in spend.items()
            },
        }
        if vendor.category:
            body["sk_category_name"] = vendor.category
        if detail:
            body["custom_form_collection_response"] = None
        return body


# Parsing helpers --------------------------------------------------------------------


def _text(body: Mapping[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value:
        raise invalid_input("Not a valid string.", name)
    return value


def _optional_text(body: Mapping[str, Any], name: str, max_length: int | None) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise invalid_input("Not a valid string.", name)
    if max_length is not None and len(value) > max_length:
        raise invalid_input(f"Longer than maximum length {max_length}.", name)
    return value


def _date(body: Mapping[str, Any], name: str) -> date:
    value = body.get(name)
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise invalid_input("Not a valid date.", name) from None


def _choice(body: Mapping[str, Any], name: str, choices: Iterable[str]) -> str:
    value = body.get(name)
    options = tuple(choices)
    if value not in options:
        raise invalid_input(f"Must be one of: {', '.join(options)}.", name)
    return str(value)


def _currency(value: Any) -> str:
    if not isinstance(value, str):
        raise invalid_input("Not a valid currency.", "invoice_currency")
    try:
        currency_exponent(value)
    except InvalidInput:
        raise invalid_input(f"Currency {value} is not supported", "invoice_currency") from None
    return value


def minor_units(value: Any, currency: str, field_name: str) -> int:
    """A decimal string or number in major units → exact minor units, or a 400."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise invalid_input("Not a valid number.", field_name)
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise invalid_input("Not a valid number.", field_name) from None
    if not amount.is_finite() or amount < 0:
        raise invalid_input("Must be greater than or equal to 0.", field_name)
    scaled = amount.scaleb(currency_exponent(currency))
    if scaled != scaled.to_integral_value():
        raise invalid_input(f"More decimal places than {currency} allows.", field_name)
    return int(scaled)


def _line_items(value: Any, currency: str) -> list[SimLineItem]:
    if not isinstance(value, list) or not value:
        raise invalid_input("A bill needs at least one line item", "line_items")
    items = []
    for index, item in enumerate(value):
        if not isinstance(item, dict) or "amount" not in item:
            raise invalid_input(MISSING, f"line_items.{index}.amount")
        memo = item.get("memo")
        items.append(
            SimLineItem(
                amount_minor=minor_units(item["amount"], currency, f"line_items.{index}.amount"),
                memo=memo if isinstance(memo, str) else None,
            )
        )
    return items


def _bill_matches(bill: SimBill, filters: Mapping[str, Any]) -> bool:
    simple = {
        "vendor_id": bill.vendor_id,
        "entity_id": bill.entity_id,
        "approval_status": bill.approval_status,
        "payment_status": bill.status,
        "payment_method": bill.payment_method,
        "sync_status": "NOT_SYNCED",
    }
    for name, actual in simple.items():
        if name in filters and filters[name] != actual:
            return False
    if filters.get("sync_ready") is True:
        return False
    moments = {
        "created_at": bill.created_at,
        "due_date": datetime.combine(bill.due_at, time(0, 0), UTC),
        "issued_date": datetime.combine(bill.issued_at, time(0, 0), UTC),
        "paid_at": bill.paid_at,
    }
    for name, moment in moments.items():
        low, high = filters.get(f"from_{name}"), filters.get(f"to_{name}")
        if (low is not None or high is not None) and moment is None:
            return False
        if low is not None and moment is not None and moment < low:
            return False
        if high is not None and moment is not None and moment > high:
            return False
    minimum, maximum = filters.get("min_amount"), filters.get("max_amount")
    if minimum is not None and bill.amount_minor < minor_units(
        minimum, bill.currency, "min_amount"
    ):
        return False
    return not (
        maximum is not None
        and bill.amount_minor > minor_units(maximum, bill.currency, "max_amount")
    )


# Seeding ----------------------------------------------------------------------------


def seed_from_demo(
    firm: DemoFirm,
    *,
    now: Callable[[], datetime] | None = None,
    with_bills: bool = True,
    token_ttl_seconds: int = TOKEN_TTL_SECONDS,
) -> RampState:
    """One Ramp business per RowCol business: its entity, its vendors (with
    `accounting_vendor_remote_id` = RowCol's vendor id, a contact and an ACH account)
    and, with `with_bills`, its bills (remote_id = RowCol's bill id; paid ones paid)."""
    state = RampState(now=now, token_ttl_seconds=token_ttl_seconds)
    names = {b.business_id: b for b in firm.businesses}
    for data in firm.records:
        business = names.get(data.business_id)
        state.add_business(
            data.business_id,
            business.name if business else data.business_id,
            business.currency if business else "USD",
        )
        first_issue = min((b.issue_date for b in data.bills), default=state.today())
        vendors_created = datetime.combine(first_issue, time(9, 0), UTC) - timedelta(days=30)
        for vendor in data.vendors:
            state.add_vendor(
                data.business_id,
                vendor.name,
                remote_id=vendor.vendor_id,
                vendor_id=ramp_vendor_id(data.business_id, vendor.vendor_id),
                category=vendor.category,
                created_at=vendors_created,
            )
        if with_bills:
            _seed_bills(state, data.business_id, data.bills)
    return state


def _seed_bills(state: RampState, rowcol_id: str, bills: Iterable[Bill]) -> None:
    business = state.business_for(rowcol_id)
    entity = business.entities[0]
    for bill in bills:
        vendor = business.vendors[ramp_vendor_id(rowcol_id, bill.vendor_id)]
        due = bill.due_date or bill.issue_date
        ident = _uuid("seed-bill", rowcol_id, bill.bill_id)
        sim = SimBill(
            id=ident,
            vendor_id=vendor.id,
            vendor_contact_id=vendor.contacts[0].id,
            entity_id=entity.id,
            invoice_number=bill.bill_id[-INVOICE_NUMBER_MAX:],
            currency=bill.amount.currency,
            line_items=[SimLineItem(bill.amount.amount_minor, bill.memo or None)],
            issued_at=bill.issue_date,
            due_at=due,
            created_at=datetime.combine(bill.issue_date, time(15, 0), UTC),
            payment_method="ACH",
            remote_id=bill.bill_id,
            memo=bill.memo or None,
            # Open ledger bills wait in Ramp's approval queue, unscheduled.
            approval_status="PENDING",
        )
        if bill.paid_date is not None:
            sim.approval_status = "APPROVED"
            sim.arrival_date = bill.paid_date
            sim.source_bank_account_id = entity.bank_account_id
            sim.vendor_account_id = vendor.accounts[0].id
            sim.status = "PAID"
            sim.paid_at = datetime.combine(bill.paid_date, time(12, 0), UTC)
            sim.effective_date = sim.payment_date()
            sim.trace_id = hashlib.sha256(ident.encode()).hexdigest()[:15].upper()
        business.bills[ident] = sim
