"""Collection sequences and sends on memory, SQLite and PostgreSQL: one send per invoice
and step, whatever order intents arrive in; sequences saved over the version read."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from rowcol.core.domain.collections import (
    CollectionSend,
    DuplicateSend,
    ReminderSequence,
    ReminderStep,
    SendStatus,
    Tone,
    default_sequence,
)
from rowcol.core.domain.errors import Conflict
from rowcol.core.domain.ids import BusinessId, InvoiceId
from rowcol.core.domain.money import Money
from rowcol.core.domain.tenancy import Business
from rowcol.ports.repository import StaleWrite, UnitOfWorkFactory

NOW = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)
BIZ = BusinessId("biz-1")


def send(invoice: str, step: str, at: datetime = NOW) -> CollectionSend:
    return CollectionSend(BIZ, InvoiceId(invoice), step, Tone.FIRM, ("pay@cust.example",), at)


async def _business(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        await uow.businesses.add(Business(BIZ, "Acme"))
        await uow.commit()


async def test_a_second_send_for_the_same_invoice_and_step_is_refused(
    uow_factory: UnitOfWorkFactory,
) -> None:
    await _business(uow_factory)
    async with uow_factory() as uow:
        await uow.collections.add_send(send("inv-1", "due-today"))
        await uow.collections.add_send(send("inv-1", "overdue-7", NOW + timedelta(days=7)))
        await uow.collections.add_send(send("inv-2", "due-today"))
        await uow.commit()
    async with uow_factory() as uow:
        with pytest.raises(DuplicateSend):
            await uow.collections.add_send(send("inv-1", "due-today", NOW + timedelta(days=1)))
    async with uow_factory() as uow:
        with pytest.raises(Conflict):
            await uow.collections.add_send(
                CollectionSend(
                    BusinessId("nope"), InvoiceId("i"), "x", Tone.FIRM, ("a@b.example",), NOW
                )
            )
    async with uow_factory() as uow:
        found = await uow.collections.list_sends(BIZ)
    assert [(s.invoice_id, s.step_id) for s in found] == [
        ("inv-1", "due-today"),
        ("inv-2", "due-today"),
        ("inv-1", "overdue-7"),
    ]


async def test_send_outcomes_round_trip_and_are_found_by_message_id(
    uow_factory: UnitOfWorkFactory,
) -> None:
    await _business(uow_factory)
    offer = replace(
        send("inv-1", "early-pay"), discount=Money(1_50, "USD"), pay_by=date(2026, 11, 12)
    )
    async with uow_factory() as uow:
        await uow.collections.add_send(offer)
        await uow.collections.add_send(send("inv-2", "due-today"))
        await uow.commit()
    done = replace(
        offer,
        status=SendStatus.SENT,
        sent_at=NOW + timedelta(minutes=1),
        provider_id="p-1",
        attempts=1,
    )
    async with uow_factory() as uow:
        await uow.collections.update_send(done)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.collections.find_send(offer.message_id) == done
        assert await uow.collections.find_send("col-none") is None
        sent = await uow.collections.list_sends(BIZ, statuses=[SendStatus.SENT])
        assert sent == [done]


async def test_a_sequence_is_saved_over_the_version_it_was_read_at(
    uow_factory: UnitOfWorkFactory,
) -> None:
    await _business(uow_factory)
    first = default_sequence(BIZ)
    second = ReminderSequence(
        BIZ, (ReminderStep("late", 10, "Pay $invoice, $customer", Tone.FINAL),), version=2
    )
    async with uow_factory() as uow:
        assert await uow.collections.get_sequence(BIZ) is None
        await uow.collections.save_sequence(first)
        await uow.commit()
    async with uow_factory() as uow:
        with pytest.raises(StaleWrite):
            await uow.collections.save_sequence(first)
    async with uow_factory() as uow:
        await uow.collections.save_sequence(second)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.collections.get_sequence(BIZ) == second
