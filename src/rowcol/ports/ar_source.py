"""Receivables (Stripe): invoices, customers and payouts; it never pays bills."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from rowcol.core.domain.ids import BusinessId
from rowcol.core.domain.records import Customer, Invoice, Payout


class ARSource(Protocol):
    async def list_customers(self, business_id: BusinessId) -> Sequence[Customer]: ...

    async def list_invoices(self, business_id: BusinessId) -> Sequence[Invoice]: ...

    async def list_payouts(self, business_id: BusinessId) -> Sequence[Payout]: ...


@dataclass(frozen=True, slots=True)
class RowError:
    row: int
    """As a spreadsheet numbers it: the header is row 1."""
    message: str

    def __str__(self) -> str:
        return f"row {self.row}: {self.message}"


@dataclass(frozen=True, slots=True)
class ImportResult:
    customers: tuple[Customer, ...] = ()
    invoices: tuple[Invoice, ...] = ()
    payouts: tuple[Payout, ...] = ()
    errors: tuple[RowError, ...] = ()


class ARExportReader(Protocol):
    """Reads a processor's exported files, for firms without API access. A file that is
    not the export raises InvalidInput; a bad row is an error in the result."""

    name: str

    def read_invoices(self, text: str, business_id: BusinessId) -> ImportResult: ...

    def read_payouts(self, text: str, business_id: BusinessId) -> ImportResult: ...
