"""Reminder sequences and collection sends in SQL; the primary key (business, invoice,
step) is what keeps a reminder from going out twice."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any, Protocol

from sqlalchemy import CursorResult, Executable, Insert, RowMapping, Table, select, update
from sqlalchemy.exc import IntegrityError

from rowcol.adapters.sql import tables as t
from rowcol.core.domain.collections import (
    CollectionSend,
    DuplicateSend,
    ReminderSequence,
    ReminderStep,
    SendStatus,
    Tone,
)
from rowcol.core.domain.errors import Conflict, NotFound
from rowcol.core.domain.ids import BusinessId, InvoiceId
from rowcol.core.domain.money import Money
from rowcol.ports.repository import CollectionRepository, StaleWrite


class _Db(Protocol):
    @property
    def dialect(self) -> str: ...

    async def read(self, statement: Executable) -> CursorResult[Any]: ...

    async def write(self, statement: Executable) -> CursorResult[Any]: ...

    def insert_new(self, table: Table, keys: Sequence[str]) -> Insert: ...


def _steps_json(sequence: ReminderSequence) -> list[dict[str, Any]]:
    return [
        {"step_id": s.step_id, "offset_days": s.offset_days, "template": s.template, "tone": s.tone}
        for s in sequence.steps
    ]


def _sequence(row: RowMapping) -> ReminderSequence:
    return ReminderSequence(
        BusinessId(row["business_id"]),
        tuple(
            ReminderStep(s["step_id"], int(s["offset_days"]), s["template"], Tone(s["tone"]))
            for s in row["steps"]
        ),
        version=int(row["version"]),
    )


def _outcome(send: CollectionSend) -> dict[str, Any]:
    return {
        "status": send.status.value,
        "sent_at": send.sent_at,
        "provider_id": send.provider_id,
        "error": send.error,
        "attempts": send.attempts,
    }


def _row(send: CollectionSend) -> dict[str, Any]:
    return {
        "business_id": send.business_id,
        "invoice_id": send.invoice_id,
        "step_id": send.step_id,
        "message_id": send.message_id,
        "tone": send.tone.value,
        "recipients": list(send.to),
        "intended_at": send.intended_at,
        "discount_minor": send.discount.amount_minor if send.discount else None,
        "discount_currency": send.discount.currency if send.discount else None,
        "pay_by": send.pay_by,
        **_outcome(send),
    }


def _send(row: RowMapping) -> CollectionSend:
    discount = (
        None
        if row["discount_minor"] is None
        else Money(int(row["discount_minor"]), row["discount_currency"])
    )
    return CollectionSend(
        business_id=BusinessId(row["business_id"]),
        invoice_id=InvoiceId(row["invoice_id"]),
        step_id=row["step_id"],
        tone=Tone(row["tone"]),
        to=tuple(row["recipients"]),
        intended_at=row["intended_at"],
        status=SendStatus(row["status"]),
        sent_at=row["sent_at"],
        provider_id=row["provider_id"],
        error=row["error"],
        attempts=int(row["attempts"]),
        discount=discount,
        pay_by=row["pay_by"],
        message_id=row["message_id"],
    )


class SqlCollections(CollectionRepository):
    def __init__(self, db: _Db) -> None:
        self._db = db

    async def get_sequence(self, business_id: BusinessId) -> ReminderSequence | None:
        c = t.collection_sequences.c
        found = await self._db.read(
            select(t.collection_sequences).where(c.business_id == business_id)
        )
        row = found.mappings().one_or_none()
        return None if row is None else _sequence(row)

    async def save_sequence(self, sequence: ReminderSequence) -> None:
        c = t.collection_sequences.c
        values = {
            "business_id": sequence.business_id,
            "version": sequence.version,
            "steps": _steps_json(sequence),
        }
        statement: Executable
        if sequence.version == 1:
            statement = self._db.insert_new(t.collection_sequences, ["business_id"]).values(values)
        else:
            statement = (
                update(t.collection_sequences)
                .where(c.business_id == sequence.business_id, c.version == sequence.version - 1)
                .values(values)
            )
        try:
            result = await self._db.write(statement)
        except IntegrityError as exc:
            raise Conflict(f"business {sequence.business_id} does not exist") from exc
        if result.rowcount != 1:
            raise StaleWrite(f"the sequence of {sequence.business_id} changed since it was read")

    async def add_send(self, send: CollectionSend) -> None:
        try:
            await self._db.write(t.collection_sends.insert().values(_row(send)))
        except IntegrityError as exc:
            if "foreign key" in str(exc.orig).lower():
                raise Conflict(f"business {send.business_id} does not exist") from exc
            raise DuplicateSend(
                f"invoice {send.invoice_id} already has step {send.step_id}"
            ) from exc

    async def update_send(self, send: CollectionSend) -> None:
        c = t.collection_sends.c
        result = await self._db.write(
            update(t.collection_sends)
            .where(
                c.business_id == send.business_id,
                c.invoice_id == send.invoice_id,
                c.step_id == send.step_id,
            )
            .values(_outcome(send))
        )
        if result.rowcount != 1:
            raise NotFound(f"no send of step {send.step_id} for invoice {send.invoice_id}")

    async def find_send(self, message_id: str) -> CollectionSend | None:
        c = t.collection_sends.c
        found = await self._db.read(select(t.collection_sends).where(c.message_id == message_id))
        row = found.mappings().one_or_none()
        return None if row is None else _send(row)

    async def list_sends(
        self,
        business_id: BusinessId,
        *,
        statuses: Collection[SendStatus] | None = None,
    ) -> Sequence[CollectionSend]:
        c = t.collection_sends.c
        query = select(t.collection_sends).where(c.business_id == business_id)
        if statuses is not None:
            query = query.where(c.status.in_([s.value for s in statuses]))
        found = await self._db.read(query)
        # Sorted here, as the memory store sorts, so text order is the same everywhere.
        rows = [_send(row) for row in found.mappings()]
        return sorted(rows, key=lambda s: (s.intended_at, s.invoice_id, s.step_id))
