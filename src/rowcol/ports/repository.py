"""Storage: repositories grouped in a unit of work, one transaction each.

Repositories store and find; they do not decide who may see what. Services scope every
read and write to the acting user's advisor by going through the client links.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from types import TracebackType
from typing import Protocol, Self, TypeVar

from rowcol.core.domain.approval import ApprovalPolicy
from rowcol.core.domain.audit import AuditEntry, AuditEvent
from rowcol.core.domain.collections import CollectionSend, ReminderSequence, SendStatus
from rowcol.core.domain.connections import RailConnection, StoredWebhook, SyncCursor
from rowcol.core.domain.errors import Conflict
from rowcol.core.domain.forecast import Forecast
from rowcol.core.domain.hygiene import HygieneKind, IssueStatus, TrackedIssue
from rowcol.core.domain.ids import (
    AdvisorId,
    BankAccountId,
    BusinessId,
    FirmId,
    PaymentId,
    Rail,
    UserId,
)
from rowcol.core.domain.money import Money
from rowcol.core.domain.payments import Payment, PaymentStatus, VerificationDeadlines
from rowcol.core.domain.portfolio import ClientSignals
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

R = TypeVar("R")


class FirmRepository(Protocol):
    async def add(self, firm: Firm) -> None:
        """Raises Conflict when the id is taken."""
        ...

    async def get(self, firm_id: FirmId) -> Firm | None: ...


class AdvisorRepository(Protocol):
    async def add(self, advisor: Advisor) -> None:
        """Raises Conflict when the id or the email is taken."""
        ...

    async def get(self, advisor_id: AdvisorId) -> Advisor | None: ...

    async def get_by_email(self, email: str) -> Advisor | None: ...

    async def update(self, advisor: Advisor) -> None: ...

    async def list(self, firm_id: FirmId | None = None) -> Sequence[Advisor]:
        """Ordered by advisor id."""
        ...


class UserRepository(Protocol):
    async def add(self, user: StaffUser) -> None:
        """Raises Conflict when the id or the email is taken."""
        ...

    async def get(self, user_id: UserId) -> StaffUser | None: ...

    async def list_for_advisor(self, advisor_id: AdvisorId) -> Sequence[StaffUser]:
        """Ordered by user id."""
        ...


class BusinessRepository(Protocol):
    async def add(self, business: Business) -> None:
        """Raises Conflict when the id is taken."""
        ...

    async def get(self, business_id: BusinessId) -> Business | None: ...


class ClientRepository(Protocol):
    async def add(self, client: Client) -> None:
        """Raises Conflict when the advisor already holds the business."""
        ...

    async def get(self, advisor_id: AdvisorId, business_id: BusinessId) -> Client | None: ...

    async def list_for_advisor(self, advisor_id: AdvisorId) -> Sequence[tuple[Client, Business]]:
        """The advisor's clients with their businesses, ordered by business name then id."""
        ...

    async def remove(self, advisor_id: AdvisorId, business_id: BusinessId) -> bool:
        """True if a link was removed."""
        ...


class RecordRepository(Protocol[R]):
    """Records that belong to one business, keyed by (business_id, record id)."""

    async def upsert(self, records: Sequence[R]) -> None: ...

    async def get(self, business_id: BusinessId, record_id: str) -> R | None: ...

    async def list(self, business_id: BusinessId) -> Sequence[R]:
        """Ordered by record id."""
        ...

    async def count(self, business_id: BusinessId) -> int: ...

    async def delete(self, business_id: BusinessId, record_ids: Sequence[str]) -> int: ...


class BalanceRepository(Protocol):
    async def add(self, balances: Sequence[Balance]) -> None:
        """History is kept; a balance with the same account and as_of replaces the old."""
        ...

    async def latest(self, business_id: BusinessId) -> Sequence[Balance]:
        """The newest balance of each account, ordered by account id."""
        ...

    async def history(
        self, business_id: BusinessId, account_id: BankAccountId, *, since: datetime | None = None
    ) -> Sequence[Balance]:
        """Oldest first."""
        ...


class AuditLog(Protocol):
    async def append(self, entry: AuditEntry, at: datetime) -> AuditEvent:
        """Chains the entry to the newest event; concurrent appends are serialized."""
        ...

    async def events(
        self, *, advisor_id: AdvisorId | None = None, after_seq: int = 0, limit: int | None = None
    ) -> Sequence[AuditEvent]:
        """Oldest first; with `advisor_id`, only that tenant's events."""
        ...

    async def head_count(self) -> int:
        """How many events the log says it holds."""
        ...


