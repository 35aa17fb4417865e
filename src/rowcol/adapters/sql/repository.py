"""SQL repositories and unit of work on SQLAlchemy Core (SQLite and PostgreSQL).

A unit of work holds one connection and one transaction for its life. Every write that
the database may refuse runs in a savepoint, so a Conflict leaves the unit usable, as
it does in the in-memory store.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any, Generic, Self, TypeVar

from sqlalchemy import (
    ColumnElement,
    CursorResult,
    Executable,
    Table,
    and_,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql.dml import Insert

from rowcol.adapters.sql import tables as t
from rowcol.adapters.sql.collections import SqlCollections
from rowcol.adapters.sql.forecasts import SqlForecasts
from rowcol.adapters.sql.hygiene import SqlHygiene
from rowcol.adapters.sql.payments import SqlPayments, SqlPolicies
from rowcol.adapters.sql.portfolio import SqlPortfolio, keep_newest_balances
from rowcol.adapters.sql.scenarios import SqlScenarios
from rowcol.core.domain.audit import AuditEntry, AuditEvent, chain
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
from rowcol.ports.errors import StorageError
from rowcol.ports.repository import (
    AdvisorRepository,
    AuditLog,
    BalanceRepository,
    BusinessRepository,
    ClientRepository,
    ConnectionRepository,
    FirmRepository,
    RecordRepository,
    SyncCursorRepository,
    UnitOfWork,
    UnitOfWorkFactory,
    UserRepository,
    WebhookInbox,
)

R = TypeVar("R")

# Bound parameters per statement stay under SQLite's 32766 and asyncpg's 32767.
_MAX_PARAMS = 32_000
_MAX_ROWS_PER_CHUNK = 5_000


def _storage_error(exc: SQLAlchemyError) -> StorageError:
    detail = getattr(exc, "orig", None) or exc
    return StorageError(f"the database failed: {type(detail).__name__}: {detail}")


@contextmanager
def _translated() -> Iterator[None]:
    try:
        yield
    except IntegrityError as exc:
        raise Conflict(f"the change clashes with stored data: {exc.orig}") from exc
    except SQLAlchemyError as exc:
        raise _storage_error(exc) from exc


def _mentions(exc: IntegrityError, word: str) -> bool:
    return word in str(exc.orig).lower()


def _chunks(rows: Sequence[R], size: int) -> Iterator[Sequence[R]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


class _Db:
    """The unit of work's connection, shared by its repositories."""

    def __init__(self) -> None:
        self._conn: AsyncConnection | None = None

    def bind(self, conn: AsyncConnection | None) -> None:
        self._conn = conn

    @property
    def conn(self) -> AsyncConnection:
        if self._conn is None:
            raise RuntimeError("use the unit of work inside `async with`")
        return self._conn

    @property
    def dialect(self) -> str:
        return self.conn.dialect.name

    def sort(self, column: ColumnElement[str]) -> ColumnElement[str]:
        """Order text by code point everywhere, as Python (and the memory store) does."""
        return column.collate("C") if self.dialect == "postgresql" else column

    async def read(
        self, statement: Executable, params: Mapping[str, Any] | None = None
    ) -> CursorResult[Any]:
        try:
            return await self.conn.execute(statement, params)
        except SQLAlchemyError as exc:
            raise _storage_error(exc) from exc

    async def write(
        self, statement: Executable, rows: Sequence[Mapping[str, Any]] | None = None
    ) -> CursorResult[Any]:
        """Runs in a savepoint; IntegrityError is left for the caller to explain."""
        try:
            async with self.conn.begin_nested():
                return await self.conn.execute(statement, rows)
        except IntegrityError:
            raise
        except SQLAlchemyError as exc:
            raise _storage_error(exc) from exc

    async def write_many(self, statement: Executable, rows: Sequence[Mapping[str, Any]]) -> None:
        """Executemany in chunks, all or nothing; IntegrityError is left to the caller."""
        if not rows:
            return
        per_chunk = max(1, min(_MAX_ROWS_PER_CHUNK, _MAX_PARAMS // max(1, len(rows[0]))))
        try:
            async with self.conn.begin_nested():
                for chunk in _chunks(rows, per_chunk):
                    await self.conn.execute(statement, list(chunk))
        except IntegrityError:
            raise
        except SQLAlchemyError as exc:
            raise _storage_error(exc) from exc

    def upsert(self, table: Table, keys: Sequence[str]) -> Insert:
        return upsert(self.dialect, table, keys)

    def insert_new(self, table: Table, keys: Sequence[str]) -> Insert:
        return insert_new(self.dialect, table, keys)


def _dialect_insert(dialect: str, table: Table) -> postgresql.Insert | sqlite.Insert:
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise StorageError(f"no ON CONFLICT clause for the {dialect} dialect")


def upsert(dialect: str, table: Table, keys: Sequence[str]) -> Insert:
    """INSERT ... ON CONFLICT (keys) DO UPDATE SET every other column."""
    stmt = _dialect_insert(dialect, table)
    changes = {c.name: stmt.excluded[c.name] for c in table.c if c.name not in keys}
    return stmt.on_conflict_do_update(index_elements=list(keys), set_=changes)


def insert_new(dialect: str, table: Table, keys: Sequence[str]) -> Insert:
    """INSERT ... ON CONFLICT (keys) DO NOTHING: the row count says whether it went in."""
    return _dialect_insert(dialect, table).on_conflict_do_nothing(index_elements=list(keys))


def _money_columns(name: str, money: Money | None) -> dict[str, Any]:
    return {
        f"{name}_minor": None if money is None else money.amount_minor,
        f"{name}_currency": None if money is None else money.currency,
    }


def _money(row: RowMapping, name: str) -> Money:
    return Money(int(row[f"{name}_minor"]), str(row[f"{name}_currency"]))


def _optional_money(row: RowMapping, name: str) -> Money | None:
    return None if row[f"{name}_minor"] is None else _money(row, name)


class SqlFirms(FirmRepository):
    def __init__(self, db: _Db) -> None:
        self._db = db

    async def add(self, firm: Firm) -> None:
        try:
            await self._db.write(insert(t.firms).values(firm_id=firm.firm_id, name=firm.name))
        except IntegrityError as exc:
            raise Conflict(f"firm {firm.firm_id} already exists") from exc

    async def get(self, firm_id: FirmId) -> Firm | None:
        found = await self._db.read(select(t.firms).where(t.firms.c.firm_id == firm_id))
        row = found.mappings().one_or_none()
        return None if row is None else Firm(FirmId(row["firm_id"]), row["name"])


def _advisor_row(advisor: Advisor) -> dict[str, Any]:
    return {
        "advisor_id": advisor.advisor_id,
        "firm_id": advisor.firm_id,
        "email": advisor.email,
        "name": advisor.name,
        "runway_tier": advisor.runway_tier.value,
        "feature_flags": dict(advisor.feature_flags),
    }


def _advisor(row: RowMapping) -> Advisor:
    return Advisor(
        advisor_id=AdvisorId(row["advisor_id"]),
        firm_id=FirmId(row["firm_id"]),
        email=row["email"],
        name=row["name"],
        runway_tier=RunwayTier(row["runway_tier"]),
        feature_flags={str(k): bool(v) for k, v in row["feature_flags"].items()},
    )


class SqlAdvisors(AdvisorRepository):
    def __init__(self, db: _Db) -> None:
        self._db = db

    async def add(self, advisor: Advisor) -> None:
        try:
            await self._db.write(insert(t.advisors).values(_advisor_row(advisor)))
        except IntegrityError as exc:
            if _mentions(exc, "email"):
                raise Conflict(f"an advisor with email {advisor.email} already exists") from exc
            raise Conflict(f"advisor {advisor.advisor_id} already exists") from exc

    async def get(self, advisor_id: AdvisorId) -> Advisor | None:
        return await self._one(t.advisors.c.advisor_id == advisor_id)

    async def get_by_email(self, email: str) -> Advisor | None:
        return await self._one(t.advisors.c.email == email.lower())

    async def update(self, advisor: Advisor) -> None:
        statement = self._db.upsert(t.advisors, ["advisor_id"]).values(_advisor_row(advisor))
        try:
            await self._db.write(statement)
        except IntegrityError as exc:
            raise Conflict(f"an advisor with email {advisor.email} already exists") from exc

    async def list(self, firm_id: FirmId | None = None) -> Sequence[Advisor]:
        query = select(t.advisors).order_by(self._db.sort(t.advisors.c.advisor_id))
        if firm_id is not None:
            query = query.where(t.advisors.c.firm_id == firm_id)
        found = await self._db.read(query)
        return [_advisor(row) for row in found.mappings()]

    async def _one(self, condition: ColumnElement[bool]) -> Advisor | None:
        found = await self._db.read(select(t.advisors).where(condition))
        row = found.mappings().one_or_none()
        return None if row is None else _advisor(row)


def _user(row: RowMapping) -> StaffUser:
    return StaffUser(
        user_id=UserId(row["user_id"]),
        advisor_id=AdvisorId(row["advisor_id"]),
        email=row["email"],
        name=row["name"],
        role=Role(row["role"]),
    )


class SqlUsers(UserRepository):
    def __init__(self, db: _Db) -> None:
        self._db = db

    async def add(self, user: StaffUser) -> None:
        row = {
            "user_id": user.user_id,
            "advisor_id": user.advisor_id,
            "email": user.email,
            "name": user.name,
            "role": user.role.value,
        }
        try:
            await self._db.write(insert(t.users).values(row))
        except IntegrityError as exc:
            if _mentions(exc, "email"):
                raise Conflict(f"a user with email {user.email} already exists") from exc
            raise Conflict(f"user {user.user_id} already exists") from exc

    async def get(self, user_id: UserId) -> StaffUser | None:
        found = await self._db.read(select(t.users).where(t.users.c.user_id == user_id))
        row = found.mappings().one_or_none()
        return None if row is None else _user(row)

    async def list_for_advisor(self, advisor_id: AdvisorId) -> Sequence[StaffUser]:
        found = await self._db.read(
            select(t.users)
            .where(t.users.c.advisor_id == advisor_id)
            .order_by(self._db.sort(t.users.c.user_id))
        )
        return [_user(row) for row in found.mappings()]


def _business(row: RowMapping) -> Business:
    return Business(
        business_id=BusinessId(row["business_id"]),
        name=row["name"],
        currency=row["currency"],
        timezone=row["timezone"],
    )


class SqlBusinesses(BusinessRepository):
    def __init__(self, db: _Db) -> None:
        self._db = db

    async def add(self, business: Business) -> None:
        row = {
            "business_id": business.business_id,
            "name": business.name,
            "currency": business.currency,
            "timezone": business.timezone,
        }
        try:
            await self._db.write(insert(t.businesses).values(row))
        except IntegrityError as exc:
            raise Conflict(f"business {business.business_id} already exists") from exc

    async def get(self, business_id: BusinessId) -> Business | None:
        found = await self._db.read(
            select(t.businesses).where(t.businesses.c.business_id == business_id)
        )
        row = found.mappings().one_or_none()
        return None if row is None else _business(row)


class SqlClients(ClientRepository):
    def __init__(self, db: _Db) -> None:
        self._db = db

    async def add(self, client: Client) -> None:
        row = {
            "advisor_id": client.advisor_id,
            "business_id": client.business_id,
            "created_at": client.created_at,
        }
        try:
            await self._db.write(insert(t.clients).values(row))
        except IntegrityError as exc:
            raise Conflict(await self._why(client, exc)) from exc

    async def _why(self, client: Client, exc: IntegrityError) -> str:
        if not _mentions(exc, "foreign key"):
            return f"advisor {client.advisor_id} already holds {client.business_id}"
        business = t.businesses.c.business_id == client.business_id
        found = await self._db.read(select(func.count()).select_from(t.businesses).where(business))
        if not found.scalar_one():
            return f"business {client.business_id} does not exist"
        return f"advisor {client.advisor_id} does not exist"

    async def get(self, advisor_id: AdvisorId, business_id: BusinessId) -> Client | None:
        found = await self._db.read(
            select(t.clients).where(
                t.clients.c.advisor_id == advisor_id, t.clients.c.business_id == business_id
            )
        )
        row = found.mappings().one_or_none()
        return None if row is None else _client(row)

    async def list_for_advisor(self, advisor_id: AdvisorId) -> Sequence[tuple[Client, Business]]:
        c, b = t.clients, t.businesses
        found = await self._db.read(
            select(
                c.c.advisor_id,
                c.c.business_id,
                c.c.created_at,
                b.c.name,
                b.c.currency,
                b.c.timezone,
            )
            .join(b, b.c.business_id == c.c.business_id)
            .where(c.c.advisor_id == advisor_id)
            .order_by(self._db.sort(b.c.name), self._db.sort(b.c.business_id))
        )
        return [(_client(row), _business(row)) for row in found.mappings()]

    async def remove(self, advisor_id: AdvisorId, business_id: BusinessId) -> bool:
        statement = delete(t.clients).where(
            t.clients.c.advisor_id == advisor_id, t.clients.c.business_id == business_id
        )
        try:
            removed = await self._db.write(statement)
        except IntegrityError as exc:
            raise Conflict(f"the link to {business_id} cannot be removed") from exc
        return removed.rowcount > 0


def _client(row: RowMapping) -> Client:
    return Client(
        advisor_id=AdvisorId(row["advisor_id"]),
        business_id=BusinessId(row["business_id"]),
        created_at=row["created_at"],
    )


@dataclass(frozen=True, slots=True)
class RecordCodec(Generic[R]):
    """How one kind of record maps to its table's row and back."""

    table: Table
    key: str
    to_row: Callable[[R], dict[str, Any]]
    from_row: Callable[[RowMapping], R]


class SqlRecords(RecordRepository[R], Generic[R]):
    def __init__(self, db: _Db, codec: RecordCodec[R]) -> None:
        self._db = db
        self._codec = codec
        self._table = codec.table
        self._key = codec.table.c[codec.key]

    async def upsert(self, records: Sequence[R]) -> None:
        # The last of several records with one key wins, as it would one at a time; a
        # single multi-row ON CONFLICT statement must not meet the same key twice.
        rows_by_key: dict[tuple[str, str], dict[str, Any]] = {}
        for record in records:
            row = self._codec.to_row(record)
            rows_by_key[(row["business_id"], row[self._codec.key])] = row
        statement = self._db.upsert(self._table, ["business_id", self._codec.key])
        try:
            await self._db.write_many(statement, list(rows_by_key.values()))
        except IntegrityError as exc:
            businesses = sorted({business for business, _ in rows_by_key})
            raise Conflict(
                f"{self._table.name} refer to a business that does not exist "
                f"(one of {', '.join(businesses)})"
            ) from exc

    async def get(self, business_id: BusinessId, record_id: str) -> R | None:
        found = await self._db.read(
            select(self._table).where(
                self._table.c.business_id == business_id, self._key == record_id
            )
        )
        row = found.mappings().one_or_none()
        return None if row is None else self._codec.from_row(row)

    async def list(self, business_id: BusinessId) -> Sequence[R]:
        found = await self._db.read(
            select(self._table)
            .where(self._table.c.business_id == business_id)
            .order_by(self._db.sort(self._key))
        )
        return [self._codec.from_row(row) for row in found.mappings()]

    async def count(self, business_id: BusinessId) -> int:
        found = await self._db.read(
            select(func.count())
            .select_from(self._table)
            .where(self._table.c.business_id == business_id)
        )
        return int(found.scalar_one())

    async def delete(self, business_id: BusinessId, record_ids: Sequence[str]) -> int:
        removed = 0
        for chunk in _chunks(sorted(set(record_ids)), _MAX_ROWS_PER_CHUNK):
            statement = delete(self._table).where(
                self._table.c.business_id == business_id, self._key.in_(chunk)
            )
            try:
                result = await self._db.write(statement)
            except IntegrityError as exc:
                raise Conflict(f"{self._table.name} cannot be deleted") from exc
            removed += result.rowcount
        return removed


def _vendor_row(v: Vendor) -> dict[str, Any]:
    return {
        "business_id": v.business_id,
        "vendor_id": v.vendor_id,
        "name": v.name,
        "category": v.category,
        "payment_terms_days": v.payment_terms_days,
        "has_payment_details": v.has_payment_details,
        "is_critical": v.is_critical,
        "external_ref": v.external_ref,
    }


def _vendor(row: RowMapping) -> Vendor:
    return Vendor(
        vendor_id=VendorId(row["vendor_id"]),
        business_id=BusinessId(row["business_id"]),
        name=row["name"],
        category=row["category"],
        payment_terms_days=row["payment_terms_days"],
        has_payment_details=bool(row["has_payment_details"]),
        is_critical=bool(row["is_critical"]),
        external_ref=row["external_ref"],
    )


def _customer_row(c: Customer) -> dict[str, Any]:
    return {
        "business_id": c.business_id,
        "customer_id": c.customer_id,
        "name": c.name,
        "email": c.email,
        "external_ref": c.external_ref,
    }


def _customer(row: RowMapping) -> Customer:
    return Customer(
        customer_id=CustomerId(row["customer_id"]),
        business_id=BusinessId(row["business_id"]),
        name=row["name"],
        email=row["email"],
        external_ref=row["external_ref"],
    )


def _bill_row(b: Bill) -> dict[str, Any]:
    return {
        "business_id": b.business_id,
        "bill_id": b.bill_id,
        "vendor_id": b.vendor_id,
        **_money_columns("amount", b.amount),
        **_money_columns("balance", b.balance),
        "issue_date": b.issue_date,
        "due_date": b.due_date,
        "status": b.status.value,
        "category": b.category,
        "memo": b.memo,
        "recurring": b.recurring,
        "prepared_by": b.prepared_by,
        "paid_date": b.paid_date,
        "external_ref": b.external_ref,
    }


def _bill(row: RowMapping) -> Bill:
    return Bill(
        bill_id=BillId(row["bill_id"]),
        business_id=BusinessId(row["business_id"]),
        vendor_id=VendorId(row["vendor_id"]),
        amount=_money(row, "amount"),
        balance=_money(row, "balance"),
        issue_date=row["issue_date"],
        due_date=row["due_date"],
        status=BillStatus(row["status"]),
        category=row["category"],
        memo=row["memo"],
        recurring=bool(row["recurring"]),
        prepared_by=row["prepared_by"],
        paid_date=row["paid_date"],
        external_ref=row["external_ref"],
    )


def _invoice_row(i: Invoice) -> dict[str, Any]:
    return {
        "business_id": i.business_id,
        "invoice_id": i.invoice_id,
        "customer_id": i.customer_id,
        **_money_columns("amount", i.amount),
        **_money_columns("balance", i.balance),
        "issue_date": i.issue_date,
        "due_date": i.due_date,
        "status": i.status.value,
        "paid_date": i.paid_date,
        "external_ref": i.external_ref,
    }


def _invoice(row: RowMapping) -> Invoice:
    return Invoice(
        invoice_id=InvoiceId(row["invoice_id"]),
        business_id=BusinessId(row["business_id"]),
        customer_id=CustomerId(row["customer_id"]),
        amount=_money(row, "amount"),
        balance=_money(row, "balance"),
        issue_date=row["issue_date"],
        due_date=row["due_date"],
        status=InvoiceStatus(row["status"]),
        paid_date=row["paid_date"],
        external_ref=row["external_ref"],
    )


def _bank_account_row(a: BankAccount) -> dict[str, Any]:
    return {
        "business_id": a.business_id,
        "account_id": a.account_id,
        "name": a.name,
        "currency": a.currency,
        "mask": a.mask,
        "external_ref": a.external_ref,
        **_money_columns("books_balance", a.books_balance),
    }


def _bank_account(row: RowMapping) -> BankAccount:
    return BankAccount(
        account_id=BankAccountId(row["account_id"]),
        business_id=BusinessId(row["business_id"]),
        name=row["name"],
        currency=row["currency"],
        mask=row["mask"],
        external_ref=row["external_ref"],
        books_balance=_optional_money(row, "books_balance"),
    )


def _bank_transaction_row(x: BankTransaction) -> dict[str, Any]:
    return {
        "business_id": x.business_id,
        "transaction_id": x.transaction_id,
        "account_id": x.account_id,
        **_money_columns("amount", x.amount),
        "posted_on": x.posted_on,
        "description": x.description,
        "category": x.category,
        "pending": x.pending,
        "counterparty": x.counterparty,
        "external_ref": x.external_ref,
        "tags": list(x.tags),
    }


def _bank_transaction(row: RowMapping) -> BankTransaction:
    return BankTransaction(
        transaction_id=BankTransactionId(row["transaction_id"]),
        business_id=BusinessId(row["business_id"]),
        account_id=BankAccountId(row["account_id"]),
        amount=_money(row, "amount"),
        posted_on=row["posted_on"],
        description=row["description"],
        category=row["category"],
        pending=bool(row["pending"]),
        counterparty=row["counterparty"],
        external_ref=row["external_ref"],
        tags=tuple(row["tags"]),
    )


def _reserve_row(r: Reserve) -> dict[str, Any]:
    return {
        "business_id": r.business_id,
        "reserve_id": r.reserve_id,
        "purpose": r.purpose,
        **_money_columns("amount", r.amount),
        "until": r.until,
        "released": r.released,
    }


def _reserve(row: RowMapping) -> Reserve:
    return Reserve(
        reserve_id=ReserveId(row["reserve_id"]),
        business_id=BusinessId(row["business_id"]),
        purpose=row["purpose"],
        amount=_money(row, "amount"),
        until=row["until"],
        released=bool(row["released"]),
    )


def _payout_row(x: Payout) -> dict[str, Any]:
    return {
        "business_id": x.business_id,
        "payout_id": x.payout_id,
        **_money_columns("amount", x.amount),
        "arrival_date": x.arrival_date,
        "status": x.status.value,
        "external_ref": x.external_ref,
    }


def _payout(row: RowMapping) -> Payout:
    return Payout(
        payout_id=row["payout_id"],
        business_id=BusinessId(row["business_id"]),
        amount=_money(row, "amount"),
        arrival_date=row["arrival_date"],
        status=PayoutStatus(row["status"]),
        external_ref=row["external_ref"],
    )


VENDORS = RecordCodec(t.vendors, "vendor_id", _vendor_row, _vendor)
CUSTOMERS = RecordCodec(t.customers, "customer_id", _customer_row, _customer)
BILLS = RecordCodec(t.bills, "bill_id", _bill_row, _bill)
INVOICES = RecordCodec(t.invoices, "invoice_id", _invoice_row, _invoice)
BANK_ACCOUNTS = RecordCodec(t.bank_accounts, "account_id", _bank_account_row, _bank_account)
BANK_TRANSACTIONS = RecordCodec(
    t.bank_transactions, "transaction_id", _bank_transaction_row, _bank_transaction
)
RESERVES = RecordCodec(t.reserves, "reserve_id", _reserve_row, _reserve)
PAYOUTS = RecordCodec(t.payouts, "payout_id", _payout_row, _payout)


def _balance_row(b: Balance) -> dict[str, Any]:
    return {
        "business_id": b.business_id,
        "account_id": b.account_id,
        "as_of": b.as_of,
        **_money_columns("current", b.current),
        **_money_columns("available", b.available),
    }


def _balance(row: RowMapping) -> Balance:
    return Balance(
        account_id=BankAccountId(row["account_id"]),
        business_id=BusinessId(row["business_id"]),
        current=_money(row, "current"),
        available=_optional_money(row, "available"),
        as_of=row["as_of"],
    )


class SqlBalances(BalanceRepository):
    _KEYS = ("business_id", "account_id", "as_of")

    def __init__(self, db: _Db) -> None:
        self._db = db

    async def add(self, balances: Sequence[Balance]) -> None:
        rows_by_key = {(b.business_id, b.account_id, b.as_of): _balance_row(b) for b in balances}
        statement = self._db.upsert(t.balances, self._KEYS)
        try:
            await self._db.write_many(statement, list(rows_by_key.values()))
            await keep_newest_balances(self._db, balances)
        except IntegrityError as exc:
            businesses = sorted({business for business, _, _ in rows_by_key})
            raise Conflict(
                f"balances refer to a business that does not exist (one of {', '.join(businesses)})"
            ) from exc

    async def latest(self, business_id: BusinessId) -> Sequence[Balance]:
        b = t.balances
        newest = (
            select(b.c.account_id, func.max(b.c.as_of).label("as_of"))
            .where(b.c.business_id == business_id)
            .group_by(b.c.account_id)
            .subquery()
        )
        found = await self._db.read(
            select(b)
            .join(newest, and_(b.c.account_id == newest.c.account_id, b.c.as_of == newest.c.as_of))
            .where(b.c.business_id == business_id)
            .order_by(self._db.sort(b.c.account_id))
        )
        return [_balance(row) for row in found.mappings()]

    async def history(
        self, business_id: BusinessId, account_id: BankAccountId, *, since: datetime | None = None
    ) -> Sequence[Balance]:
        b = t.balances
        query = (
            select(b)
            .where(b.c.business_id == business_id, b.c.account_id == account_id)
            .order_by(b.c.as_of)
        )
        if since is not None:
            query = query.where(b.c.as_of >= since)
        found = await self._db.read(query)
        return [_balance(row) for row in found.mappings()]


def _connection(row: RowMapping) -> RailConnection:
    return RailConnection(
        business_id=BusinessId(row["business_id"]),
        rail=Rail(row["rail"]),
        status=ConnectionStatus(row["status"]),
        account=row["account"],
        detail=row["detail"],
        last_synced_at=row["last_synced_at"],
        last_error_at=row["last_error_at"],
    )


class SqlConnections(ConnectionRepository):
    def __init__(self, db: _Db) -> None:
        self._db = db

    async def upsert(self, connection: RailConnection) -> None:
        row = {
            "business_id": connection.business_id,
            "rail": connection.rail.value,
            "status": connection.status.value,
            "account": connection.account,
            "detail": connection.detail,
            "last_synced_at": connection.last_synced_at,
            "last_error_at": connection.last_error_at,
        }
        statement = self._db.upsert(t.rail_connections, ["business_id", "rail"]).values(row)
        try:
            await self._db.write(statement)
        except IntegrityError as exc:
            raise Conflict(f"business {connection.business_id} does not exist") from exc

    async def get(self, business_id: BusinessId, rail: Rail) -> RailConnection | None:
        c = t.rail_connections.c
        found = await self._db.read(
            select(t.rail_connections).where(c.business_id == business_id, c.rail == rail.value)
        )
        row = found.mappings().one_or_none()
        return None if row is None else _connection(row)

    async def list(self, business_id: BusinessId) -> Sequence[RailConnection]:
        c = t.rail_connections.c
        found = await self._db.read(
            select(t.rail_connections)
            .where(c.business_id == business_id)
            .order_by(self._db.sort(c.rail))
        )
        return [_connection(row) for row in found.mappings()]

    async def find_by_account(self, rail: Rail, account: str) -> Sequence[RailConnection]:
        c = t.rail_connections.c
        found = await self._db.read(
            select(t.rail_connections)
            .where(c.rail == rail.value, c.account == account)
            .order_by(self._db.sort(c.business_id))
        )
        return [_connection(row) for row in found.mappings()]


def _cursor(row: RowMapping) -> SyncCursor:
    return SyncCursor(
        business_id=BusinessId(row["business_id"]),
        rail=Rail(row["rail"]),
        stream=row["stream"],
        cursor=row["cursor"],
        updated_at=row["updated_at"],
    )


class SqlCursors(SyncCursorRepository):
    def __init__(self, db: _Db) -> None:
        self._db = db

    async def get(self, business_id: BusinessId, rail: Rail, stream: str) -> SyncCursor | None:
        c = t.sync_cursors.c
        found = await self._db.read(
            select(t.sync_cursors).where(
                c.business_id == business_id, c.rail == rail.value, c.stream == stream
            )
        )
        row = found.mappings().one_or_none()
        return None if row is None else _cursor(row)

    async def set(self, cursor: SyncCursor) -> None:
        row = {
            "business_id": cursor.business_id,
            "rail": cursor.rail.value,
            "stream": cursor.stream,
            "cursor": cursor.cursor,
            "updated_at": cursor.updated_at,
        }
        statement = self._db.upsert(t.sync_cursors, ["business_id", "rail", "stream"])
        try:
            await self._db.write(statement.values(row))
        except IntegrityError as exc:
            raise Conflict(f"business {cursor.business_id} does not exist") from exc

    async def list(self, business_id: BusinessId) -> Sequence[SyncCursor]:
        c = t.sync_cursors.c
        found = await self._db.read(
            select(t.sync_cursors)
            .where(c.business_id == business_id)
            .order_by(self._db.sort(c.rail), self._db.sort(c.stream))
        )
        return [_cursor(row) for row in found.mappings()]


def _webhook_outcome(event: StoredWebhook) -> dict[str, Any]:
    return {
        "status": event.status.value,
        "attempts": event.attempts,
        "last_error": event.last_error,
        "next_attempt_at": event.next_attempt_at,
        "processed_at": event.processed_at,
    }


def _webhook(row: RowMapping) -> StoredWebhook:
    return StoredWebhook(
        rail=Rail(row["rail"]),
        event_id=row["event_id"],
        event_type=row["event_type"],
        account=row["account"],
        payload_json=row["payload_json"],
        received_at=row["received_at"],
        status=WebhookStatus(row["status"]),
        attempts=int(row["attempts"]),
        last_error=row["last_error"],
        next_attempt_at=row["next_attempt_at"],
        processed_at=row["processed_at"],
    )


class SqlWebhookInbox(WebhookInbox):
    def __init__(self, db: _Db) -> None:
        self._db = db

    async def store(self, event: StoredWebhook) -> bool:
        row = {
            "rail": event.rail.value,
            "event_id": event.event_id,
            "event_type": event.event_type,
            "account": event.account,
            "payload_json": event.payload_json,
            "received_at": event.received_at,
            **_webhook_outcome(event),
        }
        # A concurrent store of the same event waits on the key's lock (PostgreSQL) or the
        # write lock (SQLite), then inserts nothing: exactly one store sees a row go in.
        statement = self._db.insert_new(t.webhook_events, ["rail", "event_id"]).values(row)
        try:
            inserted = await self._db.write(statement)
        except IntegrityError as exc:
            raise Conflict(f"webhook {event.rail}:{event.event_id} cannot be stored") from exc
        return inserted.rowcount == 1

    async def get(self, rail: Rail, event_id: str) -> StoredWebhook | None:
        c = t.webhook_events.c
        found = await self._db.read(
            select(t.webhook_events).where(c.rail == rail.value, c.event_id == event_id)
        )
        row = found.mappings().one_or_none()
        return None if row is None else _webhook(row)

    async def due(self, now: datetime, *, limit: int = 100) -> Sequence[StoredWebhook]:
        c = t.webhook_events.c
        # A failure without a next attempt is retried at once rather than never.
        retry_due = and_(
            c.status == WebhookStatus.FAILED.value,
            or_(c.next_attempt_at.is_(None), c.next_attempt_at <= now),
        )
        found = await self._db.read(
            select(t.webhook_events)
            .where(or_(c.status == WebhookStatus.PENDING.value, retry_due))
            .order_by(c.received_at, self._db.sort(c.rail), self._db.sort(c.event_id))
            .limit(limit)
        )
        return [_webhook(row) for row in found.mappings()]

    async def update(self, event: StoredWebhook) -> None:
        c = t.webhook_events.c
        statement = (
            update(t.webhook_events)
            .where(c.rail == event.rail.value, c.event_id == event.event_id)
            .values(_webhook_outcome(event))
        )
        try:
            updated = await self._db.write(statement)
        except IntegrityError as exc:
            raise Conflict(f"webhook {event.rail}:{event.event_id} cannot be updated") from exc
        if updated.rowcount == 0:
            raise NotFound(f"webhook {event.rail}:{event.event_id} was never stored")

    async def count(self, rail: Rail | None = None) -> int:
        query = select(func.count()).select_from(t.webhook_events)
        if rail is not None:
            query = query.where(t.webhook_events.c.rail == rail.value)
        found = await self._db.read(query)
        return int(found.scalar_one())


def _event(row: RowMapping) -> AuditEvent:
    return AuditEvent(
        seq=int(row["seq"]),
        at=row["at"],
        actor=row["actor"],
        action=row["action"],
        subject=row["subject"],
        before=row["before"],
        after=row["after"],
        advisor_id=row["advisor_id"],
        prev_hash=row["prev_hash"],
        hash=row["hash"],
    )


class SqlAuditLog(AuditLog):
    def __init__(self, db: _Db) -> None:
        self._db = db

    async def append(self, entry: AuditEntry, at: datetime) -> AuditEvent:
        head = t.audit_head
        try:
            async with self._db.conn.begin_nested():
                # Bumping the head first takes its row lock (the write lock on SQLite), so
                # concurrent appenders queue here and each sees the one before it.
                bumped = await self._db.conn.execute(
                    update(head)
                    .where(head.c.id == 1)
                    .values({head.c["count"]: head.c["count"] + 1})
                    .returning(head.c["count"], head.c.last_hash)
                )
                found = bumped.one_or_none()
                if found is None:
                    raise StorageError("the audit log has no head row: run the migrations")
                seq, prev_hash = int(found[0]), str(found[1])
                event = chain(entry, seq=seq, at=at, prev_hash=prev_hash)
                await self._db.conn.execute(
                    insert(t.audit_events).values(
                        seq=event.seq,
                        at=event.at,
                        actor=event.actor,
                        action=event.action,
                        subject=event.subject,
                        before=event.before,
                        after=event.after,
                        advisor_id=event.advisor_id,
                        prev_hash=event.prev_hash,
                        hash=event.hash,
                    )
                )
                await self._db.conn.execute(
                    update(head).where(head.c.id == 1).values(last_hash=event.hash)
                )
        except SQLAlchemyError as exc:
            raise _storage_error(exc) from exc
        return event

    async def events(
        self, *, advisor_id: AdvisorId | None = None, after_seq: int = 0, limit: int | None = None
    ) -> Sequence[AuditEvent]:
        e = t.audit_events
        query = select(e).where(e.c.seq > after_seq).order_by(e.c.seq)
        if advisor_id is not None:
            query = query.where(e.c.advisor_id == advisor_id)
        if limit is not None:
            query = query.limit(limit)
        found = await self._db.read(query)
        return [_event(row) for row in found.mappings()]

    async def head_count(self) -> int:
        head = t.audit_head
        found = await self._db.read(select(head.c["count"]).where(head.c.id == 1))
        count = found.scalar_one_or_none()
        if count is None:
            raise StorageError("the audit log has no head row: run the migrations")
        return int(count)


class SqlUnitOfWork(UnitOfWork):
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._db = _Db()
        self.firms = SqlFirms(self._db)
        self.advisors = SqlAdvisors(self._db)
        self.users = SqlUsers(self._db)
        self.businesses = SqlBusinesses(self._db)
        self.clients = SqlClients(self._db)
        self.vendors: RecordRepository[Vendor] = SqlRecords(self._db, VENDORS)
        self.customers: RecordRepository[Customer] = SqlRecords(self._db, CUSTOMERS)
        self.bills: RecordRepository[Bill] = SqlRecords(self._db, BILLS)
        self.invoices: RecordRepository[Invoice] = SqlRecords(self._db, INVOICES)
        self.bank_accounts: RecordRepository[BankAccount] = SqlRecords(self._db, BANK_ACCOUNTS)
        self.bank_transactions: RecordRepository[BankTransaction] = SqlRecords(
            self._db, BANK_TRANSACTIONS
        )
        self.reserves: RecordRepository[Reserve] = SqlRecords(self._db, RESERVES)
        self.payouts: RecordRepository[Payout] = SqlRecords(self._db, PAYOUTS)
        self.payments = SqlPayments(self._db)
        self.policies = SqlPolicies(self._db)
        self.forecasts = SqlForecasts(self._db)
        self.scenarios = SqlScenarios(self._db)
        self.collections = SqlCollections(self._db)
        self.hygiene = SqlHygiene(self._db)
        self.balances = SqlBalances(self._db)
        self.connections = SqlConnections(self._db)
        self.cursors = SqlCursors(self._db)
        self.webhooks = SqlWebhookInbox(self._db)
        self.audit = SqlAuditLog(self._db)
        self.portfolio = SqlPortfolio(self._db)

    async def __aenter__(self) -> Self:
        try:
            with _translated():
                conn = await self._engine.connect()
                try:
                    await conn.begin()
                except BaseException:
                    await conn.close()
                    raise
        except OSError as exc:
            raise StorageError(f"the database cannot be reached: {exc}") from exc
        self._db.bind(conn)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        conn = self._db.conn
        self._db.bind(None)
        try:
            with _translated():
                await conn.rollback()
        finally:
            await conn.close()

    async def commit(self) -> None:
        with _translated():
            await self._db.conn.commit()
            await self._db.conn.begin()

    async def rollback(self) -> None:
        with _translated():
            await self._db.conn.rollback()
            await self._db.conn.begin()


class SqlUnitOfWorkFactory(UnitOfWorkFactory):
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    def __call__(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.engine)

    async def aclose(self) -> None:
        await self.engine.dispose()
