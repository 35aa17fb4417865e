"""SmartSync: per business and rail, pull what changed since the stored cursor.

Each rail's pull is applied in ONE unit of work together with its new cursor, so a
crash leaves the old cursor and the old records (the next run redoes the work), and
upserts make a second run change nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, TypeVar

from rowcol.core.domain.connections import (
    ConnectionStatus,
    RailConnection,
    SyncCursor,
    receivables_source,
)
from rowcol.core.domain.errors import NotFound
from rowcol.core.domain.ids import BusinessId, Rail
from rowcol.core.domain.records import BankTransaction
from rowcol.core.domain.tenancy import SYSTEM_ACTOR
from rowcol.core.services.scope import record
from rowcol.ports.ar_source import ARSource
from rowcol.ports.bank_verifier import BankVerifier
from rowcol.ports.clock import Clock
from rowcol.ports.errors import PortError, Rejected
from rowcol.ports.ledger import Ledger, LedgerKind
from rowcol.ports.repository import RecordRepository, UnitOfWork, UnitOfWorkFactory

T = TypeVar("T")

SYNCED_RAILS = (Rail.QBO, Rail.PLAID, Rail.STRIPE)
LEDGER_STREAM = "ledger"
LEDGER_OVERLAP = timedelta(minutes=2)
TRANSACTIONS_STREAM = "transactions"
_MAX_PAGES = 10_000


@dataclass(frozen=True, slots=True)
class RailSyncResult:
    business_id: BusinessId
    rail: Rail
    ok: bool
    changed: dict[str, int] = field(default_factory=dict)
    error: str | None = None


ProgressFn = Callable[[BusinessId, Rail, RailSyncResult], None]


class SmartSync:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        *,
        ledger: Ledger | None = None,
        bank: BankVerifier | None = None,
        receivables: ARSource | None = None,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._ledger = ledger
        self._bank = bank
        self._receivables = receivables

    async def connect(
        self, business_id: BusinessId, rail: Rail, *, account: str | None = None
    ) -> RailConnection:
        """Records that a business is connected to a rail (credentials are stored apart)."""
        async with self._uow() as uow:
            if await uow.businesses.get(business_id) is None:
                raise NotFound(f"business {business_id} not found")
            existing = await uow.connections.get(business_id, rail)
            if existing is not None and existing.account == account:
                return existing
            connection = RailConnection(
                business_id,
                rail,
                existing.status if existing else ConnectionStatus.NEVER_SYNCED,
                account=account,
                last_synced_at=existing.last_synced_at if existing else None,
            )
            await uow.connections.upsert(connection)
            await record(
                uow,
                self._clock,
                SYSTEM_ACTOR,
                "rail.connected",
                f"connection:{business_id}/{rail.value}",
                before=existing,
                after=connection,
            )
            await uow.commit()
        return connection

    async def businesses(self) -> list[BusinessId]:
        """Every business with at least one synced rail connection."""
        async with self._uow() as uow:
            return sorted(await _connected_businesses(uow))

    async def sync_business(
        self,
        business_id: BusinessId,
        *,
        rails: Sequence[Rail] | None = None,
        progress: ProgressFn | None = None,
        balances: bool = True,
    ) -> list[RailSyncResult]:
        """`balances=False` leaves bank balances (and known bank accounts) alone: they are
        rate-limited hard (Plaid: 5 and 15 a minute per item), and a caller after
        transactions does not need them."""
        async with self._uow() as uow:
            connections = await uow.connections.list(business_id)
        wanted = set(rails or SYNCED_RAILS)
        results = []
        for connection in connections:
            if connection.rail not in wanted or connection.rail not in SYNCED_RAILS:
                continue
            result = await self.sync_rail(connection, balances=balances)
            results.append(result)
            if progress is not None:
                progress(business_id, connection.rail, result)
        return results

    async def sync_rail(
        self, connection: RailConnection, *, balances: bool = True
    ) -> RailSyncResult:
        started = self._clock.now()
        try:
            if connection.rail is Rail.QBO:
                changed = await self._sync_ledger(connection.business_id, started)
            elif connection.rail is Rail.PLAID:
                changed = await self._sync_bank(connection.business_id, started, balances)
            elif connection.rail is Rail.STRIPE:
                changed = await self._sync_receivables(connection.business_id, started)
            else:
                raise NotFound(f"{connection.rail.value} is not synced")
        except PortError as exc:
            await self._record_failure(connection, exc)
            return RailSyncResult(connection.business_id, connection.rail, False, error=str(exc))
        return RailSyncResult(connection.business_id, connection.rail, True, changed)

    async def _sync_ledger(self, business_id: BusinessId, started: datetime) -> dict[str, int]:
        ledger = _require(self._ledger, Rail.QBO)
        async with self._uow() as uow:
            cursor = await uow.cursors.get(business_id, Rail.QBO, LEDGER_STREAM)
        since = datetime.fromisoformat(cursor.cursor) if cursor else None
        deletions = None if since is None else await ledger.list_deleted(business_id, since=since)
        # Without a complete list of deletions, everything is listed and what the ledger
        # no longer has is dropped.
        full = deletions is None
        changed_since = None if full else since
        vendors = await ledger.list_vendors(business_id)
        customers = await ledger.list_customers(business_id)
        accounts = await ledger.list_bank_accounts(business_id)
        bills = await ledger.list_bills(business_id, changed_since=changed_since)
        invoices = await ledger.list_invoices(business_id, changed_since=changed_since)
        async with self._uow() as uow:
            await uow.vendors.upsert(vendors)
            await uow.customers.upsert(customers)
            await uow.bank_accounts.upsert(accounts)
            await uow.bills.upsert(bills)
            await uow.invoices.upsert(invoices)
            gone: dict[LedgerKind, list[str]] = {kind: [] for kind in LedgerKind}
            for deletion in deletions or ():
                gone[deletion.kind].append(deletion.record_id)
            # Vendors and customers are listed whole every time; bills and invoices only
            # on a full pull. Bank accounts also come from the bank, so only a deletion
            # the ledger reports removes one.
            listed: list[tuple[LedgerKind, Sequence[Any], str]] = [
                (LedgerKind.VENDOR, vendors, "vendor_id"),
                (LedgerKind.CUSTOMER, customers, "customer_id"),
            ]
            if full:
                listed += [
                    (LedgerKind.BILL, bills, "bill_id"),
                    (LedgerKind.INVOICE, invoices, "invoice_id"),
                ]
            for kind, records, key in listed:
                kept = {getattr(r, key) for r in records}
                stored = await _ledger_records(uow, kind).list(business_id)
                gone[kind] += [
                    getattr(r, key)
                    for r in stored
                    if getattr(r, key) not in kept and _from_ledger(r.external_ref)
                ]
            removed = 0
            for kind, ids in gone.items():
                if ids:
                    removed += await _ledger_records(uow, kind).delete(
                        business_id, sorted(set(ids))
                    )
            # The next pull starts a little before this one started: changes made while
            # it ran, stamped in whole seconds or by a clock a little off ours, are
            # fetched again rather than missed (upserts make the overlap harmless).
            since_next = started - LEDGER_OVERLAP
            await uow.cursors.set(
                SyncCursor(business_id, Rail.QBO, LEDGER_STREAM, since_next.isoformat(), started)
            )
            await self._mark_ok(uow, business_id, Rail.QBO)
            await uow.commit()
        return {
            "vendors": len(vendors),
            "customers": len(customers),
            "bank_accounts": len(accounts),
            "bills": len(bills),
            "invoices": len(invoices),
            "removed": removed,
        }

    async def _sync_receivables(self, business_id: BusinessId, started: datetime) -> dict[str, int]:
        source = _require(self._receivables, Rail.STRIPE)
        async with self._uow() as uow:
            rails = {c.rail for c in await uow.connections.list(business_id)}
        payouts = await source.list_payouts(business_id)
        # One source of receivables per business: with the books connected, the books'
        # invoices are the receivables and Stripe's would count them twice.
        takes_invoices = receivables_source(rails) is Rail.STRIPE
        customers = await source.list_customers(business_id) if takes_invoices else []
        invoices = await source.list_invoices(business_id) if takes_invoices else []
        async with self._uow() as uow:
            await uow.payouts.upsert(payouts)
            await uow.customers.upsert(customers)
            await uow.invoices.upsert(invoices)
            await self._mark_ok(uow, business_id, Rail.STRIPE)
            await uow.commit()
        return {"payouts": len(payouts), "customers": len(customers), "invoices": len(invoices)}

    async def _sync_bank(
        self, business_id: BusinessId, started: datetime, with_balances: bool = True
    ) -> dict[str, int]:
        bank = _require(self._bank, Rail.PLAID)
        async with self._uow() as uow:
            cursor = await uow.cursors.get(business_id, Rail.PLAID, TRANSACTIONS_STREAM)
            known = {a.account_id for a in await uow.bank_accounts.list(business_id)}
        # A quick sync (for transactions only) reads the accounts again only when a
        # transaction names one not stored yet: Plaid allows 15 account reads a minute.
        accounts = await bank.list_accounts(business_id) if with_balances or not known else []
        balances = await bank.get_balances(business_id) if with_balances else []
        added: dict[str, BankTransaction] = {}
        removed: set[str] = set()
        next_cursor = cursor.cursor if cursor else None
        for _ in range(_MAX_PAGES):
            page = await bank.sync_transactions(business_id, next_cursor)
            for txn in (*page.added, *page.modified):
                added[txn.transaction_id] = txn
                removed.discard(txn.transaction_id)
            for gone in page.removed:
                added.pop(gone, None)
                removed.add(gone)
            next_cursor = page.next_cursor
            if not page.has_more:
                break
        if not accounts and any(t.account_id not in known for t in added.values()):
            accounts = await bank.list_accounts(business_id)
        async with self._uow() as uow:
            await uow.bank_accounts.upsert(accounts)
            await uow.balances.add(balances)
            await uow.bank_transactions.upsert(list(added.values()))
            deleted = await uow.bank_transactions.delete(business_id, sorted(removed))
            if next_cursor is not None:
                await uow.cursors.set(
                    SyncCursor(business_id, Rail.PLAID, TRANSACTIONS_STREAM, next_cursor, started)
                )
            await self._mark_ok(uow, business_id, Rail.PLAID)
            await uow.commit()
        return {
            "bank_accounts": len(accounts),
            "balances": len(balances),
            "transactions": len(added),
            "removed": deleted,
        }

    async def _mark_ok(self, uow: UnitOfWork, business_id: BusinessId, rail: Rail) -> None:
        existing = await uow.connections.get(business_id, rail)
        now = self._clock.now()
        base = existing or RailConnection(business_id, rail, ConnectionStatus.OK)
        await uow.connections.upsert(
            replace(base, status=ConnectionStatus.OK, detail="", last_synced_at=now)
        )
        if existing is not None and existing.status is ConnectionStatus.NEEDS_ATTENTION:
            await record(
                uow,
                self._clock,
                SYSTEM_ACTOR,
                "rail.recovered",
                f"connection:{business_id}/{rail.value}",
                before=existing.status,
                after=ConnectionStatus.OK,
            )

    async def _record_failure(self, connection: RailConnection, exc: PortError) -> None:
        # A refusal (revoked consent, login required) needs a person; an outage may pass.
        status = (
            ConnectionStatus.NEEDS_ATTENTION
            if isinstance(exc, Rejected)
            else ConnectionStatus.FAILING
        )
        async with self._uow() as uow:
            current = await uow.connections.get(connection.business_id, connection.rail)
            base = current or connection
            updated = replace(
                base, status=status, detail=str(exc)[:500], last_error_at=self._clock.now()
            )
            await uow.connections.upsert(updated)
            if base.status is not status:
                await record(
                    uow,
                    self._clock,
                    SYSTEM_ACTOR,
                    "rail.status_changed",
                    f"connection:{connection.business_id}/{connection.rail.value}",
                    before=base.status,
                    after={"status": status, "detail": updated.detail},
                )
            await uow.commit()


async def _connected_businesses(uow: UnitOfWork) -> set[BusinessId]:
    found: set[BusinessId] = set()
    for advisor in await uow.advisors.list():
        for client, _ in await uow.clients.list_for_advisor(advisor.advisor_id):
            if any(c.rail in SYNCED_RAILS for c in await uow.connections.list(client.business_id)):
                found.add(client.business_id)
    return found


def _ledger_records(uow: UnitOfWork, kind: LedgerKind) -> RecordRepository[Any]:
    repositories: dict[LedgerKind, RecordRepository[Any]] = {
        LedgerKind.VENDOR: uow.vendors,
        LedgerKind.CUSTOMER: uow.customers,
        LedgerKind.BILL: uow.bills,
        LedgerKind.INVOICE: uow.invoices,
        LedgerKind.BANK_ACCOUNT: uow.bank_accounts,
    }
    return repositories[kind]


def _from_ledger(external_ref: str | None) -> bool:
    """Records another rail brought (a Stripe customer, a Plaid account) are not the
    ledger's to drop."""
    return external_ref is None or external_ref.startswith(f"{Rail.QBO.value}:")


def _require(adapter: T | None, rail: Rail) -> T:
    if adapter is None:
        raise NotFound(f"no {rail.value} adapter is configured")
    return adapter
