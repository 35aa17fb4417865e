"""The composition root: settings are read here once, and only here are adapters chosen.

`Settings.from_env()` reads the environment; `build(settings)` wires the container and
returns the services entrypoints use. Nothing is built at import time.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import platformdirs
from dependency_injector import containers, providers

from rowcol.adapters.auth.jwt_tokens import JwtTokenCodec
from rowcol.adapters.clock import SystemClock
from rowcol.adapters.crypto import SecretCipher
from rowcol.adapters.memory.credentials import MemoryCredentialStore
from rowcol.adapters.memory.repository import MemoryUnitOfWorkFactory
from rowcol.adapters.railkit.resilience import RailHealthMonitor
from rowcol.core.domain.connections import StoredWebhook
from rowcol.core.domain.ids import Rail
from rowcol.core.domain.schedule import Days, ScheduleProblem
from rowcol.core.services.advisors import AdvisorService
from rowcol.core.services.audit import AuditService
from rowcol.core.services.backtest import Backtest, FolderBacktest
from rowcol.core.services.books_import import BooksImport
from rowcol.core.services.client_records import ClientRecordsService
from rowcol.core.services.clients import ClientService
from rowcol.core.services.collections import (
    CustomerCommunicationService,
    EarlyCollectionService,
    PaymentAccelerationService,
)
from rowcol.core.services.crossrail import CrossRailService
from rowcol.core.services.digest import DigestService
from rowcol.core.services.features import FeatureService
from rowcol.core.services.forecasts import ForecastService
from rowcol.core.services.hygiene import HygieneService
from rowcol.core.services.payments import PaymentService
from rowcol.core.services.portfolio import PortfolioService
from rowcol.core.services.rail_health import RailHealthService
from rowcol.core.services.receivables import ReceivablesImport
from rowcol.core.services.reserves import ReserveService
from rowcol.core.services.scenarios import ScenarioPlanner
from rowcol.core.services.schedule import ScheduleService
from rowcol.core.services.sync import SmartSync
from rowcol.core.services.verification import VerificationService
from rowcol.core.services.webhooks import (
    WebhookHandler,
    WebhookService,
    WebhookSubscriptions,
)
from rowcol.ports.ar_source import ARExportReader, ARSource
from rowcol.ports.bank_verifier import BankVerifier
from rowcol.ports.books import BooksFolder
from rowcol.ports.clock import Clock
from rowcol.ports.credentials import CredentialStore
from rowcol.ports.ledger import Ledger
from rowcol.ports.notifier import Notifier
from rowcol.ports.payment_rail import PaymentRail
from rowcol.ports.plugins import (
    ENTRY_POINT_GROUP,
    RailPlugin,
    RailPluginContext,
    RailPluginFactory,
)
from rowcol.ports.repository import UnitOfWorkFactory
from rowcol.ports.solver import ScheduleSolver
from rowcol.ports.tokens import TokenCodec
from rowcol.ports.webhooks import WebhookSubscriber, WebhookVerifier


class SettingsError(Exception):
    """A setting is missing or malformed; the message names it."""


def system_clock() -> Clock:
    return SystemClock()


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("rowcol", appauthor=False))


@dataclass(frozen=True, slots=True)
class RailSettings:
    """Where each rail lives and the firm-level credentials it needs. A rail whose
    credentials are not set is not wired; per-business secrets live in the credential
    store. Base URLs default to the rails' production hosts."""

    plaid_base_url: str = "https://production.plaid.com"
    plaid_client_id: str | None = None
    plaid_secret: str | None = None
    sendgrid_base_url: str = "https://api.sendgrid.com"
    sendgrid_api_key: str | None = None
    sendgrid_from: str = "reports@rowcol.example"
    sendgrid_webhook_public_key: str | None = None
    qbo_base_url: str = "https://quickbooks.api.intuit.com"
    qbo_client_id: str | None = None
    qbo_client_secret: str | None = None
    qbo_discovery_url: str = "https://developer.api.intuit.com/.well-known/openid_configuration"
    qbo_webhook_token: str | None = None
    qbo_redirect_uri: str = "http://127.0.0.1:8000/connect/qbo/callback"
    ramp_base_url: str = "https://api.ramp.com"
    ramp_enabled: bool = False
    """Ramp has no firm-level credentials; it is wired when its base URL is configured."""
    ramp_replica_lag_seconds: float = 30.0
    """How long after a create whose answer was lost Ramp's lists may still miss it; until
    then a look-up that finds nothing is not trusted (no second send)."""
    stripe_base_url: str = "https://api.stripe.com"
    stripe_enabled: bool = False
    """Stripe keys are per business; it is wired when its base URL is configured."""
    stripe_webhook_secrets: tuple[str, ...] = ()

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> RailSettings:
        defaults = cls()

        def get(name: str, default: str | None) -> str | None:
            return env.get(f"ROWCOL_{name}") or default

        return cls(
            plaid_base_url=get("PLAID_BASE_URL", defaults.plaid_base_url) or "",
            plaid_client_id=get("PLAID_CLIENT_ID", None),
            plaid_secret=get("PLAID_SECRET", None),
            sendgrid_base_url=get("SENDGRID_BASE_URL", defaults.sendgrid_base_url) or "",
            sendgrid_api_key=get("SENDGRID_API_KEY", None),
            sendgrid_from=get("SENDGRID_FROM", defaults.sendgrid_from) or "",
            sendgrid_webhook_public_key=get("SENDGRID_WEBHOOK_PUBLIC_KEY", None),
            qbo_base_url=get("QBO_BASE_URL", defaults.qbo_base_url) or "",
            qbo_client_id=get("QBO_CLIENT_ID", None),
            qbo_client_secret=get("QBO_CLIENT_SECRET", None),
            qbo_discovery_url=get("QBO_DISCOVERY_URL", defaults.qbo_discovery_url) or "",
            qbo_webhook_token=get("QBO_WEBHOOK_TOKEN", None),
            qbo_redirect_uri=get("QBO_REDIRECT_URI", defaults.qbo_redirect_uri) or "",
            ramp_base_url=get("RAMP_BASE_URL", defaults.ramp_base_url) or "",
            ramp_enabled=bool(env.get("ROWCOL_RAMP_BASE_URL")),
            ramp_replica_lag_seconds=float(
                get("RAMP_REPLICA_LAG_SECONDS", None) or defaults.ramp_replica_lag_seconds
            ),
            stripe_base_url=get("STRIPE_BASE_URL", defaults.stripe_base_url) or "",
            stripe_enabled=bool(env.get("ROWCOL_STRIPE_BASE_URL")),
            stripe_webhook_secrets=tuple(
                x for x in (get("STRIPE_WEBHOOK_SECRETS", "") or "").split(",") if x
            ),
        )


