"""Rails shipped as separate distributions register through the `rowcol.rails` entry
point group: a function taking a RailPluginContext and returning a RailPlugin."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from rowcol.ports.ar_source import ARSource
from rowcol.ports.bank_verifier import BankVerifier
from rowcol.ports.clock import Clock
from rowcol.ports.credentials import CredentialStore
from rowcol.ports.ledger import Ledger
from rowcol.ports.notifier import Notifier
from rowcol.ports.payment_rail import PaymentRail
from rowcol.ports.webhooks import WebhookVerifier

ENTRY_POINT_GROUP = "rowcol.rails"


@dataclass(frozen=True, slots=True)
class RailPluginContext:
    env: Mapping[str, str]
    """The process environment: a plugin reads its own ROWCOL_<RAIL>_* settings."""
    clock: Clock
    credentials: CredentialStore
    monitor: Any
    """The shared RailHealthMonitor, for the plugin's RailCaller."""


@dataclass(frozen=True, slots=True)
class RailPlugin:
    name: str
    ledger: Ledger | None = None
    bank: BankVerifier | None = None
    receivables: ARSource | None = None
    payments: PaymentRail | None = None
    notifier: Notifier | None = None
    webhooks: WebhookVerifier | None = None


RailPluginFactory = Callable[[RailPluginContext], RailPlugin | None]
