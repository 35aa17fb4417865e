"""Typed identity: a QBO id can never be handed to Ramp by mistake."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import NewType

from rowcol.core.domain.errors import InvalidInput

FirmId = NewType("FirmId", str)
AdvisorId = NewType("AdvisorId", str)
BusinessId = NewType("BusinessId", str)
ClientId = NewType("ClientId", str)
UserId = NewType("UserId", str)
VendorId = NewType("VendorId", str)
CustomerId = NewType("CustomerId", str)
BillId = NewType("BillId", str)
InvoiceId = NewType("InvoiceId", str)
BankAccountId = NewType("BankAccountId", str)
BankTransactionId = NewType("BankTransactionId", str)
ReserveId = NewType("ReserveId", str)
PaymentId = NewType("PaymentId", str)

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")


def check_id(value: str, kind: str) -> str:
    """Ids travel in URLs and logs: a short, printable token or a clear error."""
    if not isinstance(value, str) or not _ID.match(value):
        raise InvalidInput(f"{kind} must be 1-64 letters, digits, '_', '.', ':' or '-'")
    return value


class Rail(StrEnum):
    QBO = "qbo"
    RAMP = "ramp"
    PLAID = "plaid"
    STRIPE = "stripe"
    SENDGRID = "sendgrid"
    ROWCOL = "rowcol"


@dataclass(frozen=True, slots=True)
class ExternalRef:
    """An id in one rail's namespace."""

    rail: Rail
    id: str

    def __str__(self) -> str:
        return f"{self.rail.value}:{self.id}"

    @classmethod
    def parse(cls, text: str) -> ExternalRef:
        rail, sep, ident = text.partition(":")
        if not sep or not ident:
            raise InvalidInput(f"not an external reference: {text!r}")
        try:
            return cls(Rail(rail), ident)
        except ValueError:
            raise InvalidInput(f"unknown rail {rail!r}") from None
