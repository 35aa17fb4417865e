"""A local Stripe: the v1 endpoints RowCol uses, one account per demo business, webhooks."""

from rowcol.simulators.stripe.app import ERROR_BODY, LISTINGS, create_app, deliver_webhooks
from rowcol.simulators.stripe.state import (
    API_VERSION,
    WEBHOOK_SECRET,
    PendingEvent,
    SimAccount,
    StripeApiError,
    StripeBooks,
    StripeState,
    account_id_for,
    api_key_for,
    seed_from_demo,
    stripe_books,
    stripe_id,
)

__all__ = [
    "API_VERSION",
    "ERROR_BODY",
    "LISTINGS",
    "WEBHOOK_SECRET",
    "PendingEvent",
    "SimAccount",
    "StripeApiError",
    "StripeBooks",
    "StripeState",
    "account_id_for",
    "api_key_for",
    "create_app",
    "deliver_webhooks",
    "seed_from_demo",
    "stripe_books",
    "stripe_id",
]
