"""Plaid's JSON as it arrives (API version 2020-09-14): only the fields RowCol reads.

Money fields are floats in major units, as Plaid sends them; `mapping` turns them into
exact `Money`. Unknown fields are ignored so that Plaid adding fields breaks nothing.
"""

from __future__ import annotations

import datetime as dt

import msgspec


class Wire(msgspec.Struct, forbid_unknown_fields=False):
    """Base for every Plaid payload."""


class PlaidError(Wire):
    error_code: str
    error_message: str = ""
    error_type: str = "API_ERROR"
    display_message: str | None = None
    request_id: str | None = None
    status: int | None = None


class AccountBalances(Wire):
    available: float | None = None
    current: float | None = None
    limit: float | None = None
    iso_currency_code: str | None = None
    unofficial_currency_code: str | None = None
    last_updated_datetime: str | None = None


class Account(Wire):
    account_id: str
    name: str
    balances: AccountBalances
    mask: str | None = None
    official_name: str | None = None
    type: str = "other"
    subtype: str | None = None


class Item(Wire):
    item_id: str
    institution_id: str | None = None
    institution_name: str | None = None
    webhook: str | None = None
    error: PlaidError | None = None
    update_type: str | None = None
    consent_expiration_time: str | None = None


class AccountsGetResponse(Wire):
    accounts: list[Account]
    item: Item
    request_id: str = ""


class PersonalFinanceCategory(Wire):
    primary: str
    detailed: str | None = None
    confidence_level: str | None = None


class Counterparty(Wire):
    name: str
    type: str | None = None


class Transaction(Wire):
    transaction_id: str
    account_id: str
    amount: float
    date: dt.date
    pending: bool = False
    iso_currency_code: str | None = None
    unofficial_currency_code: str | None = None
    name: str | None = None
    merchant_name: str | None = None
    original_description: str | None = None
    authorized_date: dt.date | None = None
    pending_transaction_id: str | None = None
    personal_finance_category: PersonalFinanceCategory | None = None
    category: list[str] | None = None
    counterparties: list[Counterparty] = msgspec.field(default_factory=list)


class RemovedTransaction(Wire):
    transaction_id: str
    account_id: str | None = None


class TransactionsSyncResponse(Wire):
    added: list[Transaction]
    modified: list[Transaction]
    removed: list[RemovedTransaction]
    next_cursor: str
    has_more: bool
    transactions_update_status: str | None = None
    accounts: list[Account] = msgspec.field(default_factory=list)
    request_id: str = ""


class ItemGetResponse(Wire):
    item: Item
    request_id: str = ""


class JWK(Wire):
    """Plaid's webhook signing key (EC P-256); `expired_at` set once it is rotated out."""

    alg: str
    kty: str
    crv: str
    kid: str
    x: str
    y: str
    use: str = "sig"
    created_at: int = 0
    expired_at: int | None = None


class WebhookVerificationKeyGetResponse(Wire):
    key: JWK
    request_id: str = ""


class VerificationClaims(Wire):
    iat: int
    request_body_sha256: str


class Webhook(Wire):
    webhook_type: str
    webhook_code: str
    item_id: str | None = None
    environment: str | None = None
    error: PlaidError | None = None
