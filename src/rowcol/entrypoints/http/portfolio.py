"""The portfolio console at `/advisor/{advisor_id}/portfolio`: a page for browsers and
JSON for the API, from the same service call and the same query parameters."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlencode

import msgspec
from litestar import Controller, MediaType, Request, get
from litestar.params import QueryParameter
from litestar.response import Template

from rowcol.core.domain.errors import InvalidInput
from rowcol.core.domain.ids import AdvisorId
from rowcol.core.domain.portfolio import (
    Assessment,
    ConsoleQuery,
    Factor,
    Filter,
    RiskLevel,
    SortKey,
)
from rowcol.core.services.portfolio import PortfolioConsole
from rowcol.entrypoints.http.api import AdvisorPath, AppServices, CurrentActor
from rowcol.entrypoints.http.pages import frame, wants_html
from rowcol.entrypoints.http.schemas import MoneyOut


class ReasonOut(msgspec.Struct):
    factor: str
    points: int
    text: str


class RiskOut(msgspec.Struct):
    score: int
    level: str
    reason: str
    reasons: list[ReasonOut]


class ForecastSummaryOut(msgspec.Struct):
    as_of: str | None
    horizon_weeks: int
    runway_weeks: int | None
    """Whole weeks before the P50 closing first falls below zero; null: not within the horizon."""
    low_point: MoneyOut
    low_week: int
    buffer: MoneyOut | None
    headroom: MoneyOut | None
    """Low point minus buffer; negative when the low point is under the buffer."""
    breach_probability: float
    breach_week: int


class RailOut(msgspec.Struct):
    rail: str
    status: str
    last_synced_at: datetime | None
    age_seconds: int | None


class OverdueOut(msgspec.Struct):
    count: int
    amount: MoneyOut | None


class PortfolioRowOut(msgspec.Struct):
    client_id: str
    name: str
    currency: str
    risk: RiskOut
    cash: MoneyOut
    cash_as_of: datetime | None
    cash_age_seconds: int | None
    forecast: ForecastSummaryOut | None
    hygiene: dict[str, int] | None
    """Open issues by severity; null when not known."""
    awaiting_approval: int
    stuck_payments: int
    overdue_receivables: OverdueOut
    rails: list[RailOut]
    digest_url: str


class TotalsOut(msgspec.Struct):
    clients: int
    at_risk: int
    watch: int
    awaiting_approval: int
    stuck_payments: int
    failing_rails: int
    overdue_invoices: int
    critical_issues: int


class PortfolioOut(msgspec.Struct):
    advisor_id: str
    advisor_name: str
    generated_at: datetime
    sort: str
    direction: str
    filters: list[str]
    q: str
    page: int
    pages: int
    per_page: int
    matched: int
    totals: TotalsOut
    rows: list[PortfolioRowOut]


def _digest_url(advisor_id: str, client_id: str) -> str:
    return f"/advisor/{advisor_id}/clients/{client_id}/digest"


def _row(a: Assessment, advisor_id: str, now: datetime) -> PortfolioRowOut:
    f = a.facts
    summary = f.forecast
    headroom = a.headroom
    return PortfolioRowOut(
        client_id=f.business_id,
        name=f.name,
        currency=f.currency,
        risk=RiskOut(
            a.score,
            a.level.value,
            a.reason,
            [ReasonOut(r.factor.value, r.points, r.text) for r in a.reasons],
        ),
        cash=MoneyOut.of(f.cash),
        cash_as_of=f.cash_as_of,
        cash_age_seconds=a.cash_age_seconds,
        forecast=None
        if summary is None
        else ForecastSummaryOut(
            as_of=f.forecast_as_of.isoformat() if f.forecast_as_of else None,
            horizon_weeks=summary.horizon_weeks,
            runway_weeks=summary.runway_weeks,
            low_point=MoneyOut.of(summary.low_point),
            low_week=summary.low_week,
            buffer=MoneyOut.of(f.buffer) if f.buffer is not None else None,
            headroom=MoneyOut.of(headroom) if headroom is not None else None,
            breach_probability=summary.breach_probability,
            breach_week=summary.breach_week,
        ),
        hygiene=dict(f.hygiene) if f.hygiene is not None else None,
        awaiting_approval=f.awaiting_approval,
        stuck_payments=f.stuck_payments,
        overdue_receivables=OverdueOut(
            f.overdue_invoices,
            MoneyOut.of(f.overdue_receivables) if f.overdue_receivables is not None else None,
        ),
        rails=[
            RailOut(
                r.rail.value,
                r.status.value,
                r.last_synced_at,
                int((now - r.last_synced_at).total_seconds()) if r.last_synced_at else None,
            )
            for r in f.rails
        ],
        digest_url=_digest_url(advisor_id, f.business_id),
    )


def portfolio_out(console: PortfolioConsole) -> PortfolioOut:
    page = console.page
    query = page.query
    advisor_id = console.advisor.advisor_id
    t = page.totals
    return PortfolioOut(
        advisor_id=advisor_id,
        advisor_name=console.advisor.name,
        generated_at=console.now,
        sort=query.sort.value,
        direction="desc" if query.is_descending else "asc",
        filters=sorted(f.value for f in query.filters),
        q=query.search,
        page=page.page,
        pages=page.pages,
        per_page=query.per_page,
        matched=page.matched,
        totals=TotalsOut(
            t.clients,
            t.at_risk,
            t.watch,
            t.awaiting_approval,
            t.stuck_payments,
            t.failing_rails,
            t.overdue_invoices,
            t.critical_issues,
        ),
        rows=[_row(a, advisor_id, console.now) for a in page.rows],
    )


def parse_query(
    sort: str | None,
    direction: str | None,
    filters: list[str] | None,
    q: str | None,
    page: int,
    per_page: int,
) -> ConsoleQuery:
    """The console's query parameters, refused with the allowed values when unknown."""
    try:
        key = SortKey(sort) if sort else SortKey.RISK
    except ValueError:
        allowed = ", ".join(k.value for k in SortKey)
        raise InvalidInput(f"unknown sort {sort!r} (one of: {allowed})") from None
    if direction not in (None, "", "asc", "desc"):
        raise InvalidInput("dir must be asc or desc")
    chosen: set[Filter] = set()
    for name in filters or ():
        if not name:
            continue
        try:
            chosen.add(Filter(name))
        except ValueError:
            allowed = ", ".join(f.value for f in Filter)
            raise InvalidInput(f"unknown filter {name!r} (one of: {allowed})") from None
    return ConsoleQuery(
        sort=key,
        descending=None if not direction else direction == "desc",
        filters=frozenset(chosen),
        search=q or "",
        page=page,
        per_page=per_page,
    )


