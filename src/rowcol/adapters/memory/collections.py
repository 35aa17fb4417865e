"""Reminder sequences and sends in memory, with the store's own rule: one send per
invoice and step."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from rowcol.core.domain.collections import (
    CollectionSend,
    DuplicateSend,
    ReminderSequence,
    SendStatus,
    sorted_sends,
)
from rowcol.core.domain.errors import Conflict, NotFound
from rowcol.core.domain.ids import BusinessId
from rowcol.ports.repository import CollectionRepository, StaleWrite

SendKey = tuple[str, str, str]


def send_key(send: CollectionSend) -> SendKey:
    return (send.business_id, send.invoice_id, send.step_id)


class MemoryCollections(CollectionRepository):
    def __init__(
        self,
        sequences: dict[str, ReminderSequence],
        sends: dict[SendKey, CollectionSend],
        businesses: Collection[str],
    ) -> None:
        self._sequences = sequences
        self._sends = sends
        self._businesses = businesses

    async def get_sequence(self, business_id: BusinessId) -> ReminderSequence | None:
        return self._sequences.get(business_id)

    async def save_sequence(self, sequence: ReminderSequence) -> None:
        if sequence.business_id not in self._businesses:
            raise Conflict(f"business {sequence.business_id} does not exist")
        stored = self._sequences.get(sequence.business_id)
        expected = 1 if stored is None else stored.version + 1
        if sequence.version != expected:
            raise StaleWrite(f"the sequence of {sequence.business_id} changed since it was read")
        self._sequences[sequence.business_id] = sequence

    async def add_send(self, send: CollectionSend) -> None:
        if send.business_id not in self._businesses:
            raise Conflict(f"business {send.business_id} does not exist")
        if send_key(send) in self._sends:
            raise DuplicateSend(f"invoice {send.invoice_id} already has step {send.step_id}")
        self._sends[send_key(send)] = send

    async def update_send(self, send: CollectionSend) -> None:
        if send_key(send) not in self._sends:
            raise NotFound(f"no send of step {send.step_id} for invoice {send.invoice_id}")
        self._sends[send_key(send)] = send

    async def find_send(self, message_id: str) -> CollectionSend | None:
        return next((s for s in self._sends.values() if s.message_id == message_id), None)

    async def list_sends(
        self,
        business_id: BusinessId,
        *,
        statuses: Collection[SendStatus] | None = None,
    ) -> Sequence[CollectionSend]:
        return sorted_sends(
            [
                s
                for s in self._sends.values()
                if s.business_id == business_id and (statuses is None or s.status in statuses)
            ]
        )
