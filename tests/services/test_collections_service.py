"""Reminders go out once per invoice and step, even across a crash; paying stops them;
outcomes are tracked."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from rowcol.adapters.clock import ManualClock
from rowcol.adapters.memory.rails import MemoryNotifier
from rowcol.adapters.memory.repository import MemoryUnitOfWorkFactory
from rowcol.core.domain.collections import CollectionSend, SendStatus, Tone
from rowcol.core.domain.ids import AdvisorId, BusinessId, CustomerId, FirmId, InvoiceId
from rowcol.core.domain.money import Money
from rowcol.core.domain.notifications import EmailMessage
from rowcol.core.domain.records import Customer, Invoice, InvoiceStatus
from rowcol.core.domain.tenancy import SYSTEM_ACTOR, Advisor, Business, Client
from rowcol.core.services.collections import (
    CustomerCommunicationService,
    EarlyCollectionService,
)

ADV = AdvisorId("adv-1")
BIZ = BusinessId("biz-1")
DUE = date(2026, 6, 15)
START = datetime(2026, 6, 15, 14, 0, tzinfo=UTC)


class Crash(BaseException):
    """The process dies between storing the intent and hearing from the notifier."""


class CrashingNotifier(MemoryNotifier):
    async def send(self, message: EmailMessage) -> str:
        raise Crash


async def setup() -> tuple[MemoryUnitOfWorkFactory, ManualClock]:
    uow_factory = MemoryUnitOfWorkFactory()
    clock = ManualClock(START)
    async with uow_factory() as uow:
        await uow.advisors.add(Advisor(ADV, FirmId("firm-1"), "adv@firm.example", "Adv"))
        await uow.businesses.add(Business(BIZ, "Acme Widgets"))
        await uow.clients.add(Client(ADV, BIZ, START))
        await uow.customers.upsert(
            [Customer(CustomerId("cus-1"), BIZ, "Globex", email="ap@globex.example")]
        )
        await uow.invoices.upsert([invoice()])
        await uow.commit()
    return uow_factory, clock


def invoice(status: InvoiceStatus = InvoiceStatus.OPEN, paid: date | None = None) -> Invoice:
    balance = 0 if status is InvoiceStatus.PAID else 1_234_56
    return Invoice(
        InvoiceId("inv-1"),
        BIZ,
        CustomerId("cus-1"),
        Money(1_234_56, "USD"),
        Money(balance, "USD"),
        date(2026, 5, 16),
        DUE,
        status=status,
        paid_date=paid,
    )


def service(
    uow_factory: MemoryUnitOfWorkFactory, clock: ManualClock, notifier: MemoryNotifier
) -> EarlyCollectionService:
    return EarlyCollectionService(
        uow_factory, clock, CustomerCommunicationService(uow_factory, clock, notifier)
    )


async def test_a_due_reminder_goes_out_once_with_amount_and_business_name() -> None:
    uow_factory, clock = await setup()
    notifier = MemoryNotifier()
    collections = service(uow_factory, clock, notifier)
    first = await collections.run(SYSTEM_ACTOR, ADV, BIZ)
    again = await collections.run(SYSTEM_ACTOR, ADV, BIZ)
    assert (first.sent, again.sent) == (1, 0)
    [message] = notifier.sent
    assert message.message_id == "col-biz-1-inv-1-due-today"
    assert message.text is not None and "1,234.56 USD" in message.text
    assert "Acme Widgets" in message.text and message.html is not None
    async with uow_factory() as uow:
        [sent] = await uow.collections.list_sends(BIZ)
        events = [e.action for e in await uow.audit.events()]
    assert sent.status is SendStatus.SENT and sent.provider_id == "msg-1"
    assert events.count("collections.send_intended") == 1
    assert events.count("collections.send_sent") == 1


async def test_a_crash_between_intent_and_send_never_sends_that_step_twice() -> None:
    uow_factory, clock = await setup()
    with pytest.raises(Crash):
        await service(uow_factory, clock, CrashingNotifier()).run(SYSTEM_ACTOR, ADV, BIZ)
    notifier = MemoryNotifier()
    after = await service(uow_factory, clock, notifier).run(SYSTEM_ACTOR, ADV, BIZ)
    assert notifier.sent == [] and after.sent == 0
    async with uow_factory() as uow:
        [lost] = await uow.collections.list_sends(BIZ)
    assert lost.status is SendStatus.UNKNOWN
    settled = await CustomerCommunicationService(uow_factory, clock, notifier).reconcile(
        lost.message_id, delivered=True
    )
    assert settled is not None and settled.status is SendStatus.SENT


async def test_an_intent_stored_by_another_run_is_not_sent_again() -> None:
    uow_factory, clock = await setup()
    async with uow_factory() as uow:
        await uow.collections.add_send(
            CollectionSend(
                BIZ, InvoiceId("inv-1"), "due-today", Tone.FRIENDLY, ("ap@globex.example",), START
            )
        )
        await uow.commit()
    notifier = MemoryNotifier()
    await service(uow_factory, clock, notifier).run(SYSTEM_ACTOR, ADV, BIZ)
    assert notifier.sent == []


async def test_a_failed_send_is_tried_again_under_the_same_message_id() -> None:
    uow_factory, clock = await setup()
    notifier = MemoryNotifier()
    notifier.unavailable = True
    collections = service(uow_factory, clock, notifier)
    assert (await collections.run(SYSTEM_ACTOR, ADV, BIZ)).failed == 1
    notifier.unavailable = False
    assert (await collections.run(SYSTEM_ACTOR, ADV, BIZ)).sent == 1
    assert [m.message_id for m in notifier.sent] == ["col-biz-1-inv-1-due-today"]


async def test_paying_the_invoice_stops_the_sequence_and_the_outcome_is_tracked() -> None:
    uow_factory, clock = await setup()
    notifier = MemoryNotifier()
    collections = service(uow_factory, clock, notifier)
    await collections.run(SYSTEM_ACTOR, ADV, BIZ)
    async with uow_factory() as uow:
        await uow.invoices.upsert([invoice(InvoiceStatus.PAID, paid=date(2026, 6, 19))])
        await uow.commit()
    later = service(uow_factory, ManualClock(START + timedelta(days=8)), notifier)
    run = await later.run(SYSTEM_ACTOR, ADV, BIZ)
    assert run.sent == 0 and run.stopped == 1
    assert len(notifier.sent) == 1
    [result] = await later.outcomes(SYSTEM_ACTOR, ADV, BIZ)
    assert result.paid_after_reminder
    assert result.days_after_reminder == 4
    assert result.days_to_pay == 34


async def test_sendgrid_s_delivered_event_settles_a_send_whose_answer_was_lost() -> None:
    import json

    from rowcol.bootstrap import _sendgrid_handler
    from rowcol.core.domain.connections import StoredWebhook
    from rowcol.core.domain.ids import Rail

    uow_factory, clock = await setup()
    with pytest.raises(Crash):
        await service(uow_factory, clock, CrashingNotifier()).run(SYSTEM_ACTOR, ADV, BIZ)
    await service(uow_factory, clock, MemoryNotifier()).run(SYSTEM_ACTOR, ADV, BIZ)
    async with uow_factory() as uow:
        [lost] = await uow.collections.list_sends(BIZ)
    handle = _sendgrid_handler(CustomerCommunicationService(uow_factory, clock, MemoryNotifier()))

    def event(kind: str, message_id: str) -> StoredWebhook:
        body = {"event": kind, "sg_event_id": f"sg-{kind}", "rowcol_message_id": message_id}
        return StoredWebhook(Rail.SENDGRID, f"sg-{kind}", kind, None, json.dumps(body), START)

    await handle(event("open", "col-someone-else"))  # not ours: left alone
    await handle(event("deferred", lost.message_id))  # says nothing yet
    async with uow_factory() as uow:
        assert (await uow.collections.find_send(lost.message_id)).status is SendStatus.UNKNOWN  # type: ignore[union-attr]
    await handle(event("delivered", lost.message_id))

    async with uow_factory() as uow:
        settled = await uow.collections.find_send(lost.message_id)
    assert settled is not None and settled.status is SendStatus.SENT


async def test_a_bounced_reminder_is_not_retried_and_holds_later_steps_to_that_address() -> None:
    uow_factory, clock = await setup()
    notifier = MemoryNotifier()
    await service(uow_factory, clock, notifier).run(SYSTEM_ACTOR, ADV, BIZ)
    [first] = notifier.sent
    messages = CustomerCommunicationService(uow_factory, clock, notifier)
    # The send was taken as sent; the bounce comes after.
    bounced = await messages.reconcile(first.message_id, delivered=False)
    assert bounced is not None and bounced.status is SendStatus.BOUNCED
    assert await messages.reconcile(first.message_id, delivered=True) is None
    later = service(uow_factory, ManualClock(START + timedelta(days=8)), notifier)
    run = await later.run(SYSTEM_ACTOR, ADV, BIZ)
    assert (run.sent, run.skipped_bounced) == (0, 1)
    assert [m.message_id for m in notifier.sent] == [first.message_id]
    async with uow_factory() as uow:
        actions = [e.action for e in await uow.audit.events()]
    assert "collections.send_reconciled" in actions