@dataclass(frozen=True, slots=True)
class Settings:
    database_url: str
    data_dir: Path
    jwt_keys: Mapping[str, str] = field(default_factory=dict)
    jwt_active_kid: str | None = None
    token_ttl: timedelta = timedelta(hours=12)
    secret_keys: tuple[str, ...] = ()
    """Fernet keys for rail credentials at rest; the first encrypts, all decrypt."""
    rails: RailSettings = field(default_factory=lambda: RailSettings())
    storage: str = "sql"
    """`sql` for the configured database; `memory` runs everything in process (tests)."""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        data_dir = Path(env.get("ROWCOL_DATA_DIR") or default_data_dir())
        url = env.get("ROWCOL_DATABASE_URL") or f"sqlite+aiosqlite:///{data_dir / 'rowcol.db'}"
        keys = _parse_keys(env.get("ROWCOL_JWT_KEYS", ""))
        ttl_text = env.get("ROWCOL_TOKEN_TTL_MINUTES", "720")
        try:
            ttl = timedelta(minutes=int(ttl_text))
        except ValueError:
            raise SettingsError(
                f"ROWCOL_TOKEN_TTL_MINUTES must be a number, got {ttl_text!r}"
            ) from None
        return cls(
            database_url=url,
            data_dir=data_dir,
            jwt_keys=keys,
            jwt_active_kid=env.get("ROWCOL_JWT_ACTIVE_KID") or (next(iter(keys)) if keys else None),
            token_ttl=ttl,
            rails=RailSettings.from_env(env),
            secret_keys=tuple(
                k.strip() for k in env.get("ROWCOL_SECRET_KEYS", "").split(",") if k.strip()
            ),
        )

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def _parse_keys(text: str) -> dict[str, str]:
    """`kid:secret,kid2:secret2` — the first is the active key unless one is named."""
    keys: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        kid, sep, secret = part.partition(":")
        if not sep or not kid or not secret:
            raise SettingsError("ROWCOL_JWT_KEYS must look like 'kid:secret[,kid2:secret2]'")
        keys[kid] = secret
    return keys


