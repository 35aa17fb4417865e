"""The `rowcol` command line."""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import sys
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from datetime import timedelta
from typing import Any, ParamSpec, TextIO, TypeVar

import click

from rowcol.bootstrap import Services, Settings, SettingsError, build, migrate
from rowcol.core.domain.ids import AdvisorId, BusinessId, Rail, UserId
from rowcol.core.domain.payments import PaymentStatus
from rowcol.core.domain.tenancy import SYSTEM_ACTOR, Actor, Role, RunwayTier
from rowcol.entrypoints.cli.errors import (
    EXIT_AUDIT_BROKEN,
    EXIT_NOT_FOUND,
    EXIT_UNAVAILABLE,
    EXIT_USAGE,
    CliFailure,
    as_cli_failure,
)

P = ParamSpec("P")
T = TypeVar("T")

ROLES = [r.value for r in Role]
TIERS = [t.value for t in RunwayTier]


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except SettingsError as exc:
        raise CliFailure(str(exc), EXIT_USAGE) from None


def run_with_services(
    fn: Callable[..., Coroutine[Any, Any, T]],
) -> Callable[..., T]:
    """Runs an async command with freshly built services, mapping failures to exit codes."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        settings = _settings()

        async def main() -> T:
            services = build(settings)
            try:
                return await fn(services, *args, **kwargs)
            finally:
                await services.aclose()

        return _run(main())

    return wrapper


def _run(coro: Awaitable[T]) -> T:
    try:
        return asyncio.run(coro)  # type: ignore[arg-type]
    except click.ClickException:
        raise
    except Exception as exc:
        failure = as_cli_failure(exc)
        if failure is None:
            raise
        raise failure from None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="rowcol")
def cli() -> None:
    """RowCol: the financial control plane for Client Advisory Services.

    Settings come from the environment: ROWCOL_DATABASE_URL (default: a SQLite file in
    the user data directory), ROWCOL_DATA_DIR, ROWCOL_JWT_KEYS, ROWCOL_JWT_ACTIVE_KID.
    """


# -- db ---------------------------------------------------------------------------


@cli.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Bring the configured database to the newest schema."""
    settings = _settings()
    revision = _run(migrate(settings))
    click.echo(f"database at revision {revision} ({_redact(settings.database_url)})")


# -- advisors and staff -------------------------------------------------------------


@cli.group()
def advisor() -> None:
    """Advisors: the tenants every client belongs to."""


@advisor.command("create")
@click.option("--email", required=True, help="Unique email of the advisory practice.")
@click.option("--name", required=True, help="Display name.")
@click.option("--id", "advisor_id", help="Advisor id (default: generated).")
@click.option("--firm", "firm_id", help="Firm id to join or create (default: a new firm).")
@click.option("--firm-name", help="Name for a new firm (default: the advisor's name).")
@click.option("--tier", type=click.Choice(TIERS), default="basic", show_default=True)
@run_with_services
async def advisor_create(
    services: Services,
    email: str,
    name: str,
    advisor_id: str | None,
    firm_id: str | None,
    firm_name: str | None,
    tier: str,
) -> None:
    """Create an advisor (and its firm when new)."""
    created = await services.advisors.create_advisor(
        email=email,
        name=name,
        advisor_id=advisor_id,
        firm_id=firm_id,
        firm_name=firm_name,
        runway_tier=RunwayTier(tier),
    )
    click.echo(f"advisor {created.advisor_id} created in firm {created.firm_id}")


@advisor.command("show")
@click.argument("advisor_id")
@run_with_services
async def advisor_show(services: Services, advisor_id: str) -> None:
    """Show an advisor, its tier and enabled features."""
    found = await services.advisors.find_advisor(AdvisorId(advisor_id))
    actor = await services.advisors.operator_for(found.advisor_id)
    features = await services.features.features_for(actor, found.advisor_id)
    click.echo(f"{found.advisor_id}  {found.name} <{found.email}>  firm {found.firm_id}")
    click.echo(f"tier: {found.runway_tier.value}")
    click.echo("features: " + (", ".join(f.value for f in features) or "none"))


@advisor.command("plan")
@click.argument("advisor_id")
@click.option("--tier", type=click.Choice(TIERS), help="New runway tier.")
@click.option(
    "--flag",
    "flags",
    multiple=True,
    metavar="FEATURE=on|off",
    help="Grant or withhold one feature against the tier (repeatable).",
)
@run_with_services
async def advisor_plan(
    services: Services, advisor_id: str, tier: str | None, flags: tuple[str, ...]
) -> None:
    """Change an advisor's tier or feature flags (audited)."""
    parsed: dict[str, bool] = {}
    for flag in flags:
        feature, sep, value = flag.partition("=")
        if not sep or value not in {"on", "off"}:
            raise CliFailure(
                f"--flag must look like FEATURE=on or FEATURE=off, got {flag!r}", EXIT_USAGE
            )
        parsed[feature] = value == "on"
    updated = await services.advisors.set_plan(
        SYSTEM_ACTOR,
        AdvisorId(advisor_id),
        runway_tier=RunwayTier(tier) if tier else None,
        feature_flags=parsed if parsed else None,
    )
    click.echo(
        f"{updated.advisor_id}: tier {updated.runway_tier.value}, flags {updated.feature_flags}"
    )


@cli.group()
def user() -> None:
    """Staff users: bookkeepers, controllers, advisors and firm admins."""


