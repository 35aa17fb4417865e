"""Scenarios: named what-if changes to a client's forecast.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "scenarios",
        sa.Column("business_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("business_id", "name", name="pk_scenarios"),
        sa.ForeignKeyConstraint(
            ["business_id"],
            ["businesses.business_id"],
            name="fk_scenarios_business_id_businesses",
        ),
    )


def downgrade() -> None:
    op.drop_table("scenarios")
