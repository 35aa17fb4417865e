"""One behaviour suite for every BankVerifier: the in-memory fake, and the Plaid adapter
talking to the Plaid simulator over HTTP. Both are set up with the same demo books."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta

import pytest

from rowcol.adapters.clock import ManualClock
from rowcol.adapters.memory.credentials import MemoryCredentialStore
from rowcol.adapters.memory.rails import MemoryBankVerifier
from rowcol.adapters.plaid import PlaidBankVerifier, plaid_caller
from rowcol.adapters.railkit.resilience import RailHealthMonitor, RateLimit
from rowcol.core.domain.ids import BankAccountId, BankTransactionId, BusinessId, Rail
from rowcol.core.domain.money import Money
from rowcol.core.domain.records import Balance, BankAccount, BankTransaction
from rowcol.demodata.generator import BusinessData, DemoFirm, generate_firm
from rowcol.ports.bank_verifier import BankVerifier
from rowcol.ports.errors import Unavailable
from rowcol.simulators.plaid import (
    CLIENT_ID,
    SECRET,
    access_token_for,
    create_app,
    item_id_for,
    seed_from_demo,
)
from rowcol.simulators.plaid.state import sim_transaction
from rowcol.simulators.server import BackgroundServer

TODAY = date(2026, 11, 2)
NOW = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)
PAGE_SIZE = 50


def plaid_ref(ident: str) -> str:
    return f"plaid:{ident}"


def accounts_of(data: BusinessData) -> list[BankAccount]:
    return [replace(a, external_ref=plaid_ref(a.account_id)) for a in data.bank_accounts]


def transactions_of(data: BusinessData) -> list[BankTransaction]:
    return [replace(t, external_ref=plaid_ref(t.transaction_id)) for t in data.bank_transactions]


def latest_balances(data: BusinessData) -> list[Balance]:
    latest: dict[str, Balance] = {}
    for balance in data.balances:
        if balance.account_id not in latest or balance.as_of >= latest[balance.account_id].as_of:
            latest[balance.account_id] = balance
    return list(latest.values())


@dataclass
class Bank:
    kind: str
    verifier: BankVerifier
    clock: ManualClock
    add_transaction: Callable[[BusinessId, BankTransaction], None]
    set_balance: Callable[[BusinessId, BankAccountId, Money], None]
    break_connection: Callable[[BusinessId], None]


@pytest.fixture(scope="module")
def firm() -> DemoFirm:
    return generate_firm(clients=2, seed=11, today=TODAY, history_months=3)


def fake_bank(firm: DemoFirm, clock: ManualClock) -> Bank:
    fake = MemoryBankVerifier(clock, page_size=PAGE_SIZE)
    for data in firm.records:
        fake.accounts[data.business_id] = accounts_of(data)
        fake.balances[data.business_id] = latest_balances(data)
        fake.transactions[data.business_id] = transactions_of(data)

    def add(business_id: BusinessId, txn: BankTransaction) -> None:
        fake.transactions[business_id].append(txn)

    def set_balance(business_id: BusinessId, account_id: BankAccountId, amount: Money) -> None:
        fake.balances[business_id] = [
            replace(b, current=amount, available=amount) if b.account_id == account_id else b
            for b in fake.balances[business_id]
        ]

    def break_connection(business_id: BusinessId) -> None:
        fake.unavailable = True

    return Bank("fake", fake, clock, add, set_balance, break_connection)


@pytest.fixture(params=["fake", "real"])
async def bank(request: pytest.FixtureRequest, firm: DemoFirm) -> AsyncIterator[Bank]:
    clock = ManualClock(NOW)
    if request.param == "fake":
        yield fake_bank(firm, clock)
        return
    state = seed_from_demo(firm, now=clock.now)
    credentials = MemoryCredentialStore()
    for data in firm.records:
        await credentials.save(
            data.business_id,
            Rail.PLAID,
            {
                "access_token": access_token_for(data.business_id),
                "item_id": item_id_for(data.business_id),
            },
        )

    async def no_sleep(seconds: float) -> None:
        return None

    with BackgroundServer(create_app(state)) as server:
        verifier = PlaidBankVerifier(
            base_url=server.url,
            client_id=CLIENT_ID,
            secret=SECRET,
            credentials=credentials,
            clock=clock,
            caller=plaid_caller(
                RailHealthMonitor(clock), rate_limit=RateLimit(10_000, 60), sleep=no_sleep
            ),
            page_size=PAGE_SIZE,
        )

        def add(business_id: BusinessId, txn: BankTransaction) -> None:
            state.add_transaction(item_id_for(business_id), sim_transaction(txn))

        def set_balance(business_id: BusinessId, account_id: BankAccountId, amount: Money) -> None:
            value = amount.to_decimal()
            state.set_balance(item_id_for(business_id), account_id, current=value, available=value)

        def break_connection(business_id: BusinessId) -> None:
            state.require_login(item_id_for(business_id))

        yield Bank("real", verifier, clock, add, set_balance, break_connection)
        verifier.close()


async def full_sync(
    verifier: BankVerifier, business_id: BusinessId, cursor: str | None = None
) -> tuple[list[BankTransaction], str | None, int]:
    seen: list[BankTransaction] = []
    pages = 0
    while True:
        page = await verifier.sync_transactions(business_id, cursor)
        pages += 1
        seen.extend([*page.added, *page.modified])
        cursor = page.next_cursor
        if not page.has_more:
            return seen, cursor, pages


def new_transaction(data: BusinessData) -> BankTransaction:
    template = data.bank_transactions[-1]
    ident = BankTransactionId(f"{template.transaction_id}-late")
    return replace(
        template,
        transaction_id=ident,
        amount=Money(12_345, "USD"),
        description="ACH DEBIT LATE ARRIVAL",
        posted_on=TODAY,
        external_ref=plaid_ref(ident),
    )


class TestBankVerifierOnTheFakeAndOnPlaid:
    """Every test runs twice: on MemoryBankVerifier and on PlaidBankVerifier + simulator."""

    async def test_lists_the_bank_accounts_of_the_business(
        self, bank: Bank, firm: DemoFirm
    ) -> None:
        data = firm.records[0]

        accounts = await bank.verifier.list_accounts(data.business_id)

        assert sorted(accounts, key=lambda a: a.account_id) == sorted(
            accounts_of(data), key=lambda a: a.account_id
        )

    async def test_each_business_sees_only_its_own_accounts(
        self, bank: Bank, firm: DemoFirm
    ) -> None:
        first, second = firm.records

        mine = {a.account_id for a in await bank.verifier.list_accounts(first.business_id)}
        theirs = {a.account_id for a in await bank.verifier.list_accounts(second.business_id)}

        assert mine and theirs
        assert not mine & theirs
        assert theirs == {a.account_id for a in second.bank_accounts}

    async def test_balances_are_read_fresh_at_the_moment_of_the_call(
        self, bank: Bank, firm: DemoFirm
    ) -> None:
        data = firm.records[0]

        balances = await bank.verifier.get_balances(data.business_id)
        bank.clock.advance(timedelta(minutes=7))
        later = await bank.verifier.get_balances(data.business_id)

        expected = {b.account_id: (b.current, b.available) for b in latest_balances(data)}
        assert {b.account_id: (b.current, b.available) for b in balances} == expected
        assert {b.as_of for b in balances} == {NOW}
        assert {b.as_of for b in later} == {NOW + timedelta(minutes=7)}

    async def test_a_changed_balance_shows_on_the_next_read(
        self, bank: Bank, firm: DemoFirm
    ) -> None:
        data = firm.records[0]
        account_id = data.bank_accounts[0].account_id
        bank.set_balance(data.business_id, account_id, Money(-4_250_17, "USD"))

        balances = {b.account_id: b for b in await bank.verifier.get_balances(data.business_id)}

        assert balances[account_id].current == Money(-4_250_17, "USD")

    async def test_a_full_sync_pages_through_every_transaction_exactly_once(
        self, bank: Bank, firm: DemoFirm
    ) -> None:
        data = firm.records[0]

        seen, cursor, pages = await full_sync(bank.verifier, data.business_id)

        assert pages == -(-len(data.bank_transactions) // PAGE_SIZE)
        assert len(seen) == len({t.transaction_id for t in seen})
        assert sorted(seen, key=lambda t: t.transaction_id) == sorted(
            transactions_of(data), key=lambda t: t.transaction_id
        )
        assert cursor

    async def test_syncing_from_the_saved_cursor_brings_nothing_new(
        self, bank: Bank, firm: DemoFirm
    ) -> None:
        data = firm.records[0]
        _, cursor, _ = await full_sync(bank.verifier, data.business_id)

        page = await bank.verifier.sync_transactions(data.business_id, cursor)

        assert (list(page.added), list(page.modified), list(page.removed)) == ([], [], [])
        assert not page.has_more

    async def test_a_new_bank_transaction_arrives_after_the_saved_cursor(
        self, bank: Bank, firm: DemoFirm
    ) -> None:
        data = firm.records[0]
        _, cursor, _ = await full_sync(bank.verifier, data.business_id)
        late = new_transaction(data)
        bank.add_transaction(data.business_id, late)

        seen, _, _ = await full_sync(bank.verifier, data.business_id, cursor)

        assert seen == [late]
        assert seen[0].is_outflow

    async def test_a_connection_needing_attention_is_unavailable_not_a_crash(
        self, bank: Bank, firm: DemoFirm
    ) -> None:
        data = firm.records[0]
        bank.break_connection(data.business_id)

        with pytest.raises(Unavailable):
            await bank.verifier.list_accounts(data.business_id)
        with pytest.raises(Unavailable):
            await bank.verifier.get_balances(data.business_id)
        with pytest.raises(Unavailable):
            await bank.verifier.sync_transactions(data.business_id, None)

    async def test_a_business_without_a_bank_connection_is_unavailable(self, bank: Bank) -> None:
        with pytest.raises(Unavailable, match="no Plaid connection"):
            await bank.verifier.list_accounts(BusinessId("biz-unknown"))
