"""The portfolio console's rows in one SQL statement.

`portfolio_statement()` builds the statement once; its bind parameters come from
`portfolio_parameters(advisor_id, today, deadlines)`, so the same SQL can be compiled and
run outside the unit of work (a benchmark through raw asyncpg). The forecast columns are
the summary `SqlForecasts.add` keeps beside each snapshot (migration 0009), so no
forecast JSON is read here.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Final, Protocol

from sqlalchemy import (
    ColumnElement,
    CursorResult,
    Date,
    DateTime,
    Executable,
    Integer,
    Select,
    String,
    and_,
    bindparam,
    case,
    func,
    literal_column,
    null,
    or_,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite

from rowcol.adapters.sql import tables as t
from rowcol.core.domain.connections import ConnectionStatus
from rowcol.core.domain.hygiene import IssueStatus, Severity
from rowcol.core.domain.ids import AdvisorId, BusinessId, Rail
from rowcol.core.domain.money import Money
from rowcol.core.domain.payments import PaymentStatus, VerificationDeadlines, VerificationStep
from rowcol.core.domain.portfolio import (
    CRITICAL,
    ClientFacts,
    ClientSignals,
    ForecastSummary,
    RailHealth,
    late_cutoff,
)
from rowcol.core.domain.records import Balance, InvoiceStatus
from rowcol.ports.repository import PortfolioReadModel

RAILS: tuple[Rail, ...] = tuple(sorted((r for r in Rail if r is not Rail.ROWCOL), key=str))
"""The rails a business may connect, one pair of columns each."""

_AWAITING_STEP = {
    PaymentStatus.SUBMITTED: VerificationStep.RAIL,
    PaymentStatus.RAIL_CONFIRMED: VerificationStep.BANK,
    PaymentStatus.BANK_CONFIRMED: VerificationStep.LEDGER,
}
"""The confirmation a submitted payment waits for next, by status."""
_OPEN_INVOICE = (InvoiceStatus.OPEN.value, InvoiceStatus.DISPUTED.value)


def _text(value: str) -> ColumnElement[str]:
    """A constant of RowCol's own (a status, a rail) written into the SQL, so the only
    bind parameters are the ones `portfolio_parameters` gives."""
    if not value.replace("_", "").isalnum():
        raise ValueError(f"not a plain constant: {value!r}")
    return literal_column(f"'{value}'", String)


_ONE = literal_column("1", Integer)
_INSTANT = DateTime(timezone=True)
"""Aggregated instants are read as the driver gives them (`_instant` makes them UTC):
a thousand rows skip the column type's per-value conversion."""
_BAD_RAILS = (ConnectionStatus.FAILING, ConnectionStatus.NEEDS_ATTENTION)
_ZERO = literal_column("0", Integer)


class _Db(Protocol):
    @property
    def dialect(self) -> str: ...

    async def read(
        self, statement: Executable, params: Mapping[str, Any] | None = None
    ) -> CursorResult[Any]: ...

    async def write_many(
        self, statement: Executable, rows: Sequence[Mapping[str, Any]]
    ) -> None: ...


async def keep_newest_balances(db: _Db, balances: Sequence[Balance]) -> None:
    """Keeps `newest_balances` at each account's newest balance as balances are added
    (an equal `as_of` replaces, as it does in `balances`); in the caller's transaction."""
    newest: dict[tuple[str, str], Balance] = {}
    for balance in balances:
        key = (balance.business_id, balance.account_id)
        if key not in newest or balance.as_of >= newest[key].as_of:
            newest[key] = balance
    if not newest:
        return
    table = t.newest_balances
    insert = postgresql.insert(table) if db.dialect == "postgresql" else sqlite.insert(table)
    statement = insert.on_conflict_do_update(
        index_elements=["business_id", "account_id"],
        set_={
            "as_of": insert.excluded.as_of,
            "current_minor": insert.excluded.current_minor,
            "current_currency": insert.excluded.current_currency,
        },
        where=table.c.as_of <= insert.excluded.as_of,
    )
    rows = [
        {
            "business_id": b.business_id,
            "account_id": b.account_id,
            "as_of": b.as_of,
            "current_minor": b.current.amount_minor,
            "current_currency": b.current.currency,
        }
        for b in newest.values()
    ]
    await db.write_many(statement, rows)


