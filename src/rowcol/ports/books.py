"""A business's books as a folder of CSV files (docs/formats.md), read and written whole.

Bill payments and invoice receipts are not records of their own: the reader applies
them to the balance and paid date of the bill or invoice they name, and the writer
derives them back from those.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from rowcol.core.domain.errors import InvalidInput
from rowcol.core.domain.ids import BusinessId
from rowcol.core.domain.records import (
    Balance,
    BankAccount,
    BankTransaction,
    Bill,
    Customer,
    Invoice,
    Vendor,
)
from rowcol.ports.ar_source import RowError


@dataclass(frozen=True, slots=True)
class BooksBundle:
    """One business's books, in file order."""

    vendors: tuple[Vendor, ...] = ()
    customers: tuple[Customer, ...] = ()
    bills: tuple[Bill, ...] = ()
    invoices: tuple[Invoice, ...] = ()
    bank_accounts: tuple[BankAccount, ...] = ()
    bank_transactions: tuple[BankTransaction, ...] = ()
    balances: tuple[Balance, ...] = ()


@dataclass(frozen=True, slots=True)
class BooksRowError(RowError):
    """A row of one file of the folder that could not be read."""

    file: str

    def __str__(self) -> str:
        return f"{self.file} row {self.row}: {self.message}"


class MissingBooksFile(InvalidInput):
    """The folder lacks a file the format requires; nothing was read."""


class BooksFolder(Protocol):
    """A folder that is not books (missing a required file or column, not CSV) raises
    InvalidInput; a bad row is returned as an error and left out of the bundle."""

    def read(self, path: str, business_id: BusinessId) -> tuple[BooksBundle, tuple[RowError, ...]]:
        """Records of `business_id`; payments.csv already applied to bills and invoices."""
        ...

    def write(self, bundle: BooksBundle, path: str) -> None:
        """Creates the folder if needed and replaces the format's files in it; raises
        InvalidInput, writing nothing, for a record the format cannot hold."""
        ...