def signing_keys(settings: Settings) -> tuple[dict[str, str], str]:
    """Configured keys, or for the embedded default a key kept in the data directory."""
    if settings.jwt_keys:
        assert settings.jwt_active_kid is not None
        return dict(settings.jwt_keys), settings.jwt_active_kid
    path = settings.data_dir / "signing-keys.json"
    if path.exists():
        stored: dict[str, Any] = json.loads(path.read_text())
        return dict(stored["keys"]), str(stored["active"])
    kid = f"k-{secrets.token_hex(4)}"
    keys = {kid: secrets.token_urlsafe(48)}
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump({"active": kid, "keys": keys}, handle)
    return keys, kid


def secret_cipher(settings: Settings) -> SecretCipher:
    """Configured keys, or for the embedded default a key kept in the data directory."""
    if settings.secret_keys:
        try:
            return SecretCipher(list(settings.secret_keys))
        except ValueError as exc:
            raise SettingsError(f"ROWCOL_SECRET_KEYS: {exc}") from None
    path = settings.data_dir / "secret-keys.json"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump({"keys": [SecretCipher.generate_key()]}, handle)
    return SecretCipher(json.loads(path.read_text())["keys"])


def _credential_store(settings: Settings, uow_factory: UnitOfWorkFactory) -> CredentialStore:
    cipher = secret_cipher(settings)
    engine = getattr(uow_factory, "engine", None)
    if engine is None:
        return MemoryCredentialStore(cipher)
    from rowcol.adapters.sql.credentials import SqlCredentialStore

    return SqlCredentialStore(engine, cipher)


@dataclass(frozen=True, slots=True)
class RailSet:
    """The rail adapters wired from settings; a rail without credentials is None."""

    ledger: Ledger | None = None
    bank: BankVerifier | None = None
    payments: PaymentRail | None = None
    receivables: ARSource | None = None
    notifier: Notifier | None = None
    verifiers: Mapping[Rail, WebhookVerifier] = field(default_factory=dict)
    subscribers: Mapping[Rail, WebhookSubscriber] = field(default_factory=dict)


