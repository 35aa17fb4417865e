"""A QuickBooks Online simulator: OAuth, Data API reads, CDC, Faults and webhooks."""

from rowcol.simulators.qbo.app import create_app, deliver_webhooks, sign
from rowcol.simulators.qbo.state import (
    PendingEvent,
    State,
    TokenGrant,
    realm_id_for,
    seed_from_demo,
)

__all__ = [
    "PendingEvent",
    "State",
    "TokenGrant",
    "create_app",
    "deliver_webhooks",
    "realm_id_for",
    "seed_from_demo",
    "sign",
]
