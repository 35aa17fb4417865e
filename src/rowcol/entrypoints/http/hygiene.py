"""Hygiene endpoints: the tray of data-quality issues across an advisor's clients, and
what bookkeepers do about each (resolve, snooze, reopen), plus a scan of every client.

Issue keys contain ':' (kind:business:ids); they travel as one path segment as they are
or URL-encoded.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any
from urllib.parse import quote, urlencode

import msgspec
from litestar import Controller, MediaType, Request, Response, get, post
from litestar.params import JSONBody, Parameter, QueryParameter
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_200_OK

from rowcol.bootstrap import Services
from rowcol.core.domain.errors import DomainError, InvalidInput
from rowcol.core.domain.hygiene import HygieneKind, RecordRef, Severity
from rowcol.core.domain.ids import AdvisorId, BusinessId
from rowcol.core.domain.tenancy import Actor
from rowcol.core.services.hygiene import TRAY_LIMIT, ScanResult, TrayItem
from rowcol.entrypoints.http.api import AdvisorPath, AppServices, ClientPath, CurrentActor
from rowcol.entrypoints.http.errors import status_of
from rowcol.entrypoints.http.pages import frame, safe_next, wants_html
from rowcol.entrypoints.http.schemas import MoneyOut, Strict

PAGE_SIZE = 50
"""Issues per page of the tray page (the JSON answers up to `limit` at once)."""

KeyPath = Annotated[str, Parameter(description="The issue key (kind:business:ids)", max_length=512)]


class RecordOut(msgspec.Struct):
    rail: str
    record_kind: str
    record_id: str
    label: str
    amount: MoneyOut | None
    date: date | None
    date_label: str

    @classmethod
    def of(cls, r: RecordRef) -> RecordOut:
        return cls(
            r.rail.value,
            r.record_kind,
            r.record_id,
            r.label,
            MoneyOut.of(r.amount) if r.amount is not None else None,
            r.on,
            r.date_label,
        )


class IssueOut(msgspec.Struct):
    key: str
    kind: str
    client_id: str
    client_name: str
    severity: str
    status: str
    money_at_stake: MoneyOut
    since: date
    summary: str
    priority: float
    records: list[RecordOut]
    first_detected_at: datetime
    last_detected_at: datetime
    snoozed_until: date | None
    note: str
    changed_by: str | None
    changed_at: datetime | None
    version: int

    @classmethod
    def of(cls, item: TrayItem) -> IssueOut:
        t, issue = item.tracked, item.issue
        return cls(
            key=issue.key,
            kind=issue.kind.value,
            client_id=issue.business_id,
            client_name=item.client_name,
            severity=issue.severity.value,
            status=item.status.value,
            money_at_stake=MoneyOut.of(issue.money_at_stake),
            since=issue.since,
            summary=issue.summary,
            priority=round(issue.priority, 3),
            records=[RecordOut.of(r) for r in issue.records],
            first_detected_at=t.first_detected_at,
            last_detected_at=t.last_detected_at,
            snoozed_until=t.snoozed_until,
            note=t.note,
            changed_by=t.changed_by,
            changed_at=t.changed_at,
            version=t.version,
        )


class ActionIn(Strict):
    note: Annotated[str, msgspec.Meta(max_length=2000)] | None = None
    until: date | None = None
    """Snooze only: the day the issue counts as open again."""


class ScanOut(msgspec.Struct):
    client_id: str
    detected: int
    new: int
    reopened: int
    fixed: int
    kept: int
    unavailable: list[str]

    @classmethod
    def of(cls, r: ScanResult) -> ScanOut:
        return cls(
            r.business_id, r.detected, r.new, r.reopened, r.fixed, r.kept, list(r.unavailable)
        )


async def tray_json(
    services: Services,
    actor: Actor,
    advisor_id: str,
    *,
    status: str = "open",
    client: str | None = None,
    kind: str | None = None,
    limit: int = TRAY_LIMIT,
) -> list[IssueOut]:
    """The tray as the API returns it; pages render the same list."""
    found = await services.hygiene.tray(
        actor,
        AdvisorId(advisor_id),
        status=status,
        business_id=BusinessId(client) if client else None,
        kind=kind or None,
        limit=limit,
    )
    return [IssueOut.of(item) for item in found]


class HygieneController(Controller):
    """Data-quality issues across every client of an advisor."""

    path = "/advisor/{advisor_id:str}/hygiene"
    tags = ["hygiene"]

    @get(
        "/",
        summary="Issues across the advisor's clients, highest priority first "
        "(status: open, snoozed, resolved, fixed or all; client; kind)",
    )
    async def tray(
        self,
        request: Request[Any, Any, Any],
        advisor_id: AdvisorPath,
        actor: CurrentActor,
        services: AppServices,
        status: Annotated[str, QueryParameter(max_length=16)] = "open",
        client: Annotated[str | None, QueryParameter(max_length=64)] = None,
        kind: Annotated[str | None, QueryParameter(max_length=48)] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=5_000)] = TRAY_LIMIT,
        page: Annotated[int, QueryParameter(ge=1, description="page of the tray (pages)")] = 1,
    ) -> list[IssueOut] | Template:
        issues = await tray_json(
            services, actor, advisor_id, status=status, client=client, kind=kind, limit=limit
        )
        if not wants_html(request):
            return issues
        return await _tray_page(
            request,
            services,
            actor,
            advisor_id,
            issues,
            status,
            client,
            kind,
            error=None,
            page=page,
        )

    @post(
        "/{client_id:str}/{key:str}/act",
        include_in_schema=False,
        status_code=HTTP_200_OK,
    )
    async def act(
        self,
        request: Request[Any, Any, Any],
        advisor_id: AdvisorPath,
        client_id: ClientPath,
        key: KeyPath,
        actor: CurrentActor,
        services: AppServices,
    ) -> Response[Any]:
        """The tray page's form: `action` resolve, snooze or reopen, with `note` (and
        `until` to snooze); back to the tray as it was filtered, or the tray with the reason."""
        form = await request.form()
        action = str(form.get("action", ""))
        note = str(form.get("note", "")).strip()
        until_text = str(form.get("until", "")).strip()
        back = safe_next(str(form.get("back", "")) or f"/advisor/{advisor_id}/hygiene")
        advisor, business = AdvisorId(advisor_id), BusinessId(client_id)
        try:
            if action == "resolve":
                await services.hygiene.resolve(actor, advisor, business, key, note)
            elif action == "snooze":
                if not until_text:
                    raise InvalidInput("a snooze needs the day the issue counts as open again")
                try:
                    until = date.fromisoformat(until_text)
                except ValueError:
                    raise InvalidInput("the snooze date must be a date (YYYY-MM-DD)") from None
                await services.hygiene.snooze(actor, advisor, business, key, note, until)
            elif action == "reopen":
                await services.hygiene.reopen(actor, advisor, business, key, note or None)
            else:
                raise InvalidInput("the action must be resolve, snooze or reopen")
        except DomainError as exc:
            issues = await tray_json(services, actor, advisor_id)
            page = await _tray_page(
                request, services, actor, advisor_id, issues, "open", None, None, error=str(exc)
            )
            page.status_code = status_of(exc)
            return page
        return Redirect(back, status_code=303)

    @post(
        "/scan",
        summary="Scan every client of the advisor for issues now",
        status_code=HTTP_200_OK,
    )
    async def scan(
        self, advisor_id: AdvisorPath, actor: CurrentActor, services: AppServices
    ) -> list[ScanOut]:
        done = await services.hygiene.scan_all(actor, AdvisorId(advisor_id))
        return [ScanOut.of(r) for r in done]

    @post(
        "/{client_id:str}/{key:str}/resolve",
        summary="Mark an issue resolved (note required; audited)",
        status_code=HTTP_200_OK,
    )
    async def resolve(
        self,
        advisor_id: AdvisorPath,
        client_id: ClientPath,
        key: KeyPath,
        data: JSONBody[ActionIn],
        actor: CurrentActor,
        services: AppServices,
    ) -> IssueOut:
        done = await services.hygiene.resolve(
            actor, AdvisorId(advisor_id), BusinessId(client_id), key, data.note or ""
        )
        return IssueOut.of(done)

    @post(
        "/{client_id:str}/{key:str}/snooze",
        summary="Snooze an issue until a day (note and until required; audited)",
        status_code=HTTP_200_OK,
    )
    async def snooze(
        self,
        advisor_id: AdvisorPath,
        client_id: ClientPath,
        key: KeyPath,
        data: JSONBody[ActionIn],
        actor: CurrentActor,
        services: AppServices,
    ) -> IssueOut:
        if data.until is None:
            raise InvalidInput("a snooze needs `until`, the day the issue counts as open again")
        done = await services.hygiene.snooze(
            actor, AdvisorId(advisor_id), BusinessId(client_id), key, data.note or "", data.until
        )
        return IssueOut.of(done)

    @post(
        "/{client_id:str}/{key:str}/reopen",
        summary="Reopen a resolved or snoozed issue (audited)",
        status_code=HTTP_200_OK,
    )
    async def reopen(
        self,
        advisor_id: AdvisorPath,
        client_id: ClientPath,
        key: KeyPath,
        data: JSONBody[ActionIn],
        actor: CurrentActor,
        services: AppServices,
    ) -> IssueOut:
        done = await services.hygiene.reopen(
            actor, AdvisorId(advisor_id), BusinessId(client_id), key, data.note
        )
        return IssueOut.of(done)


async def _tray_page(
    request: Request[Any, Any, Any],
    services: Services,
    actor: Actor,
    advisor_id: str,
    issues: list[IssueOut],
    status: str,
    client: str | None,
    kind: str | None,
    *,
    error: str | None,
    page: int = 1,
) -> Template:
    clients = await services.clients.list_clients_for_advisor(actor, AdvisorId(advisor_id))
    severities = [s.value for s in reversed(Severity)]
    counts = {s: sum(1 for i in issues if i.severity == s) for s in severities}
    query = request.url.query
    pages = max(1, -(-len(issues) // PAGE_SIZE))
    page = min(page, pages)
    first = (page - 1) * PAGE_SIZE
    shown = issues[first : first + PAGE_SIZE]
    kept = [(k, v) for k, v in request.query_params.items() if k != "page"]
    return Template(
        "hygiene.html",
        context={
            "frame": await frame(request, advisor_id),
            "advisor_id": advisor_id,
            "issues": shown,
            "total": len(issues),
            "first": first + 1,
            "last": first + len(shown),
            "page": page,
            "pages": pages,
            "page_link": lambda n: "?" + urlencode([*kept, ("page", str(n))]),
            "status": status,
            "client": client or "",
            "kind": kind or "",
            "statuses": ["open", "snoozed", "resolved", "fixed", "all"],
            "kinds": [k.value for k in HygieneKind],
            "clients": sorted((v.business.name, v.business.business_id) for v in clients),
            "severities": severities,
            "counts": counts,
            "back": f"{request.url.path}?{query}" if query else request.url.path,
            "today": services.clock.today(),
            "error": error,
            "quote": quote,
        },
        media_type=MediaType.HTML,
    )