def _rails(
    settings: Settings,
    clock: Clock,
    credentials: CredentialStore,
    monitor: RailHealthMonitor,
    uow: UnitOfWorkFactory,
) -> RailSet:
    rails = settings.rails
    ledger: Ledger | None = None
    bank: BankVerifier | None = None
    payments: PaymentRail | None = None
    receivables: ARSource | None = None
    notifier: Notifier | None = None
    verifiers: dict[Rail, WebhookVerifier] = {}
    subscribers: dict[Rail, WebhookSubscriber] = {}
    if rails.plaid_client_id and rails.plaid_secret:
        from rowcol.adapters.plaid import PlaidBankVerifier, PlaidWebhookVerifier, plaid_caller

        base, client, secret = rails.plaid_base_url, rails.plaid_client_id, rails.plaid_secret
        bank = PlaidBankVerifier(
            base_url=base,
            client_id=client,
            secret=secret,
            credentials=credentials,
            clock=clock,
            caller=plaid_caller(monitor),
        )
        verifiers[Rail.PLAID] = PlaidWebhookVerifier(
            base_url=base,
            client_id=client,
            secret=secret,
            clock=clock,
            caller=plaid_caller(monitor),
        )
    if rails.sendgrid_api_key:
        from rowcol.adapters.sendgrid import (
            SendGridNotifier,
            SendGridWebhookVerifier,
            sendgrid_caller,
        )

        notifier = SendGridNotifier(
            api_key=rails.sendgrid_api_key,
            from_email=rails.sendgrid_from,
            base_url=rails.sendgrid_base_url,
            caller=sendgrid_caller(monitor),
            clock=clock,
        )
        if rails.sendgrid_webhook_public_key:
            verifiers[Rail.SENDGRID] = SendGridWebhookVerifier(
                public_key=rails.sendgrid_webhook_public_key, clock=clock
            )
    if rails.qbo_client_id and rails.qbo_client_secret:
        from rowcol.adapters.qbo import QBO_RATE_LIMIT, QboLedger, QboOAuthConfig
        from rowcol.adapters.railkit.resilience import RailCaller

        ledger = QboLedger(
            api_base_url=rails.qbo_base_url,
            oauth=QboOAuthConfig(
                client_id=rails.qbo_client_id,
                client_secret=rails.qbo_client_secret,
                redirect_uri=rails.qbo_redirect_uri,
                discovery_url=rails.qbo_discovery_url,
            ),
            credentials=credentials,
            clock=clock,
            caller=RailCaller("qbo", monitor=monitor, rate_limit=QBO_RATE_LIMIT),
        )
    if rails.qbo_webhook_token:
        from rowcol.adapters.qbo import QboWebhookVerifier

        verifiers[Rail.QBO] = QboWebhookVerifier(rails.qbo_webhook_token, clock=clock)
    if rails.ramp_enabled:
        from rowcol.adapters.ramp import RampPaymentRail, RampWebhookVerifier, ramp_caller

        ramp = RampPaymentRail(
            base_url=rails.ramp_base_url,
            credentials=credentials,
            clock=clock,
            caller=ramp_caller(monitor),
            replica_lag=timedelta(seconds=rails.ramp_replica_lag_seconds),
        )
        payments = ramp
        subscribers[Rail.RAMP] = ramp

        async def ramp_secrets(ramp_business: str | None) -> list[str]:
            # Each subscription has its own secret, kept with the business's credentials.
            if not ramp_business:
                return []
            async with uow() as unit:
                found = await unit.connections.find_by_account(Rail.RAMP, ramp_business)
            out = []
            for connection in found:
                stored = await credentials.load(connection.business_id, Rail.RAMP)
                if stored and stored.get("webhook_secret"):
                    out.append(stored["webhook_secret"])
            return out

        verifiers[Rail.RAMP] = RampWebhookVerifier(secrets=ramp_secrets, clock=clock)
    if rails.stripe_enabled:
        from rowcol.adapters.stripe import StripeARSource, stripe_caller

        receivables = StripeARSource(
            base_url=rails.stripe_base_url, credentials=credentials, caller=stripe_caller(monitor)
        )
    if rails.stripe_webhook_secrets:
        from rowcol.adapters.stripe import StripeWebhookVerifier

        verifiers[Rail.STRIPE] = StripeWebhookVerifier(
            secrets=list(rails.stripe_webhook_secrets), clock=clock
        )
    found = RailSet(
        ledger=ledger,
        bank=bank,
        payments=payments,
        receivables=receivables,
        notifier=notifier,
        verifiers=verifiers,
        subscribers=subscribers,
    )
    context = RailPluginContext(os.environ, clock, credentials, monitor)
    return with_plugins(found, load_rail_plugins(context))


def load_rail_plugins(context: RailPluginContext) -> list[RailPlugin]:
    """Rails from other distributions, through the `rowcol.rails` entry point group."""
    plugins = []
    for entry in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        try:
            factory: RailPluginFactory = entry.load()
            plugin = factory(context)
        except Exception as exc:
            raise SettingsError(f"rail plugin {entry.name!r} failed to load: {exc}") from exc
        if plugin is not None:
            plugins.append(plugin)
    return plugins


