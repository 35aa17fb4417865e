"""The Litestar application factory."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from litestar import Litestar, Request, get
from litestar.config.cors import CORSConfig
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin, YamlRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Template
from litestar.template.config import TemplateConfig

from rowcol import __version__
from rowcol.bootstrap import Services
from rowcol.entrypoints.http.api import (
    DEPENDENCIES,
    AdvisorController,
    ClientController,
    MeController,
)
from rowcol.entrypoints.http.auth import BearerAuth
from rowcol.entrypoints.http.collections import CollectionsController
from rowcol.entrypoints.http.decisions import DecisionController
from rowcol.entrypoints.http.digest import DigestController
from rowcol.entrypoints.http.errors import EXCEPTION_HANDLERS
from rowcol.entrypoints.http.forecasts import ForecastController
from rowcol.entrypoints.http.hygiene import HygieneController
from rowcol.entrypoints.http.pages import PAGE_ROUTES, SignInChoices
from rowcol.entrypoints.http.payments import PaymentController
from rowcol.entrypoints.http.portfolio import PortfolioController
from rowcol.entrypoints.http.rails import RailHealthController, receive_webhook
from rowcol.entrypoints.http.scenarios import ScenarioController
from rowcol.entrypoints.http.schedule import ScheduleController

_PUBLIC = {"exclude_from_auth": True}
log = logging.getLogger("rowcol.http")


@get("/health", opt=_PUBLIC, tags=["service"], summary="Liveness and storage check")
async def health(request: Request[Any, Any, Any]) -> dict[str, str]:
    services: Services = request.app.state.services
    async with services.uow_factory() as uow:
        await uow.audit.head_count()
    return {"status": "ok", "version": __version__}


@get("/docs", opt=_PUBLIC, include_in_schema=False)
async def docs(request: Request[Any, Any, Any]) -> Template:
    """A readable list of the API, built from the OpenAPI schema (works offline)."""
    schema = request.app.openapi_schema.to_schema()
    operations = []
    for path, item in sorted(schema.get("paths", {}).items()):
        for method, op in item.items():
            if method in {"get", "post", "put", "patch", "delete"}:
                operations.append(
                    {
                        "method": method.upper(),
                        "path": path,
                        "summary": op.get("summary", ""),
                        "tag": (op.get("tags") or ["other"])[0],
                        "public": not op.get("security", True),
                    }
                )
    return Template("docs.html", context={"operations": operations, "version": __version__})


INBOX_INTERVAL_SECONDS = 30.0
VERIFY_INTERVAL_SECONDS = 300.0


def _periodic(what: str, interval: float, work: Callable[[], Awaitable[object]]) -> tuple[Any, Any]:
    """Runs `work` every `interval` seconds for as long as the app runs."""
    state: dict[str, asyncio.Task[None]] = {}

    async def loop() -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await work()
            except Exception:
                log.exception("%s failed", what)

    async def start() -> None:
        state["task"] = asyncio.create_task(loop())

    async def stop() -> None:
        task = state.pop("task", None)
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    return start, stop


YOUNG_GC_THRESHOLD = 10_000
"""Container objects allocated (net of those freed) before a young collection: the
default 700 makes a request that holds a thousand rows at once run a dozen young
collections and, every few requests, a full one."""


async def _freeze_startup_objects() -> None:
    """What is alive once the app has started (modules, code, settings, services) lives
    as long as the process: moved out of the collector's reach, a full collection only
    walks what requests made, which keeps a busy page's slowest answers close to its
    typical ones. Young collections then start later (most of what a request makes is
    freed by reference counting well before that)."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_GC_THRESHOLD, middle, old)


def create_app(
    services: Services,
    *,
    inbox_interval: float = INBOX_INTERVAL_SECONDS,
    verify_interval: float = VERIFY_INTERVAL_SECONDS,
    sign_in_choices: SignInChoices = (),
) -> Litestar:
    """The app; on timers it retries failed webhooks and follows payments whose
    confirmations are late (polling the rails when their webhooks do not come).

    `sign_in_choices` (label, token) put a one-click sign-in button per user on /signin;
    only the demo passes them (the tokens never reach the page)."""
    start_inbox, stop_inbox = _periodic(
        "processing the webhook inbox", inbox_interval, services.webhooks.process_due
    )
    start_verify, stop_verify = _periodic(
        "verifying payments", verify_interval, services.verification.run
    )
    auth = DefineMiddleware(
        BearerAuth,
        tokens=services.tokens,
        exclude=[
            "^/schema",
            "^/$",
            "^/docs$",
            "^/health$",
            "^/webhooks/",
            "^/signin$",
            "^/signout$",
        ],
    )
    return Litestar(
        route_handlers=[
            *PAGE_ROUTES,
            PortfolioController,
            docs,
            health,
            MeController,
            AdvisorController,
            ClientController,
            PaymentController,
            ForecastController,
            CollectionsController,
            DigestController,
            DecisionController,
            HygieneController,
            ScenarioController,
            ScheduleController,
            RailHealthController,
            receive_webhook,
        ],
        dependencies=DEPENDENCIES,
        middleware=[auth],
        exception_handlers=EXCEPTION_HANDLERS,
        state=_state(services, sign_in_choices),
        on_startup=[start_inbox, start_verify, _freeze_startup_objects],
        on_shutdown=[stop_inbox, stop_verify, services.aclose],
        template_config=TemplateConfig(
            directory=Path(__file__).parent / "templates", engine=JinjaTemplateEngine
        ),
        openapi_config=OpenAPIConfig(
            title="RowCol API",
            version=__version__,
            description="Financial control plane for firms running Client Advisory Services.",
            path="/schema",
            render_plugins=[JsonRenderPlugin(), YamlRenderPlugin()],
            components=Components(
                security_schemes={
                    "bearer": SecurityScheme(type="http", scheme="bearer", bearer_format="JWT")
                }
            ),
            security=[{"bearer": []}],
        ),
        cors_config=CORSConfig(allow_origins=[]),
        debug=False,
    )


def _state(services: Services, sign_in_choices: SignInChoices) -> Any:
    from litestar.datastructures import State

    return State({"services": services, "sign_in_choices": tuple(sign_in_choices)})
