"""Books balances: a bank account read from the books keeps the books' balance of it
(QBO's CurrentBalance), so hygiene can tell when the bank and the books disagree.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("bank_accounts") as table:
        table.add_column(sa.Column("books_balance_minor", sa.BigInteger(), nullable=True))
        table.add_column(sa.Column("books_balance_currency", sa.CHAR(3), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("bank_accounts") as table:
        table.drop_column("books_balance_currency")
        table.drop_column("books_balance_minor")