def with_plugins(rails: RailSet, plugins: list[RailPlugin]) -> RailSet:
    """A plugin fills a port no built-in rail fills; the first plugin (by name) wins."""
    verifiers = dict(rails.verifiers)
    for plugin in plugins:
        if plugin.webhooks is not None and plugin.webhooks.rail not in verifiers:
            verifiers[plugin.webhooks.rail] = plugin.webhooks
    return RailSet(
        ledger=rails.ledger or next((p.ledger for p in plugins if p.ledger), None),
        bank=rails.bank or next((p.bank for p in plugins if p.bank), None),
        payments=rails.payments or next((p.payments for p in plugins if p.payments), None),
        receivables=rails.receivables
        or next((p.receivables for p in plugins if p.receivables), None),
        notifier=rails.notifier or next((p.notifier for p in plugins if p.notifier), None),
        verifiers=verifiers,
        subscribers=rails.subscribers,
    )


def _sync_handler(
    sync: SmartSync, uow: UnitOfWorkFactory, rail: Rail, *, balances: bool = True
) -> WebhookHandler:
    """A webhook names the rail's account; sync the businesses connected through it.
    `balances=False` for a rail whose webhooks say only that transactions changed (Plaid):
    its balance reads are scarce (5 a minute), and the guardrail refreshes what it needs."""

    async def handle(event: StoredWebhook) -> None:
        if not event.account:
            return
        async with uow() as unit:
            connections = await unit.connections.find_by_account(rail, event.account)
        for connection in connections:
            result = await sync.sync_rail(connection, balances=balances)
            if not result.ok:
                raise RuntimeError(result.error or "sync failed")

    return handle


def _stripe_csv_reader() -> ARExportReader:
    from rowcol.adapters.stripe import StripeCsvReader

    return StripeCsvReader()


class _LazyScheduleSolver(ScheduleSolver):
    """Loads OR-Tools on the first schedule, not at start-up (it takes most of a second)."""

    def __init__(self) -> None:
        self._solver: ScheduleSolver | None = None

    def solve(self, problem: ScheduleProblem) -> Days:
        if self._solver is None:
            from rowcol.adapters.cpsat import CpSatScheduleSolver

            self._solver = CpSatScheduleSolver()
        return self._solver.solve(problem)


def _schedule_solver() -> ScheduleSolver:
    return _LazyScheduleSolver()


def _books_folder() -> BooksFolder:
    from rowcol.adapters.csvbooks import CsvBooksFolder

    return CsvBooksFolder()


def _folder_backtest() -> FolderBacktest:
    from rowcol.adapters.csvbooks import CsvBooksFolder
    from rowcol.adapters.statsmodels_ets import ExponentialSmoothingModel

    return FolderBacktest(CsvBooksFolder(), Backtest(models=[ExponentialSmoothingModel()]))


SENT_EVENTS = frozenset({"processed", "delivered", "open", "click"})
NOT_SENT_EVENTS = frozenset({"bounce", "dropped"})


def _sendgrid_handler(messages: CustomerCommunicationService) -> WebhookHandler:
    """SendGrid's events settle messages whose send answer was lost: SendGrid saying it
    processed or delivered one means it went out; a drop or a bounce means it did not."""

    async def handle(event: StoredWebhook) -> None:
        payload = json.loads(event.payload_json)
        message_id = payload.get("rowcol_message_id") if isinstance(payload, dict) else None
        if not isinstance(message_id, str):
            return
        if event.event_type in SENT_EVENTS:
            await messages.reconcile(message_id, delivered=True)
        elif event.event_type in NOT_SENT_EVENTS:
            await messages.reconcile(message_id, delivered=False)

    return handle


def _ramp_handler(
    subscriptions: WebhookSubscriptions, verification: VerificationService
) -> WebhookHandler:
    """Ramp's handshake is answered; its bill events move the payment they name along."""

    async def handle(event: StoredWebhook) -> None:
        if await subscriptions.answer_handshake(event):
            return
        if event.event_type.startswith("bills."):
            found = json.loads(event.payload_json).get("object") or {}
            if isinstance(found, dict) and isinstance(found.get("id"), str):
                await verification.on_rail_event(found["id"])

    return handle


