"""Stripe: receivables (customers, invoices), payouts and their balance transactions,
webhooks, and Dashboard CSV exports for firms without API access."""

from rowcol.adapters.stripe.client import (
    MAX_PAGE_SIZE,
    STRIPE_API_VERSION,
    STRIPE_RATE_LIMIT,
    StripeARSource,
    StripeNotFound,
    stripe_caller,
)
from rowcol.adapters.stripe.csv_import import (
    StripeCsvReader,
    import_invoices_csv,
    import_payouts_csv,
)
from rowcol.adapters.stripe.mapping import BalanceTransaction, Charge
from rowcol.adapters.stripe.webhooks import StripeWebhookVerifier

__all__ = [
    "MAX_PAGE_SIZE",
    "STRIPE_API_VERSION",
    "STRIPE_RATE_LIMIT",
    "BalanceTransaction",
    "Charge",
    "StripeARSource",
    "StripeCsvReader",
    "StripeNotFound",
    "StripeWebhookVerifier",
    "import_invoices_csv",
    "import_payouts_csv",
    "stripe_caller",
]