@user.command("add")
@click.option("--advisor", "advisor_id", required=True)
@click.option("--email", required=True)
@click.option("--name", required=True)
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--id", "user_id", help="User id (default: generated).")
@run_with_services
async def user_add(
    services: Services, advisor_id: str, email: str, name: str, role: str, user_id: str | None
) -> None:
    """Add a staff user to an advisor."""
    added = await services.advisors.add_staff_user(
        SYSTEM_ACTOR,
        AdvisorId(advisor_id),
        email=email,
        name=name,
        role=Role(role),
        user_id=user_id,
    )
    click.echo(f"user {added.user_id} ({added.role.value}) added to {advisor_id}")


# -- clients ------------------------------------------------------------------------


@cli.group()
def client() -> None:
    """The businesses an advisor looks after."""


@client.command("add")
@click.option("--advisor", "advisor_id", required=True)
@click.option("--name", required=True, help="The business's name.")
@click.option("--currency", default="USD", show_default=True)
@click.option("--timezone", default="America/New_York", show_default=True)
@run_with_services
async def client_add(
    services: Services, advisor_id: str, name: str, currency: str, timezone: str
) -> None:
    """Add a new client business to an advisor."""
    actor = await services.advisors.operator_for(AdvisorId(advisor_id))
    view = await services.clients.add_client_to_advisor(
        actor, AdvisorId(advisor_id), name=name, currency=currency.upper(), timezone=timezone
    )
    click.echo(f"client {view.client.client_id} ({view.business.name}) added to {advisor_id}")