def _sql_uow_factory(url: str) -> UnitOfWorkFactory:
    from rowcol.adapters.sql.engine import make_engine
    from rowcol.adapters.sql.repository import SqlUnitOfWorkFactory

    return SqlUnitOfWorkFactory(make_engine(url))


def _token_codec(settings: Settings, clock: Clock) -> TokenCodec:
    keys, active = signing_keys(settings)
    return JwtTokenCodec(keys, active, clock)


class Container(containers.DeclarativeContainer):
    settings = providers.Dependency(instance_of=Settings)
    clock = providers.Singleton(SystemClock)
    uow_factory = providers.Selector(
        providers.Callable(lambda s: s.storage, settings),
        sql=providers.Singleton(
            _sql_uow_factory, providers.Callable(lambda s: s.database_url, settings)
        ),
        memory=providers.Singleton(MemoryUnitOfWorkFactory),
    )
    tokens = providers.Singleton(_token_codec, settings, clock)
    credentials = providers.Singleton(_credential_store, settings, uow_factory)
    advisors = providers.Singleton(AdvisorService, uow_factory, clock)
    clients = providers.Singleton(ClientService, uow_factory, clock)
    features = providers.Singleton(FeatureService, uow_factory)
    audit = providers.Singleton(AuditService, uow_factory)
    records = providers.Singleton(ClientRecordsService, uow_factory, clock)
    monitor = providers.Singleton(RailHealthMonitor, clock)
    rail_health = providers.Singleton(RailHealthService, uow_factory, monitor)
    rails = providers.Singleton(_rails, settings, clock, credentials, monitor, uow_factory)
    sync = providers.Singleton(
        SmartSync,
        uow_factory,
        clock,
        ledger=providers.Callable(lambda r: r.ledger, rails),
        bank=providers.Callable(lambda r: r.bank, rails),
        receivables=providers.Callable(lambda r: r.receivables, rails),
    )
    payments = providers.Singleton(
        PaymentService,
        uow_factory,
        clock,
        rail=providers.Callable(lambda r: r.payments, rails),
        bank=providers.Callable(lambda r: r.bank, rails),
    )
    reserves = providers.Singleton(ReserveService, uow_factory, clock)
    verification = providers.Singleton(
        VerificationService,
        uow_factory,
        clock,
        payments,
        rail=providers.Callable(lambda r: r.payments, rails),
        notifier=providers.Callable(lambda r: r.notifier, rails),
        sync=sync,
    )
    forecasts = providers.Singleton(ForecastService, uow_factory, clock)
    messages = providers.Singleton(
        CustomerCommunicationService,
        uow_factory,
        clock,
        providers.Callable(lambda r: r.notifier, rails),
    )
    collections = providers.Singleton(EarlyCollectionService, uow_factory, clock, messages)
    acceleration = providers.Singleton(PaymentAccelerationService, uow_factory, clock, messages)
    schedule = providers.Singleton(
        ScheduleService, uow_factory, clock, providers.Singleton(_schedule_solver), payments
    )
    scenarios = providers.Singleton(ScenarioPlanner, uow_factory, clock, forecasts)
    portfolio = providers.Singleton(PortfolioService, uow_factory, clock)
    digests = providers.Singleton(DigestService, uow_factory, clock, forecasts, collections)
    backtest = providers.Singleton(_folder_backtest)
    crossrail = providers.Singleton(
        CrossRailService,
        uow_factory,
        clock,
        rail=providers.Callable(lambda r: r.payments, rails),
        ledger=providers.Callable(lambda r: r.ledger, rails),
    )
    hygiene = providers.Singleton(HygieneService, uow_factory, clock, crossrail)
    receivables_import = providers.Singleton(
        ReceivablesImport, uow_factory, clock, providers.Singleton(_stripe_csv_reader)
    )
    books_import = providers.Singleton(
        BooksImport, uow_factory, clock, providers.Singleton(_books_folder)
    )
    subscriptions = providers.Singleton(
        WebhookSubscriptions,
        uow_factory,
        clock,
        credentials,
        providers.Callable(lambda r: r.subscribers, rails),
    )
    webhook_handlers = providers.Callable(
        lambda sync, uow, subscriptions, verification, messages: {
            Rail.PLAID: _sync_handler(sync, uow, Rail.PLAID, balances=False),
            Rail.QBO: _sync_handler(sync, uow, Rail.QBO),
            Rail.STRIPE: _sync_handler(sync, uow, Rail.STRIPE),
            Rail.RAMP: _ramp_handler(subscriptions, verification),
            Rail.SENDGRID: _sendgrid_handler(messages),
        },
        sync,
        uow_factory,
        subscriptions,
        verification,
        messages,
    )
    webhooks = providers.Singleton(
        WebhookService,
        uow_factory,
        clock,
        providers.Callable(lambda r: r.verifiers, rails),
        webhook_handlers,
    )


