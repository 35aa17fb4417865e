"""In-memory repositories and unit of work, faithful enough to run the whole app.

A unit of work takes the store's lock for its whole life (so units are serializable,
like the database's), works on a copy, and publishes the copy only on commit.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from types import TracebackType
from typing import Any, Generic, Self, TypeVar

from rowcol.adapters.memory.collections import MemoryCollections, SendKey
from rowcol.adapters.memory.hygiene import IssueKey, MemoryHygiene
from rowcol.adapters.memory.payments import MemoryForecasts, MemoryPayments, MemoryPolicies
from rowcol.adapters.memory.portfolio import MemoryPortfolio
from rowcol.adapters.memory.scenarios import MemoryScenarios
from rowcol.core.domain.approval import ApprovalPolicy
from rowcol.core.domain.audit import GENESIS_HASH, AuditEntry, AuditEvent, chain
from rowcol.core.domain.collections import CollectionSend, ReminderSequence
from rowcol.core.domain.connections import (
    RailConnection,
    StoredWebhook,
    SyncCursor,
    WebhookStatus,
)
from rowcol.core.domain.errors import Conflict, NotFound
from rowcol.core.domain.hygiene import TrackedIssue
from rowcol.core.domain.ids import AdvisorId, BankAccountId, BusinessId, FirmId, Rail, UserId
from rowcol.core.domain.payments import Payment
from rowcol.core.domain.records import (
    Balance,
    BankAccount,
    BankTransaction,
    Bill,
    Customer,
    Invoice,
    Payout,
    Vendor,
)
from rowcol.core.domain.reserves import Reserve
from rowcol.core.domain.scenarios import Scenario
from rowcol.core.domain.tenancy import Advisor, Business, Client, Firm, StaffUser
from rowcol.ports.repository import (
    AdvisorRepository,
    AuditLog,
    BalanceRepository,
    BusinessRepository,
    ClientRepository,
    ConnectionRepository,
    FirmRepository,
    ForecastSnapshot,
    RecordRepository,
    SyncCursorRepository,
    UnitOfWork,
    UserRepository,
    WebhookInbox,
)

R = TypeVar("R")


@dataclass
class MemoryState:
    firms: dict[str, Firm] = field(default_factory=dict)
    advisors: dict[str, Advisor] = field(default_factory=dict)
    users: dict[str, StaffUser] = field(default_factory=dict)
    businesses: dict[str, Business] = field(default_factory=dict)
    clients: dict[tuple[str, str], Client] = field(default_factory=dict)
    # kind -> business -> record id -> record. Inner dicts are replaced, never mutated,
    # so a unit of work copies only the per-business maps (copy-on-write).
    records: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    balances: dict[str, dict[tuple[str, datetime], Balance]] = field(default_factory=dict)
    # business -> rail -> connection, business -> (rail, stream) -> cursor and
    # rail -> event id -> webhook: inner dicts are copy-on-write too.
    connections: dict[str, dict[Rail, RailConnection]] = field(default_factory=dict)
    cursors: dict[str, dict[tuple[Rail, str], SyncCursor]] = field(default_factory=dict)
    webhooks: dict[Rail, dict[str, StoredWebhook]] = field(default_factory=dict)
    audit: list[AuditEvent] = field(default_factory=list)
    payments: dict[str, Payment] = field(default_factory=dict)
    policies: dict[str, ApprovalPolicy] = field(default_factory=dict)
    forecasts: dict[str, ForecastSnapshot] = field(default_factory=dict)
    scenarios: dict[tuple[str, str], Scenario] = field(default_factory=dict)
    sequences: dict[str, ReminderSequence] = field(default_factory=dict)
    collection_sends: dict[SendKey, CollectionSend] = field(default_factory=dict)
    hygiene: dict[IssueKey, TrackedIssue] = field(default_factory=dict)

    def copy(self) -> MemoryState:
        """Records are frozen, so copying the containers isolates a unit of work."""
        return MemoryState(
            firms=dict(self.firms),
            advisors=dict(self.advisors),
            users=dict(self.users),
            businesses=dict(self.businesses),
            clients=dict(self.clients),
            records={kind: dict(by_business) for kind, by_business in self.records.items()},
            balances=dict(self.balances),
            connections=dict(self.connections),
            cursors=dict(self.cursors),
            webhooks=dict(self.webhooks),
            audit=list(self.audit),
            payments=dict(self.payments),
            policies=dict(self.policies),
            forecasts=dict(self.forecasts),
            scenarios=dict(self.scenarios),
            sequences=dict(self.sequences),
            collection_sends=dict(self.collection_sends),
            hygiene=dict(self.hygiene),
        )


class MemoryStore:
    """What the fakes persist to; shared by every unit of work made from it.

    The lock is a thread lock taken without blocking the event loop, so units of work
    from different event loops (a test and an app served in a thread) also serialize.
    """

    def __init__(self) -> None:
        self.state = MemoryState()
        self.lock = threading.Lock()

    async def acquire(self) -> None:
        while not self.lock.acquire(blocking=False):  # noqa: ASYNC110  across event loops
            await asyncio.sleep(0.001)


class MemoryFirms(FirmRepository):
    def __init__(self, state: MemoryState) -> None:
        self._s = state

    async def add(self, firm: Firm) -> None:
        if firm.firm_id in self._s.firms:
            raise Conflict(f"firm {firm.firm_id} already exists")
        self._s.firms[firm.firm_id] = firm

    async def get(self, firm_id: FirmId) -> Firm | None:
        return self._s.firms.get(firm_id)


class MemoryAdvisors(AdvisorRepository):
    def __init__(self, state: MemoryState) -> None:
        self._s = state

    async def add(self, advisor: Advisor) -> None:
        if advisor.advisor_id in self._s.advisors:
            raise Conflict(f"advisor {advisor.advisor_id} already exists")
        if await self.get_by_email(advisor.email) is not None:
            raise Conflict(f"an advisor with email {advisor.email} already exists")
        self._s.advisors[advisor.advisor_id] = advisor

    async def get(self, advisor_id: AdvisorId) -> Advisor | None:
        return self._s.advisors.get(advisor_id)

    async def get_by_email(self, email: str) -> Advisor | None:
        return next((a for a in self._s.advisors.values() if a.email == email.lower()), None)

    async def update(self, advisor: Advisor) -> None:
        other = await self.get_by_email(advisor.email)
        if other is not None and other.advisor_id != advisor.advisor_id:
            raise Conflict(f"an advisor with email {advisor.email} already exists")
        self._s.advisors[advisor.advisor_id] = advisor

    async def list(self, firm_id: FirmId | None = None) -> Sequence[Advisor]:
        found = (a for a in self._s.advisors.values() if firm_id is None or a.firm_id == firm_id)
        return sorted(found, key=lambda a: a.advisor_id)


class MemoryUsers(UserRepository):
    def __init__(self, state: MemoryState) -> None:
        self._s = state

    async def add(self, user: StaffUser) -> None:
        if user.user_id in self._s.users:
            raise Conflict(f"user {user.user_id} already exists")
        if any(u.email == user.email for u in self._s.users.values()):
            raise Conflict(f"a user with email {user.email} already exists")
        self._s.users[user.user_id] = user

    async def get(self, user_id: UserId) -> StaffUser | None:
        return self._s.users.get(user_id)

    async def list_for_advisor(self, advisor_id: AdvisorId) -> Sequence[StaffUser]:
        found = (u for u in self._s.users.values() if u.advisor_id == advisor_id)
        return sorted(found, key=lambda u: u.user_id)


class MemoryBusinesses(BusinessRepository):
    def __init__(self, state: MemoryState) -> None:
        self._s = state

    async def add(self, business: Business) -> None:
        if business.business_id in self._s.businesses:
            raise Conflict(f"business {business.business_id} already exists")
        self._s.businesses[business.business_id] = business

    async def get(self, business_id: BusinessId) -> Business | None:
        return self._s.businesses.get(business_id)


class MemoryClients(ClientRepository):
    def __init__(self, state: MemoryState) -> None:
        self._s = state

    async def add(self, client: Client) -> None:
        key = (client.advisor_id, client.business_id)
        if key in self._s.clients:
            raise Conflict(f"advisor {client.advisor_id} already holds {client.business_id}")
        if client.business_id not in self._s.businesses:
            raise Conflict(f"business {client.business_id} does not exist")
        if client.advisor_id not in self._s.advisors:
            raise Conflict(f"advisor {client.advisor_id} does not exist")
        self._s.clients[key] = client

    async def get(self, advisor_id: AdvisorId, business_id: BusinessId) -> Client | None:
        return self._s.clients.get((advisor_id, business_id))

    async def list_for_advisor(self, advisor_id: AdvisorId) -> Sequence[tuple[Client, Business]]:
        pairs = [
            (c, self._s.businesses[c.business_id])
            for (a, _), c in self._s.clients.items()
            if a == advisor_id
        ]
        return sorted(pairs, key=lambda p: (p[1].name, p[1].business_id))

    async def remove(self, advisor_id: AdvisorId, business_id: BusinessId) -> bool:
        return self._s.clients.pop((advisor_id, business_id), None) is not None


class MemoryRecords(RecordRepository[R], Generic[R]):
    def __init__(self, state: MemoryState, kind: str, key: Callable[[R], str]) -> None:
        self._businesses = state.businesses
        self._by_business = state.records.setdefault(kind, {})
        self._key = key

    def _rows(self, business_id: str) -> dict[str, R]:
        return self._by_business.get(business_id, {})

    async def upsert(self, records: Sequence[R]) -> None:
        changed: dict[str, dict[str, R]] = {}
        for record in records:
            business_id: str = getattr(record, "business_id")  # noqa: B009
            if business_id not in changed:
                if business_id not in self._businesses:
                    raise Conflict(f"business {business_id} does not exist")
                changed[business_id] = dict(self._rows(business_id))
            changed[business_id][self._key(record)] = record
        self._by_business.update(changed)

    async def get(self, business_id: BusinessId, record_id: str) -> R | None:
        return self._rows(business_id).get(record_id)

    async def list(self, business_id: BusinessId) -> Sequence[R]:
        rows = self._rows(business_id)
        return [rows[k] for k in sorted(rows)]

    async def count(self, business_id: BusinessId) -> int:
        return len(self._rows(business_id))

    async def delete(self, business_id: BusinessId, record_ids: Sequence[str]) -> int:
        rows = dict(self._rows(business_id))
        removed = sum(rows.pop(i, None) is not None for i in set(record_ids))
        self._by_business[business_id] = rows
        return removed


class MemoryBalances(BalanceRepository):
    def __init__(self, state: MemoryState) -> None:
        self._s = state

    async def add(self, balances: Sequence[Balance]) -> None:
        changed: dict[str, dict[tuple[str, datetime], Balance]] = {}
        for b in balances:
            if b.business_id not in changed:
                if b.business_id not in self._s.businesses:
                    raise Conflict(f"business {b.business_id} does not exist")
                changed[b.business_id] = dict(self._s.balances.get(b.business_id, {}))
            changed[b.business_id][(b.account_id, b.as_of)] = b
        self._s.balances.update(changed)

    async def latest(self, business_id: BusinessId) -> Sequence[Balance]:
        newest: dict[str, Balance] = {}
        for (account, _), b in self._s.balances.get(business_id, {}).items():
            if account not in newest or b.as_of > newest[account].as_of:
                newest[account] = b
        return [newest[k] for k in sorted(newest)]

    async def history(
        self, business_id: BusinessId, account_id: BankAccountId, *, since: datetime | None = None
    ) -> Sequence[Balance]:
        found = [
            b
            for (account, at), b in self._s.balances.get(business_id, {}).items()
            if account == account_id and (since is None or at >= since)
        ]
        return sorted(found, key=lambda b: b.as_of)


class MemoryConnections(ConnectionRepository):
    def __init__(self, state: MemoryState) -> None:
        self._s = state

    async def upsert(self, connection: RailConnection) -> None:
        business_id = connection.business_id
        if business_id not in self._s.businesses:
            raise Conflict(f"business {business_id} does not exist")
        changed = dict(self._s.connections.get(business_id, {}))
        changed[connection.rail] = connection
        self._s.connections[business_id] = changed

    async def get(self, business_id: BusinessId, rail: Rail) -> RailConnection | None:
        return self._s.connections.get(business_id, {}).get(rail)

    async def list(self, business_id: BusinessId) -> Sequence[RailConnection]:
        found = self._s.connections.get(business_id, {})
        return [found[rail] for rail in sorted(found)]

    async def find_by_account(self, rail: Rail, account: str) -> Sequence[RailConnection]:
        found = (
            by_rail[rail]
            for by_rail in self._s.connections.values()
            if rail in by_rail and by_rail[rail].account == account
        )
        return sorted(found, key=lambda c: c.business_id)


class MemoryCursors(SyncCursorRepository):
    def __init__(self, state: MemoryState) -> None:
        self._s = state

    async def get(self, business_id: BusinessId, rail: Rail, stream: str) -> SyncCursor | None:
        return self._s.cursors.get(business_id, {}).get((rail, stream))

    async def set(self, cursor: SyncCursor) -> None:
        business_id = cursor.business_id
        if business_id not in self._s.businesses:
            raise Conflict(f"business {business_id} does not exist")
        changed = dict(self._s.cursors.get(business_id, {}))
        changed[(cursor.rail, cursor.stream)] = cursor
        self._s.cursors[business_id] = changed

    async def list(self, business_id: BusinessId) -> Sequence[SyncCursor]:
        found = self._s.cursors.get(business_id, {})
        return [found[key] for key in sorted(found)]


class MemoryWebhookInbox(WebhookInbox):
    def __init__(self, state: MemoryState) -> None:
        self._s = state

    async def store(self, event: StoredWebhook) -> bool:
        stored = self._s.webhooks.get(event.rail, {})
        if event.event_id in stored:
            return False
        self._s.webhooks[event.rail] = {**stored, event.event_id: event}
        return True

    async def get(self, rail: Rail, event_id: str) -> StoredWebhook | None:
        return self._s.webhooks.get(rail, {}).get(event_id)

    async def due(self, now: datetime, *, limit: int = 100) -> Sequence[StoredWebhook]:
        found = (
            event
            for by_id in self._s.webhooks.values()
            for event in by_id.values()
            if _is_due(event, now)
        )
        return sorted(found, key=lambda e: (e.received_at, e.rail, e.event_id))[:limit]

    async def update(self, event: StoredWebhook) -> None:
        stored = self._s.webhooks.get(event.rail, {})
        if event.event_id not in stored:
            raise NotFound(f"webhook {event.rail}:{event.event_id} was never stored")
        outcome = replace(
            stored[event.event_id],
            status=event.status,
            attempts=event.attempts,
            last_error=event.last_error,
            next_attempt_at=event.next_attempt_at,
            processed_at=event.processed_at,
        )
        self._s.webhooks[event.rail] = {**stored, event.event_id: outcome}

    async def count(self, rail: Rail | None = None) -> int:
        if rail is not None:
            return len(self._s.webhooks.get(rail, {}))
        return sum(len(by_id) for by_id in self._s.webhooks.values())


def _is_due(event: StoredWebhook, now: datetime) -> bool:
    if event.status is WebhookStatus.PENDING:
        return True
    # A failure without a next attempt is retried at once rather than never.
    return event.status is WebhookStatus.FAILED and (
        event.next_attempt_at is None or event.next_attempt_at <= now
    )


class MemoryAuditLog(AuditLog):
    def __init__(self, state: MemoryState) -> None:
        self._s = state

    async def append(self, entry: AuditEntry, at: datetime) -> AuditEvent:
        prev = self._s.audit[-1].hash if self._s.audit else GENESIS_HASH
        event = chain(entry, seq=len(self._s.audit) + 1, at=at, prev_hash=prev)
        self._s.audit.append(event)
        return event

    async def events(
        self, *, advisor_id: AdvisorId | None = None, after_seq: int = 0, limit: int | None = None
    ) -> Sequence[AuditEvent]:
        found = [
            e
            for e in self._s.audit
            if e.seq > after_seq and (advisor_id is None or e.advisor_id == advisor_id)
        ]
        return found if limit is None else found[:limit]

    async def head_count(self) -> int:
        return len(self._s.audit)


def _record_key(attr: str) -> Callable[[Any], str]:
    return lambda record: str(getattr(record, attr))


class MemoryUnitOfWork(UnitOfWork):
    def __init__(self, store: MemoryStore) -> None:
        self._store = store
        self.committed = False

    def _bind(self, state: MemoryState) -> None:
        self._work = state
        self.firms = MemoryFirms(state)
        self.advisors = MemoryAdvisors(state)
        self.users = MemoryUsers(state)
        self.businesses = MemoryBusinesses(state)
        self.clients = MemoryClients(state)
        self.vendors: RecordRepository[Vendor] = MemoryRecords(
            state, "vendors", _record_key("vendor_id")
        )
        self.customers: RecordRepository[Customer] = MemoryRecords(
            state, "customers", _record_key("customer_id")
        )
        self.bills: RecordRepository[Bill] = MemoryRecords(state, "bills", _record_key("bill_id"))
        self.invoices: RecordRepository[Invoice] = MemoryRecords(
            state, "invoices", _record_key("invoice_id")
        )
        self.bank_accounts: RecordRepository[BankAccount] = MemoryRecords(
            state, "bank_accounts", _record_key("account_id")
        )
        self.bank_transactions: RecordRepository[BankTransaction] = MemoryRecords(
            state, "bank_transactions", _record_key("transaction_id")
        )
        self.reserves: RecordRepository[Reserve] = MemoryRecords(
            state, "reserves", _record_key("reserve_id")
        )
        self.payouts: RecordRepository[Payout] = MemoryRecords(
            state, "payouts", _record_key("payout_id")
        )
        self.payments = MemoryPayments(state.payments, state.businesses)
        self.policies = MemoryPolicies(state.policies, state.businesses)
        self.forecasts = MemoryForecasts(state.forecasts, state.businesses)
        self.scenarios = MemoryScenarios(state.scenarios, state.businesses)
        self.collections = MemoryCollections(
            state.sequences, state.collection_sends, state.businesses
        )
        self.hygiene = MemoryHygiene(state.hygiene, state.businesses)
        self.balances = MemoryBalances(state)
        self.connections = MemoryConnections(state)
        self.cursors = MemoryCursors(state)
        self.webhooks = MemoryWebhookInbox(state)
        self.audit = MemoryAuditLog(state)
        self.portfolio = MemoryPortfolio(self)

    async def __aenter__(self) -> Self:
        await self._store.acquire()
        self._bind(self._store.state.copy())
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._store.lock.release()

    async def commit(self) -> None:
        self._store.state = self._work
        self._bind(self._work.copy())
        self.committed = True

    async def rollback(self) -> None:
        self._bind(self._store.state.copy())


class MemoryUnitOfWorkFactory:
    def __init__(self, store: MemoryStore | None = None) -> None:
        self.store = store or MemoryStore()

    def __call__(self) -> MemoryUnitOfWork:
        return MemoryUnitOfWork(self.store)