# The page -----------------------------------------------------------------------------------

_COLUMNS = (
    (SortKey.NAME, "Client"),
    (SortKey.RISK, "Risk"),
    (SortKey.CASH, "Cash"),
    (SortKey.RUNWAY, "Runway"),
    (SortKey.HEADROOM, "Low point vs buffer"),
    (SortKey.HYGIENE, "Hygiene"),
    (SortKey.AWAITING, "To approve"),
    (SortKey.STUCK, "Stuck"),
    (SortKey.OVERDUE, "Overdue A/R"),
    (SortKey.RAILS, "Rails"),
)
_FILTER_LABELS = {
    Filter.AT_RISK: "At risk",
    Filter.STUCK: "Stuck payments",
    Filter.RAIL_FAILING: "Rail failing",
    Filter.AWAITING: "Bills to approve",
    Filter.OVERDUE: "Overdue receivables",
    Filter.HYGIENE: "Open hygiene issues",
}


_RAIL_SHORT = {"ok": "ok", "failing": "failing", "needs_attention": "fix", "never_synced": "new"}
_LEVEL_LABELS = {RiskLevel.AT_RISK: "At risk", RiskLevel.WATCH: "Watch", RiskLevel.CALM: "Calm"}


class _RailView(msgspec.Struct):
    rail: str
    status: str
    status_label: str
    short: str
    age: str


class _RowView(msgspec.Struct):
    """One table row's words (a struct, not a dict: the template reads its attributes
    fifty times a page)."""

    out: PortfolioRowOut
    level: str
    level_label: str
    cash_age: str
    stale: bool
    rails: list[_RailView]
    synced: str | None


def _last_sync(rails: list[RailOut]) -> str | None:
    """The oldest last sync among the connected rails that have synced."""
    ages = [r.age_seconds for r in rails if r.age_seconds is not None]
    return age_words(max(ages)) if ages else None


