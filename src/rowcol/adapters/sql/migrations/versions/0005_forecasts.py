"""Forecast snapshots: every forecast as it was made, to measure it later.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "forecast_snapshots",
        sa.Column("snapshot_id", sa.String(64), nullable=False),
        sa.Column("business_id", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("scenario", sa.Text(), nullable=True),
        sa.Column("weeks", sa.Integer(), nullable=False),
        sa.Column("low_point_minor", sa.BigInteger(), nullable=False),
        sa.Column("low_point_currency", sa.CHAR(3), nullable=False),
        sa.Column("forecast", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("snapshot_id", name="pk_forecast_snapshots"),
        sa.ForeignKeyConstraint(
            ["business_id"],
            ["businesses.business_id"],
            name="fk_forecast_snapshots_business_id_businesses",
        ),
    )
    op.create_index(
        "ix_forecast_snapshots_business_id_created_at",
        "forecast_snapshots",
        ["business_id", "created_at"],
    )


def downgrade() -> None:
    op.drop_index("ix_forecast_snapshots_business_id_created_at", table_name="forecast_snapshots")
    op.drop_table("forecast_snapshots")
