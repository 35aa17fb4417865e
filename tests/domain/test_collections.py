"""Reminder sequences: which step is due on a day, stop rules, outcomes."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rowcol.core.domain.collections import (
    CollectionSend,
    ReminderSequence,
    ReminderStep,
    SendStatus,
    StopReason,
    Tone,
    cash_is_short,
    check_template,
    default_sequence,
    due_step,
    early_pay_discount,
    message_id,
    outcome,
    stop_reason,
)
from rowcol.core.domain.errors import InvalidInput
from rowcol.core.domain.ids import BusinessId, CustomerId, InvoiceId
from rowcol.core.domain.money import Money
from rowcol.core.domain.records import Invoice, InvoiceStatus

BIZ = BusinessId("biz-1")
DUE = date(2026, 6, 15)


def invoice(
    status: InvoiceStatus = InvoiceStatus.OPEN, balance: int = 100_00, paid: date | None = None
) -> Invoice:
    return Invoice(
        InvoiceId("inv-1"),
        BIZ,
        CustomerId("cus-1"),
        Money(100_00, "USD"),
        Money(balance, "USD"),
        date(2026, 5, 16),
        DUE,
        status=status,
        paid_date=paid,
    )


offsets = st.lists(st.integers(-30, 90), min_size=1, max_size=8, unique=True)


def sequence_of(days: list[int]) -> ReminderSequence:
    return ReminderSequence(
        BIZ, tuple(ReminderStep(f"s{d + 100}", d, "Pay $invoice", Tone.FIRM) for d in days)
    )


@given(offsets, st.lists(st.integers(-40, 120), min_size=1, max_size=40))
def test_walking_the_days_sends_each_step_at_most_once_and_only_forward(
    days: list[int], run_days: list[int]
) -> None:
    sequence = sequence_of(days)
    sent: list[str] = []
    for d in sorted(run_days):
        step = due_step(sequence, invoice(), DUE + timedelta(days=d), sent)
        if step is not None:
            assert step.step_id not in sent
            assert step.on(invoice()) <= DUE + timedelta(days=d)
            sent.append(step.step_id)
    by_id = {s.step_id: s.offset_days for s in sequence.steps}
    assert [by_id[s] for s in sent] == sorted({by_id[s] for s in sent})


@given(offsets, st.integers(-40, 120), st.sampled_from(list(InvoiceStatus)))
def test_a_closed_invoice_is_never_reminded(
    days: list[int], day: int, status: InvoiceStatus
) -> None:
    closed = invoice(balance=0) if status is InvoiceStatus.OPEN else invoice(status=status)
    assert stop_reason(closed) is not None
    assert due_step(sequence_of(days), closed, DUE + timedelta(days=day)) is None


def test_an_invoice_found_long_overdue_gets_the_latest_step_not_all_of_them() -> None:
    step = due_step(default_sequence(BIZ), invoice(), DUE + timedelta(days=40))
    assert step is not None and step.step_id == "overdue-30"
    assert (
        due_step(default_sequence(BIZ), invoice(), DUE + timedelta(days=41), ["overdue-30"]) is None
    )


def test_nothing_is_due_before_the_first_step() -> None:
    assert due_step(default_sequence(BIZ), invoice(), DUE - timedelta(days=4)) is None
    first = due_step(default_sequence(BIZ), invoice(), DUE - timedelta(days=3))
    assert first is not None and first.step_id == "before-due"


def test_stop_reasons_name_paid_disputed_and_void() -> None:
    assert stop_reason(invoice(InvoiceStatus.PAID, balance=0)) is StopReason.PAID
    assert stop_reason(invoice(InvoiceStatus.DISPUTED)) is StopReason.DISPUTED
    assert stop_reason(invoice(InvoiceStatus.VOID)) is StopReason.VOID
    assert stop_reason(invoice()) is None


def test_a_sequence_refuses_duplicate_ids_same_days_and_unknown_placeholders() -> None:
    with pytest.raises(InvalidInput):
        ReminderSequence(BIZ, (ReminderStep("a", 0, "x"), ReminderStep("a", 3, "y")))
    with pytest.raises(InvalidInput):
        ReminderSequence(BIZ, (ReminderStep("a", 0, "x"), ReminderStep("b", 0, "y")))
    with pytest.raises(InvalidInput):
        ReminderStep("a", 0, "Pay $amout now")
    with pytest.raises(InvalidInput):
        ReminderSequence(BIZ, ())
    assert check_template("Pay $$5 for ${invoice}") == "Pay $$5 for ${invoice}"


def test_the_message_id_follows_from_invoice_and_step() -> None:
    send = CollectionSend(
        BIZ, InvoiceId("inv-1"), "due-today", Tone.FRIENDLY, ("a@b.example",), datetime.now(UTC)
    )
    assert send.message_id == message_id(BIZ, InvoiceId("inv-1"), "due-today")
    with pytest.raises(InvalidInput):
        CollectionSend(
            BIZ,
            InvoiceId("inv-1"),
            "due-today",
            Tone.FRIENDLY,
            ("a@b.example",),
            datetime.now(UTC),
            message_id="other",
        )


def test_outcome_counts_days_from_first_reminder_to_payment() -> None:
    first = datetime(2026, 6, 12, 9, tzinfo=UTC)
    sends = [
        CollectionSend(
            BIZ,
            InvoiceId("inv-1"),
            "before-due",
            Tone.FRIENDLY,
            ("a@b.example",),
            first,
            status=SendStatus.SENT,
            sent_at=first,
        ),
        CollectionSend(
            BIZ,
            InvoiceId("inv-1"),
            "due-today",
            Tone.FRIENDLY,
            ("a@b.example",),
            first,
            status=SendStatus.FAILED,
        ),
    ]
    paid = invoice(InvoiceStatus.PAID, balance=0, paid=date(2026, 6, 20))
    result = outcome(paid, sends)
    assert result.reminders == 1
    assert result.days_after_reminder == 8
    assert result.days_to_pay == 35
    assert result.paid_after_reminder
    assert not outcome(invoice(), sends).paid_after_reminder


@given(st.integers(0, 10**12), st.decimals(Decimal("0.01"), Decimal("10"), places=2))
def test_an_early_pay_discount_never_exceeds_its_percent(balance: int, pct: Decimal) -> None:
    discount = early_pay_discount(Money(balance, "USD"), pct)
    assert not discount.is_negative
    assert Decimal(discount.amount_minor) <= Decimal(balance) * pct / 100


def test_cash_is_short_below_the_buffer_or_when_a_breach_is_likely() -> None:
    usd = lambda n: Money(n, "USD")  # noqa: E731
    assert cash_is_short(usd(50), usd(100), 0.0, 0.25)
    assert cash_is_short(usd(500), usd(100), 0.3, 0.25)
    assert not cash_is_short(usd(500), usd(100), 0.1, 0.25)
