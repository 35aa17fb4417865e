"""Collections: each business's reminder sequence, and every reminder send, one per
invoice and step.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "collection_sequences",
        sa.Column("business_id", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("steps", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("business_id", name="pk_collection_sequences"),
        sa.ForeignKeyConstraint(
            ["business_id"],
            ["businesses.business_id"],
            name="fk_collection_sequences_business_id_businesses",
        ),
    )
    op.create_table(
        "collection_sends",
        sa.Column("business_id", sa.String(64), nullable=False),
        sa.Column("invoice_id", sa.Text(), nullable=False),
        sa.Column("step_id", sa.String(32), nullable=False),
        sa.Column("message_id", sa.Text(), nullable=False),
        sa.Column("tone", sa.String(16), nullable=False),
        sa.Column("recipients", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("intended_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("provider_id", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("discount_minor", sa.BigInteger(), nullable=True),
        sa.Column("discount_currency", sa.CHAR(3), nullable=True),
        sa.Column("pay_by", sa.Date(), nullable=True),
        sa.PrimaryKeyConstraint("business_id", "invoice_id", "step_id", name="pk_collection_sends"),
        sa.UniqueConstraint("message_id", name="uq_collection_sends_message_id"),
        sa.ForeignKeyConstraint(
            ["business_id"],
            ["businesses.business_id"],
            name="fk_collection_sends_business_id_businesses",
        ),
    )
    op.create_index(
        "ix_collection_sends_business_id_intended_at",
        "collection_sends",
        ["business_id", "intended_at"],
    )


def downgrade() -> None:
    op.drop_index("ix_collection_sends_business_id_intended_at", table_name="collection_sends")
    op.drop_table("collection_sends")
    op.drop_table("collection_sequences")