@dataclass(frozen=True, slots=True)
class Services:
    """Plain objects the entrypoints are handed; they never see the container."""

    settings: Settings
    clock: Clock
    uow_factory: UnitOfWorkFactory
    tokens: TokenCodec
    advisors: AdvisorService
    clients: ClientService
    features: FeatureService
    audit: AuditService
    records: ClientRecordsService
    rail_health: RailHealthService
    webhooks: WebhookService
    subscriptions: WebhookSubscriptions
    receivables_import: ReceivablesImport
    books_import: BooksImport
    payments: PaymentService
    reserves: ReserveService
    verification: VerificationService
    crossrail: CrossRailService
    hygiene: HygieneService
    forecasts: ForecastService
    messages: CustomerCommunicationService
    collections: EarlyCollectionService
    acceleration: PaymentAccelerationService
    schedule: ScheduleService
    scenarios: ScenarioPlanner
    portfolio: PortfolioService
    digests: DigestService
    backtest: FolderBacktest
    sync: SmartSync
    credentials: CredentialStore
    monitor: RailHealthMonitor
    rails: RailSet

    async def aclose(self) -> None:
        close = getattr(self.uow_factory, "aclose", None)
        if close is not None:
            await close()


def build(
    settings: Settings,
    *,
    clock: Clock | None = None,
    uow_factory: UnitOfWorkFactory | None = None,
    credentials: CredentialStore | None = None,
) -> Services:
    container = Container(settings=settings)
    if clock is not None:
        container.clock.override(providers.Object(clock))
    if uow_factory is not None:
        container.uow_factory.override(providers.Object(uow_factory))
    if credentials is not None:
        container.credentials.override(providers.Object(credentials))
    return Services(
        settings=settings,
        clock=container.clock(),
        uow_factory=container.uow_factory(),
        tokens=container.tokens(),
        advisors=container.advisors(),
        clients=container.clients(),
        features=container.features(),
        audit=container.audit(),
        records=container.records(),
        rail_health=container.rail_health(),
        webhooks=container.webhooks(),
        subscriptions=container.subscriptions(),
        receivables_import=container.receivables_import(),
        books_import=container.books_import(),
        payments=container.payments(),
        reserves=container.reserves(),
        verification=container.verification(),
        crossrail=container.crossrail(),
        hygiene=container.hygiene(),
        forecasts=container.forecasts(),
        messages=container.messages(),
        collections=container.collections(),
        acceleration=container.acceleration(),
        schedule=container.schedule(),
        scenarios=container.scenarios(),
        portfolio=container.portfolio(),
        digests=container.digests(),
        backtest=container.backtest(),
        sync=container.sync(),
        credentials=container.credentials(),
        monitor=container.monitor(),
        rails=container.rails(),
    )


async def migrate(settings: Settings) -> str:
    """Brings the configured database to the newest schema; returns its revision."""
    from rowcol.adapters.sql.migrate import upgrade_to_head

    return await upgrade_to_head(settings.database_url)
