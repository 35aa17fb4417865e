"""The portfolio console's speed on PostgreSQL: 1,000 demo clients under one advisor.

Seeds a fresh database (created and dropped here) with what the console reads: the demo
generator's businesses, their latest balances, open bills and invoices, a 13-week
forecast each, payments in flight, rail connections and, where the schema has them,
hygiene issues. Then serves, one at a time in a process of its own under uvicorn:
  - RowCol (`create_app`), asked for the console as a page and as JSON;
  - a minimal raw ASGI endpoint running the console's own compiled SQL
    (`portfolio_statement()`) through asyncpg and returning the rows as JSON.
Each is driven by httpx (keep-alive, a few concurrent clients, on localhost). Latency is
measured in the server, around the whole application (first byte of the request to the
last byte of the response, as an ASGI wrapper sees them); the client's view is printed
beside it. Targets: console p95 at most 100 ms; console throughput at least 0.5 x the
raw endpoint's, measured in the same run.
Run: `scripts/dev bench --only console` (or `.venv/bin/python bench/console.py
[--clients N] [--requests N] [--concurrency C] [--postgres URL]`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import httpx
import msgspec

DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"
P95_TARGET_MS = 100.0
RATIO_TARGET = 0.5
TIMINGS_PATH = "/_bench/timings"
RAW_PATH = "/portfolio"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]


# -- serving (each in a process of its own) ----------------------------------------------


class Timed:
    """Wraps an ASGI app and keeps each request's time in the server, from the call to the
    response's last byte; `GET /_bench/timings` hands them over (seconds) and forgets them."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.times: list[float] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"] == TIMINGS_PATH:
            body = msgspec.json.encode(self.times)
            self.times = []
            await _respond(send, 200, body)
            return
        started = time.perf_counter()

        async def timed_send(message: Message) -> None:
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                self.times.append(time.perf_counter() - started)

        await self.app(scope, receive, timed_send)


async def _respond(send: Send, status: int, body: bytes) -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def compiled_console_sql(advisor_id: str, today: date) -> tuple[str, tuple[Any, ...]]:
    """The console's statement as asyncpg runs it: SQL text and positional values."""
    from sqlalchemy.dialects.postgresql.asyncpg import dialect

    from rowcol.adapters.sql.portfolio import portfolio_parameters, portfolio_statement

    compiled = portfolio_statement().compile(dialect=dialect())  # type: ignore[no-untyped-call]
    state = compiled.construct_expanded_state(portfolio_parameters(advisor_id, today))
    return state.statement, tuple(state.positional_parameters)


class RawConsole:
    """The baseline: the same SQL through an asyncpg pool, the rows as JSON, nothing else."""

    def __init__(self, dsn: str, advisor_id: str) -> None:
        self.dsn = dsn
        self.advisor_id = advisor_id
        self.pool: asyncpg.Pool | None = None
        self.sql, self.args = compiled_console_sql(advisor_id, datetime.now(UTC).date())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    self.pool = await asyncpg.create_pool(self.dsn, min_size=5, max_size=5)
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    if self.pool is not None:
                        await self.pool.close()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http" or self.pool is None:
            return
        if scope["path"] != RAW_PATH:
            await _respond(send, 404, b'{"detail": "not found"}')
            return
        async with self.pool.acquire() as connection:
            rows = await connection.fetch(self.sql, *self.args)
        await _respond(send, 200, msgspec.json.encode([dict(row) for row in rows]))


def serve(kind: str, database_url: str, port: int, advisor_id: str) -> None:
    """Serves RowCol or the raw endpoint on 127.0.0.1:`port` until terminated."""
    import uvicorn

    app: App
    if kind == "rowcol":
        from rowcol.bootstrap import Settings, build
        from rowcol.entrypoints.http.app import create_app

        services = build(Settings.from_env())
        # The timers are pushed past the run so that only requests are measured.
        app = create_app(services, inbox_interval=86_400, verify_interval=86_400)  # type: ignore[assignment]
    else:
        app = RawConsole(_plain_dsn(database_url), advisor_id)
    uvicorn.run(Timed(app), host="127.0.0.1", port=port, log_level="warning", access_log=False)


def _plain_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


# -- seeding ------------------------------------------------------------------------------


@dataclasses.dataclass
class Seeded:
    advisor_id: str
    advisor_user: str
    counts: dict[str, int]
    seconds: float


