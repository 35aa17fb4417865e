"""QuickBooks Online: the books, read-only (the Ledger port), OAuth 2.0 and webhooks."""

from rowcol.adapters.qbo.client import QBO_RATE_LIMIT, QboLedger
from rowcol.adapters.qbo.mapping import (
    DeletedRecord,
    LedgerBillPayment,
    LedgerChanges,
    LedgerPayment,
    PaidBill,
    PaidInvoice,
)
from rowcol.adapters.qbo.oauth import QboOAuth, QboOAuthConfig, QboTokens
from rowcol.adapters.qbo.webhooks import QboWebhookVerifier

__all__ = [
    "QBO_RATE_LIMIT",
    "DeletedRecord",
    "LedgerBillPayment",
    "LedgerChanges",
    "LedgerPayment",
    "PaidBill",
    "PaidInvoice",
    "QboLedger",
    "QboOAuth",
    "QboOAuthConfig",
    "QboTokens",
    "QboWebhookVerifier",
]
