"""Rail endpoints: inbound webhooks (public, signature-checked) and rail health."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
from litestar import Controller, MediaType, Request, get, post
from litestar.background_tasks import BackgroundTask
from litestar.exceptions import HTTPException
from litestar.params import FromPath
from litestar.response import Response, Template

from rowcol.bootstrap import Services
from rowcol.core.domain.ids import AdvisorId
from rowcol.core.services.rail_health import AdvisorRailHealth
from rowcol.entrypoints.http.api import AdvisorPath, AppServices, CurrentActor
from rowcol.entrypoints.http.pages import frame, wants_html
from rowcol.ports.rail_health import RailHealth

MAX_WEBHOOK_BYTES = 1_000_000


class RailHealthOut(msgspec.Struct):
    rail: str
    key: str
    calls: int
    error_rate: float
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    last_success: datetime | None
    last_error: str | None
    last_error_at: datetime | None
    circuit: str

    @classmethod
    def of(cls, h: RailHealth) -> RailHealthOut:
        return cls(
            h.rail,
            h.key,
            h.calls,
            round(h.error_rate, 4),
            h.latency_p50_ms,
            h.latency_p95_ms,
            h.last_success,
            h.last_error,
            h.last_error_at,
            h.circuit.value,
        )


class ConnectionOut(msgspec.Struct):
    business_id: str
    rail: str
    status: str
    account: str | None
    detail: str
    last_synced_at: datetime | None
    last_error_at: datetime | None


class AdvisorRailHealthOut(msgspec.Struct):
    connections: list[ConnectionOut]
    calls: list[RailHealthOut]


class WebhookReceipt(msgspec.Struct):
    stored: int
    duplicates: int


class RailHealthController(Controller):
    path = "/advisor/{advisor_id:str}/rails"
    tags = ["rails"]

    @get("/health", summary="Connection status and live call health of every rail, per client")
    async def health(
        self, advisor_id: AdvisorPath, actor: CurrentActor, services: AppServices
    ) -> AdvisorRailHealthOut:
        found = await services.rail_health.for_advisor(actor, AdvisorId(advisor_id))
        return _health_out(found)

    @get(
        "/",
        summary="The rail connections page (browsers); JSON as /rails/health otherwise",
    )
    async def page(
        self,
        request: Request[Any, Any, Any],
        advisor_id: AdvisorPath,
        actor: CurrentActor,
        services: AppServices,
    ) -> AdvisorRailHealthOut | Template:
        advisor = AdvisorId(advisor_id)
        found = await services.rail_health.for_advisor(actor, advisor)
        out = _health_out(found)
        if not wants_html(request):
            return out
        clients = await services.clients.list_clients_for_advisor(actor, advisor)
        names: dict[str, str] = {v.business.business_id: v.business.name for v in clients}
        now = services.clock.now()
        by_client: dict[str, list[ConnectionOut]] = {}
        for c in sorted(out.connections, key=lambda c: (names.get(c.business_id, ""), c.rail)):
            by_client.setdefault(c.business_id, []).append(c)
        rails = sorted({c.rail for c in out.connections})
        return Template(
            "rails.html",
            context={
                "frame": await frame(request, advisor_id),
                "advisor_id": advisor_id,
                "rails": rails,
                "rows": [
                    (business_id, names.get(business_id, business_id), {c.rail: c for c in conns})
                    for business_id, conns in by_client.items()
                ],
                "unconnected": sorted((name, b) for b, name in names.items() if b not in by_client),
                "calls": sorted(out.calls, key=lambda h: (h.rail, h.key)),
                "age": lambda at: _age(now, at),
                "names": names,
            },
            media_type=MediaType.HTML,
        )


def _age(now: datetime, at: datetime | None) -> str:
    if at is None:
        return "never"
    seconds = int((now - at).total_seconds())
    if seconds < 120:
        return "just now"
    if seconds < 7200:
        return f"{seconds // 60} min ago"
    if seconds < 172800:
        return f"{seconds // 3600} h ago"
    return f"{seconds // 86400} days ago"


def _health_out(found: AdvisorRailHealth) -> AdvisorRailHealthOut:
    return AdvisorRailHealthOut(
        connections=[
            ConnectionOut(
                c.business_id,
                c.rail.value,
                c.status.value,
                c.account,
                c.detail,
                c.last_synced_at,
                c.last_error_at,
            )
            for c in found.connections
        ],
        calls=[RailHealthOut.of(h) for h in found.calls],
    )


async def _process_inbox(services: Services) -> None:
    await services.webhooks.process_due()


@post(
    "/webhooks/{rail:str}",
    opt={"exclude_from_auth": True},
    tags=["rails"],
    summary="Receive a rail's webhook (signature-checked; stored once, then processed)",
    status_code=200,
)
async def receive_webhook(
    rail: FromPath[str], request: Request[Any, Any, Any], services: AppServices
) -> Response[WebhookReceipt]:
    body = await request.body()
    if len(body) > MAX_WEBHOOK_BYTES:
        raise HTTPException(status_code=413, detail="webhook body too large")
    received = await services.webhooks.receive(rail, dict(request.headers), body)
    return Response(
        WebhookReceipt(received.stored, received.duplicates),
        background=BackgroundTask(_process_inbox, services),
    )