def portfolio_parameters(
    advisor_id: str, today: date, deadlines: VerificationDeadlines | None = None
) -> dict[str, Any]:
    """The statement's bind values: the advisor, today, and per confirmation step the
    last day a waiting payment may have started and still be on time."""
    deadlines = deadlines or VerificationDeadlines()
    out: dict[str, Any] = {"advisor_id": advisor_id, "today": today}
    for step in VerificationStep:
        cutoff = late_cutoff(today, step, deadlines)
        out[f"{step.value}_cutoff"] = cutoff
        out[f"{step.value}_cutoff_end"] = datetime.combine(
            cutoff + timedelta(days=1), time(0), tzinfo=UTC
        )
    return out


def portfolio_statement() -> Select[Any]:
    """Every client of `:advisor_id` with its cash, latest baseline forecast summary,
    payment counts, overdue receivables and rail connections, ordered by business id."""
    advisor = bindparam("advisor_id", type_=String)
    today = bindparam("today", type_=Date)
    c, b = t.clients.c, t.businesses.c
    mine = select(t.clients.c.business_id).where(c.advisor_id == advisor).scalar_subquery()

    # Each account's newest balance, totalled per business and currency; the outer join
    # keeps the business's own currency.
    nb = t.newest_balances.c
    cash = (
        select(
            nb.business_id,
            nb.current_currency.label("currency"),
            func.sum(nb.current_minor).label("cash_minor"),
            func.min(nb.as_of, type_=_INSTANT).label("cash_as_of"),
        )
        .where(nb.business_id.in_(mine))
        .group_by(nb.business_id, nb.current_currency)
        .cte("cash")
    )

    p = t.payments.c
    late = [
        and_(
            p.status == _text(status.value),
            p.pay_on <= bindparam(f"{step.value}_cutoff", type_=Date),
            p.submitted_at < bindparam(f"{step.value}_cutoff_end", type_=t.UtcDateTime),
        )
        for status, step in _AWAITING_STEP.items()
    ]
    pays = (
        select(
            p.business_id,
            func.sum(
                case((p.status == _text(PaymentStatus.PROPOSED.value), _ONE), else_=_ZERO)
            ).label("awaiting"),
            func.sum(
                case((or_(p.status == _text(PaymentStatus.STUCK.value), *late), _ONE), else_=_ZERO)
            ).label("stuck"),
        )
        .where(
            p.business_id.in_(mine),
            p.status.in_(
                [_text(s.value) for s in (PaymentStatus.PROPOSED, PaymentStatus.STUCK)]
                + [_text(s.value) for s in _AWAITING_STEP]
            ),
        )
        .group_by(p.business_id)
        .cte("pays")
    )

    inv = t.invoices.c
    overdue = (
        select(
            inv.business_id,
            inv.balance_currency.label("currency"),
            func.count().label("overdue_count"),
            func.sum(inv.balance_minor).label("overdue_minor"),
        )
        .where(
            inv.business_id.in_(mine),
            inv.status.in_([_text(v) for v in _OPEN_INVOICE]),
            inv.due_date < today,
        )
        .group_by(inv.business_id, inv.balance_currency)
        .cte("overdue")
    )

    rc = t.rail_connections.c
    rails = (
        select(
            rc.business_id,
            *(
                func.max(case((rc.rail == _text(rail.value), rc.status), else_=null())).label(
                    f"{rail.value}_status"
                )
                for rail in RAILS
            ),
            *(
                func.max(
                    case((rc.rail == _text(rail.value), rc.last_synced_at), else_=null()),
                    type_=_INSTANT,
                ).label(f"{rail.value}_synced")
                for rail in RAILS
            ),
            *(
                func.sum(case((rc.status == _text(status.value), _ONE), else_=_ZERO)).label(
                    f"rails_{status.value}"
                )
                for status in _BAD_RAILS
            ),
        )
        .where(rc.business_id.in_(mine))
        .group_by(rc.business_id)
        .cte("rails")
    )

    hi = t.hygiene_issues.c
    hygiene = (
        select(
            hi.business_id,
            *(
                func.sum(case((hi.severity == _text(level.value), _ONE), else_=_ZERO)).label(
                    f"hygiene_{level.value}"
                )
                for level in Severity
            ),
            func.count().label("hygiene_open"),
        )
        .where(
            hi.business_id.in_(mine),
            or_(
                hi.status == _text(IssueStatus.OPEN.value),
                and_(hi.status == _text(IssueStatus.SNOOZED.value), hi.snoozed_until <= today),
            ),
        )
        .group_by(hi.business_id)
        .cte("hygiene")
    )

    fs = t.forecast_snapshots.c
    latest_forecast = (
        select(fs.snapshot_id)
        .where(fs.business_id == b.business_id, fs.scenario.is_(None))
        .order_by(fs.created_at.desc(), fs.snapshot_id.desc())
        .limit(_ONE)
        .correlate(t.businesses)
        .scalar_subquery()
    )

    return (
        select(
            b.business_id,
            b.name,
            b.currency,
            cash.c.cash_minor,
            cash.c.cash_as_of,
            fs.as_of.label("forecast_as_of"),
            fs.weeks.label("forecast_weeks"),
            fs.low_point_minor,
            fs.low_point_currency,
            fs.low_week,
            fs.breach_probability,
            fs.breach_week,
            fs.runway_weeks,
            fs.buffer_minor,
            fs.buffer_currency,
            func.coalesce(pays.c.awaiting, _ZERO).label("awaiting"),
            func.coalesce(pays.c.stuck, _ZERO).label("stuck"),
            func.coalesce(overdue.c.overdue_count, _ZERO).label("overdue_count"),
            overdue.c.overdue_minor,
            *(rails.c[f"{rail.value}_status"] for rail in RAILS),
            *(rails.c[f"{rail.value}_synced"] for rail in RAILS),
            *(
                func.coalesce(hygiene.c[f"hygiene_{level.value}"], _ZERO).label(
                    f"hygiene_{level.value}"
                )
                for level in Severity
            ),
            func.coalesce(hygiene.c.hygiene_open, _ZERO).label("hygiene_open"),
            *(
                func.coalesce(rails.c[f"rails_{status.value}"], _ZERO).label(
                    f"rails_{status.value}"
                )
                for status in _BAD_RAILS
            ),
        )
        .select_from(
            t.clients.join(t.businesses, b.business_id == c.business_id)
            .outerjoin(
                cash, and_(cash.c.business_id == b.business_id, cash.c.currency == b.currency)
            )
            .outerjoin(
                t.forecast_snapshots,
                and_(fs.business_id == b.business_id, fs.snapshot_id == latest_forecast),
            )
            .outerjoin(pays, pays.c.business_id == b.business_id)
            .outerjoin(
                overdue,
                and_(overdue.c.business_id == b.business_id, overdue.c.currency == b.currency),
            )
            .outerjoin(rails, rails.c.business_id == b.business_id)
            .outerjoin(hygiene, hygiene.c.business_id == b.business_id)
        )
        .where(c.advisor_id == advisor)
        .order_by(b.business_id)
    )