class ConnectionRepository(Protocol):
    async def upsert(self, connection: RailConnection) -> None:
        """Raises Conflict when the business does not exist."""
        ...

    async def get(self, business_id: BusinessId, rail: Rail) -> RailConnection | None: ...

    async def list(self, business_id: BusinessId) -> Sequence[RailConnection]:
        """Ordered by rail."""
        ...

    async def find_by_account(self, rail: Rail, account: str) -> Sequence[RailConnection]:
        """Connections of the rail whose `account` is this one (a webhook names only it)."""
        ...


class SyncCursorRepository(Protocol):
    async def get(self, business_id: BusinessId, rail: Rail, stream: str) -> SyncCursor | None: ...

    async def set(self, cursor: SyncCursor) -> None:
        """Stored in the same transaction as the records the cursor covers."""
        ...

    async def list(self, business_id: BusinessId) -> Sequence[SyncCursor]:
        """Ordered by rail, then stream."""
        ...


class WebhookInbox(Protocol):
    async def store(self, event: StoredWebhook) -> bool:
        """True if new; False if an event with the same rail and id was stored before."""
        ...

    async def get(self, rail: Rail, event_id: str) -> StoredWebhook | None: ...

    async def due(self, now: datetime, *, limit: int = 100) -> Sequence[StoredWebhook]:
        """Pending events, and failed ones whose next attempt is due, oldest first."""
        ...

    async def update(self, event: StoredWebhook) -> None:
        """Records the outcome of an attempt (status, attempts, error, next attempt)."""
        ...

    async def count(self, rail: Rail | None = None) -> int: ...


class StaleWrite(Conflict):
    """Someone changed the record since it was read; read it again and decide again."""


class PaymentRepository(Protocol):
    async def add(self, payment: Payment) -> None:
        """Raises DuplicatePayment when the bill already has a payment that is not failed
        or cancelled (a constraint in the store, not a check before it), Conflict when
        the id or reference is taken."""
        ...

    async def get(self, payment_id: PaymentId) -> Payment | None: ...

    async def find_by_reference(self, reference: str) -> Payment | None: ...

    async def find_by_rail_id(self, rail_payment_id: str) -> Payment | None: ...

    async def list(
        self,
        business_id: BusinessId | None = None,
        *,
        statuses: Collection[PaymentStatus] | None = None,
    ) -> Sequence[Payment]:
        """Oldest first; one business or all of them; only these statuses when given."""
        ...

    async def update(self, payment: Payment) -> None:
        """Stores `payment` over the version it was made from (`version - 1`); raises
        StaleWrite when the stored one is another, DuplicatePayment as `add` does."""
        ...

    async def lock_business(self, business_id: BusinessId) -> None:
        """Holds every other unit of work that locks the same business until this one
        ends: the liquidity guardrail sees every payment submitted before it."""
        ...


class PolicyRepository(Protocol):
    async def get(self, business_id: BusinessId) -> ApprovalPolicy | None: ...

    async def save(self, policy: ApprovalPolicy) -> None:
        """Stores a new version; StaleWrite unless it follows the stored one (or is the
        first, version 1)."""
        ...


@dataclass(frozen=True, slots=True)
class ForecastSnapshot:
    """A forecast as it was made, kept to be compared later with what happened."""

    snapshot_id: str
    business_id: BusinessId
    created_at: datetime
    forecast: Forecast
    scenario: str | None = None
    """The scenario it was made under; None for the baseline."""
    buffer: Money | None = None
    """The buffer the forecast's breach chances were measured against."""


class ForecastRepository(Protocol):
    async def add(self, snapshot: ForecastSnapshot) -> None:
        """Raises Conflict when the id is taken or the business does not exist."""
        ...

    async def latest(
        self, business_id: BusinessId, *, scenario: str | None = None
    ) -> ForecastSnapshot | None: ...

    async def list(
        self, business_id: BusinessId, *, since: datetime | None = None
    ) -> Sequence[ForecastSnapshot]:
        """Baseline snapshots, oldest first."""
        ...