def age_words(seconds: int | None) -> str:
    if seconds is None:
        return "never"
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{max(seconds // 60, 0)} min ago"
    if seconds < 48 * 3600:
        return f"{seconds // 3600} h ago"
    return f"{seconds // 86400} d ago"


def _link(base: str, query: ConsoleQuery, **change: Any) -> str:
    params: dict[str, Any] = {
        "sort": query.sort.value,
        "dir": "desc" if query.is_descending else "asc",
        "filter": sorted(f.value for f in query.filters),
        "q": query.search,
        "page": query.page,
        "per_page": query.per_page,
    }
    params.update(change)
    clean = {k: v for k, v in params.items() if v not in ("", None, [])}
    return f"{base}?{urlencode(clean, doseq=True)}"


def page_context(console: PortfolioConsole, out: PortfolioOut) -> dict[str, Any]:
    query = console.page.query
    base = f"/advisor/{console.advisor.advisor_id}/portfolio"
    columns = []
    for key, label in _COLUMNS:
        active = key is query.sort
        if active:
            next_dir = "asc" if query.is_descending else "desc"
            aria = "descending" if query.is_descending else "ascending"
        else:
            next_dir = ""
            aria = "none"
        columns.append(
            {
                "label": label,
                "href": _link(base, query, sort=key.value, dir=next_dir, page=1),
                "active": active,
                "aria_sort": aria,
            }
        )
    rows = [
        _RowView(
            out=row,
            level=a.level.value,
            level_label=_LEVEL_LABELS[a.level],
            cash_age="no balance yet"
            if a.cash_age_seconds is None
            else f"updated {age_words(a.cash_age_seconds)}",
            stale=any(r.factor is Factor.STALE_CASH for r in a.reasons),
            rails=[
                _RailView(
                    rail=r.rail.upper(),
                    status=r.status,
                    status_label=r.status.replace("_", " "),
                    short=_RAIL_SHORT.get(r.status, r.status.replace("_", " ")),
                    age=age_words(r.age_seconds),
                )
                for r in row.rails
            ],
            synced=_last_sync(row.rails),
        )
        for a, row in zip(console.page.rows, out.rows, strict=True)
    ]
    pages = console.page.pages
    return {
        "p": out,
        "rows": rows,
        "columns": columns,
        "filters": [
            {"value": f.value, "label": label, "checked": f in query.filters}
            for f, label in _FILTER_LABELS.items()
        ],
        "sort": query.sort.value,
        "dir": "desc" if query.is_descending else "asc",
        "prev_href": _link(base, query, page=console.page.page - 1)
        if console.page.page > 1
        else None,
        "next_href": _link(base, query, page=console.page.page + 1)
        if console.page.page < pages
        else None,
        "hygiene_known": any(r.hygiene is not None for r in out.rows),
        "base": base,
    }


class PortfolioController(Controller):
    path = "/advisor/{advisor_id:str}/portfolio"
    tags = ["portfolio"]

    @get(
        "/",
        summary="Every client of the advisor, riskiest first, with the reasons",
        description=(
            "Cash and its age, weeks of runway, the forecast low point against the buffer "
            "and the chance of breaching it, open hygiene issues by severity, bills awaiting "
            "approval, payments stuck in verification, overdue receivables and rail health. "
            "Sort with `sort` and `dir`, filter with repeated `filter`, search names with "
            "`q`, page with `page` and `per_page`. A browser asking for text/html gets the "
            "console page."
        ),
    )
    async def console(
        self,
        request: Request[Any, Any, Any],
        advisor_id: AdvisorPath,
        actor: CurrentActor,
        services: AppServices,
        sort: Annotated[str | None, QueryParameter(max_length=32)] = None,
        direction: Annotated[
            str | None, QueryParameter(name="dir", max_length=4, description="asc or desc")
        ] = None,
        filters: Annotated[
            list[str] | None, QueryParameter(name="filter", description="repeat for several")
        ] = None,
        q: Annotated[str | None, QueryParameter(max_length=200)] = None,
        page: Annotated[int, QueryParameter(ge=1)] = 1,
        per_page: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
    ) -> PortfolioOut | Template:
        query = parse_query(sort, direction, filters, q, page, per_page)
        html = wants_html(request)
        console = await services.portfolio.console(
            actor, AdvisorId(advisor_id), query=query, viewer=html
        )
        out = portfolio_out(console)
        if not html:
            return out
        context = page_context(console, out)
        context["frame"] = await frame(request, console.advisor.advisor_id, signed=console.viewer)
        return Template("portfolio.html", context=context, media_type=MediaType.HTML)
