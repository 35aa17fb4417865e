"""Receivables (Stripe): invoices, customers and payouts; it never pays bills."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from rowcol.core.domain.ids import BusinessId
from rowcol.core.domain.records import Customer, Invoice, Payout


class ARSource(Protocol):
    async def list_customers(self, business_id: BusinessId) -> Sequence[Customer]: ...

    async def list_invoices(self, business_id: BusinessId) -> Sequence[Invoice]: ...

    async def list_payouts(self, business_id: BusinessId) -> Sequence[Payout]: ...