async def seed(url: str, *, clients: int, seed_value: int, history_months: int) -> Seeded:
    """Writes a demo firm whose `clients` businesses all belong to its first advisor,
    keeping only what the console reads, in bulk."""
    from sqlalchemy import insert

    from rowcol.adapters.sql import tables
    from rowcol.adapters.sql.engine import make_engine
    from rowcol.adapters.sql.repository import SqlUnitOfWorkFactory
    from rowcol.core.domain.approval import default_policy
    from rowcol.core.domain.cash import runway
    from rowcol.core.domain.connections import ConnectionStatus, RailConnection
    from rowcol.core.domain.forecast import CashFlowProjector, ForecastInput
    from rowcol.core.domain.ids import BillId, BusinessId, PaymentId, Rail, VendorId
    from rowcol.core.domain.money import Money
    from rowcol.core.domain.payments import Payment, PaymentStatus, payment_reference
    from rowcol.core.domain.records import BillStatus, InvoiceStatus
    from rowcol.core.domain.tenancy import Role
    from rowcol.demodata import generate_firm
    from rowcol.ports.repository import ForecastSnapshot

    started = time.perf_counter()
    now = datetime.now(UTC)
    today = now.date()
    firm = generate_firm(
        clients=clients, seed=seed_value, today=today, history_months=history_months
    )
    lead = firm.advisors[0].advisor_id
    user = next(u for u in firm.users if u.advisor_id == lead and u.role is Role.ADVISOR)
    counts: dict[str, int] = {}
    factory = SqlUnitOfWorkFactory(make_engine(url))
    try:
        async with factory() as uow:
            await uow.firms.add(firm.firm)
            for advisor in firm.advisors:
                await uow.advisors.add(advisor)
            for staff in firm.users:
                await uow.users.add(staff)
            for business in firm.businesses:
                await uow.businesses.add(business)
            for client in firm.clients:
                await uow.clients.add(dataclasses.replace(client, advisor_id=lead))
            await uow.commit()
        counts["clients"] = len(firm.clients)

        latest: dict[str, list[Any]] = {}
        bills: list[Any] = []
        invoices: list[Any] = []
        for data in firm.records:
            newest: dict[str, Any] = {}
            for balance in data.balances:
                seen = newest.get(balance.account_id)
                if seen is None or balance.as_of > seen.as_of:
                    newest[balance.account_id] = balance
            latest[data.business_id] = list(newest.values())
            bills += [b for b in data.bills if b.status is BillStatus.OPEN]
            invoices += [
                i for i in data.invoices if i.status in (InvoiceStatus.OPEN, InvoiceStatus.DISPUTED)
            ]
        async with factory() as uow:
            await uow.balances.add([b for found in latest.values() for b in found])
            await uow.bills.upsert(bills)
            await uow.invoices.upsert(invoices)
            await uow.commit()
        counts["balances"] = sum(len(found) for found in latest.values())
        counts["open bills"] = len(bills)
        counts["open invoices"] = len(invoices)

        projector = CashFlowProjector()
        snapshots: list[ForecastSnapshot] = []
        for data, business in zip(firm.records, firm.businesses, strict=True):
            currency = business.currency
            cash = Money(
                sum(
                    b.current.amount_minor
                    for b in latest[data.business_id]
                    if b.current.currency == currency
                ),
                currency,
            )
            recent = runway(cash, data.bank_transactions, today=today)
            buffer = default_policy(data.business_id, currency).buffer.amount(
                recent.average_weekly_outflow
            )
            forecast = projector.project(
                ForecastInput(
                    business_id=data.business_id,
                    currency=currency,
                    as_of=today,
                    opening_balance=cash,
                    bills=data.bills,
                    invoices=data.invoices,
                    transactions=data.bank_transactions,
                    reserves=data.reserves,
                    buffer=buffer,
                ),
                weeks=13,
            )
            snapshots.append(
                ForecastSnapshot(
                    snapshot_id=f"fc-{secrets.token_hex(8)}",
                    business_id=data.business_id,
                    created_at=now,
                    forecast=forecast,
                    buffer=buffer,
                )
            )
        async with factory() as uow:
            for snapshot in snapshots:
                await uow.forecasts.add(snapshot)
            await uow.commit()
        counts["forecasts"] = len(snapshots)

        # Payments in flight on one client in five: one awaiting approval, one submitted
        # (late on one in three) and, now and then, one stuck.
        payments: list[Payment] = []
        by_business: dict[BusinessId, list[Any]] = {}
        for bill in bills:
            by_business.setdefault(bill.business_id, []).append(bill)
        for n, (business_id, open_bills) in enumerate(sorted(by_business.items())):
            if n % 5 or len(open_bills) < 3:
                continue
            plan = [PaymentStatus.PROPOSED, PaymentStatus.SUBMITTED]
            if n % 15 == 0:
                plan.append(PaymentStatus.STUCK)
            for status, bill in zip(plan, open_bills, strict=False):
                payment_id = PaymentId(f"pay-{secrets.token_hex(6)}")
                sent = now - timedelta(days=9 if n % 3 == 0 else 1)
                submitted = status is not PaymentStatus.PROPOSED
                payments.append(
                    Payment(
                        payment_id=payment_id,
                        business_id=business_id,
                        bill_id=BillId(bill.bill_id),
                        vendor_id=VendorId(bill.vendor_id),
                        amount=bill.balance,
                        pay_on=sent.date() if submitted else today,
                        reference=payment_reference(payment_id),
                        status=status,
                        created_at=sent,
                        updated_at=sent,
                        submitted_at=sent if submitted else None,
                        stuck_reason="no rail confirmation"
                        if status is PaymentStatus.STUCK
                        else None,
                    )
                )
        async with factory() as uow:
            for payment in payments:
                await uow.payments.add(payment)
            await uow.commit()
        counts["payments"] = len(payments)

        connections: list[RailConnection] = []
        for n, business in enumerate(firm.businesses):
            for rail in (Rail.QBO, Rail.PLAID, Rail.STRIPE, Rail.RAMP):
                health = ConnectionStatus.OK
                if rail is Rail.RAMP:
                    health = ConnectionStatus.NEVER_SYNCED
                elif n % 17 == 0 and rail is Rail.PLAID:
                    health = ConnectionStatus.NEEDS_ATTENTION
                elif n % 23 == 0 and rail is Rail.QBO:
                    health = ConnectionStatus.FAILING
                connections.append(
                    RailConnection(
                        business_id=business.business_id,
                        rail=rail,
                        status=health,
                        account=f"{rail.value}-{business.business_id}",
                        last_synced_at=None
                        if health is ConnectionStatus.NEVER_SYNCED
                        else now - timedelta(hours=n % 30),
                    )
                )
        async with factory() as uow:
            for link in connections:
                await uow.connections.upsert(link)
            await uow.commit()
        counts["rail connections"] = len(connections)

        hygiene = getattr(tables, "hygiene_issues", None)
        if hygiene is not None:
            rows = _hygiene_rows(firm.businesses, bills, now)
            engine = make_engine(url)
            try:
                async with engine.begin() as connection:
                    await connection.execute(insert(hygiene), rows)
            finally:
                await engine.dispose()
            counts["hygiene issues"] = len(rows)
    finally:
        await factory.aclose()
    # Fresh statistics, as autovacuum would gather them on a live database.
    await _admin(_plain_dsn(url), "ANALYZE")
    return Seeded(lead, user.user_id, counts, time.perf_counter() - started)


