"""The portfolio read model on memory, SQLite and PostgreSQL: one row per client of the
advisor, with the same cash, forecast summary, payment counts, overdue receivables and
rail health everywhere."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

from rowcol.core.domain.connections import ConnectionStatus, RailConnection
from rowcol.core.domain.forecast import Forecast, WeekForecast
from rowcol.core.domain.ids import (
    AdvisorId,
    BankAccountId,
    BillId,
    BusinessId,
    CustomerId,
    FirmId,
    InvoiceId,
    PaymentId,
    Rail,
    VendorId,
)
from rowcol.core.domain.money import Money
from rowcol.core.domain.payments import Payment, PaymentStatus
from rowcol.core.domain.portfolio import ClientFacts, ClientSignals, signals_of
from rowcol.core.domain.records import Balance, Invoice, InvoiceStatus
from rowcol.core.domain.tenancy import Advisor, Business, Client, Firm
from rowcol.ports.repository import ForecastSnapshot, UnitOfWorkFactory

NOW = datetime(2026, 11, 10, 15, 0, tzinfo=UTC)
TODAY = NOW.date()
ADV = AdvisorId("adv-1")
OTHER = AdvisorId("adv-2")
ACME = BusinessId("biz-acme")
BETA = BusinessId("biz-beta")
THEIRS = BusinessId("biz-theirs")


def usd(minor: int) -> Money:
    return Money(minor, "USD")


def _week(n: int, p50: int, breach: float) -> WeekForecast:
    start = TODAY + timedelta(days=1 + 7 * (n - 1))
    m = usd(p50)
    return WeekForecast(
        n, start, start + timedelta(days=6), m, usd(0), usd(0), m, {}, m, m, m, breach
    )


def _forecast(business: BusinessId, *weeks: tuple[int, float]) -> Forecast:
    return Forecast(
        business, TODAY, tuple(_week(i + 1, p, b) for i, (p, b) in enumerate(weeks)), ()
    )


def _payment(n: int, status: PaymentStatus, *, pay_on: date, **more: object) -> Payment:
    return Payment(
        payment_id=PaymentId(f"pay-{n}"),
        business_id=ACME,
        bill_id=BillId(f"bill-{n}"),
        vendor_id=VendorId("v-1"),
        amount=usd(10_000),
        pay_on=pay_on,
        reference=f"ref-{n}",
        status=status,
        created_at=NOW - timedelta(days=30),
        updated_at=NOW - timedelta(days=30),
        **more,  # type: ignore[arg-type]
    )


def _invoice(
    n: int, due: date, balance: int, status: InvoiceStatus = InvoiceStatus.OPEN
) -> Invoice:
    return Invoice(
        InvoiceId(f"inv-{n}"),
        ACME,
        CustomerId("c-1"),
        usd(balance),
        usd(balance),
        due - timedelta(days=30),
        due,
        status,
    )


async def _seed(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        await uow.firms.add(Firm(FirmId("firm-1"), "Firm"))
        await uow.advisors.add(Advisor(ADV, FirmId("firm-1"), "a@firm.example", "Lead"))
        await uow.advisors.add(Advisor(OTHER, FirmId("firm-1"), "b@firm.example", "Other"))
        for business_id, name, advisor in (
            (ACME, "Acme", ADV),
            (BETA, "Beta", ADV),
            (THEIRS, "Theirs", OTHER),
        ):
            await uow.businesses.add(Business(business_id, name))
            await uow.clients.add(Client(advisor, business_id, NOW - timedelta(days=90)))
        # Two accounts: the latest balance of each counts; a euro account does not.
        older, newer = NOW - timedelta(days=3), NOW - timedelta(hours=5)
        await uow.balances.add(
            [
                Balance(BankAccountId("chk"), ACME, usd(900_00), None, older),
                Balance(BankAccountId("chk"), ACME, usd(1_000_00), None, newer),
                Balance(BankAccountId("sav"), ACME, usd(250_00), None, older),
                Balance(BankAccountId("eur"), ACME, Money(7_00, "EUR"), None, NOW),
                Balance(BankAccountId("chk"), THEIRS, usd(5), None, NOW),
            ]
        )
        # The newest baseline counts, not an older one nor a scenario made later.
        await uow.forecasts.add(
            ForecastSnapshot(
                "fc-old", ACME, NOW - timedelta(days=2), _forecast(ACME, (1, 0.0)), None, usd(1)
            )
        )
        await uow.forecasts.add(
            ForecastSnapshot(
                "fc-new",
                ACME,
                NOW - timedelta(hours=1),
                _forecast(ACME, (500_00, 0.1), (-20_00, 0.625), (-50_00, 0.5), (10_00, 0.2)),
                None,
                usd(200_00),
            )
        )
        await uow.forecasts.add(
            ForecastSnapshot(
                "fc-what-if", ACME, NOW, _forecast(ACME, (9, 0.9)), "what-if", usd(200_00)
            )
        )
        submitted = NOW - timedelta(days=4)
        await uow.payments.add(_payment(1, PaymentStatus.PROPOSED, pay_on=TODAY))
        await uow.payments.add(_payment(2, PaymentStatus.PROPOSED, pay_on=TODAY))
        await uow.payments.add(_payment(3, PaymentStatus.APPROVED, pay_on=TODAY))
        await uow.payments.add(
            _payment(
                4,
                PaymentStatus.STUCK,
                pay_on=TODAY - timedelta(days=9),
                submitted_at=NOW - timedelta(days=9),
                stuck_reason="no rail confirmation",
            )
        )
        # Submitted four days ago and still without the rail's word: late.
        await uow.payments.add(
            _payment(5, PaymentStatus.SUBMITTED, pay_on=submitted.date(), submitted_at=submitted)
        )
        # Submitted today for a pay-on day four days back: its deadline runs from today.
        await uow.payments.add(
            _payment(
                6,
                PaymentStatus.SUBMITTED,
                pay_on=TODAY - timedelta(days=4),
                submitted_at=NOW - timedelta(hours=1),
            )
        )
        # The rail confirmed two days ago; the bank has five days.
        await uow.payments.add(
            _payment(
                7,
                PaymentStatus.RAIL_CONFIRMED,
                pay_on=TODAY - timedelta(days=2),
                submitted_at=NOW - timedelta(days=2),
                rail_confirmed_at=NOW - timedelta(days=2),
            )
        )
        await uow.invoices.upsert(
            [
                _invoice(1, TODAY - timedelta(days=10), 300_00),
                _invoice(2, TODAY - timedelta(days=1), 150_00, InvoiceStatus.DISPUTED),
                _invoice(3, TODAY, 999_00),
                _invoice(4, TODAY - timedelta(days=40), 0, InvoiceStatus.PAID),
            ]
        )
        await uow.connections.upsert(
            RailConnection(
                ACME, Rail.QBO, ConnectionStatus.OK, "realm", "", NOW - timedelta(hours=2)
            )
        )
        await uow.connections.upsert(
            RailConnection(ACME, Rail.PLAID, ConnectionStatus.FAILING, "item", "timeout", None)
        )
        await uow.commit()


async def _signals(uow_factory: UnitOfWorkFactory, advisor: AdvisorId) -> list[ClientSignals]:
    async with uow_factory() as uow:
        return list(await uow.portfolio.client_signals(advisor, today=TODAY))


async def _facts(uow_factory: UnitOfWorkFactory, advisor: AdvisorId) -> list[ClientFacts]:
    """Each row's full facts, after checking that the numbers the console ranks by agree
    with them (a read model may read both from storage its own way)."""
    signals = await _signals(uow_factory, advisor)
    facts = [s.detail() for s in signals]
    assert [s.numbers for s in signals] == [signals_of(f).numbers for f in facts]
    return facts


async def test_each_client_of_the_advisor_is_one_row_with_its_facts(
    uow_factory: UnitOfWorkFactory,
) -> None:
    await _seed(uow_factory)
    rows = await _facts(uow_factory, ADV)
    assert [r.business_id for r in rows] == [ACME, BETA]
    acme, beta = rows
    assert acme.name == "Acme" and acme.currency == "USD"
    assert acme.cash == usd(1_250_00)
    assert acme.cash_as_of == NOW - timedelta(days=3)
    assert acme.forecast_as_of == TODAY
    assert acme.forecast is not None
    assert (acme.forecast.low_point, acme.forecast.low_week) == (usd(-50_00), 3)
    assert (acme.forecast.breach_probability, acme.forecast.breach_week) == (0.625, 2)
    assert (acme.forecast.runway_weeks, acme.forecast.horizon_weeks) == (1, 4)
    assert acme.buffer == usd(200_00)
    assert acme.awaiting_approval == 2
    assert acme.stuck_payments == 2
    assert (acme.overdue_invoices, acme.overdue_receivables) == (2, usd(450_00))
    assert [(r.rail, r.status, r.last_synced_at) for r in acme.rails] == [
        (Rail.PLAID, ConnectionStatus.FAILING, None),
        (Rail.QBO, ConnectionStatus.OK, NOW - timedelta(hours=2)),
    ]
    assert acme.hygiene == {}  # open hygiene issues by severity: none here
    assert beta == ClientFacts(BETA, "Beta", "USD", usd(0), None, hygiene={})
    ranked_by = (await _signals(uow_factory, ADV))[0]
    assert ranked_by.numbers == (
        ACME,
        "Acme",
        1_250_00,
        NOW - timedelta(days=3),
        0.625,
        -50_00,
        200_00,
        1,
        2,
        2,
        2,
        450_00,
        0,
        0,
        1,
        0,
    )


async def test_another_advisor_sees_only_its_own_client(uow_factory: UnitOfWorkFactory) -> None:
    await _seed(uow_factory)
    rows = await _facts(uow_factory, OTHER)
    assert [(r.business_id, r.cash) for r in rows] == [(THEIRS, usd(5))]
    assert await _facts(uow_factory, AdvisorId("adv-nobody")) == []


async def test_a_snapshot_keeps_its_buffer_and_a_later_one_replaces_the_summary(
    uow_factory: UnitOfWorkFactory,
) -> None:
    await _seed(uow_factory)
    async with uow_factory() as uow:
        kept = await uow.forecasts.latest(ACME)
        assert kept is not None and kept.buffer == usd(200_00)
        later = replace(
            kept,
            snapshot_id="fc-later",
            created_at=NOW,
            forecast=_forecast(ACME, (900_00, 0.0), (800_00, 0.0)),
            buffer=None,
        )
        await uow.forecasts.add(later)
        await uow.commit()
    acme = (await _facts(uow_factory, ADV))[0]
    assert acme.forecast is not None
    assert (acme.forecast.breach_probability, acme.forecast.runway_weeks) == (0.0, None)
    assert acme.forecast.low_point == usd(800_00)
    assert acme.buffer is None


async def test_cash_follows_each_accounts_newest_balance_whatever_order_they_arrive_in(
    uow_factory: UnitOfWorkFactory,
) -> None:
    await _seed(uow_factory)
    account = BankAccountId("chk")
    async with uow_factory() as uow:
        # An older balance arriving late changes nothing; a newer one replaces.
        await uow.balances.add([Balance(account, ACME, usd(1), None, NOW - timedelta(days=9))])
        await uow.commit()
    assert (await _facts(uow_factory, ADV))[0].cash == usd(1_250_00)
    async with uow_factory() as uow:
        await uow.balances.add(
            [
                Balance(account, ACME, usd(7_00), None, NOW - timedelta(hours=2)),
                Balance(account, ACME, usd(8_00), None, NOW - timedelta(hours=1)),
            ]
        )
        await uow.balances.add([Balance(account, ACME, usd(9_00), None, NOW - timedelta(hours=1))])
        await uow.commit()
    acme = (await _facts(uow_factory, ADV))[0]
    assert acme.cash == usd(9_00 + 250_00)
    assert acme.cash_as_of == NOW - timedelta(days=3)


async def test_open_hygiene_issues_are_counted_by_severity_an_ended_snooze_as_open(
    uow_factory: UnitOfWorkFactory,
) -> None:
    from rowcol.core.domain.hygiene import (
        HygieneIssue,
        HygieneKind,
        Severity,
        issue_key,
        observe,
        resolve,
        snooze,
    )

    await _seed(uow_factory)

    def found(bill: str, severity: Severity) -> HygieneIssue:
        return HygieneIssue(
            key=issue_key(HygieneKind.BILL_WITHOUT_DUE_DATE, ACME, bill),
            kind=HygieneKind.BILL_WITHOUT_DUE_DATE,
            business_id=ACME,
            severity=severity,
            money_at_stake=usd(100_00),
            since=TODAY - timedelta(days=3),
            summary=f"bill {bill} has no due date",
            records=(),
            priority=1.0,
        )

    now = NOW - timedelta(days=2)
    async with uow_factory() as uow:
        seen = {
            bill: observe(None, found(bill, severity), now)
            for bill, severity in (
                ("b1", Severity.CRITICAL),
                ("b2", Severity.CRITICAL),
                ("b3", Severity.LOW),
                ("b4", Severity.HIGH),
            )
        }
        for tracked in seen.values():
            await uow.hygiene.save(tracked)
        ended = snooze(seen["b3"], until=TODAY, by="u", note="later", now=now, today=now.date())
        await uow.hygiene.save(ended)
        await uow.hygiene.save(resolve(seen["b4"], by="u", note="done", now=now))
        await uow.commit()
    rows = await _facts(uow_factory, ADV)
    assert rows[0].hygiene == {"critical": 2, "low": 1}
    assert rows[1].hygiene == {}
    acme = (await _signals(uow_factory, ADV))[0]
    assert (acme.critical_issues, acme.open_issues) == (2, 3)