class CollectionRepository(Protocol):
    async def get_sequence(self, business_id: BusinessId) -> ReminderSequence | None: ...

    async def save_sequence(self, sequence: ReminderSequence) -> None:
        """Stores a new version; StaleWrite unless it follows the stored one (or is the
        first, version 1); Conflict when the business does not exist."""
        ...

    async def add_send(self, send: CollectionSend) -> None:
        """Raises DuplicateSend when the invoice already has a send for the step (a
        constraint in the store, not a check before it), Conflict when the business
        does not exist."""
        ...

    async def update_send(self, send: CollectionSend) -> None:
        """Stores the send's outcome over the stored one (same invoice and step)."""
        ...

    async def find_send(self, message_id: str) -> CollectionSend | None: ...

    async def list_sends(
        self,
        business_id: BusinessId,
        *,
        statuses: Collection[SendStatus] | None = None,
    ) -> Sequence[CollectionSend]:
        """Oldest intent first, then by invoice and step; only these statuses when given."""
        ...


class ScenarioRepository(Protocol):
    """What-if scenarios, one per (business, name)."""

    async def add(self, scenario: Scenario) -> None:
        """Raises Conflict when the business already has a scenario of that name or does
        not exist."""
        ...

    async def get(self, business_id: BusinessId, name: str) -> Scenario | None: ...

    async def list(self, business_id: BusinessId) -> Sequence[Scenario]:
        """Ordered by name."""
        ...

    async def delete(self, business_id: BusinessId, name: str) -> bool:
        """True if a scenario was removed."""
        ...


class HygieneRepository(Protocol):
    """Hygiene issues as last detected and what people did about them, one per
    (business, key)."""

    async def get(self, business_id: BusinessId, key: str) -> TrackedIssue | None: ...

    async def save(self, tracked: TrackedIssue) -> None:
        """Stores the issue over the version it was made from (`version - 1`), or as new
        at version 1; StaleWrite when the stored one is another, Conflict when the
        business does not exist."""
        ...

    async def list(
        self,
        business_ids: Collection[BusinessId],
        *,
        today: date,
        status: IssueStatus | None = None,
        kind: HygieneKind | None = None,
        limit: int | None = None,
    ) -> Sequence[TrackedIssue]:
        """Issues of these businesses, highest priority first, then by business and key.
        `status` is the status on `today`: a snooze that has ended counts as open."""
        ...

    async def open_counts(
        self, business_ids: Collection[BusinessId], *, today: date
    ) -> dict[BusinessId, dict[str, int]]:
        """Open issues (a snooze that has ended included) by severity, per business, in
        one query; a business without open issues is left out."""
        ...


class PortfolioReadModel(Protocol):
    """The portfolio console's rows, read in one go for every client of an advisor."""

    async def client_signals(
        self,
        advisor_id: AdvisorId,
        *,
        today: date,
        deadlines: VerificationDeadlines | None = None,
    ) -> Sequence[ClientSignals]:
        """One row per client, ordered by business id: cash from each account's latest
        balance in the business's currency, the latest baseline forecast's summary,
        payments awaiting approval, payments stuck or past their next confirmation's
        deadline, invoices open and due before `today`, rail connections and open hygiene
        issues by severity. Each row's `detail()` gives the same as full facts; it is
        asked for only for the rows a page shows, so it should not read storage again."""
        ...


class UnitOfWork(Protocol):
    firms: FirmRepository
    advisors: AdvisorRepository
    users: UserRepository
    businesses: BusinessRepository
    clients: ClientRepository
    vendors: RecordRepository[Vendor]
    customers: RecordRepository[Customer]
    bills: RecordRepository[Bill]
    invoices: RecordRepository[Invoice]
    bank_accounts: RecordRepository[BankAccount]
    bank_transactions: RecordRepository[BankTransaction]
    reserves: RecordRepository[Reserve]
    payouts: RecordRepository[Payout]
    payments: PaymentRepository
    policies: PolicyRepository
    forecasts: ForecastRepository
    scenarios: ScenarioRepository
    collections: CollectionRepository
    hygiene: HygieneRepository
    balances: BalanceRepository
    connections: ConnectionRepository
    cursors: SyncCursorRepository
    webhooks: WebhookInbox
    audit: AuditLog
    portfolio: PortfolioReadModel

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Rolls back whatever was not committed."""
        ...

    async def commit(self) -> None: ...

    async def rollback(self) -> None: ...


class UnitOfWorkFactory(Protocol):
    def __call__(self) -> UnitOfWork: ...