def _hygiene_rows(businesses: Any, bills: list[Any], now: datetime) -> list[dict[str, Any]]:
    """A few open issues on two clients in three: overdue bills, each a row as the hygiene
    table keeps it (its columns as they are; the engine's own rules are not run here)."""
    severities = ("high", "medium", "low")
    first_bill: dict[str, Any] = {}
    for bill in bills:
        first_bill.setdefault(bill.business_id, bill)
    rows: list[dict[str, Any]] = []
    for n, business in enumerate(businesses):
        bill = first_bill.get(business.business_id)
        if bill is None or n % 3 == 2:
            continue
        for k in range(1 + n % 3):
            rows.append(
                {
                    "business_id": business.business_id,
                    "key": f"bench:{bill.bill_id}:{k}",
                    "kind": "bill_overdue",
                    "severity": severities[(n + k) % 3],
                    "money_minor": bill.balance.amount_minor,
                    "money_currency": bill.balance.currency,
                    "since": now.date() - timedelta(days=3 + k),
                    "summary": f"Bill {bill.bill_id} is past due",
                    "records": [bill.bill_id],
                    "priority": float(10 - k),
                    "first_detected_at": now,
                    "last_detected_at": now,
                    "status": "open",
                    "snoozed_until": None,
                    "note": "",
                    "changed_by": None,
                    "changed_at": None,
                    "version": 1,
                }
            )
    return rows


# -- measuring ---------------------------------------------------------------------------


