"""The schema as SQLAlchemy Core tables; migrations write it out, repositories query it.

Money is two columns, `<name>_minor` and `<name>_currency`. Instants are aware UTC on
the way in and on the way out, whatever the database keeps.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    CHAR,
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Dialect,
    Float,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator[datetime]):
    """Refuses naive instants; hands back aware UTC even where SQLite drops the zone."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("naive datetime: only aware UTC instants are stored")
        value = value.astimezone(UTC)
        # SQLite keeps text and compares it as text: one zone, no suffix, fixed width.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def _id(name: str, *, primary_key: bool = False, index: bool = False) -> Column[str]:
    return Column(name, String(64), nullable=False, primary_key=primary_key, index=index)


def _record_id(name: str) -> Column[str]:
    return Column(name, Text, nullable=False)


def _money(name: str, *, nullable: bool = False) -> list[Column[Any]]:
    return [
        Column(f"{name}_minor", BigInteger, nullable=nullable),
        Column(f"{name}_currency", CHAR(3), nullable=nullable),
    ]


def _business_fk() -> ForeignKeyConstraint:
    return ForeignKeyConstraint(["business_id"], ["businesses.business_id"])


metadata = MetaData(naming_convention=NAMING_CONVENTION)

firms = Table(
    "firms",
    metadata,
    _id("firm_id", primary_key=True),
    Column("name", String(200), nullable=False),
)

