"""Verification (Plaid): balances and transactions; it never moves money."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from rowcol.core.domain.ids import BusinessId
from rowcol.core.domain.records import Balance, BankAccount, BankTransaction


@dataclass(frozen=True, slots=True)
class TransactionPage:
    added: Sequence[BankTransaction]
    modified: Sequence[BankTransaction]
    removed: Sequence[str]
    next_cursor: str
    has_more: bool


class BankVerifier(Protocol):
    async def list_accounts(self, business_id: BusinessId) -> Sequence[BankAccount]: ...

    async def get_balances(self, business_id: BusinessId) -> Sequence[Balance]:
        """Fresh balances straight from the bank, `as_of` the moment they were read."""
        ...

    async def sync_transactions(
        self, business_id: BusinessId, cursor: str | None
    ) -> TransactionPage: ...
