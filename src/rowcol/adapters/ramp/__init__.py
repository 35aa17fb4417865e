"""Ramp: bill payments (RowCol's PaymentRail), vendors, bills and webhooks."""

from rowcol.adapters.ramp.client import (
    RAMP_RATE_LIMIT,
    RampPaymentRail,
    VendorResolver,
    ramp_caller,
)
from rowcol.adapters.ramp.oauth import DEFAULT_SCOPES, RampCredentials
from rowcol.adapters.ramp.webhooks import RampWebhookVerifier, SecretLookup

__all__ = [
    "DEFAULT_SCOPES",
    "RAMP_RATE_LIMIT",
    "RampCredentials",
    "RampPaymentRail",
    "RampWebhookVerifier",
    "SecretLookup",
    "VendorResolver",
    "ramp_caller",
]
