"""Portfolio console: each forecast snapshot keeps the summary the console reads (low
week, highest breach chance and its week, weeks of runway, the buffer), so a thousand
clients are read without parsing their forecasts; each account's newest balance is kept
in `newest_balances` as balances are added; indexes for the console's statement.

Snapshots kept before this revision get their summary from their forecast JSON; their
buffer was not kept, so it stays empty until the next forecast.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_OPEN = "status IN ('open', 'disputed')"


def upgrade() -> None:
    with op.batch_alter_table("forecast_snapshots") as table:
        table.add_column(sa.Column("low_week", sa.Integer(), nullable=True))
        table.add_column(sa.Column("breach_probability", sa.Float(), nullable=True))
        table.add_column(sa.Column("breach_week", sa.Integer(), nullable=True))
        table.add_column(sa.Column("runway_weeks", sa.Integer(), nullable=True))
        table.add_column(sa.Column("buffer_minor", sa.BigInteger(), nullable=True))
        table.add_column(sa.Column("buffer_currency", sa.CHAR(3), nullable=True))
    _backfill()
    op.create_table(
        "newest_balances",
        sa.Column("business_id", sa.String(64), nullable=False),
        sa.Column("account_id", sa.Text(), nullable=False),
        sa.Column("as_of", sa.DateTime(timezone=True), nullable=False),
        sa.Column("current_minor", sa.BigInteger(), nullable=False),
        sa.Column("current_currency", sa.CHAR(3), nullable=False),
        sa.PrimaryKeyConstraint("business_id", "account_id", name="pk_newest_balances"),
        sa.ForeignKeyConstraint(
            ["business_id"],
            ["businesses.business_id"],
            name="fk_newest_balances_business_id_businesses",
        ),
    )
    op.execute(
        "INSERT INTO newest_balances "
        "(business_id, account_id, as_of, current_minor, current_currency) "
        "SELECT b.business_id, b.account_id, b.as_of, b.current_minor, b.current_currency "
        "FROM balances b JOIN ("
        "SELECT business_id, account_id, MAX(as_of) AS as_of FROM balances "
        "GROUP BY business_id, account_id"
        ") n ON n.business_id = b.business_id AND n.account_id = b.account_id "
        "AND n.as_of = b.as_of"
    )
    # Overdue receivables are summed from this index alone (it holds every column read).
    op.create_index(
        "ix_invoices_business_id_due_date_open",
        "invoices",
        ["business_id", "due_date", "balance_currency", "balance_minor"],
        postgresql_where=sa.text(_OPEN),
        sqlite_where=sa.text(_OPEN),
    )
    op.create_index(
        "ix_forecast_snapshots_baseline",
        "forecast_snapshots",
        ["business_id", "created_at", "snapshot_id"],
        postgresql_where=sa.text("scenario IS NULL"),
        sqlite_where=sa.text("scenario IS NULL"),
    )
    op.create_index("ix_payments_business_id_status", "payments", ["business_id", "status"])


def downgrade() -> None:
    op.drop_index("ix_payments_business_id_status", table_name="payments")
    op.drop_index("ix_forecast_snapshots_baseline", table_name="forecast_snapshots")
    op.drop_index("ix_invoices_business_id_due_date_open", table_name="invoices")
    op.drop_table("newest_balances")
    with op.batch_alter_table("forecast_snapshots") as table:
        for name in (
            "buffer_currency",
            "buffer_minor",
            "runway_weeks",
            "breach_week",
            "breach_probability",
            "low_week",
        ):
            table.drop_column(name)


def _summary(forecast: Any) -> dict[str, Any] | None:
    """The same summary `rowcol.core.domain.portfolio.summarize` gives, from the JSON
    (a migration keeps its own copy of the rule: later code may change)."""
    data = json.loads(forecast) if isinstance(forecast, str) else forecast
    weeks = data.get("weeks") or []
    if not weeks:
        return None
    p50 = [int(w["p50"][0]) for w in weeks]
    low = min(p50)
    chances = [float(w["breach_probability"]) for w in weeks]
    worst = max(chances)
    return {
        "low_week": int(weeks[p50.index(low)]["week"]),
        "breach_probability": round(worst, 6),
        "breach_week": int(weeks[chances.index(worst)]["week"]),
        "runway_weeks": next((int(w["week"]) - 1 for w in weeks if int(w["p50"][0]) < 0), None),
    }


def _backfill() -> None:
    bind = op.get_bind()
    snapshots = sa.table(
        "forecast_snapshots",
        sa.column("snapshot_id", sa.String()),
        sa.column("forecast", sa.JSON()),
        sa.column("low_week", sa.Integer()),
        sa.column("breach_probability", sa.Float()),
        sa.column("breach_week", sa.Integer()),
        sa.column("runway_weeks", sa.Integer()),
    )
    rows = bind.execute(sa.select(snapshots.c.snapshot_id, snapshots.c.forecast)).all()
    for snapshot_id, forecast in rows:
        summary = _summary(forecast)
        if summary is not None:
            bind.execute(
                snapshots.update().where(snapshots.c.snapshot_id == snapshot_id).values(**summary)
            )
