"""The storage contract: the in-memory store, SQLite and PostgreSQL behave the same."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rowcol.adapters.sql.engine import make_engine
from rowcol.adapters.sql.repository import SqlUnitOfWorkFactory
from rowcol.core.domain.audit import AuditEntry, verify_chain
from rowcol.core.domain.connections import (
    ConnectionStatus,
    RailConnection,
    StoredWebhook,
    SyncCursor,
    WebhookStatus,
)
from rowcol.core.domain.errors import Conflict, NotFound
from rowcol.core.domain.ids import (
    AdvisorId,
    BankAccountId,
    BankTransactionId,
    BillId,
    BusinessId,
    CustomerId,
    FirmId,
    InvoiceId,
    Rail,
    ReserveId,
    UserId,
    VendorId,
)
from rowcol.core.domain.money import Money
from rowcol.core.domain.records import (
    Balance,
    BankAccount,
    BankTransaction,
    Bill,
    BillStatus,
    Customer,
    Invoice,
    InvoiceStatus,
    Payout,
    PayoutStatus,
    Vendor,
)
from rowcol.core.domain.reserves import Reserve
from rowcol.core.domain.tenancy import (
    Advisor,
    Business,
    Client,
    Firm,
    Role,
    RunwayTier,
    StaffUser,
)
from rowcol.ports.repository import RecordRepository, UnitOfWork, UnitOfWorkFactory

NOW = datetime(2026, 11, 2, 15, 0, 0, 123456, tzinfo=UTC)
BIZ = BusinessId("biz-1")
OTHER_BIZ = BusinessId("biz-2")
INT64_MAX = 2**63 - 1


def advisor(n: int = 1, *, email: str | None = None, firm: str = "firm-1") -> Advisor:
    return Advisor(
        advisor_id=AdvisorId(f"adv-{n}"),
        firm_id=FirmId(firm),
        email=email or f"advisor{n}@example.com",
        name=f"Advisor {n}",
    )


def user(n: int, advisor_id: str = "adv-1", *, email: str | None = None) -> StaffUser:
    return StaffUser(
        user_id=UserId(f"u-{n}"),
        advisor_id=AdvisorId(advisor_id),
        email=email or f"user{n}@example.com",
        name=f"User {n}",
        role=Role.BOOKKEEPER,
    )


def business(business_id: str, name: str = "Acme") -> Business:
    return Business(BusinessId(business_id), name)


def link(advisor_id: str, business_id: str) -> Client:
    return Client(AdvisorId(advisor_id), BusinessId(business_id), NOW)


async def seed(uow_factory: UnitOfWorkFactory, *businesses: str) -> None:
    async with uow_factory() as uow:
        await uow.advisors.add(advisor(1))
        await uow.advisors.add(advisor(2))
        for business_id in businesses:
            await uow.businesses.add(business(business_id, f"Business {business_id}"))
        await uow.commit()


def vendor(business_id: BusinessId, record_id: str, n: int) -> Vendor:
    return Vendor(
        vendor_id=VendorId(record_id),
        business_id=business_id,
        name=f"Vendor {n}",
        category="rent" if n % 2 else "software",
        payment_terms_days=None if n % 2 else 45,
        has_payment_details=n % 2 == 0,
        is_critical=n % 2 == 1,
        external_ref=f"qbo:{n}" if n % 2 else None,
    )


def customer(business_id: BusinessId, record_id: str, n: int) -> Customer:
    return Customer(
        customer_id=CustomerId(record_id),
        business_id=business_id,
        name=f"Customer {n} — Zoë",
        email=f"c{n}@example.com" if n % 2 else None,
        external_ref=None if n % 2 else f"stripe:cus_{n}",
    )


def bill(business_id: BusinessId, record_id: str, n: int) -> Bill:
    return Bill(
        bill_id=BillId(record_id),
        business_id=business_id,
        vendor_id=VendorId(f"vendor-{n}"),
        amount=Money(1_234_567 + n, "USD"),
        balance=Money(1_000 + n, "USD"),
        issue_date=date(2026, 1, 1 + n % 28),
        due_date=None if n % 2 else date(2026, 3, 31),
        status=BillStatus.PAID if n % 2 else BillStatus.OPEN,
        category="utilities",
        memo=f"naïve ☕ memo {n}\nsecond line",
        recurring=n % 2 == 1,
        prepared_by="u-1" if n % 2 else None,
        paid_date=date(2026, 2, 2) if n % 2 else None,
        external_ref=f"qbo:bill-{n}",
    )


def invoice(business_id: BusinessId, record_id: str, n: int) -> Invoice:
    return Invoice(
        invoice_id=InvoiceId(record_id),
        business_id=business_id,
        customer_id=CustomerId(f"customer-{n}"),
        amount=Money(9_999_999 + n, "KWD"),
        balance=Money(n, "KWD"),
        issue_date=date(2025, 12, 31),
        due_date=date(2026, 1, 30 - n % 28),
        status=InvoiceStatus.DISPUTED if n % 2 else InvoiceStatus.OPEN,
        paid_date=date(2026, 1, 15) if n % 2 else None,
        external_ref=None,
    )


def bank_account(business_id: BusinessId, record_id: str, n: int) -> BankAccount:
    return BankAccount(
        account_id=BankAccountId(record_id),
        business_id=business_id,
        name=f"Operating {n}",
        currency="EUR" if n % 2 else "USD",
        mask=f"{n:04d}",
        external_ref=f"plaid:acc-{n}" if n % 2 else None,
        books_balance=None if n % 3 else Money(-n * 1_000, "EUR" if n % 2 else "USD"),
    )


def bank_transaction(business_id: BusinessId, record_id: str, n: int) -> BankTransaction:
    return BankTransaction(
        transaction_id=BankTransactionId(record_id),
        business_id=business_id,
        account_id=BankAccountId(f"acc-{n}"),
        amount=Money(-50_000 - n if n % 2 else 7 + n, "JPY"),
        posted_on=date(2026, 10, 1 + n % 28),
        description=f"ACH {n} \"quoted\" 'text'",
        category="payroll",
        pending=n % 2 == 1,
        counterparty="Gusto" if n % 2 else None,
        external_ref=None,
        tags=("payroll", "q4", "ünïcode") if n % 2 else (),
    )


def reserve(business_id: BusinessId, record_id: str, n: int) -> Reserve:
    return Reserve(
        reserve_id=ReserveId(record_id),
        business_id=business_id,
        purpose=f"Quarterly tax {n}",
        amount=Money(250_000_00 + n, "CAD"),
        until=date(2027, 1, 15),
        released=n % 2 == 1,
    )


def payout(business_id: BusinessId, record_id: str, n: int) -> Payout:
    return Payout(
        payout_id=record_id,
        business_id=business_id,
        amount=Money(1_000_000 + n, "GBP"),
        arrival_date=date(2026, 11, 1 + n % 28),
        status=PayoutStatus.PAID if n % 2 else PayoutStatus.IN_TRANSIT,
        external_ref=f"stripe:po_{n}" if n % 2 else None,
    )


RecordMaker = Callable[[BusinessId, str, int], Any]

RECORD_KINDS: dict[str, RecordMaker] = {
    "vendors": vendor,
    "customers": customer,
    "bills": bill,
    "invoices": invoice,
    "bank_accounts": bank_account,
    "bank_transactions": bank_transaction,
    "reserves": reserve,
    "payouts": payout,
}

KEYS = {
    "vendors": "vendor_id",
    "customers": "customer_id",
    "bills": "bill_id",
    "invoices": "invoice_id",
    "bank_accounts": "account_id",
    "bank_transactions": "transaction_id",
    "reserves": "reserve_id",
    "payouts": "payout_id",
}

record_kinds = pytest.mark.parametrize("kind", list(RECORD_KINDS))


def records_of(uow: UnitOfWork, kind: str) -> RecordRepository[Any]:
    repository: RecordRepository[Any] = getattr(uow, kind)
    return repository


def entry(n: int, advisor_id: str | None = "adv-1") -> AuditEntry:
    return AuditEntry(
        actor="controller:u-1",
        action="bill.approved",
        subject=f"bill:{n}",
        before={"status": "open", "n": n},
        after={"status": "approved", "n": n},
        advisor_id=advisor_id,
    )


# Tenancy


async def test_a_firm_is_stored_and_found_by_id(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        await uow.firms.add(Firm(FirmId("firm-1"), "Ledger & Co"))
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.firms.get(FirmId("firm-1")) == Firm(FirmId("firm-1"), "Ledger & Co")
        assert await uow.firms.get(FirmId("firm-2")) is None


async def test_adding_a_firm_with_a_taken_id_is_a_conflict(
    uow_factory: UnitOfWorkFactory,
) -> None:
    async with uow_factory() as uow:
        await uow.firms.add(Firm(FirmId("firm-1"), "One"))
        with pytest.raises(Conflict):
            await uow.firms.add(Firm(FirmId("firm-1"), "Two"))


async def test_an_advisor_keeps_its_tier_and_feature_flags(uow_factory: UnitOfWorkFactory) -> None:
    stored = Advisor(
        AdvisorId("adv-1"),
        FirmId("firm-1"),
        "Owner@Example.com",
        "Advisor One",
        runway_tier=RunwayTier.ENTERPRISE,
        feature_flags={"forecast": True, "payments": False},
    )
    async with uow_factory() as uow:
        await uow.advisors.add(stored)
        await uow.commit()
    async with uow_factory() as uow:
        found = await uow.advisors.get(AdvisorId("adv-1"))
    assert found == stored
    assert found is not None
    assert found.runway_tier is RunwayTier.ENTERPRISE


async def test_an_advisor_is_found_by_email_in_any_case(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        await uow.advisors.add(advisor(1, email="Jane.Doe@Example.com"))
        assert await uow.advisors.get_by_email("JANE.DOE@example.COM") == advisor(
            1, email="jane.doe@example.com"
        )
        assert await uow.advisors.get_by_email("someone@example.com") is None


async def test_adding_an_advisor_with_a_taken_id_is_a_conflict(
    uow_factory: UnitOfWorkFactory,
) -> None:
    async with uow_factory() as uow:
        await uow.advisors.add(advisor(1))
        with pytest.raises(Conflict):
            await uow.advisors.add(advisor(1, email="other@example.com"))


async def test_adding_an_advisor_with_a_taken_email_in_another_case_is_a_conflict(
    uow_factory: UnitOfWorkFactory,
) -> None:
    async with uow_factory() as uow:
        await uow.advisors.add(advisor(1, email="same@example.com"))
        with pytest.raises(Conflict):
            await uow.advisors.add(advisor(2, email="SAME@Example.COM"))


async def test_advisors_are_listed_by_id_and_filtered_by_firm(
    uow_factory: UnitOfWorkFactory,
) -> None:
    async with uow_factory() as uow:
        for n, firm in [(3, "firm-a"), (1, "firm-b"), (2, "firm-a")]:
            await uow.advisors.add(advisor(n, firm=firm))
        everyone = await uow.advisors.list()
        in_firm_a = await uow.advisors.list(FirmId("firm-a"))
    assert [a.advisor_id for a in everyone] == ["adv-1", "adv-2", "adv-3"]
    assert [a.advisor_id for a in in_firm_a] == ["adv-2", "adv-3"]


async def test_updating_an_advisor_replaces_what_was_stored(
    uow_factory: UnitOfWorkFactory,
) -> None:
    changed = Advisor(
        AdvisorId("adv-1"),
        FirmId("firm-1"),
        "renamed@example.com",
        "Renamed",
        runway_tier=RunwayTier.SMART,
        feature_flags={"forecast": True},
    )
    async with uow_factory() as uow:
        await uow.advisors.add(advisor(1))
        await uow.advisors.update(changed)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.advisors.get(AdvisorId("adv-1")) == changed
        assert await uow.advisors.get_by_email("advisor1@example.com") is None


async def test_updating_an_advisor_to_another_advisors_email_is_a_conflict(
    uow_factory: UnitOfWorkFactory,
) -> None:
    async with uow_factory() as uow:
        await uow.advisors.add(advisor(1))
        await uow.advisors.add(advisor(2))
        with pytest.raises(Conflict):
            await uow.advisors.update(advisor(2, email="advisor1@example.com"))
        assert await uow.advisors.get(AdvisorId("adv-2")) == advisor(2)


async def test_a_user_is_stored_and_listed_under_its_advisor_by_id(
    uow_factory: UnitOfWorkFactory,
) -> None:
    async with uow_factory() as uow:
        await uow.users.add(user(2))
        await uow.users.add(user(1))
        await uow.users.add(user(3, advisor_id="adv-2"))
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.users.get(UserId("u-1")) == user(1)
        assert await uow.users.get(UserId("u-9")) is None
        listed = await uow.users.list_for_advisor(AdvisorId("adv-1"))
    assert listed == [user(1), user(2)]
    assert listed[0].role is Role.BOOKKEEPER


async def test_adding_a_user_with_a_taken_email_is_a_conflict(
    uow_factory: UnitOfWorkFactory,
) -> None:
    async with uow_factory() as uow:
        await uow.users.add(user(1, email="staff@example.com"))
        with pytest.raises(Conflict):
            await uow.users.add(user(2, email="Staff@Example.com"))


async def test_adding_a_user_with_a_taken_id_is_a_conflict(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        await uow.users.add(user(1))
        with pytest.raises(Conflict):
            await uow.users.add(user(1, email="another@example.com"))


async def test_a_business_is_stored_with_its_currency_and_timezone(
    uow_factory: UnitOfWorkFactory,
) -> None:
    stored = Business(BusinessId("biz-1"), "Café Zoë", currency="EUR", timezone="Europe/Paris")
    async with uow_factory() as uow:
        await uow.businesses.add(stored)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.businesses.get(BusinessId("biz-1")) == stored
        assert await uow.businesses.get(BusinessId("biz-2")) is None


async def test_adding_a_business_with_a_taken_id_is_a_conflict(
    uow_factory: UnitOfWorkFactory,
) -> None:
    async with uow_factory() as uow:
        await uow.businesses.add(business("biz-1"))
        with pytest.raises(Conflict):
            await uow.businesses.add(business("biz-1", "Another"))


async def test_a_client_link_keeps_its_creation_instant(uow_factory: UnitOfWorkFactory) -> None:
    await seed(uow_factory, "biz-1")
    created = datetime(2026, 3, 4, 5, 6, 7, 890123, tzinfo=timezone(timedelta(hours=5)))
    async with uow_factory() as uow:
        await uow.clients.add(Client(AdvisorId("adv-1"), BIZ, created))
        await uow.commit()
    async with uow_factory() as uow:
        found = await uow.clients.get(AdvisorId("adv-1"), BIZ)
        assert await uow.clients.get(AdvisorId("adv-2"), BIZ) is None
    assert found is not None
    assert found.created_at == created
    assert found.created_at.utcoffset() is not None


async def test_linking_a_business_twice_to_one_advisor_is_a_conflict(
    uow_factory: UnitOfWorkFactory,
) -> None:
    await seed(uow_factory, "biz-1")
    async with uow_factory() as uow:
        await uow.clients.add(link("adv-1", "biz-1"))
        with pytest.raises(Conflict):
            await uow.clients.add(link("adv-1", "biz-1"))


async def test_linking_a_business_that_does_not_exist_is_a_conflict(
    uow_factory: UnitOfWorkFactory,
) -> None:
    await seed(uow_factory)
    async with uow_factory() as uow:
        with pytest.raises(Conflict, match="does not exist"):
            await uow.clients.add(link("adv-1", "biz-missing"))


async def test_linking_a_business_to_an_advisor_that_does_not_exist_is_a_conflict(
    uow_factory: UnitOfWorkFactory,
) -> None:
    await seed(uow_factory, "biz-1")
    async with uow_factory() as uow:
        with pytest.raises(Conflict, match="does not exist"):
            await uow.clients.add(link("adv-missing", "biz-1"))


async def test_an_advisor_lists_only_its_own_clients_by_business_name_then_id(
    uow_factory: UnitOfWorkFactory,
) -> None:
    names = {"b-3": "beta", "b-1": "alpha", "b-2": "Alpha", "b-5": "alpha", "b-4": "Zed"}
    async with uow_factory() as uow:
        await uow.advisors.add(advisor(1))
        await uow.advisors.add(advisor(2))
        for business_id, name in names.items():
            await uow.businesses.add(business(business_id, name))
            await uow.clients.add(link("adv-1", business_id))
        await uow.businesses.add(business("b-6", "Aardvark"))
        await uow.clients.add(link("adv-2", "b-6"))
        await uow.clients.add(link("adv-2", "b-1"))
        await uow.commit()
    async with uow_factory() as uow:
        pairs = await uow.clients.list_for_advisor(AdvisorId("adv-1"))
        assert await uow.clients.list_for_advisor(AdvisorId("adv-9")) == []
    assert [(b.name, b.business_id) for _, b in pairs] == [
        ("Alpha", "b-2"),
        ("Zed", "b-4"),
        ("alpha", "b-1"),
        ("alpha", "b-5"),
        ("beta", "b-3"),
    ]
    assert all(c.advisor_id == "adv-1" and c.business_id == b.business_id for c, b in pairs)
    assert pairs[0] == (link("adv-1", "b-2"), business("b-2", "Alpha"))


async def test_removing_a_client_link_says_whether_one_was_removed(
    uow_factory: UnitOfWorkFactory,
) -> None:
    await seed(uow_factory, "biz-1")
    async with uow_factory() as uow:
        await uow.clients.add(link("adv-1", "biz-1"))
        await uow.clients.add(link("adv-2", "biz-1"))
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.clients.remove(AdvisorId("adv-1"), BIZ) is True
        assert await uow.clients.remove(AdvisorId("adv-1"), BIZ) is False
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.clients.get(AdvisorId("adv-1"), BIZ) is None
        assert await uow.clients.get(AdvisorId("adv-2"), BIZ) is not None
        assert await uow.businesses.get(BIZ) is not None


async def test_a_conflict_leaves_the_unit_of_work_usable(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        await uow.advisors.add(advisor(1))
        with pytest.raises(Conflict):
            await uow.advisors.add(advisor(2, email="advisor1@example.com"))
        await uow.advisors.add(advisor(3))
        await uow.commit()
    async with uow_factory() as uow:
        assert [a.advisor_id for a in await uow.advisors.list()] == ["adv-1", "adv-3"]


# Records


@record_kinds
async def test_each_kind_of_record_reads_back_exactly_as_stored(
    uow_factory: UnitOfWorkFactory, kind: str
) -> None:
    await seed(uow_factory, "biz-1")
    make = RECORD_KINDS[kind]
    stored = [make(BIZ, "r-1", 1), make(BIZ, "r-2", 2)]
    async with uow_factory() as uow:
        await records_of(uow, kind).upsert(stored)
        await uow.commit()
    async with uow_factory() as uow:
        repository = records_of(uow, kind)
        assert await repository.get(BIZ, "r-1") == stored[0]
        assert await repository.get(BIZ, "r-2") == stored[1]
        assert await repository.get(BIZ, "r-3") is None
        assert await repository.get(OTHER_BIZ, "r-1") is None
        assert await repository.list(BIZ) == stored
        assert await repository.count(BIZ) == 2


@record_kinds
async def test_an_upsert_replaces_the_record_with_the_same_id(
    uow_factory: UnitOfWorkFactory, kind: str
) -> None:
    await seed(uow_factory, "biz-1")
    make = RECORD_KINDS[kind]
    async with uow_factory() as uow:
        await records_of(uow, kind).upsert([make(BIZ, "r-1", 1)])
        await uow.commit()
    async with uow_factory() as uow:
        await records_of(uow, kind).upsert([make(BIZ, "r-1", 2), make(BIZ, "r-1", 4)])
        await uow.commit()
    async with uow_factory() as uow:
        assert await records_of(uow, kind).list(BIZ) == [make(BIZ, "r-1", 4)]
        assert await records_of(uow, kind).count(BIZ) == 1


@record_kinds
async def test_the_same_record_id_in_two_businesses_is_two_records(
    uow_factory: UnitOfWorkFactory, kind: str
) -> None:
    await seed(uow_factory, "biz-1", "biz-2")
    make = RECORD_KINDS[kind]
    async with uow_factory() as uow:
        await records_of(uow, kind).upsert([make(BIZ, "r-1", 1), make(OTHER_BIZ, "r-1", 2)])
        await uow.commit()
    async with uow_factory() as uow:
        repository = records_of(uow, kind)
        assert await repository.get(BIZ, "r-1") == make(BIZ, "r-1", 1)
        assert await repository.get(OTHER_BIZ, "r-1") == make(OTHER_BIZ, "r-1", 2)
        assert await repository.count(BIZ) == 1
        assert await repository.list(OTHER_BIZ) == [make(OTHER_BIZ, "r-1", 2)]


@record_kinds
async def test_records_are_listed_by_id_in_code_point_order(
    uow_factory: UnitOfWorkFactory, kind: str
) -> None:
    await seed(uow_factory, "biz-1")
    make = RECORD_KINDS[kind]
    ids = ["b", "a9", "B", "a_1", "a10", "a-2"]
    async with uow_factory() as uow:
        await records_of(uow, kind).upsert([make(BIZ, i, n) for n, i in enumerate(ids)])
        listed = await records_of(uow, kind).list(BIZ)
    keys = [getattr(r, KEYS[kind]) for r in listed]
    assert keys == sorted(ids) == ["B", "a-2", "a10", "a9", "a_1", "b"]


@record_kinds
async def test_delete_removes_only_the_named_records_of_that_business(
    uow_factory: UnitOfWorkFactory, kind: str
) -> None:
    await seed(uow_factory, "biz-1", "biz-2")
    make = RECORD_KINDS[kind]
    async with uow_factory() as uow:
        repository = records_of(uow, kind)
        await repository.upsert([make(BIZ, f"r-{n}", n) for n in range(1, 5)])
        await repository.upsert([make(OTHER_BIZ, "r-1", 1)])
        await uow.commit()
    async with uow_factory() as uow:
        repository = records_of(uow, kind)
        assert await repository.delete(BIZ, ["r-1", "r-3", "r-1", "r-missing"]) == 2
        assert await repository.delete(BIZ, []) == 0
        await uow.commit()
    async with uow_factory() as uow:
        repository = records_of(uow, kind)
        assert [await repository.get(BIZ, f"r-{n}") is not None for n in range(1, 5)] == [
            False,
            True,
            False,
            True,
        ]
        assert await repository.count(BIZ) == 2
        assert await repository.count(OTHER_BIZ) == 1


async def test_counting_records_of_a_business_without_any_gives_zero(
    uow_factory: UnitOfWorkFactory,
) -> None:
    async with uow_factory() as uow:
        assert await uow.bills.count(BIZ) == 0
        assert await uow.bills.list(BIZ) == []


async def test_a_large_batch_of_records_is_stored_in_full(uow_factory: UnitOfWorkFactory) -> None:
    await seed(uow_factory, "biz-1")
    batch = [bank_transaction(BIZ, f"tx-{n:06d}", n) for n in range(25_000)]
    async with uow_factory() as uow:
        await uow.bank_transactions.upsert(batch)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.bank_transactions.count(BIZ) == 25_000
        assert await uow.bank_transactions.get(BIZ, "tx-024999") == batch[-1]
        assert await uow.bank_transactions.delete(BIZ, [r.transaction_id for r in batch]) == 25_000


currencies = st.sampled_from(["USD", "EUR", "JPY", "KWD", "BHD", "GBP"])
amounts = st.integers(min_value=0, max_value=INT64_MAX)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(currency=currencies, amount_minor=amounts, data=st.data())
async def test_money_round_trips_exactly_through_bills(
    uow_factory: UnitOfWorkFactory, currency: str, amount_minor: int, data: st.DataObject
) -> None:
    balance_minor = data.draw(st.integers(min_value=0, max_value=amount_minor))
    stored = Bill(
        bill_id=BillId("bill-1"),
        business_id=BIZ,
        vendor_id=VendorId("vendor-1"),
        amount=Money(amount_minor, currency),
        balance=Money(balance_minor, currency),
        issue_date=date(2026, 1, 1),
        due_date=None,
    )
    async with uow_factory() as uow:
        if await uow.businesses.get(BIZ) is None:
            await uow.businesses.add(business("biz-1"))
        await uow.bills.upsert([stored])
        await uow.commit()
    async with uow_factory() as uow:
        found = await uow.bills.get(BIZ, "bill-1")
    assert found == stored
    assert found is not None
    assert type(found.amount.amount_minor) is int


# Balances


def balance(account: str, as_of: datetime, current: int, available: int | None = None) -> Balance:
    return Balance(
        account_id=BankAccountId(account),
        business_id=BIZ,
        current=Money(current, "USD"),
        available=None if available is None else Money(available, "USD"),
        as_of=as_of,
    )


async def test_latest_balances_are_the_newest_of_each_account_by_account_id(
    uow_factory: UnitOfWorkFactory,
) -> None:
    await seed(uow_factory, "biz-1", "biz-2")
    history = [
        balance("acc-b", NOW - timedelta(days=2), 100),
        balance("acc-b", NOW, 300, 250),
        balance("acc-b", NOW - timedelta(days=1), 200),
        balance("acc-a", NOW - timedelta(microseconds=1), -5),
        balance("acc-a", NOW - timedelta(hours=3), 10, 10),
    ]
    elsewhere = Balance(BankAccountId("acc-0"), OTHER_BIZ, Money(1, "USD"), None, NOW)
    async with uow_factory() as uow:
        await uow.balances.add(history)
        await uow.balances.add([elsewhere])
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.balances.latest(BIZ) == [history[3], history[1]]
        assert await uow.balances.latest(BusinessId("biz-9")) == []


async def test_balance_history_is_oldest_first_from_since(uow_factory: UnitOfWorkFactory) -> None:
    await seed(uow_factory, "biz-1")
    days = [balance("acc-1", NOW - timedelta(days=n), 1_000 * n) for n in (3, 1, 2, 0)]
    async with uow_factory() as uow:
        await uow.balances.add(days)
        await uow.balances.add([balance("acc-2", NOW, 7)])
        await uow.commit()
    async with uow_factory() as uow:
        everything = await uow.balances.history(BIZ, BankAccountId("acc-1"))
        recent = await uow.balances.history(
            BIZ, BankAccountId("acc-1"), since=NOW - timedelta(days=1)
        )
    assert [b.current.amount_minor for b in everything] == [3_000, 2_000, 1_000, 0]
    assert [b.current.amount_minor for b in recent] == [1_000, 0]
    assert all(b.as_of.utcoffset() == timedelta(0) for b in everything)


async def test_a_balance_for_the_same_account_and_instant_replaces_the_old(
    uow_factory: UnitOfWorkFactory,
) -> None:
    await seed(uow_factory, "biz-1")
    same_instant_elsewhere = NOW.astimezone(timezone(timedelta(hours=-7)))
    async with uow_factory() as uow:
        await uow.balances.add([balance("acc-1", NOW, 100)])
        await uow.commit()
    async with uow_factory() as uow:
        await uow.balances.add([balance("acc-1", same_instant_elsewhere, 900, 800)])
        await uow.commit()
    async with uow_factory() as uow:
        history = await uow.balances.history(BIZ, BankAccountId("acc-1"))
    assert history == [balance("acc-1", NOW, 900, 800)]


# Rail connections


def connection(
    business_id: str,
    rail: Rail,
    *,
    account: str | None = None,
    status: ConnectionStatus = ConnectionStatus.OK,
    detail: str = "",
) -> RailConnection:
    return RailConnection(
        business_id=BusinessId(business_id),
        rail=rail,
        status=status,
        account=account,
        detail=detail,
        # Another zone: it reads back equal only if it comes back aware, as the same instant.
        last_synced_at=NOW.astimezone(timezone(timedelta(hours=2))),
        last_error_at=None if status is ConnectionStatus.OK else NOW - timedelta(minutes=5),
    )


async def test_connections_are_stored_replaced_and_listed_by_rail(
    uow_factory: UnitOfWorkFactory,
) -> None:
    await seed(uow_factory, "biz-1", "biz-2")
    async with uow_factory() as uow:
        for rail in (Rail.RAMP, Rail.QBO, Rail.PLAID):
            await uow.connections.upsert(connection("biz-1", rail, account=f"{rail}-acct"))
        await uow.connections.upsert(connection("biz-2", Rail.QBO))
        await uow.commit()
    failing = connection(
        "biz-1", Rail.QBO, status=ConnectionStatus.NEEDS_ATTENTION, detail="re-authorise ☕"
    )
    async with uow_factory() as uow:
        await uow.connections.upsert(failing)
        await uow.commit()
    async with uow_factory() as uow:
        listed = await uow.connections.list(BIZ)
        found = await uow.connections.get(BIZ, Rail.QBO)
        assert await uow.connections.get(BIZ, Rail.STRIPE) is None
        assert await uow.connections.list(BusinessId("biz-9")) == []
        assert await uow.connections.list(OTHER_BIZ) == [connection("biz-2", Rail.QBO)]
    assert [c.rail for c in listed] == [Rail.PLAID, Rail.QBO, Rail.RAMP]
    assert found == failing


async def test_connections_are_found_by_the_rails_own_account_id(
    uow_factory: UnitOfWorkFactory,
) -> None:
    await seed(uow_factory, "biz-1", "biz-2", "biz-3")
    async with uow_factory() as uow:
        await uow.connections.upsert(connection("biz-2", Rail.PLAID, account="item-1"))
        await uow.connections.upsert(connection("biz-1", Rail.PLAID, account="item-1"))
        await uow.connections.upsert(connection("biz-3", Rail.PLAID, account="item-2"))
        await uow.connections.upsert(connection("biz-3", Rail.QBO, account="item-1"))
        await uow.commit()
    async with uow_factory() as uow:
        found = await uow.connections.find_by_account(Rail.PLAID, "item-1")
        assert await uow.connections.find_by_account(Rail.RAMP, "item-1") == []
    assert [(c.business_id, c.rail) for c in found] == [
        ("biz-1", Rail.PLAID),
        ("biz-2", Rail.PLAID),
    ]


async def test_connecting_a_business_that_does_not_exist_is_a_conflict(
    uow_factory: UnitOfWorkFactory,
) -> None:
    await seed(uow_factory, "biz-1")
    async with uow_factory() as uow:
        with pytest.raises(Conflict):
            await uow.connections.upsert(connection("biz-9", Rail.QBO))
        await uow.connections.upsert(connection("biz-1", Rail.QBO))
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.connections.get(BusinessId("biz-9"), Rail.QBO) is None
        assert await uow.connections.list(BIZ) == [connection("biz-1", Rail.QBO)]


# Sync cursors


def cursor(business_id: str, rail: Rail, stream: str, value: str, at: datetime = NOW) -> SyncCursor:
    return SyncCursor(BusinessId(business_id), rail, stream, value, at)


async def test_a_sync_cursor_is_set_then_overwritten(uow_factory: UnitOfWorkFactory) -> None:
    await seed(uow_factory, "biz-1")
    later = (NOW + timedelta(hours=1)).astimezone(timezone(timedelta(hours=-5)))
    async with uow_factory() as uow:
        assert await uow.cursors.get(BIZ, Rail.PLAID, "transactions") is None
        await uow.cursors.set(cursor("biz-1", Rail.PLAID, "transactions", "c-1"))
        await uow.commit()
    async with uow_factory() as uow:
        await uow.cursors.set(cursor("biz-1", Rail.PLAID, "transactions", "c-2 ✓", later))
        await uow.commit()
    async with uow_factory() as uow:
        found = await uow.cursors.get(BIZ, Rail.PLAID, "transactions")
        assert await uow.cursors.get(BIZ, Rail.QBO, "transactions") is None
    assert found == cursor("biz-1", Rail.PLAID, "transactions", "c-2 ✓", later)


async def test_sync_cursors_are_listed_by_rail_then_stream(
    uow_factory: UnitOfWorkFactory,
) -> None:
    await seed(uow_factory, "biz-1", "biz-2")
    stored = [
        cursor("biz-1", Rail.QBO, "cdc", "q-1"),
        cursor("biz-1", Rail.PLAID, "transactions", "p-1"),
        cursor("biz-1", Rail.QBO, "Bills", "q-2"),
        cursor("biz-1", Rail.QBO, "bills", "q-3"),
        cursor("biz-2", Rail.PLAID, "transactions", "p-9"),
    ]
    async with uow_factory() as uow:
        for c in stored:
            await uow.cursors.set(c)
        await uow.commit()
    async with uow_factory() as uow:
        listed = await uow.cursors.list(BIZ)
        assert await uow.cursors.list(BusinessId("biz-9")) == []
    assert [(c.rail, c.stream) for c in listed] == [
        (Rail.PLAID, "transactions"),
        (Rail.QBO, "Bills"),
        (Rail.QBO, "bills"),
        (Rail.QBO, "cdc"),
    ]


async def test_setting_a_cursor_for_a_business_that_does_not_exist_is_a_conflict(
    uow_factory: UnitOfWorkFactory,
) -> None:
    async with uow_factory() as uow:
        with pytest.raises(Conflict):
            await uow.cursors.set(cursor("biz-9", Rail.PLAID, "transactions", "c-1"))


async def test_a_cursor_and_the_records_it_covers_are_rolled_back_together(
    uow_factory: UnitOfWorkFactory,
) -> None:
    await seed(uow_factory, "biz-1")
    first_page = [bank_transaction(BIZ, f"tx-{n}", n) for n in range(2)]
    async with uow_factory() as uow:
        await uow.bank_transactions.upsert(first_page)
        await uow.cursors.set(cursor("biz-1", Rail.PLAID, "transactions", "page-1"))
        await uow.commit()
    async with uow_factory() as uow:
        await uow.bank_transactions.upsert([bank_transaction(BIZ, f"tx-{n}", n) for n in (2, 3)])
        await uow.cursors.set(cursor("biz-1", Rail.PLAID, "transactions", "page-2"))

    async def fail_after_second_page() -> None:
        async with uow_factory() as uow:
            await uow.bank_transactions.upsert([bank_transaction(BIZ, "tx-2", 2)])
            await uow.cursors.set(cursor("biz-1", Rail.PLAID, "transactions", "page-2"))
            raise RuntimeError("the rail went away mid-sync")

    with pytest.raises(RuntimeError):
        await fail_after_second_page()
    async with uow_factory() as uow:
        resumed_from = await uow.cursors.get(BIZ, Rail.PLAID, "transactions")
        assert await uow.bank_transactions.list(BIZ) == first_page
    assert resumed_from == cursor("biz-1", Rail.PLAID, "transactions", "page-1")


# Webhook inbox


def webhook(
    event_id: str,
    received_at: datetime = NOW,
    *,
    rail: Rail = Rail.RAMP,
    status: WebhookStatus = WebhookStatus.PENDING,
    next_attempt_at: datetime | None = None,
    payload_json: str = '{"amount": 1, "note": "Zoë ☕"}',
) -> StoredWebhook:
    return StoredWebhook(
        rail=rail,
        event_id=event_id,
        event_type="transaction.cleared",
        account="acct-1" if rail is Rail.RAMP else None,
        payload_json=payload_json,
        received_at=received_at,
        status=status,
        attempts=0 if status is WebhookStatus.PENDING else 1,
        last_error="TimeoutError: slow" if status is WebhookStatus.FAILED else None,
        next_attempt_at=next_attempt_at,
        processed_at=received_at if status is WebhookStatus.PROCESSED else None,
    )


async def test_a_webhook_is_stored_once_and_a_redelivery_changes_nothing(
    uow_factory: UnitOfWorkFactory,
) -> None:
    first = webhook("evt-1", NOW.astimezone(timezone(timedelta(hours=9))))
    async with uow_factory() as uow:
        assert await uow.webhooks.store(first) is True
        await uow.commit()
    async with uow_factory() as uow:
        redelivered = webhook("evt-1", NOW + timedelta(minutes=1), payload_json='{"other": 2}')
        assert await uow.webhooks.store(redelivered) is False
        assert await uow.webhooks.store(webhook("evt-1", rail=Rail.STRIPE)) is True
        await uow.commit()
    async with uow_factory() as uow:
        found = await uow.webhooks.get(Rail.RAMP, "evt-1")
        assert await uow.webhooks.get(Rail.RAMP, "evt-2") is None
        assert await uow.webhooks.count() == 2
        assert await uow.webhooks.count(Rail.RAMP) == 1
        assert await uow.webhooks.count(Rail.PLAID) == 0
    assert found == first


async def test_due_webhooks_are_pending_and_due_failed_ones_oldest_first(
    uow_factory: UnitOfWorkFactory,
) -> None:
    hour = timedelta(hours=1)
    events = {
        "pending-new": webhook("pending-new", NOW - 1 * hour),
        "pending-old": webhook("pending-old", NOW - 5 * hour),
        "failed-due": webhook(
            "failed-due", NOW - 4 * hour, status=WebhookStatus.FAILED, next_attempt_at=NOW
        ),
        "failed-later": webhook(
            "failed-later",
            NOW - 3 * hour,
            status=WebhookStatus.FAILED,
            next_attempt_at=NOW + timedelta(microseconds=1),
        ),
        "processed": webhook("processed", NOW - 6 * hour, status=WebhookStatus.PROCESSED),
        "other-rail": webhook("pending-new", NOW - 2 * hour, rail=Rail.STRIPE),
    }
    async with uow_factory() as uow:
        for event in events.values():
            assert await uow.webhooks.store(event) is True
        await uow.commit()
    async with uow_factory() as uow:
        due = await uow.webhooks.due(NOW)
        first_two = await uow.webhooks.due(NOW, limit=2)
        later = await uow.webhooks.due(NOW + hour)
    assert due == [
        events["pending-old"],
        events["failed-due"],
        events["other-rail"],
        events["pending-new"],
    ]
    assert first_two == due[:2]
    assert events["failed-later"] in later and events["processed"] not in later


async def test_updating_a_webhook_records_the_attempt_and_keeps_the_event(
    uow_factory: UnitOfWorkFactory,
) -> None:
    stored = webhook("evt-1", NOW - timedelta(minutes=2))
    async with uow_factory() as uow:
        await uow.webhooks.store(stored)
        await uow.commit()
    failed = StoredWebhook(
        rail=stored.rail,
        event_id=stored.event_id,
        event_type=stored.event_type,
        account=stored.account,
        payload_json=stored.payload_json,
        received_at=stored.received_at,
        status=WebhookStatus.FAILED,
        attempts=1,
        last_error="Unavailable: QBO is down",
        next_attempt_at=NOW + timedelta(minutes=1),
    )
    async with uow_factory() as uow:
        await uow.webhooks.update(failed)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.webhooks.get(Rail.RAMP, "evt-1") == failed
        assert await uow.webhooks.due(NOW) == []
        processed = StoredWebhook(
            rail=stored.rail,
            event_id=stored.event_id,
            event_type="tampered",
            account=None,
            payload_json="{}",
            received_at=NOW,
            status=WebhookStatus.PROCESSED,
            attempts=2,
            processed_at=NOW + timedelta(minutes=1),
        )
        await uow.webhooks.update(processed)
        await uow.commit()
    async with uow_factory() as uow:
        found = await uow.webhooks.get(Rail.RAMP, "evt-1")
    assert found == StoredWebhook(
        rail=stored.rail,
        event_id=stored.event_id,
        event_type=stored.event_type,
        account=stored.account,
        payload_json=stored.payload_json,
        received_at=stored.received_at,
        status=WebhookStatus.PROCESSED,
        attempts=2,
        last_error=None,
        next_attempt_at=None,
        processed_at=NOW + timedelta(minutes=1),
    )


async def test_updating_a_webhook_that_was_never_stored_is_not_found(
    uow_factory: UnitOfWorkFactory,
) -> None:
    async with uow_factory() as uow:
        with pytest.raises(NotFound):
            await uow.webhooks.update(webhook("evt-missing", status=WebhookStatus.PROCESSED))
        assert await uow.webhooks.count() == 0


async def test_concurrent_deliveries_of_one_webhook_store_it_exactly_once(
    uow_factory: UnitOfWorkFactory,
) -> None:
    async def deliver(n: int) -> bool:
        async with uow_factory() as uow:
            stored = await uow.webhooks.store(webhook("evt-1", NOW + timedelta(seconds=n)))
            await asyncio.sleep(0.01)
            await uow.commit()
            return stored

    outcomes = await asyncio.gather(*(deliver(n) for n in range(6)))
    async with uow_factory() as uow:
        assert await uow.webhooks.count() == 1
        found = await uow.webhooks.get(Rail.RAMP, "evt-1")
    assert outcomes.count(True) == 1
    assert found is not None
    assert found.received_at == NOW + timedelta(seconds=outcomes.index(True))


# Units of work


async def test_work_left_without_commit_is_rolled_back(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        await uow.firms.add(Firm(FirmId("firm-1"), "Kept"))
        await uow.commit()
        await uow.firms.add(Firm(FirmId("firm-2"), "Dropped"))
    async with uow_factory() as uow:
        assert await uow.firms.get(FirmId("firm-1")) is not None
        assert await uow.firms.get(FirmId("firm-2")) is None


async def test_work_is_rolled_back_when_the_block_raises(uow_factory: UnitOfWorkFactory) -> None:
    async def add_then_fail() -> None:
        async with uow_factory() as uow:
            await uow.firms.add(Firm(FirmId("firm-1"), "Dropped"))
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        await add_then_fail()
    async with uow_factory() as uow:
        assert await uow.firms.get(FirmId("firm-1")) is None


async def test_rollback_discards_work_and_the_unit_of_work_goes_on(
    uow_factory: UnitOfWorkFactory,
) -> None:
    async with uow_factory() as uow:
        await uow.firms.add(Firm(FirmId("firm-1"), "Dropped"))
        await uow.rollback()
        assert await uow.firms.get(FirmId("firm-1")) is None
        await uow.firms.add(Firm(FirmId("firm-2"), "Kept"))
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.firms.get(FirmId("firm-1")) is None
        assert await uow.firms.get(FirmId("firm-2")) is not None


async def test_uncommitted_work_is_invisible_to_another_unit_of_work(
    uow_factory: UnitOfWorkFactory,
) -> None:
    async def peek() -> Firm | None:
        async with uow_factory() as other:
            return await other.firms.get(FirmId("firm-1"))

    async with uow_factory() as uow:
        await uow.firms.add(Firm(FirmId("firm-1"), "Uncommitted"))
        seen = asyncio.create_task(peek())
        await asyncio.sleep(0.05)
    assert await seen is None


# Audit log


async def test_appended_audit_events_form_a_chain(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        assert await uow.audit.head_count() == 0
        appended = [await uow.audit.append(entry(n), NOW + timedelta(seconds=n)) for n in range(3)]
        await uow.commit()
    async with uow_factory() as uow:
        events = await uow.audit.events()
        head = await uow.audit.head_count()
    assert [e.seq for e in events] == [1, 2, 3]
    assert events == appended
    assert events[1].prev_hash == events[0].hash
    assert head == 3
    assert verify_chain(events, expected_count=head) is None


async def test_audit_events_read_back_the_exact_values_that_were_hashed(
    uow_factory: UnitOfWorkFactory,
) -> None:
    awkward = {
        "amount": Money(-12_345, "USD"),
        "when": datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=timezone(timedelta(hours=-5))),
        "day": date(2028, 2, 29),
        "status": BillStatus.PAID,
        "big": INT64_MAX * 1000,
        "flags": {"z": True, "a": False, "none": None},
        "text": 'Zoë ☕ "quotes" \\ / \n\t 𝄞',
        "empty": {"list": [], "dict": {}, "string": ""},
        "tags": ("b", "a"),
        "set": frozenset({"y", "x"}),
    }
    async with uow_factory() as uow:
        first = await uow.audit.append(
            AuditEntry("system", "record.changed", "bill:1", None, awkward, None),
            datetime(2026, 5, 6, 7, 8, 9, 1, tzinfo=timezone(timedelta(hours=9))),
        )
        second = await uow.audit.append(
            AuditEntry("system", "record.removed", "bill:1", awkward, [], "adv-1"), NOW
        )
        await uow.commit()
    async with uow_factory() as uow:
        events = await uow.audit.events()
    assert events == [first, second]
    assert events[0].after == first.after
    assert events[0].before is None
    assert events[0].at.utcoffset() == timedelta(0)
    assert verify_chain(events, expected_count=2) is None


async def test_audit_events_are_filtered_by_advisor_and_paged_after_a_sequence_number(
    uow_factory: UnitOfWorkFactory,
) -> None:
    owners = ["adv-1", "adv-2", None, "adv-1", "adv-1", "adv-2", "adv-1"]
    async with uow_factory() as uow:
        for n, owner in enumerate(owners):
            await uow.audit.append(entry(n, owner), NOW)
        await uow.commit()
    async with uow_factory() as uow:
        mine = await uow.audit.events(advisor_id=AdvisorId("adv-1"))
        mine_later = await uow.audit.events(advisor_id=AdvisorId("adv-1"), after_seq=4, limit=1)
        page = await uow.audit.events(after_seq=2, limit=3)
        rest = await uow.audit.events(after_seq=5)
        nothing = await uow.audit.events(limit=0)
    assert [e.seq for e in mine] == [1, 4, 5, 7]
    assert [e.seq for e in mine_later] == [5]
    assert [e.seq for e in page] == [3, 4, 5]
    assert [e.seq for e in rest] == [6, 7]
    assert nothing == []


async def test_an_audit_append_left_uncommitted_leaves_no_gap(
    uow_factory: UnitOfWorkFactory,
) -> None:
    async with uow_factory() as uow:
        await uow.audit.append(entry(1), NOW)
    async with uow_factory() as uow:
        await uow.audit.append(entry(2), NOW)
        await uow.commit()
    async with uow_factory() as uow:
        events = await uow.audit.events()
        assert [e.seq for e in events] == [1]
        assert events[0].subject == "bill:2"
        assert verify_chain(events, expected_count=await uow.audit.head_count()) is None


async def test_concurrent_audit_appends_form_one_gapless_chain(
    uow_factory: UnitOfWorkFactory,
) -> None:
    writers, per_writer = 8, 3

    async def write(writer: int) -> None:
        async with uow_factory() as uow:
            await uow.audit.head_count()
            for n in range(per_writer):
                await uow.audit.append(entry(writer * 100 + n, f"adv-{writer}"), NOW)
                await asyncio.sleep(0)
            await uow.commit()

    await asyncio.gather(*(write(w) for w in range(writers)))
    async with uow_factory() as uow:
        events = await uow.audit.events()
        head = await uow.audit.head_count()
    assert head == writers * per_writer
    assert [e.seq for e in events] == list(range(1, head + 1))
    assert verify_chain(events, expected_count=head) is None
    for w in range(writers):
        mine = [e.subject for e in events if e.advisor_id == f"adv-{w}"]
        assert mine == [f"bill:{w * 100 + n}" for n in range(per_writer)]


# Pooled engines (the fixture above opens a connection per unit of work)


async def test_a_pooled_connection_comes_back_without_the_work_left_on_it(
    database_url: tuple[str, str | None],
) -> None:
    url, schema = database_url
    factory = SqlUnitOfWorkFactory(make_engine(url, schema=schema))
    try:
        async with factory() as uow:
            await uow.firms.add(Firm(FirmId("firm-1"), "Dropped"))
            await uow.audit.append(entry(1), NOW)
        await asyncio.gather(*(_append_and_commit(factory, n) for n in range(12)))
        async with factory() as uow:
            assert await uow.firms.get(FirmId("firm-1")) is None
            events = await uow.audit.events()
            assert verify_chain(events, expected_count=await uow.audit.head_count()) is None
            assert len(events) == 12
    finally:
        await factory.aclose()


async def _append_and_commit(factory: UnitOfWorkFactory, n: int) -> None:
    async with factory() as uow:
        await uow.audit.append(entry(n), NOW)
        await uow.commit()
