"""Initial schema: tenancy, mirrored records, reserves, balances and the audit log.

Revision ID: 0001
Revises:
Create Date: 2026-11-02
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# The hash the first audit event chains to (rowcol.core.domain.audit.GENESIS_HASH), written
# out so this migration never changes when the code does.
GENESIS_HASH = "0" * 64


def _id(name: str) -> sa.Column[str]:
    return sa.Column(name, sa.String(64), nullable=False)


def _text(name: str, *, nullable: bool = False) -> sa.Column[str]:
    return sa.Column(name, sa.Text(), nullable=nullable)


def _flag(name: str) -> sa.Column[bool]:
    return sa.Column(name, sa.Boolean(), nullable=False)


def _date(name: str, *, nullable: bool = False) -> sa.Column[Any]:
    return sa.Column(name, sa.Date(), nullable=nullable)


def _money(name: str, *, nullable: bool = False) -> list[sa.Column[Any]]:
    return [
        sa.Column(f"{name}_minor", sa.BigInteger(), nullable=nullable),
        sa.Column(f"{name}_currency", sa.CHAR(3), nullable=nullable),
    ]


def _business_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["business_id"],
        ["businesses.business_id"],
        name=f"fk_{table}_business_id_businesses",
    )


def _record_table(table: str, record_id: str, *columns: sa.Column[Any]) -> None:
    op.create_table(
        table,
        _id("business_id"),
        _text(record_id),
        *columns,
        sa.PrimaryKeyConstraint("business_id", record_id, name=f"pk_{table}"),
        _business_fk(table),
    )


def upgrade() -> None:
    op.create_table(
        "firms",
        _id("firm_id"),
        sa.Column("name", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("firm_id", name="pk_firms"),
    )
    op.create_table(
        "advisors",
        _id("advisor_id"),
        _id("firm_id"),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("runway_tier", sa.String(32), nullable=False),
        sa.Column("feature_flags", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("advisor_id", name="pk_advisors"),
        sa.UniqueConstraint("email", name="uq_advisors_email"),
    )
    op.create_index("ix_advisors_firm_id", "advisors", ["firm_id"])
    op.create_table(
        "users",
        _id("user_id"),
        _id("advisor_id"),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("user_id", name="pk_users"),
        sa.UniqueConstraint("email", name="uq_users_email"),
    )
    op.create_index("ix_users_advisor_id", "users", ["advisor_id"])
    op.create_table(
        "businesses",
        _id("business_id"),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("business_id", name="pk_businesses"),
    )
    op.create_table(
        "clients",
        _id("advisor_id"),
        _id("business_id"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("advisor_id", "business_id", name="pk_clients"),
        sa.ForeignKeyConstraint(
            ["advisor_id"], ["advisors.advisor_id"], name="fk_clients_advisor_id_advisors"
        ),
        _business_fk("clients"),
    )
    op.create_index("ix_clients_business_id", "clients", ["business_id"])

    _record_table(
        "vendors",
        "vendor_id",
        _text("name"),
        _text("category"),
        sa.Column("payment_terms_days", sa.Integer(), nullable=True),
        _flag("has_payment_details"),
        _flag("is_critical"),
        _text("external_ref", nullable=True),
    )
    _record_table(
        "customers",
        "customer_id",
        _text("name"),
        _text("email", nullable=True),
        _text("external_ref", nullable=True),
    )
    _record_table(
        "bills",
        "bill_id",
        _text("vendor_id"),
        *_money("amount"),
        *_money("balance"),
        _date("issue_date"),
        _date("due_date", nullable=True),
        sa.Column("status", sa.String(32), nullable=False),
        _text("category"),
        _text("memo"),
        _flag("recurring"),
        _text("prepared_by", nullable=True),
        _date("paid_date", nullable=True),
        _text("external_ref", nullable=True),
    )
    _record_table(
        "invoices",
        "invoice_id",
        _text("customer_id"),
        *_money("amount"),
        *_money("balance"),
        _date("issue_date"),
        _date("due_date"),
        sa.Column("status", sa.String(32), nullable=False),
        _date("paid_date", nullable=True),
        _text("external_ref", nullable=True),
    )
    _record_table(
        "bank_accounts",
        "account_id",
        _text("name"),
        sa.Column("currency", sa.String(3), nullable=False),
        _text("mask", nullable=True),
        _text("external_ref", nullable=True),
    )
    _record_table(
        "bank_transactions",
        "transaction_id",
        _text("account_id"),
        *_money("amount"),
        _date("posted_on"),
        _text("description"),
        _text("category"),
        _flag("pending"),
        _text("counterparty", nullable=True),
        _text("external_ref", nullable=True),
        sa.Column("tags", sa.JSON(), nullable=False),
    )
    _record_table(
        "reserves",
        "reserve_id",
        _text("purpose"),
        *_money("amount"),
        _date("until"),
        _flag("released"),
    )

    op.create_table(
        "balances",
        _id("business_id"),
        _text("account_id"),
        sa.Column("as_of", sa.DateTime(timezone=True), nullable=False),
        *_money("current"),
        *_money("available", nullable=True),
        sa.PrimaryKeyConstraint("business_id", "account_id", "as_of", name="pk_balances"),
        _business_fk("balances"),
    )

    op.create_table(
        "audit_events",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        _text("actor"),
        _text("action"),
        _text("subject"),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.Column("advisor_id", sa.String(64), nullable=True),
        sa.Column("prev_hash", sa.CHAR(64), nullable=False),
        sa.Column("hash", sa.CHAR(64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_audit_events"),
    )
    op.create_index("ix_audit_events_advisor_id", "audit_events", ["advisor_id"])
    audit_head = op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("last_hash", sa.CHAR(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_head"),
        sa.CheckConstraint("id = 1", name="ck_audit_head_single_row"),
    )
    op.bulk_insert(audit_head, [{"id": 1, "count": 0, "last_hash": GENESIS_HASH}])


def downgrade() -> None:
    for table in (
        "audit_head",
        "audit_events",
        "balances",
        "reserves",
        "bank_transactions",
        "bank_accounts",
        "invoices",
        "bills",
        "customers",
        "vendors",
        "clients",
        "businesses",
        "users",
        "advisors",
        "firms",
    ):
        op.drop_table(table)
