"""Reserves (earmarks): cash set aside for a purpose until a date."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from rowcol.core.domain.errors import InvalidInput
from rowcol.core.domain.ids import BusinessId, ReserveId
from rowcol.core.domain.money import Money, total


@dataclass(frozen=True, slots=True)
class Reserve:
    reserve_id: ReserveId
    business_id: BusinessId
    purpose: str
    amount: Money
    until: date
    released: bool = False

    def __post_init__(self) -> None:
        if self.amount.amount_minor <= 0:
            raise InvalidInput("a reserve must hold a positive amount")
        if not self.purpose.strip():
            raise InvalidInput("a reserve needs a purpose")

    def is_active(self, today: date) -> bool:
        return not self.released and today <= self.until


def active_reserves_total(reserves: Iterable[Reserve], today: date, currency: str) -> Money:
    return total((r.amount for r in reserves if r.is_active(today)), currency)
