"""The books (QuickBooks Online): read-only. It records payments; it never makes them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from rowcol.core.domain.ids import BusinessId
from rowcol.core.domain.records import BankAccount, Bill, Customer, Invoice, Vendor


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