@client.command("list")
@click.option("--advisor", "advisor_id", required=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@run_with_services
async def client_list(services: Services, advisor_id: str, as_json: bool) -> None:
    """List an advisor's clients."""
    actor = await services.advisors.operator_for(AdvisorId(advisor_id))
    views = await services.clients.list_clients_for_advisor(actor, AdvisorId(advisor_id))
    if as_json:
        click.echo(
            json.dumps(
                [
                    {
                        "client_id": v.client.client_id,
                        "name": v.business.name,
                        "currency": v.business.currency,
                    }
                    for v in views
                ],
                indent=2,
            )
        )
        return
    if not views:
        click.echo(f"advisor {advisor_id} has no clients yet")
        return
    width = max(len(v.client.client_id) for v in views)
    for v in views:
        click.echo(f"{v.client.client_id:<{width}}  {v.business.currency}  {v.business.name}")
    click.echo(f"{len(views)} client(s)")


@client.command("remove")
@click.option("--advisor", "advisor_id", required=True)
@click.option("--client", "client_id", required=True)
@run_with_services
async def client_remove(services: Services, advisor_id: str, client_id: str) -> None:
    """Remove a client from an advisor (its records stay for the audit trail)."""
    actor = await services.advisors.operator_for(AdvisorId(advisor_id))
    await services.clients.remove_client_from_advisor(
        actor, AdvisorId(advisor_id), BusinessId(client_id)
    )
    click.echo(f"client {client_id} removed from {advisor_id}")


# -- tokens and audit ---------------------------------------------------------------


@cli.group()
def token() -> None:
    """API bearer tokens."""


@token.command("issue")
@click.option("--advisor", "advisor_id", required=True)
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--user", "user_id", help="Staff user id (default: a service identity for the role).")
@click.option(
    "--ttl-minutes", type=click.IntRange(1, 60 * 24 * 30), help="Lifetime (default: settings)."
)
@run_with_services
async def token_issue(
    services: Services, advisor_id: str, role: str, user_id: str | None, ttl_minutes: int | None
) -> None:
    """Mint a bearer token for an advisor and role; prints only the token."""
    actor = await _actor_for_token(services, AdvisorId(advisor_id), Role(role), user_id)
    ttl = timedelta(minutes=ttl_minutes) if ttl_minutes else services.settings.token_ttl
    click.echo(services.tokens.issue(actor, ttl=ttl))


async def _actor_for_token(
    services: Services, advisor_id: AdvisorId, role: Role, user_id: str | None
) -> Actor:
    if user_id is None:
        operator = await services.advisors.operator_for(advisor_id, role)
        return Actor(UserId(f"svc-{role.value}"), operator.advisor_id, operator.firm_id, role)
    actor = await services.advisors.actor_for_user(UserId(user_id))
    if actor.advisor_id != advisor_id or actor.role is not role:
        raise CliFailure(
            f"user {user_id} is a {actor.role.value} of advisor {actor.advisor_id}, "
            f"not a {role.value} of {advisor_id}",
            EXIT_USAGE,
        )
    return actor


@cli.group()
def audit() -> None:
    """The tamper-evident audit log."""


@audit.command("verify")
@run_with_services
async def audit_verify(services: Services) -> None:
    """Check every stored event against the hash chain; exits 8 at the first bad one."""
    checked, broken = await services.audit.verify()
    if broken is not None:
        click.echo(f"audit log broken at event {broken.seq}: {broken.reason}", err=True)
        sys.exit(EXIT_AUDIT_BROKEN)
    click.echo(f"audit log intact: {checked} event(s) verified")


# -- rails -------------------------------------------------------------------------


@cli.command()
@click.option("--business", "business_id", help="Sync one business.")
@click.option("--all", "sync_all", is_flag=True, help="Sync every connected business.")
@run_with_services
async def sync(services: Services, business_id: str | None, sync_all: bool) -> None:
    """Pull what changed from each connected rail, per business (incremental, idempotent)."""
    if bool(business_id) == sync_all:
        raise CliFailure("give exactly one of --business ID or --all", EXIT_USAGE)
    targets = [BusinessId(business_id)] if business_id else await services.sync.businesses()
    if not targets:
        click.echo("no business has a synced rail connection yet")
        return
    failures = 0
    with click.progressbar(targets, label="Syncing", item_show_func=lambda b: b or "") as bar:
        for target in bar:
            results = await services.sync.sync_business(target)
            for result in results:
                changed = ", ".join(f"{n} {kind}" for kind, n in result.changed.items() if n)
                outcome = changed or "no changes" if result.ok else f"failed: {result.error}"
                click.echo(f"\n  {target} {result.rail.value}: {outcome}", err=not result.ok)
                failures += not result.ok
    click.echo(f"synced {len(targets)} business(es); {failures} rail pull(s) failed")
    scans = await services.hygiene.scan_businesses(targets)
    click.echo(f"hygiene: {sum(r.detected for r in scans)} issue(s) across {len(scans)} client(s)")
    if failures:
        sys.exit(EXIT_UNAVAILABLE)


@cli.group()
def receivables() -> None:
    """Receivables from a processor's exported files."""


@receivables.command("import")
@click.option("--business", "business_id", required=True, help="The business the files are of.")
@click.option(
    "--invoices",
    type=click.File("r", encoding="utf-8-sig"),
    help="Stripe invoices export (Billing > Invoices > Export), CSV.",
)
@click.option(
    "--payouts",
    type=click.File("r", encoding="utf-8-sig"),
    help="Stripe payouts export (Balances > Payouts > Export), CSV.",
)
@click.option("--skip-bad-rows", is_flag=True, help="Store the readable rows and list the others.")
@run_with_services
async def receivables_import(
    services: Services,
    business_id: str,
    invoices: TextIO | None,
    payouts: TextIO | None,
    skip_bad_rows: bool,
) -> None:
    """Import Stripe's CSV exports into a business (all or nothing; repeatable).

    Invoices are refused for a business whose books are connected: the books hold them.
    """
    if invoices is None and payouts is None:
        raise CliFailure("give --invoices FILE, --payouts FILE, or both", EXIT_USAGE)
    done = await services.receivables_import.import_files(
        SYSTEM_ACTOR,
        BusinessId(business_id),
        invoices=invoices.read() if invoices is not None else None,
        payouts=payouts.read() if payouts is not None else None,
        skip_bad_rows=skip_bad_rows,
    )
    for skipped in done.skipped:
        click.echo(f"skipped {skipped}", err=True)
    click.echo(
        f"imported {done.invoices} invoice(s), {done.customers} customer(s) and "
        f"{done.payouts} payout(s) into {business_id}"
    )


@cli.command("import")
@click.option("--business", "business_id", required=True, help="The business the books are of.")
@click.option("--skip-bad-rows", is_flag=True, help="Store the readable rows and list the others.")
@click.argument("folder", type=click.Path(exists=True, file_okay=False))
@run_with_services
async def import_books(
    services: Services, business_id: str, skip_bad_rows: bool, folder: str
) -> None:
    """Load a business's history from a folder of CSV files (docs/formats.md).

    All or nothing, and repeatable: records are stored over those with the same ids.
    """
    done = await services.books_import.import_folder(
        SYSTEM_ACTOR, BusinessId(business_id), folder, skip_bad_rows=skip_bad_rows
    )
    for skipped in done.skipped:
        click.echo(f"skipped {skipped}", err=True)
    for kind, count in done.by_kind().items():
        click.echo(f"{kind:<18} {count}")
    click.echo(f"imported into {business_id}")


@cli.command("export")
@click.option("--business", "business_id", required=True, help="The business to write out.")
@click.argument("folder", type=click.Path(file_okay=False))
@run_with_services
async def export_books(services: Services, business_id: str, folder: str) -> None:
    """Write a stored business's books to a folder of CSV files (docs/formats.md),
    replacing the format's files there; `rowcol import` reads them back."""
    done = await services.books_import.export_folder(SYSTEM_ACTOR, BusinessId(business_id), folder)
    for kind, count in done.by_kind().items():
        click.echo(f"{kind:<18} {count}")
    click.echo(f"exported {business_id} to {folder}")


@cli.group()
def secrets() -> None:
    """Rail credentials encrypted at rest."""


@secrets.command("rotate")
@run_with_services
async def secrets_rotate(services: Services) -> None:
    """Re-encrypt every stored credential under the first key of ROWCOL_SECRET_KEYS.

    Rotate by putting a new key first (keeping the old ones), running this, then
    dropping the old keys.
    """
    rewritten = await services.credentials.rotate()
    click.echo(f"{rewritten} credential(s) re-encrypted under the primary key")


@cli.group()
def rails() -> None:
    """Rail connections and their health."""


@rails.command("subscribe")
@click.option("--business", "business_id", help="Subscribe one business.")
@click.option("--all", "every", is_flag=True, help="Subscribe every business on the rail.")
@click.option("--rail", type=click.Choice(["ramp"]), default="ramp", show_default=True)
@click.option(
    "--url",
    "base_url",
    required=True,
    help="Where RowCol is reachable from the rail, e.g. https://rowcol.example.com",
)
@run_with_services
async def rails_subscribe(
    services: Services, business_id: str | None, every: bool, rail: str, base_url: str
) -> None:
    """Subscribe RowCol's webhook endpoint on a rail that subscribes per business.

    The rail then sends a handshake, which RowCol answers when it arrives.
    """
    if bool(business_id) == every:
        raise CliFailure("give exactly one of --business ID or --all", EXIT_USAGE)
    chosen = Rail(rail)
    targets = (
        [BusinessId(business_id)] if business_id else await services.credentials.businesses(chosen)
    )
    endpoint = f"{base_url.rstrip('/')}/webhooks/{chosen.value}"
    for target in targets:
        done = await services.subscriptions.subscribe(target, chosen, endpoint)
        if not done.new:
            click.echo(f"{target}: {endpoint} is subscribed already ({done.subscription_id})")
            continue
        click.echo(f"{target}: subscribed {endpoint} ({done.subscription_id}); handshake pending")
        if done.replaced and done.old_ended:
            click.echo(f"  replaced and ended {done.replaced}")
        elif done.replaced:
            click.echo(
                f"  replaced {done.replaced}, which {chosen.value} would not end now: "
                "end it there (its events no longer verify)"
            )
    if not targets:
        click.echo(f"no business has {chosen.value} credentials yet")


@rails.command("health")
@click.option("--advisor", "advisor_id", required=True)
@run_with_services
async def rails_health(services: Services, advisor_id: str) -> None:
    """Connection status of every rail of the advisor's clients, and live call health."""
    actor = await services.advisors.operator_for(AdvisorId(advisor_id))
    found = await services.rail_health.for_advisor(actor, AdvisorId(advisor_id))
    if not found.connections:
        click.echo(f"advisor {advisor_id}'s clients have no rail connections yet")
    for c in found.connections:
        synced = c.last_synced_at.isoformat(timespec="minutes") if c.last_synced_at else "never"
        detail = f"  {c.detail}" if c.detail else ""
        click.echo(
            f"{c.business_id:<14} {c.rail.value:<8} {c.status.value:<16} synced {synced}{detail}"
        )
    for h in found.calls:
        p95 = f"{h.latency_p95_ms:.0f} ms" if h.latency_p95_ms is not None else "-"
        click.echo(
            f"{h.rail:<8} {h.key:<14} calls {h.calls:<5} errors {h.error_rate:.0%}  p95 {p95}"
            f"  circuit {h.circuit.value}"
        )


# -- payments ----------------------------------------------------------------------


@cli.group()
def payments() -> None:
    """Bill payments: their status, chain of custody and reconciliation."""


PAYMENT_STATUSES = [s.value for s in PaymentStatus]


@payments.command("list")
@click.option("--advisor", "advisor_id", required=True)
@click.option("--client", "client_id", required=True)
@click.option("--status", type=click.Choice(PAYMENT_STATUSES), help="Only payments in this state.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@run_with_services
async def payments_list(
    services: Services, advisor_id: str, client_id: str, status: str | None, as_json: bool
) -> None:
    """List a client's payments."""
    actor = await services.advisors.operator_for(AdvisorId(advisor_id))
    found = await services.payments.payments(
        actor,
        AdvisorId(advisor_id),
        BusinessId(client_id),
        statuses=(PaymentStatus(status),) if status else None,
    )
    if as_json:
        click.echo(
            json.dumps(
                [
                    {
                        "payment_id": p.payment_id,
                        "bill_id": p.bill_id,
                        "vendor_id": p.vendor_id,
                        "amount_minor": p.amount.amount_minor,
                        "currency": p.amount.currency,
                        "pay_on": p.pay_on.isoformat(),
                        "status": p.status.value,
                        "rail_payment_id": p.rail_payment_id,
                    }
                    for p in found
                ],
                indent=2,
            )
        )
        return
    if not found:
        click.echo(f"client {client_id} has no payments" + (f" {status}" if status else ""))
        return
    for p in found:
        click.echo(
            f"{p.payment_id:<22} {p.status.value:<15} {p.amount.format():>16}  "
            f"bill {p.bill_id}  pay on {p.pay_on.isoformat()}"
        )
    click.echo(f"{len(found)} payment(s)")


@payments.command("show")
@click.option("--advisor", "advisor_id", required=True)
@click.option("--client", "client_id", required=True)
@click.argument("payment_id")
@run_with_services
async def payments_show(
    services: Services, advisor_id: str, client_id: str, payment_id: str
) -> None:
    """Show a payment and its chain of custody, oldest step first."""
    actor = await services.advisors.operator_for(AdvisorId(advisor_id))
    view = await services.payments.payment(
        actor, AdvisorId(advisor_id), BusinessId(client_id), payment_id
    )
    p = view.payment
    click.echo(f"{p.payment_id}  {p.status.value}  {p.amount.format()}")
    click.echo(f"bill {p.bill_id}  vendor {p.vendor_id}  pay on {p.pay_on.isoformat()}")
    click.echo(f"reference {p.reference}  rail id {p.rail_payment_id or '-'}")
    for reason in (p.blocked_reason, p.failure_reason, p.stuck_reason):
        if reason:
            click.echo(f"reason: {reason}")
    click.echo("custody:")
    for event in view.custody:
        at = event.at.isoformat(timespec="seconds")
        click.echo(f"  {at}  {event.action:<24} {event.actor}")


@payments.command("reconcile")
@click.option("--business", "business_id", help="Only this business (default: every one).")
@run_with_services
async def payments_reconcile(services: Services, business_id: str | None) -> None:
    """Settle payments whose rail answer was lost: link the rail's copy found by
    reference, or send again under the same reference when the rail has none."""
    done = await services.payments.reconcile(
        business_id=BusinessId(business_id) if business_id else None
    )
    for item in done:
        p = item.payment
        rail_id = p.rail_payment_id or "-"
        click.echo(
            f"{p.business_id} {p.payment_id}: {item.action} ({p.status.value}, rail id {rail_id})"
        )
    click.echo(f"{len(done)} payment(s) reconciled")


@cli.group()
def forecast() -> None:
    """Cash forecasts: 4, 8 and 13 weeks ahead, with bands."""


@forecast.command("show")
@click.option("--advisor", "advisor_id", required=True)
@click.option("--client", "client_id", required=True)
@click.option("--weeks", type=click.Choice(["4", "8", "13"]), default="13", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the forecast as JSON.")
@run_with_services
async def forecast_show(
    services: Services, advisor_id: str, client_id: str, weeks: str, as_json: bool
) -> None:
    """Make a fresh forecast for a client (kept as a snapshot) and show it week by week."""
    actor = await services.advisors.operator_for(AdvisorId(advisor_id))
    made = await services.forecasts.forecast(actor, AdvisorId(advisor_id), BusinessId(client_id))
    shown = made.forecast.weeks[: int(weeks)]
    if as_json:
        click.echo(
            json.dumps(
                [
                    {
                        "week": w.week,
                        "starts_on": w.starts_on.isoformat(),
                        "inflows": w.inflows.amount_minor,
                        "outflows": w.outflows.amount_minor,
                        "p10": w.p10.amount_minor,
                        "p50": w.p50.amount_minor,
                        "p90": w.p90.amount_minor,
                        "breach_probability": round(w.breach_probability, 4),
                    }
                    for w in shown
                ],
                indent=2,
            )
        )
        return
    click.echo(f"{'week':<5}{'from':<12}{'in':>14}{'out':>14}{'closing P50':>16}  P10 .. P90")
    for w in shown:
        click.echo(
            f"{w.week:<5}{w.starts_on.isoformat():<12}{w.inflows.format():>14}"
            f"{w.outflows.format():>14}{w.p50.format():>16}  {w.p10.format()} .. "
            f"{w.p90.format()}  breach {w.breach_probability:.0%}"
        )
    low = min(shown, key=lambda w: w.p50.amount_minor)
    click.echo(f"low point {low.p50.format()} in week {low.week} (snapshot {made.snapshot_id})")


@forecast.command("backtest")
@click.option(
    "--input",
    "folder",
    required=True,
    type=click.Path(exists=True, file_okay=False),
    help="A folder of a business's books (docs/formats.md).",
)
@click.option("--origins", default=6, show_default=True, type=click.IntRange(1, 52))
@click.option("--step-weeks", default=4, show_default=True, type=click.IntRange(1, 13))
@click.option("--skip-bad-rows", is_flag=True, help="Test on the readable rows.")
def forecast_backtest(folder: str, origins: int, step_weeks: int, skip_bad_rows: bool) -> None:
    """Rolling-origin backtest of RowCol's projector beside baselines computed in the same
    run (last weeks' average, seasonal naive, exponential smoothing): per horizon,
    accuracy = 1 - WAPE of weekly inflows and outflows, closing error in typical weekly
    outflows, and P10-P90 coverage."""
    services = build(_settings())
    with click.progressbar(length=origins, label="Forecasting from each origin") as bar:
        done = [0]

        def progress(n: int, total: int) -> None:
            bar.update(n - done[0])
            done[0] = n

        try:
            report = services.backtest.run(
                folder,
                origins=origins,
                step_weeks=step_weeks,
                skip_bad_rows=skip_bad_rows,
                progress=progress,
            )
        except Exception as exc:
            failure = as_cli_failure(exc)
            if failure is None:
                raise
            raise failure from None
    click.echo(f"\n{len(report.origins)} origin(s): {', '.join(map(str, report.origins))}")
    click.echo(
        f"{'model':<38}{'weeks':>6}{'in acc':>8}{'out acc':>9}{'closing err':>13}{'P10-P90':>9}"
    )
    for model, bands in report.scores.items():
        for a in bands:
            coverage = f"{a.coverage:.2f}" if model == "rowcol" else "-"
            click.echo(
                f"{model:<38}{a.horizon:>6}{a.inflow_accuracy:>8.2f}{a.outflow_accuracy:>9.2f}"
                f"{a.closing_error:>13.2f}{coverage:>9}"
            )


@cli.group()
def scenario() -> None:
    """What-if scenarios: kept per client, compared with the baseline week by week."""


@scenario.command("add")
@click.option("--advisor", "advisor_id", required=True)
@click.option("--client", "client_id", required=True)
@click.option("--name", required=True, help="1-64 letters, digits, '_', '.', ':' or '-'.")
@click.option("--description", default="")
@click.option(
    "--changes",
    "changes_json",
    required=True,
    help="""A JSON list of changes, each an object with a "kind":
    {"kind": "move_bills", "bills": ["b1"], "to": "2026-12-01"} or "by_days": 14
    (negative: earlier);
    {"kind": "customer_late", "customer": "c1", "days": 30};
    {"kind": "customer_never_pays", "customer": "c1"};
    {"kind": "new_cost", "label": "new hire", "amount": "6500.00", "currency": "USD",
    "every": "monthly" or "biweekly", "from": "2026-12-01", "until": null};
    {"kind": "revenue", "percent": "-15", "from": "2026-12-01"}.""",
)
@run_with_services
async def scenario_add(
    services: Services,
    advisor_id: str,
    client_id: str,
    name: str,
    description: str,
    changes_json: str,
) -> None:
    """Keep a new scenario for a client."""
    from rowcol.core.domain.scenarios import changes_of

    try:
        parsed = json.loads(changes_json)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"not JSON: {exc}", param_hint="--changes") from None
    actor = await services.advisors.operator_for(AdvisorId(advisor_id))
    made = await services.scenarios.create(
        actor,
        AdvisorId(advisor_id),
        BusinessId(client_id),
        name=name,
        changes=changes_of(parsed),
        description=description,
    )
    click.echo(f"scenario {made.name} kept with {len(made.changes)} change(s)")


@scenario.command("list")
@click.option("--advisor", "advisor_id", required=True)
@click.option("--client", "client_id", required=True)
@run_with_services
async def scenario_list(services: Services, advisor_id: str, client_id: str) -> None:
    """A client's scenarios with their changes."""
    from rowcol.core.domain.scenarios import change_to_json

    actor = await services.advisors.operator_for(AdvisorId(advisor_id))
    found = await services.scenarios.list(actor, AdvisorId(advisor_id), BusinessId(client_id))
    for s in found:
        changes = json.dumps([change_to_json(c) for c in s.changes])
        click.echo(f"{s.name}  {s.description}  {changes}")
    click.echo(f"{len(found)} scenario(s)")


@scenario.command("run")
@click.option("--advisor", "advisor_id", required=True)
@click.option("--client", "client_id", required=True)
@click.option("--name", required=True)
@run_with_services
async def scenario_run(services: Services, advisor_id: str, client_id: str, name: str) -> None:
    """Forecast a client with and without a scenario (both kept) and compare week by week."""
    actor = await services.advisors.operator_for(AdvisorId(advisor_id))
    done = await services.scenarios.run(actor, AdvisorId(advisor_id), BusinessId(client_id), name)
    c = done.comparison
    click.echo(f"{'week':<5}{'from':<12}{'baseline P50':>18}{'scenario P50':>18}{'change':>16}")
    for w in c.weeks:
        click.echo(
            f"{w.week:<5}{w.starts_on.isoformat():<12}{w.baseline.format():>18}"
            f"{w.changed.format():>18}{w.difference.format():>16}  breach "
            f"{w.baseline_breach_probability:.0%} -> {w.changed_breach_probability:.0%}"
        )

    def runway(weeks: int | None) -> str:
        return "beyond the horizon" if weeks is None else f"{weeks} week(s)"

    click.echo(
        f"low point {c.baseline_low_point.format()} (week {c.baseline_low_week}) -> "
        f"{c.changed_low_point.format()} (week {c.changed_low_week}); runway "
        f"{runway(c.baseline_runway_weeks)} -> {runway(c.changed_runway_weeks)}"
    )


@cli.group()
def schedule() -> None:
    """Bill schedules: a pay date for every open bill, with its reasons."""


@schedule.command("propose")
@click.option("--advisor", "advisor_id", required=True)
@click.option("--client", "client_id", required=True)
@click.option(
    "--adopt", is_flag=True, help="Propose payments on the scheduled dates, for approval."
)
@click.option("--json", "as_json", is_flag=True, help="Print the schedule as JSON.")
@run_with_services
async def schedule_propose(
    services: Services, advisor_id: str, client_id: str, adopt: bool, as_json: bool
) -> None:
    """Propose pay dates that keep the buffer, take worthwhile discounts and avoid late
    fees, by priority; with --adopt, prepare the payments for approval."""
    actor = await services.advisors.operator_for(AdvisorId(advisor_id))
    made = await services.schedule.propose(actor, AdvisorId(advisor_id), BusinessId(client_id))
    if as_json:
        click.echo(
            json.dumps(
                [
                    {
                        "bill_id": b.bill_id,
                        "vendor": b.vendor_name,
                        "amount": b.amount.amount_minor,
                        "due_date": b.due_date.isoformat(),
                        "pay_on": b.pay_on.isoformat() if b.pay_on else None,
                        "priority": b.priority,
                        "explanation": b.explanation,
                    }
                    for b in made.bills
                ],
                indent=2,
            )
        )
    else:
        for b in made.bills:
            when = b.pay_on.isoformat() if b.pay_on else "not placed"
            click.echo(
                f"{when:<12}{b.bill_id:<20}{b.vendor_name[:28]:<30}{b.amount.format():>14}"
                f"  due {b.due_date.isoformat()}"
            )
            click.echo(f"    {b.explanation}")
        click.echo(
            f"buffer {made.buffer.format()}, lowest balance {made.low_balance.format()}, "
            f"discounts {made.discounts_taken.format()}, late fees {made.late_fees.format()}, "
            f"hurdle rate {made.hurdle_rate:.0%}"
        )
    if adopt and any(b.placed for b in made.bills):
        results = await services.schedule.adopt(actor, AdvisorId(advisor_id), BusinessId(client_id))
        for r in results:
            click.echo(f"{r.bill_id}: {r.outcome.value} {r.payment_id or ''} {r.reason or ''}")


@cli.group()
def collections() -> None:
    """Reminder sequences for open invoices."""


@collections.command("run")
@click.option("--business", "business_id", help="Only this business (default: every client).")
@run_with_services
async def collections_run(services: Services, business_id: str | None) -> None:
    """Send every reminder due today, for every client of every advisor (each step of a
    sequence at most once per invoice, even after a crash)."""
    targets: list[tuple[AdvisorId, BusinessId]] = []
    async with services.uow_factory() as uow:
        for advisor_row in await uow.advisors.list():
            for client, _ in await uow.clients.list_for_advisor(advisor_row.advisor_id):
                if business_id is None or client.business_id == business_id:
                    targets.append((advisor_row.advisor_id, client.business_id))
    if not targets:
        raise CliFailure(
            f"no client {business_id} found" if business_id else "no clients yet", EXIT_NOT_FOUND
        )
    seen: set[BusinessId] = set()
    sent = failed = bounced = 0
    with click.progressbar(targets, label="Running reminder sequences") as bar:
        for advisor_id, target in bar:
            if target in seen:
                continue  # a business shared by two advisors is run once
            seen.add(target)
            actor = await services.advisors.operator_for(advisor_id)
            done = await services.collections.run(actor, advisor_id, target)
            sent += done.sent
            failed += done.failed
            bounced += done.skipped_bounced
            for note in done.notes:
                click.echo(f"\n  {target}: {note}", err=True)
    held = f", {bounced} held for an address that bounced" if bounced else ""
    click.echo(f"{len(seen)} business(es): {sent} reminder(s) sent, {failed} failed{held}")


@cli.group()
def hygiene() -> None:
    """Data-quality issues across every client's synced data."""


@hygiene.command("scan")
@click.option("--business", "business_id", help="Only this business (default: every client).")
@run_with_services
async def hygiene_scan(services: Services, business_id: str | None) -> None:
    """Scan clients for issues: new ones are stored, vanished ones marked fixed."""
    targets = await services.hygiene.targets(BusinessId(business_id) if business_id else None)
    if not targets:
        raise CliFailure(
            f"no client {business_id} found" if business_id else "no clients yet", EXIT_NOT_FOUND
        )
    new = fixed = found = 0
    with click.progressbar(targets, label="Scanning clients for issues") as bar:
        for advisor_id, target in bar:
            actor = await services.advisors.operator_for(advisor_id)
            done = await services.hygiene.scan(actor, advisor_id, target)
            found += done.detected
            new += done.new + done.reopened
            fixed += done.fixed
            for rail in done.unavailable:
                click.echo(f"\n  {target}: not compared: {rail}", err=True)
    click.echo(f"{len(targets)} business(es): {found} issue(s) found, {new} new, {fixed} fixed")


@hygiene.command("list")
@click.option("--advisor", "advisor_id", required=True)
@click.option("--client", "client_id", help="Only this client.")
@click.option(
    "--status", default="open", show_default=True, help="open, snoozed, resolved, fixed or all."
)
@click.option("--kind", help="Only this kind of issue.")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 5000))
@run_with_services
async def hygiene_list(
    services: Services,
    advisor_id: str,
    client_id: str | None,
    status: str,
    kind: str | None,
    limit: int,
) -> None:
    """The advisor's issues across every client, highest priority first."""
    actor = await services.advisors.operator_for(AdvisorId(advisor_id))
    found = await services.hygiene.tray(
        actor,
        AdvisorId(advisor_id),
        status=status,
        business_id=BusinessId(client_id) if client_id else None,
        kind=kind,
        limit=limit,
    )
    if not found:
        click.echo(f"no {status} issues" if status != "all" else "no issues")
        return
    click.echo(f"{'severity':<9} {'client':<24} {'at stake':>16} {'since':<10}  issue")
    for item in found:
        issue = item.issue
        status_note = "" if item.status.value == status else f" [{item.status.value}]"
        click.echo(
            f"{issue.severity.value:<9} {item.client_name[:24]:<24} "
            f"{issue.money_at_stake.format():>16} {issue.since.isoformat():<10}  "
            f"{issue.summary}{status_note}"
        )
        click.echo(f"{'':<9} key {issue.key}")
    click.echo(f"{len(found)} issue(s)")


