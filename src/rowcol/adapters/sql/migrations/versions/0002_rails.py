"""Rails: connections, sync cursors, the webhook inbox and encrypted credentials.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-09
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _id(name: str) -> sa.Column[str]:
    return sa.Column(name, sa.String(64), nullable=False)


def _rail() -> sa.Column[str]:
    return sa.Column("rail", sa.String(32), nullable=False)


def _text(name: str, *, nullable: bool = False) -> sa.Column[str]:
    return sa.Column(name, sa.Text(), nullable=nullable)


def _instant(name: str, *, nullable: bool = False) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _business_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["business_id"],
        ["businesses.business_id"],
        name=f"fk_{table}_business_id_businesses",
    )


def upgrade() -> None:
    op.create_table(
        "rail_connections",
        _id("business_id"),
        _rail(),
        sa.Column("status", sa.String(32), nullable=False),
        _text("account", nullable=True),
        _text("detail"),
        _instant("last_synced_at", nullable=True),
        _instant("last_error_at", nullable=True),
        sa.PrimaryKeyConstraint("business_id", "rail", name="pk_rail_connections"),
        _business_fk("rail_connections"),
    )
    op.create_index("ix_rail_connections_rail_account", "rail_connections", ["rail", "account"])

    op.create_table(
        "sync_cursors",
        _id("business_id"),
        _rail(),
        sa.Column("stream", sa.String(64), nullable=False),
        _text("cursor"),
        _instant("updated_at"),
        sa.PrimaryKeyConstraint("business_id", "rail", "stream", name="pk_sync_cursors"),
        _business_fk("sync_cursors"),
    )

    op.create_table(
        "webhook_events",
        _rail(),
        _text("event_id"),
        _text("event_type"),
        _text("account", nullable=True),
        _text("payload_json"),
        _instant("received_at"),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _text("last_error", nullable=True),
        _instant("next_attempt_at", nullable=True),
        _instant("processed_at", nullable=True),
        sa.PrimaryKeyConstraint("rail", "event_id", name="pk_webhook_events"),
    )
    op.create_index(
        "ix_webhook_events_status_next_attempt_at",
        "webhook_events",
        ["status", "next_attempt_at"],
    )

    op.create_table(
        "rail_credentials",
        _id("business_id"),
        _rail(),
        _text("ciphertext"),
        sa.Column("key_id", sa.String(64), nullable=False),
        _instant("updated_at"),
        sa.PrimaryKeyConstraint("business_id", "rail", name="pk_rail_credentials"),
        _business_fk("rail_credentials"),
    )


def downgrade() -> None:
    op.drop_table("rail_credentials")
    op.drop_index("ix_webhook_events_status_next_attempt_at", table_name="webhook_events")
    op.drop_table("webhook_events")
    op.drop_table("sync_cursors")
    op.drop_index("ix_rail_connections_rail_account", table_name="rail_connections")
    op.drop_table("rail_connections")
