"""A business's link to one rail: its sync cursors and its health."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from rowcol.core.domain.ids import BusinessId, Rail


class ConnectionStatus(StrEnum):
    OK = "ok"
    NEEDS_ATTENTION = "needs_attention"
    """The rail needs a person (re-authorise, login required); syncing will not fix it."""
    FAILING = "failing"
    """Recent syncs failed for reasons that may pass (outage, rate limits)."""
    NEVER_SYNCED = "never_synced"


@dataclass(frozen=True, slots=True)
class RailConnection:
    business_id: BusinessId
    rail: Rail
    status: ConnectionStatus
    account: str | None = None
    """The rail's own id for the connected account (QBO realm, Plaid item, ...)."""
    detail: str = ""
    last_synced_at: datetime | None = None
    last_error_at: datetime | None = None


LEDGERS = frozenset({Rail.QBO})
RECEIVABLES_RAILS = frozenset({Rail.STRIPE})


def receivables_source(connected: Iterable[Rail]) -> Rail | None:
    """Where a business's receivables come from: its books when they are connected
    (they hold every invoice, Stripe's included), else its card processor, else nowhere.
    One source only, so no invoice is counted twice."""
    rails = set(connected)
    for rail in sorted(rails & LEDGERS):
        return rail
    for rail in sorted(rails & RECEIVABLES_RAILS):
        return rail
    return None


@dataclass(frozen=True, slots=True)
class SyncCursor:
    business_id: BusinessId
    rail: Rail
    stream: str
    """What the cursor walks: `transactions`, `bills`, `cdc`, ..."""
    cursor: str
    updated_at: datetime


class WebhookStatus(StrEnum):
    PENDING = "pending"
    PROCESSED = "processed"
    FAILED = "failed"
    """Processing failed; it is retried at `next_attempt_at`, never dropped."""


@dataclass(frozen=True, slots=True)
class StoredWebhook:
    rail: Rail
    event_id: str
    event_type: str
    account: str | None
    payload_json: str
    """The event exactly as verified, as JSON text."""
    received_at: datetime
    status: WebhookStatus = WebhookStatus.PENDING
    attempts: int = 0
    last_error: str | None = None
    next_attempt_at: datetime | None = None
    processed_at: datetime | None = None
