"""The books (QuickBooks Online): read-only. It records payments; it never makes them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final, Protocol

from rowcol.core.domain.crossrail import LedgerDeposit
from rowcol.core.domain.ids import BusinessId
from rowcol.core.domain.records import BankAccount, Bill, Customer, Invoice, Vendor

DELETION_WINDOW: Final = timedelta(days=30)
"""How far back a ledger reports deletions (QBO's Change Data Capture limit)."""


class LedgerKind(StrEnum):
    VENDOR = "vendor"
    CUSTOMER = "customer"
    BILL = "bill"
    INVOICE = "invoice"
    BANK_ACCOUNT = "bank_account"


@dataclass(frozen=True, slots=True)
class LedgerDeletion:
    kind: LedgerKind
    record_id: str


class Ledger(Protocol):
    async def list_vendors(self, business_id: BusinessId) -> Sequence[Vendor]: ...

    async def list_customers(self, business_id: BusinessId) -> Sequence[Customer]: ...

    async def list_bills(
        self, business_id: BusinessId, *, changed_since: datetime | None = None
    ) -> Sequence[Bill]: ...

    async def list_invoices(
        self, business_id: BusinessId, *, changed_since: datetime | None = None
    ) -> Sequence[Invoice]: ...

    async def list_bank_accounts(self, business_id: BusinessId) -> Sequence[BankAccount]: ...

    async def list_deposits(self, business_id: BusinessId) -> Sequence[LedgerDeposit]:
        """Deposits recorded into the business's bank accounts, oldest first."""
        ...

    async def list_deleted(
        self, business_id: BusinessId, *, since: datetime
    ) -> Sequence[LedgerDeletion] | None:
        """Records deleted after `since`; None when the ledger cannot tell them all
        (`since` older than DELETION_WINDOW, or an answer cut short): the caller then
        lists everything and drops what is gone."""
        ...
