"""Payouts: money a card processor (Stripe) sends to the business's bank.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "payouts",
        sa.Column("business_id", sa.String(64), nullable=False),
        sa.Column("payout_id", sa.Text(), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("amount_currency", sa.CHAR(3), nullable=False),
        sa.Column("arrival_date", sa.Date(), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("external_ref", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("business_id", "payout_id", name="pk_payouts"),
        sa.ForeignKeyConstraint(
            ["business_id"],
            ["businesses.business_id"],
            name="fk_payouts_business_id_businesses",
        ),
    )


def downgrade() -> None:
    op.drop_table("payouts")
