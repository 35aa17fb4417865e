"""Payments (one open payment per bill, enforced here) and approval policies.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def _instant(name: str, *, nullable: bool = True) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _text(name: str, *, nullable: bool = True) -> sa.Column[str]:
    return sa.Column(name, sa.Text(), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "payments",
        sa.Column("payment_id", sa.String(64), nullable=False),
        sa.Column("business_id", sa.String(64), nullable=False),
        _text("bill_id", nullable=False),
        _text("vendor_id", nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("amount_currency", sa.CHAR(3), nullable=False),
        sa.Column("pay_on", sa.Date(), nullable=False),
        sa.Column("reference", sa.String(100), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        _text("active_bill"),
        _instant("created_at", nullable=False),
        _instant("updated_at", nullable=False),
        _text("prepared_by"),
        sa.Column("approvals", sa.JSON(), nullable=False),
        sa.Column("rail_payment_id", sa.String(100), nullable=True),
        _instant("submitted_at"),
        _instant("rail_confirmed_at"),
        _instant("bank_confirmed_at"),
        _text("bank_transaction_id"),
        _instant("ledger_confirmed_at"),
        _text("ledger_ref"),
        _text("stuck_reason"),
        _text("failure_reason"),
        _text("blocked_reason"),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("payment_id", name="pk_payments"),
        sa.UniqueConstraint("reference", name="uq_payments_reference"),
        # NULLs are distinct: a bill may have many failed or cancelled payments, but
        # only one that holds it.
        sa.UniqueConstraint(
            "business_id", "active_bill", name="uq_payments_business_id_active_bill"
        ),
        sa.ForeignKeyConstraint(
            ["business_id"],
            ["businesses.business_id"],
            name="fk_payments_business_id_businesses",
        ),
    )
    op.create_index("ix_payments_status", "payments", ["status"])
    op.create_index("ix_payments_rail_payment_id", "payments", ["rail_payment_id"])
    op.create_table(
        "approval_policies",
        sa.Column("business_id", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("policy", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("business_id", name="pk_approval_policies"),
        sa.ForeignKeyConstraint(
            ["business_id"],
            ["businesses.business_id"],
            name="fk_approval_policies_business_id_businesses",
        ),
    )


def downgrade() -> None:
    op.drop_table("approval_policies")
    op.drop_index("ix_payments_rail_payment_id", table_name="payments")
    op.drop_index("ix_payments_status", table_name="payments")
    op.drop_table("payments")