@dataclasses.dataclass
class Pass:
    """One pass of GETs: each request's time in the server and at the client (ms)."""

    server_ms: list[float]
    client_ms: list[float]
    seconds: float
    statuses: dict[int, int]
    body_bytes: int

    @property
    def ok(self) -> bool:
        return set(self.statuses) == {200} and len(self.server_ms) == len(self.client_ms)

    @property
    def rps(self) -> float:
        return len(self.client_ms) / self.seconds if self.seconds else 0.0

    def p(self, q: float, *, server: bool = True) -> float:
        values = sorted(self.server_ms if server else self.client_ms)
        if not values:
            return float("nan")
        return values[min(len(values) - 1, round(q * (len(values) - 1)))]


@dataclasses.dataclass
class Run:
    """An endpoint measured twice: one client at a time (latency), then several at once
    (throughput, and the latency that queueing on a busy server adds)."""

    label: str
    alone: Pass
    busy: Pass


async def drive(
    base: str, path: str, headers: dict[str, str], *, requests: int, concurrency: int
) -> Pass:
    """`requests` GETs of `path` from `concurrency` keep-alive clients."""
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits, timeout=60) as c:
        await c.get(TIMINGS_PATH)
        statuses: dict[int, int] = {}
        client_ms: list[float] = []
        sizes: list[int] = []
        left = iter(range(requests))

        async def worker() -> None:
            for _ in left:
                sent = time.perf_counter()
                response = await c.get(path)
                client_ms.append((time.perf_counter() - sent) * 1000)
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
                sizes.append(len(response.content))

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        seconds = time.perf_counter() - started
        server = (await c.get(TIMINGS_PATH)).json()
    size = int(statistics.fmean(sizes)) if sizes else 0
    return Pass([s * 1000 for s in server], client_ms, seconds, statuses, size)


def measure(
    base: str, path: str, headers: dict[str, str], *, label: str, args: argparse.Namespace
) -> Run:
    asyncio.run(drive(base, path, headers, requests=args.warmup, concurrency=1))
    alone = asyncio.run(drive(base, path, headers, requests=args.requests, concurrency=1))
    busy = asyncio.run(
        drive(base, path, headers, requests=args.requests, concurrency=args.concurrency)
    )
    return Run(label, alone, busy)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@contextlib.contextmanager
def _server(kind: str, url: str, advisor_id: str, env: dict[str, str]) -> Any:
    port = _free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            __file__,
            "--serve",
            kind,
            "--database",
            url,
            "--port",
            str(port),
            "--advisor",
            advisor_id,
        ],
        env=env,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the {kind} server exited with {process.returncode}")
            with contextlib.suppress(httpx.HTTPError):
                httpx.get(f"{base}{TIMINGS_PATH}", timeout=2)
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"the {kind} server did not start")
            time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


# -- the run -----------------------------------------------------------------------------


async def _postgres_problem(admin: str) -> str | None:
    try:
        connection = await asyncpg.connect(admin, timeout=5)
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        return f"{type(exc).__name__}: {exc}"
    await connection.close()
    return None


async def _admin(admin: str, sql: str) -> None:
    connection = await asyncpg.connect(admin, timeout=10)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