def _instant(value: Any) -> datetime | None:
    """Aggregates can lose the column type on SQLite; its UTC text is read back."""
    if value is None:
        return None
    if isinstance(value, datetime) and value.tzinfo is UTC:
        return value
    found = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return found.replace(tzinfo=UTC) if found.tzinfo is None else found.astimezone(UTC)


def _day(value: Any) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


_STATUSES = {s.value: s for s in ConnectionStatus}
_RAIL_COLUMNS = tuple((rail, f"{rail.value}_status", f"{rail.value}_synced") for rail in RAILS)


def client_facts_of(row: Sequence[Any]) -> ClientFacts:
    """One row of `portfolio_statement()` (by position, in its column order) as the
    domain's facts; a thousand of them make the console, so the work per row is kept small."""
    at = _AT
    currency = str(row[at["currency"]])
    summary = None
    buffer = None
    breach = row[at["breach_probability"]]
    low = row[at["low_point_minor"]]
    if breach is not None and low is not None:
        runway = row[at["runway_weeks"]]
        summary = ForecastSummary(
            low_point=Money(int(low), str(row[at["low_point_currency"]])),
            low_week=int(row[at["low_week"]]),
            breach_probability=float(breach),
            breach_week=int(row[at["breach_week"]]),
            runway_weeks=None if runway is None else int(runway),
            horizon_weeks=int(row[at["forecast_weeks"]]),
        )
        buffer_minor = row[at["buffer_minor"]]
        if buffer_minor is not None:
            buffer = Money(int(buffer_minor), str(row[at["buffer_currency"]]))
    rails = tuple(
        RailHealth(rail, _STATUSES[row[status]], _instant(row[synced]))
        for rail, status, synced in _RAIL_AT
        if row[status] is not None
    )
    overdue_minor = row[at["overdue_minor"]]
    return ClientFacts(
        business_id=BusinessId(row[at["business_id"]]),
        name=str(row[at["name"]]),
        currency=currency,
        cash=Money(int(row[at["cash_minor"]] or 0), currency),
        cash_as_of=_instant(row[at["cash_as_of"]]),
        forecast_as_of=_day(row[at["forecast_as_of"]]) if summary is not None else None,
        forecast=summary,
        buffer=buffer,
        awaiting_approval=int(row[at["awaiting"]]),
        stuck_payments=int(row[at["stuck"]]),
        overdue_invoices=int(row[at["overdue_count"]]),
        overdue_receivables=Money(int(overdue_minor), currency)
        if overdue_minor is not None
        else None,
        rails=rails,
        hygiene={level: n for level, column in _HYGIENE_AT if (n := int(row[column] or 0))},
    )