@cli.group()
def verify() -> None:
    """Following payments across the rails until they agree."""


@verify.command("crossrail")
@click.option("--advisor", "advisor_id", required=True)
@click.option("--client", "client_id", required=True)
@click.option("--json", "as_json", is_flag=True, help="Print the findings as JSON.")
@run_with_services
async def verify_crossrail(
    services: Services, advisor_id: str, client_id: str, as_json: bool
) -> None:
    """Where the books, Ramp, the bank and Stripe disagree for a client, worst first."""
    actor = await services.advisors.operator_for(AdvisorId(advisor_id))
    report = await services.crossrail.findings(actor, AdvisorId(advisor_id), BusinessId(client_id))
    if as_json:
        click.echo(
            json.dumps(
                [
                    {
                        "kind": f.kind.value,
                        "severity": f.severity.value,
                        "money_at_stake": f.money_at_stake.format(),
                        "summary": f.summary,
                        "key": f.key,
                    }
                    for f in report.findings
                ],
                indent=2,
            )
        )
    else:
        for f in report.findings:
            click.echo(f"{f.severity.value:<6} {f.money_at_stake.format():>14}  {f.summary}")
    compared = ", ".join(f"{n} {kind}" for kind, n in report.compared.items())
    click.echo(f"{len(report.findings)} finding(s); compared {compared}", err=as_json)
    for rail in report.unavailable:
        click.echo(f"not compared: {rail}", err=True)


