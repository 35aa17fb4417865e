"""Hygiene: each business's data-quality issues as last detected, and what people did
about them (resolved, snoozed), one row per business and issue key.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "hygiene_issues",
        sa.Column("business_id", sa.String(64), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(48), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("money_minor", sa.BigInteger(), nullable=False),
        sa.Column("money_currency", sa.CHAR(3), nullable=False),
        sa.Column("since", sa.Date(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("records", sa.JSON(), nullable=False),
        sa.Column("priority", sa.Float(), nullable=False),
        sa.Column("first_detected_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_detected_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("snoozed_until", sa.Date(), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("changed_by", sa.Text(), nullable=True),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("business_id", "key", name="pk_hygiene_issues"),
        sa.ForeignKeyConstraint(
            ["business_id"],
            ["businesses.business_id"],
            name="fk_hygiene_issues_business_id_businesses",
        ),
    )
    op.create_index(
        "ix_hygiene_issues_business_id_status_severity",
        "hygiene_issues",
        ["business_id", "status", "severity"],
    )


def downgrade() -> None:
    op.drop_index("ix_hygiene_issues_business_id_status_severity", table_name="hygiene_issues")
    op.drop_table("hygiene_issues")
