"""QBO's JSON as msgspec Structs.

The JSON keys are the element names of Intuit's XSDs (`Finance.xsd`, `IntuitNamesTypes.xsd`):
PascalCase elements, lower-case attributes (`status`, `domain`). Money is a JSON number and
decodes straight into `Decimal`, digit for digit; nothing here ever holds a float.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import msgspec


class _Wire(msgspec.Struct, rename="pascal", forbid_unknown_fields=False):
    """Unknown keys are ignored: QBO adds fields with every minor version."""


class Ref(msgspec.Struct, forbid_unknown_fields=False):
    """`ReferenceType`: the id is the element's text, `value` in JSON."""

    value: str
    name: str | None = None


class MetaData(_Wire):
    create_time: str | None = None
    last_updated_time: str | None = None


class Address(_Wire):
    line1: str | None = None
    line2: str | None = None
    city: str | None = None
    country_sub_division_code: str | None = None
    postal_code: str | None = None


class EmailAddress(_Wire):
    address: str | None = None


class LinkedTxn(_Wire):
    txn_id: str
    txn_type: str
    txn_line_id: str | None = None


class Line(_Wire):
    amount: Decimal | None = None
    linked_txn: list[LinkedTxn] = msgspec.field(default_factory=list)


class QboVendor(_Wire):
    id: str
    display_name: str
    active: bool = True
    term_ref: Ref | None = None
    bill_addr: Address | None = None
    acct_num: str | None = None
    vendor_payment_bank_detail: dict[str, Any] | None = None
    currency_ref: Ref | None = None
    sync_token: str | None = None
    meta_data: MetaData | None = None


class QboCustomer(_Wire):
    id: str
    display_name: str
    active: bool = True
    primary_email_addr: EmailAddress | None = None
    currency_ref: Ref | None = None
    sync_token: str | None = None
    meta_data: MetaData | None = None


class QboBill(_Wire):
    id: str
    vendor_ref: Ref
    total_amt: Decimal
    balance: Decimal
    txn_date: date
    due_date: date | None = None
    currency_ref: Ref | None = None
    doc_number: str | None = None
    private_note: str | None = None
    sync_token: str | None = None
    meta_data: MetaData | None = None


class QboInvoice(_Wire):
    id: str
    customer_ref: Ref
    total_amt: Decimal
    balance: Decimal
    txn_date: date
    due_date: date | None = None
    currency_ref: Ref | None = None
    doc_number: str | None = None
    sync_token: str | None = None
    meta_data: MetaData | None = None


class QboAccount(_Wire):
    id: str
    name: str
    account_type: str | None = None
    account_sub_type: str | None = None
    active: bool = True
    current_balance: Decimal | None = None
    currency_ref: Ref | None = None
    sync_token: str | None = None
    meta_data: MetaData | None = None


class QboBillPayment(_Wire):
    id: str
    vendor_ref: Ref
    total_amt: Decimal
    txn_date: date
    pay_type: str | None = None
    currency_ref: Ref | None = None
    doc_number: str | None = None
    private_note: str | None = None
    line: list[Line] = msgspec.field(default_factory=list)
    sync_token: str | None = None
    meta_data: MetaData | None = None


class QboPayment(_Wire):
    id: str
    customer_ref: Ref
    total_amt: Decimal
    txn_date: date
    currency_ref: Ref | None = None
    payment_ref_num: str | None = None
    private_note: str | None = None
    line: list[Line] = msgspec.field(default_factory=list)
    sync_token: str | None = None
    meta_data: MetaData | None = None


class QboDeposit(_Wire):
    """Money recorded into a bank account (DepositToAccountRef), e.g. a card payout."""

    id: str
    total_amt: Decimal
    txn_date: date
    deposit_to_account_ref: Ref | None = None
    currency_ref: Ref | None = None
    private_note: str | None = None
    sync_token: str | None = None
    meta_data: MetaData | None = None


class Tombstone(_Wire):
    """What CDC says about a deleted object: its id, `status: Deleted` and MetaData."""

    id: str
    status: str | None = msgspec.field(default=None, name="status")
    meta_data: MetaData | None = None


class QueryEnvelope(msgspec.Struct, forbid_unknown_fields=False):
    """`{"QueryResponse": {"Bill": [...], "startPosition": 1, "maxResults": n}, "time": ...}`;
    with no match QueryResponse is `{}`. The entity key is decoded by the caller."""

    query_response: dict[str, msgspec.Raw] = msgspec.field(
        default_factory=dict, name="QueryResponse"
    )
    time: str | None = None


class CdcSection(msgspec.Struct, forbid_unknown_fields=False):
    query_response: list[dict[str, msgspec.Raw]] = msgspec.field(
        default_factory=list, name="QueryResponse"
    )


class CdcEnvelope(msgspec.Struct, forbid_unknown_fields=False):
    cdc_response: list[CdcSection] = msgspec.field(default_factory=list, name="CDCResponse")
    time: str | None = None


class BillEnvelope(msgspec.Struct, forbid_unknown_fields=False):
    bill: QboBill | None = msgspec.field(default=None, name="Bill")
    time: str | None = None


class TokenResponse(msgspec.Struct, forbid_unknown_fields=False):
    access_token: str
    expires_in: int
    refresh_token: str | None = None
    token_type: str = "bearer"
    x_refresh_token_expires_in: int | None = None


class TokenError(msgspec.Struct, forbid_unknown_fields=False):
    error: str
    error_description: str | None = None


class DiscoveryDocument(msgspec.Struct, forbid_unknown_fields=False):
    authorization_endpoint: str
    token_endpoint: str
    revocation_endpoint: str | None = None
    issuer: str | None = None
    userinfo_endpoint: str | None = None
    jwks_uri: str | None = None