def _database_url(admin: str, name: str) -> str:
    head, _, _ = admin.rpartition("/")
    return f"{head.replace('postgresql://', 'postgresql+asyncpg://', 1)}/{name}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--history-months", type=int, default=3)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument(
        "--postgres",
        default=os.environ.get("ROWCOL_BENCH_POSTGRES_URL", DEFAULT_POSTGRES),
        help="a PostgreSQL server's maintenance database; a bench database is made beside it",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the bench database afterwards (to look into)"
    )
    parser.add_argument("--serve", choices=("rowcol", "raw"), help=argparse.SUPPRESS)
    parser.add_argument("--database", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--advisor", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.database, args.port, args.advisor)
        return

    problem = asyncio.run(_postgres_problem(args.postgres))
    if problem is not None:
        print(
            f"PostgreSQL is not reachable at {args.postgres} ({problem}).\n"
            "Start it, e.g. `pg_ctlcluster $(ls /etc/postgresql | head -n 1) main start` "
            "(as .ci/run does), or name another server with --postgres or "
            "ROWCOL_BENCH_POSTGRES_URL.",
            file=sys.stderr,
        )
        sys.exit(2)

    name = f"rowcol_bench_{os.getpid()}"
    url = _database_url(args.postgres, name)
    asyncio.run(_admin(args.postgres, f'CREATE DATABASE "{name}"'))
    try:
        _measure(args, url)
    finally:
        if args.keep:
            print(f"\nkept the database: {_plain_dsn(url)}")
        else:
            asyncio.run(_admin(args.postgres, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _measure(args: argparse.Namespace, url: str) -> None:
    from rowcol.adapters.sql.migrate import upgrade_to_head
    from rowcol.bootstrap import Settings, build
    from rowcol.core.domain.ids import UserId

    asyncio.run(upgrade_to_head(url))
    seeded = asyncio.run(
        seed(
            url,
            clients=args.clients,
            seed_value=args.seed,
            history_months=args.history_months,
        )
    )
    shown = ", ".join(f"{n} {what}" for what, n in seeded.counts.items())
    print(f"seeded in {seeded.seconds:.1f} s: {shown}")

    with tempfile.TemporaryDirectory(prefix="rowcol-bench-") as data_dir:
        env = {
            **os.environ,
            "ROWCOL_DATABASE_URL": url,
            "ROWCOL_DATA_DIR": data_dir,
            "ROWCOL_JWT_KEYS": f"bench:{secrets.token_urlsafe(40)}",
        }
        settings = Settings.from_env(env)

        async def token() -> str:
            services = build(settings)
            try:
                actor = await services.advisors.actor_for_user(UserId(seeded.advisor_user))
                return services.tokens.issue(actor, ttl=timedelta(hours=1))
            finally:
                await services.aclose()

        bearer = {"Authorization": f"Bearer {asyncio.run(token())}"}
        console = f"/advisor/{seeded.advisor_id}/portfolio"
        runs: list[Run] = []
        with _server("rowcol", url, seeded.advisor_id, env) as base:
            for label, accept in (("console page", "text/html"), ("console JSON", None)):
                headers = {**bearer, "Accept": accept or "application/json"}
                runs.append(measure(base, console, headers, label=label, args=args))
        with _server("raw", url, seeded.advisor_id, env) as base:
            runs.append(measure(base, RAW_PATH, {}, label="raw asyncpg", args=args))
    _report(runs, args)


def _report(runs: list[Run], args: argparse.Namespace) -> None:
    print(
        f"\n{args.requests} requests per endpoint and pass, keep-alive, on localhost, after "
        f"{args.warmup} to warm up. Latency in ms, measured in the server around the whole "
        "app\n(the client's p95 beside it); 'alone': one client at a time; 'busy': "
        f"{args.concurrency} clients at once.\n"
    )
    print(
        f"{'endpoint':<14}{'status':>10}{'bytes':>9}{'p50':>8}{'p95':>8}{'client':>8}"
        f"{'busy p95':>10}{'req/s':>8}{'busy req/s':>12}"
    )
    for run in runs:
        a, b = run.alone, run.busy
        both = {c: a.statuses.get(c, 0) + b.statuses.get(c, 0) for c in a.statuses | b.statuses}
        codes = ",".join(f"{code}x{n}" for code, n in sorted(both.items()))
        print(
            f"{run.label:<14}{codes:>10}{a.body_bytes:>9}{a.p(0.5):>8.1f}{a.p(0.95):>8.1f}"
            f"{a.p(0.95, server=False):>8.1f}{b.p(0.95):>10.1f}{a.rps:>8.1f}{b.rps:>12.1f}"
        )
    raw = runs[-1]
    print(f"\n{'measure':<40}{'value':>9}{'target':>10}{'ratio':>8}  met")
    for run in runs[:-1]:
        if not (run.alone.ok and run.busy.ok):
            print(f"{run.label}: not every request was answered 200; no figures for it")
            continue
        p95 = run.alone.p(0.95)
        _row(
            f"{run.label} server p95, alone (ms)",
            p95,
            f"<= {P95_TARGET_MS:.0f}",
            p95 / P95_TARGET_MS,
            p95 <= P95_TARGET_MS,
        )
        if not (raw.alone.ok and raw.busy.ok):
            print("raw asyncpg: not every request was answered 200; no ratio")
            continue
        ratio = run.busy.rps / raw.busy.rps
        _row(
            f"{run.label} busy req/s vs raw asyncpg",
            ratio,
            f">= {RATIO_TARGET}",
            ratio / RATIO_TARGET,
            ratio >= RATIO_TARGET,
        )


def _row(measure: str, value: float, target: str, ratio: float, met: bool) -> None:
    print(f"{measure:<40}{value:>9.2f}{target:>10}{ratio:>8.2f}  {'yes' if met else 'NO'}")


if __name__ == "__main__":
    main()