def client_signals_of(row: Sequence[Any]) -> ClientSignals:
    """One row of `portfolio_statement()` as the numbers the console ranks by, read
    straight from the row's values (a thousand rows per request: positions are looked up
    once, at import); its full facts are built only when asked for."""
    breach = row[_BREACH]
    low = row[_LOW]
    forecast = breach is not None and low is not None
    buffer = row[_BUFFER] if forecast else None
    if buffer is not None and row[_BUFFER_CURRENCY] != row[_LOW_CURRENCY]:
        buffer = None
    runway = row[_RUNWAY] if forecast else None
    return ClientSignals(
        BusinessId(row[_ID]),
        row[_NAME],
        int(row[_CASH] or 0),
        _instant(row[_CASH_AS_OF]),
        float(breach) if forecast else None,
        int(low) if forecast else None,
        None if buffer is None else int(buffer),
        None if runway is None else int(runway),
        int(row[_AWAITING]),
        int(row[_STUCK]),
        int(row[_OVERDUE]),
        int(row[_OVERDUE_MINOR] or 0),
        int(row[_CRITICAL]),
        int(row[_OPEN_ISSUES]),
        int(row[_FAILING]),
        int(row[_NEEDS_ATTENTION]),
        functools.partial(client_facts_of, row),
    )


@functools.cache
def _statement() -> Select[Any]:
    return portfolio_statement()


_AT: Final = {name: n for n, name in enumerate(_statement().selected_columns.keys())}
"""Each column's position in a row of the statement."""
_RAIL_AT: Final = tuple(
    (rail, _AT[f"{rail.value}_status"], _AT[f"{rail.value}_synced"]) for rail in RAILS
)
_HYGIENE_AT: Final = tuple((level.value, _AT[f"hygiene_{level.value}"]) for level in Severity)
(_ID, _NAME, _CASH, _CASH_AS_OF, _BREACH, _LOW, _LOW_CURRENCY, _BUFFER, _BUFFER_CURRENCY) = (
    _AT[name]
    for name in (
        "business_id",
        "name",
        "cash_minor",
        "cash_as_of",
        "breach_probability",
        "low_point_minor",
        "low_point_currency",
        "buffer_minor",
        "buffer_currency",
    )
)
(_RUNWAY, _AWAITING, _STUCK, _OVERDUE, _OVERDUE_MINOR, _CRITICAL, _OPEN_ISSUES) = (
    _AT[name]
    for name in (
        "runway_weeks",
        "awaiting",
        "stuck",
        "overdue_count",
        "overdue_minor",
        f"hygiene_{CRITICAL}",
        "hygiene_open",
    )
)
_FAILING, _NEEDS_ATTENTION = (_AT[f"rails_{status.value}"] for status in _BAD_RAILS)


class SqlPortfolio(PortfolioReadModel):
    def __init__(self, db: _Db) -> None:
        self._db = db

    async def client_signals(
        self,
        advisor_id: AdvisorId,
        *,
        today: date,
        deadlines: VerificationDeadlines | None = None,
    ) -> Sequence[ClientSignals]:
        params = portfolio_parameters(advisor_id, today, deadlines)
        found = await self._db.read(_statement(), params)
        return [client_signals_of(row) for row in found.all()]