@verify.command("run")
@click.option("--business", "business_id", help="Only this business (default: every one).")
@run_with_services
async def verify_run(services: Services, business_id: str | None) -> None:
    """One pass: reconcile lost rail answers, then move each payment along rail, bank
    and ledger confirmations; a payment past a deadline becomes stuck (and its
    controllers are told)."""
    report = await services.verification.run(
        business_id=BusinessId(business_id) if business_id else None
    )
    for line in report.advanced:
        click.echo(f"  {line}")
    for payment_id in report.stuck:
        click.echo(f"  {payment_id}: stuck", err=True)
    click.echo(
        f"checked {report.checked} payment(s): {len(report.advanced)} moved, "
        f"{len(report.stuck)} stuck, {len(report.failed)} failed, {report.reconciled} reconciled"
    )


# -- serving and the demo -----------------------------------------------------------


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
def serve(host: str, port: int) -> None:
    """Serve the HTTP API and pages."""
    settings = _settings()
    _prepare_database(settings)
    _serve(settings, host, port)


@cli.command()
@click.option("--clients", default=50, show_default=True, type=click.IntRange(1, 5000))
@click.option("--seed", default=7, show_default=True, type=int)
@click.option("--no-serve", is_flag=True, help="Only seed and sync the database, then exit.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65534))
def demo(clients: int, seed: int, no_serve: bool, host: str, port: int) -> None:
    """Seed a deterministic demo firm, sync every client from the simulated rails
    (served on PORT+1), and serve RowCol, printing a login token per role."""
    from rowcol.entrypoints.cli.demo import demo_firm, seed_demo, start_simulators, with_rails

    settings = _settings()
    _prepare_database(settings, always=True)
    firm = demo_firm(clients=clients, seed=seed)
    rig, simulators = start_simulators(firm, port + 1)
    try:
        settings = with_rails(settings, rig, simulators.url)
        base = f"http://{host}:{port}"
        seeded = _run(seed_demo(settings, rig, base))
        click.echo(
            f"\nStart here: {base}/signin   (one click signs you in as any demo user and "
            f"opens on the portfolio console; API reference: {base}/docs)"
        )
        click.echo(f"Simulated rails: {simulators.url}/{{qbo,plaid,ramp,stripe,sendgrid}}")
        for label, advisor_id, value in seeded.tokens:
            click.echo(f"\n  {label} ({advisor_id}):\n    {value}")
        click.echo(
            f"\nTry:  curl -H 'Authorization: Bearer <token>' {base}/advisor/<advisor_id>/clients"
        )
        scene = seeded.scene
        if scene is not None:
            bills = ", ".join(f'"{b}"' for b in scene.bill_ids)
            click.echo(
                f"\nPay a week of bills: {scene.name} ({scene.business_id}) runs close to its "
                f"buffer and has {len(scene.bill_ids)} bills due this week. As the controller:\n"
                f"  curl -X POST -H 'Authorization: Bearer <controller token>' "
                f"-H 'Content-Type: application/json' \\\n"
                f'    -d \'{{"bill_ids": [{bills}], "pay_on": "{scene.pay_on}"}}\' \\\n'
                f"    {base}/advisor/{scene.advisor_id}/clients/{scene.business_id}/approve-bills\n"
                f"then follow them to verified at .../clients/{scene.business_id}/payments"
            )
        planning = seeded.planning
        if planning is not None:
            client = f"{base}/advisor/{planning.advisor_id}/clients/{planning.business_id}"
            click.echo(
                f"\nPlan ahead: {planning.name} ({planning.business_id}) has a 13-week forecast "
                f'(low point {planning.low_point}), the what-if "{planning.scenario}", a '
                f"proposed schedule for {planning.scheduled} bills and {planning.reminders} "
                f"reminder(s) sent. As any staff member:\n"
                f"  {client}/forecast\n  {client}/scenarios\n  {client}/schedule\n"
                f"  {client}/collections"
            )
        click.echo("")
        if not no_serve:
            # The simulated rails push their webhooks to RowCol as the real ones do.
            pump = rig.start_delivering(base)
            try:
                _serve(settings, host, port, sign_in_choices=_sign_in_choices(seeded.tokens))
            finally:
                pump.stop()
    finally:
        simulators.stop()


@cli.command()
@click.option("--clients", default=50, show_default=True, type=click.IntRange(1, 5000))
@click.option("--seed", default=7, show_default=True, type=int)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8001, show_default=True, type=click.IntRange(1, 65535))
def simulate(clients: int, seed: int, host: str, port: int) -> None:
    """Serve every rail simulator (QBO, Plaid, Ramp, Stripe, SendGrid) seeded from the demo firm.

    Faults on demand: POST /_sim/faults {"kind": "rate_limit"|"server_error"|"latency"|
    "drop"|"drop_before"|"expired_token", "path": REGEX, "times": N}; DELETE clears them.
    """
    import uvicorn

    from rowcol.entrypoints.cli.demo import demo_firm
    from rowcol.simulators.rig import SimulatorRig

    rig = SimulatorRig(demo_firm(clients=clients, seed=seed))
    click.echo(
        f"simulators on http://{host}:{port}/{{qbo,plaid,ramp,stripe,sendgrid}}  (Ctrl+C to stop)"
    )
    click.echo("point RowCol at them with:")
    for name, value in rig.environment(f"http://{host}:{port}").items():
        click.echo(f"  export {name}={value}")
    uvicorn.run(rig.hub(), host=host, port=port, log_level="warning")


