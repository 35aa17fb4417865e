"""Plaid: bank accounts, real-time balances, transactions and webhooks."""

from rowcol.adapters.plaid.client import (
    PLAID_RATE_LIMIT,
    ItemNeedsAttention,
    PlaidBankVerifier,
    plaid_caller,
)
from rowcol.adapters.plaid.webhooks import PlaidWebhookVerifier

__all__ = [
    "PLAID_RATE_LIMIT",
    "ItemNeedsAttention",
    "PlaidBankVerifier",
    "PlaidWebhookVerifier",
    "plaid_caller",
]