advisors = Table(
    "advisors",
    metadata,
    _id("advisor_id", primary_key=True),
    _id("firm_id", index=True),
    Column("email", String(254), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("runway_tier", String(32), nullable=False),
    Column("feature_flags", JSON, nullable=False),
)

users = Table(
    "users",
    metadata,
    _id("user_id", primary_key=True),
    _id("advisor_id", index=True),
    Column("email", String(254), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("role", String(32), nullable=False),
)

businesses = Table(
    "businesses",
    metadata,
    _id("business_id", primary_key=True),
    Column("name", String(200), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("timezone", String(64), nullable=False),
)

clients = Table(
    "clients",
    metadata,
    _id("advisor_id"),
    _id("business_id", index=True),
    Column("created_at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("advisor_id", "business_id"),
    ForeignKeyConstraint(["advisor_id"], ["advisors.advisor_id"]),
    _business_fk(),
)

vendors = Table(
    "vendors",
    metadata,
    _id("business_id"),
    _record_id("vendor_id"),
    Column("name", Text, nullable=False),
    Column("category", Text, nullable=False),
    Column("payment_terms_days", Integer, nullable=True),
    Column("has_payment_details", Boolean, nullable=False),
    Column("is_critical", Boolean, nullable=False),
    Column("external_ref", Text, nullable=True),
    PrimaryKeyConstraint("business_id", "vendor_id"),
    _business_fk(),
)

customers = Table(
    "customers",
    metadata,
    _id("business_id"),
    _record_id("customer_id"),
    Column("name", Text, nullable=False),
    Column("email", Text, nullable=True),
    Column("external_ref", Text, nullable=True),
    PrimaryKeyConstraint("business_id", "customer_id"),
    _business_fk(),
)

bills = Table(
    "bills",
    metadata,
    _id("business_id"),
    _record_id("bill_id"),
    Column("vendor_id", Text, nullable=False),
    *_money("amount"),
    *_money("balance"),
    Column("issue_date", Date, nullable=False),
    Column("due_date", Date, nullable=True),
    Column("status", String(32), nullable=False),
    Column("category", Text, nullable=False),
    Column("memo", Text, nullable=False),
    Column("recurring", Boolean, nullable=False),
    Column("prepared_by", Text, nullable=True),
    Column("paid_date", Date, nullable=True),
    Column("external_ref", Text, nullable=True),
    PrimaryKeyConstraint("business_id", "bill_id"),
    _business_fk(),
)

_OPEN_INVOICE = "status IN ('open', 'disputed')"

invoices = Table(
    "invoices",
    metadata,
    _id("business_id"),
    _record_id("invoice_id"),
    Column("customer_id", Text, nullable=False),
    *_money("amount"),
    *_money("balance"),
    Column("issue_date", Date, nullable=False),
    Column("due_date", Date, nullable=False),
    Column("status", String(32), nullable=False),
    Column("paid_date", Date, nullable=True),
    Column("external_ref", Text, nullable=True),
    PrimaryKeyConstraint("business_id", "invoice_id"),
    Index(
        "ix_invoices_business_id_due_date_open",
        "business_id",
        "due_date",
        "balance_currency",
        "balance_minor",
        postgresql_where=text(_OPEN_INVOICE),
        sqlite_where=text(_OPEN_INVOICE),
    ),
    _business_fk(),
)

bank_accounts = Table(
    "bank_accounts",
    metadata,
    _id("business_id"),
    _record_id("account_id"),
    Column("name", Text, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("mask", Text, nullable=True),
    Column("external_ref", Text, nullable=True),
    *_money("books_balance", nullable=True),
    PrimaryKeyConstraint("business_id", "account_id"),
    _business_fk(),
)

bank_transactions = Table(
    "bank_transactions",
    metadata,
    _id("business_id"),
    _record_id("transaction_id"),
    Column("account_id", Text, nullable=False),
    *_money("amount"),
    Column("posted_on", Date, nullable=False),
    Column("description", Text, nullable=False),
    Column("category", Text, nullable=False),
    Column("pending", Boolean, nullable=False),
    Column("counterparty", Text, nullable=True),
    Column("external_ref", Text, nullable=True),
    Column("tags", JSON, nullable=False),
    PrimaryKeyConstraint("business_id", "transaction_id"),
    _business_fk(),
)

reserves = Table(
    "reserves",
    metadata,
    _id("business_id"),
    _record_id("reserve_id"),
    Column("purpose", Text, nullable=False),
    *_money("amount"),
    Column("until", Date, nullable=False),
    Column("released", Boolean, nullable=False),
    PrimaryKeyConstraint("business_id", "reserve_id"),
    _business_fk(),
)

payouts = Table(
    "payouts",
    metadata,
    _id("business_id"),
    _record_id("payout_id"),
    *_money("amount"),
    Column("arrival_date", Date, nullable=False),
    Column("status", String(32), nullable=False),
    Column("external_ref", Text, nullable=True),
    PrimaryKeyConstraint("business_id", "payout_id"),
    _business_fk(),
)

payments = Table(
    "payments",
    metadata,
    _id("payment_id", primary_key=True),
    _id("business_id"),
    Column("bill_id", Text, nullable=False),
    Column("vendor_id", Text, nullable=False),
    *_money("amount"),
    Column("pay_on", Date, nullable=False),
    Column("reference", String(100), nullable=False, unique=True),
    Column("status", String(32), nullable=False, index=True),
    # The bill while this payment holds it (not failed or cancelled), else NULL: the
    # unique constraint below lets a bill have one such payment, however many race.
    Column("active_bill", Text, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("prepared_by", Text, nullable=True),
    Column("approvals", JSON, nullable=False),
    Column("rail_payment_id", String(100), nullable=True, index=True),
    Column("submitted_at", UtcDateTime, nullable=True),
    Column("rail_confirmed_at", UtcDateTime, nullable=True),
    Column("bank_confirmed_at", UtcDateTime, nullable=True),
    Column("bank_transaction_id", Text, nullable=True),
    Column("ledger_confirmed_at", UtcDateTime, nullable=True),
    Column("ledger_ref", Text, nullable=True),
    Column("stuck_reason", Text, nullable=True),
    Column("failure_reason", Text, nullable=True),
    Column("blocked_reason", Text, nullable=True),
    Column("version", Integer, nullable=False),
    UniqueConstraint("business_id", "active_bill"),
    Index("ix_payments_business_id_status", "business_id", "status"),
    _business_fk(),
)

approval_policies = Table(
    "approval_policies",
    metadata,
    _id("business_id", primary_key=True),
    Column("version", Integer, nullable=False),
    Column("policy", JSON, nullable=False),
    _business_fk(),
)

forecast_snapshots = Table(
    "forecast_snapshots",
    metadata,
    _id("snapshot_id", primary_key=True),
    _id("business_id"),
    Column("created_at", UtcDateTime, nullable=False),
    Column("as_of", Date, nullable=False),
    Column("scenario", Text, nullable=True),
    Column("weeks", Integer, nullable=False),
    *_money("low_point"),
    Column("forecast", JSON, nullable=False),
    # The summary the portfolio console reads without the JSON (migration 0009).
    Column("low_week", Integer, nullable=True),
    Column("breach_probability", Float, nullable=True),
    Column("breach_week", Integer, nullable=True),
    Column("runway_weeks", Integer, nullable=True),
    *_money("buffer", nullable=True),
    Index("ix_forecast_snapshots_business_id_created_at", "business_id", "created_at"),
    Index(
        "ix_forecast_snapshots_baseline",
        "business_id",
        "created_at",
        "snapshot_id",
        postgresql_where=text("scenario IS NULL"),
        sqlite_where=text("scenario IS NULL"),
    ),
    _business_fk(),
)

scenarios = Table(
    "scenarios",
    metadata,
    _id("business_id"),
    _id("name"),
    Column("created_at", UtcDateTime, nullable=False),
    Column("created_by", Text, nullable=False),
    Column("description", Text, nullable=False),
    Column("changes", JSON, nullable=False),
    PrimaryKeyConstraint("business_id", "name"),
    _business_fk(),
)

balances = Table(
    "balances",
    metadata,
    _id("business_id"),
    _record_id("account_id"),
    Column("as_of", UtcDateTime, nullable=False),
    *_money("current"),
    *_money("available", nullable=True),
    PrimaryKeyConstraint("business_id", "account_id", "as_of"),
    _business_fk(),
)

newest_balances = Table(
    "newest_balances",
    metadata,
    _id("business_id"),
    _record_id("account_id"),
    Column("as_of", UtcDateTime, nullable=False),
    *_money("current"),
    # Each account's newest row of `balances`, kept as balances are added (migration
    # 0009): the portfolio console reads cash without scanning every balance ever seen.
    PrimaryKeyConstraint("business_id", "account_id"),
    _business_fk(),
)

rail_connections = Table(
    "rail_connections",
    metadata,
    _id("business_id"),
    Column("rail", String(32), nullable=False),
    Column("status", String(32), nullable=False),
    Column("account", Text, nullable=True),
    Column("detail", Text, nullable=False),
    Column("last_synced_at", UtcDateTime, nullable=True),
    Column("last_error_at", UtcDateTime, nullable=True),
    PrimaryKeyConstraint("business_id", "rail"),
    _business_fk(),
    Index(None, "rail", "account"),
)

sync_cursors = Table(
    "sync_cursors",
    metadata,
    _id("business_id"),
    Column("rail", String(32), nullable=False),
    Column("stream", String(64), nullable=False),
    Column("cursor", Text, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("business_id", "rail", "stream"),
    _business_fk(),
)

webhook_events = Table(
    "webhook_events",
    metadata,
    Column("rail", String(32), nullable=False),
    Column("event_id", Text, nullable=False),
    Column("event_type", Text, nullable=False),
    Column("account", Text, nullable=True),
    Column("payload_json", Text, nullable=False),
    Column("received_at", UtcDateTime, nullable=False),
    Column("status", String(32), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("last_error", Text, nullable=True),
    Column("next_attempt_at", UtcDateTime, nullable=True),
    Column("processed_at", UtcDateTime, nullable=True),
    PrimaryKeyConstraint("rail", "event_id"),
    Index(None, "status", "next_attempt_at"),
)

rail_credentials = Table(
    "rail_credentials",
    metadata,
    _id("business_id"),
    Column("rail", String(32), nullable=False),
    Column("ciphertext", Text, nullable=False),
    Column("key_id", String(64), nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("business_id", "rail"),
    _business_fk(),
)

audit_events = Table(
    "audit_events",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("at", UtcDateTime, nullable=False),
    Column("actor", Text, nullable=False),
    Column("action", Text, nullable=False),
    Column("subject", Text, nullable=False),
    Column("before", JSON, nullable=True),
    Column("after", JSON, nullable=True),
    Column("advisor_id", String(64), nullable=True, index=True),
    Column("prev_hash", CHAR(64), nullable=False),
    Column("hash", CHAR(64), nullable=False),
)

audit_head = Table(
    "audit_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("count", BigInteger, nullable=False),
    Column("last_hash", CHAR(64), nullable=False),
    CheckConstraint("id = 1", name="single_row"),
)

collection_sequences = Table(
    "collection_sequences",
    metadata,
    _id("business_id", primary_key=True),
    Column("version", Integer, nullable=False),
    Column("steps", JSON, nullable=False),
    _business_fk(),
)

collection_sends = Table(
    "collection_sends",
    metadata,
    _id("business_id"),
    _record_id("invoice_id"),
    Column("step_id", String(32), nullable=False),
    Column("message_id", Text, nullable=False, unique=True),
    Column("tone", String(16), nullable=False),
    Column("recipients", JSON, nullable=False),
    Column("status", String(16), nullable=False),
    Column("intended_at", UtcDateTime, nullable=False),
    Column("sent_at", UtcDateTime, nullable=True),
    Column("provider_id", Text, nullable=True),
    Column("error", Text, nullable=True),
    Column("attempts", Integer, nullable=False),
    *_money("discount", nullable=True),
    Column("pay_by", Date, nullable=True),
    # The key is the rule: one send per invoice and step, whatever crashes in between.
    PrimaryKeyConstraint("business_id", "invoice_id", "step_id"),
    Index("ix_collection_sends_business_id_intended_at", "business_id", "intended_at"),
    _business_fk(),
)

hygiene_issues = Table(
    "hygiene_issues",
    metadata,
    _id("business_id"),
    Column("key", Text, nullable=False),
    Column("kind", String(48), nullable=False),
    Column("severity", String(16), nullable=False),
    *_money("money"),
    Column("since", Date, nullable=False),
    Column("summary", Text, nullable=False),
    Column("records", JSON, nullable=False),
    Column("priority", Float, nullable=False),
    Column("first_detected_at", UtcDateTime, nullable=False),
    Column("last_detected_at", UtcDateTime, nullable=False),
    Column("status", String(16), nullable=False),
    Column("snoozed_until", Date, nullable=True),
    Column("note", Text, nullable=False),
    Column("changed_by", Text, nullable=True),
    Column("changed_at", UtcDateTime, nullable=True),
    Column("version", Integer, nullable=False),
    PrimaryKeyConstraint("business_id", "key"),
    # Open counts by severity for many businesses at once (the portfolio console).
    Index("ix_hygiene_issues_business_id_status_severity", "business_id", "status", "severity"),
    _business_fk(),
)