def _prepare_database(settings: Settings, *, always: bool = False) -> None:
    """The embedded database upgrades itself; a shared one is upgraded by `db upgrade`."""
    if settings.is_sqlite or always:
        _run(migrate(settings))


def _serve(
    settings: Settings,
    host: str,
    port: int,
    *,
    sign_in_choices: Sequence[tuple[str, str]] = (),
) -> None:
    import uvicorn

    from rowcol.entrypoints.http.app import create_app

    app = create_app(build(settings), sign_in_choices=sign_in_choices)
    click.echo(f"serving on http://{host}:{port}  (Ctrl+C to stop)")
    uvicorn.run(app, host=host, port=port, log_level="warning")


def _sign_in_choices(tokens: Sequence[tuple[str, str, str]]) -> list[tuple[str, str]]:
    """A button label ("Name (role)") and the token, per demo user: `who` reads
    "role: Name <email>"."""
    out = []
    for who, _, token in tokens:
        role, _, rest = who.partition(": ")
        name = rest.split(" <", 1)[0] or who
        out.append((f"{name} ({role.replace('_', ' ')})", token))
    return out


def _redact(url: str) -> str:
    head, sep, tail = url.partition("@")
    if not sep or "://" not in head:
        return url
    scheme, _, creds = head.partition("://")
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}:***@{tail}" if ":" in creds else url


def main() -> None:
    # Each rail request would otherwise be logged at INFO by the HTTP client.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("stripe").setLevel(logging.WARNING)
    cli()
