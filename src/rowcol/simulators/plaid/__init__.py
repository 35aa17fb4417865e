"""A local Plaid: the endpoints RowCol uses, seeded from the demo firm, with webhooks."""

from rowcol.simulators.plaid.app import CLIENT_ID, SECRET, create_app, deliver_webhooks
from rowcol.simulators.plaid.state import (
    PlaidState,
    SimAccount,
    SimTransaction,
    access_token_for,
    item_id_for,
    seed_from_demo,
)

__all__ = [
    "CLIENT_ID",
    "SECRET",
    "PlaidState",
    "SimAccount",
    "SimTransaction",
    "access_token_for",
    "create_app",
    "deliver_webhooks",
    "item_id_for",
    "seed_from_demo",
]
