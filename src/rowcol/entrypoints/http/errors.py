"""The one place that turns failures into `application/problem+json` answers."""

from __future__ import annotations

import logging
from typing import Any

from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, NotAuthorizedException, ValidationException
from litestar.response import Template
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR
from litestar.types import ExceptionHandlersMap

from rowcol.core.domain.errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound
from rowcol.core.services.features import FeatureNotEnabled
from rowcol.entrypoints.http.pages import bare_frame, signin_redirect, wants_html
from rowcol.ports.errors import OutcomeUnknown, Rejected, StorageError, Unavailable
from rowcol.ports.tokens import TokenRejected
from rowcol.ports.webhooks import WebhookRejected

log = logging.getLogger("rowcol.http")

PROBLEM = "application/problem+json"

_DOMAIN_STATUS: list[tuple[type[Exception], int, str]] = [
    (FeatureNotEnabled, 403, "Feature not enabled"),
    (NotFound, 404, "Not found"),
    (Forbidden, 403, "Forbidden"),
    (Conflict, 409, "Conflict"),
    (InvalidInput, 422, "Invalid input"),
    (DomainError, 422, "Rule violated"),
    (Unavailable, 503, "A connected service is unavailable"),
    (Rejected, 502, "A connected service refused the request"),
    (OutcomeUnknown, 502, "A connected service gave no clear answer"),
    (StorageError, 503, "Storage is unavailable"),
]


def status_of(exc: Exception) -> int:
    """The HTTP status a domain or port error answers with (pages that show the reason
    inline answer with it too)."""
    return next((status for kind, status, _ in _DOMAIN_STATUS if isinstance(exc, kind)), 500)


def problem(
    status: int, title: str, detail: str, request: Request[Any, Any, Any], **extra: Any
) -> Response[Any]:
    """The problem as JSON, or as a page for a browser asking for one."""
    if wants_html(request):
        return Template(
            "error.html",
            context={
                "status": status,
                "title": title,
                "detail": detail,
                "frame": bare_frame(request),
            },
            status_code=status,
            media_type=MediaType.HTML,
        )
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
        **extra,
    }
    headers = {"WWW-Authenticate": 'Bearer realm="rowcol"'} if status == 401 else None
    return Response(body, status_code=status, media_type=PROBLEM, headers=headers)


def handle_token(request: Request[Any, Any, Any], exc: TokenRejected) -> Response[Any]:
    if wants_html(request):
        return signin_redirect(request)
    return problem(401, "Not authenticated", exc.reason, request)


def handle_webhook(request: Request[Any, Any, Any], exc: WebhookRejected) -> Response[Any]:
    return problem(401, "Webhook rejected", exc.reason, request)


def handle_domain(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    for kind, status, title in _DOMAIN_STATUS:
        if isinstance(exc, kind):
            extra = {"feature": exc.feature} if isinstance(exc, FeatureNotEnabled) else {}
            return problem(status, title, str(exc), request, **extra)
    return handle_unexpected(request, exc)


def handle_http(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    extra: dict[str, Any] = {}
    if isinstance(exc, ValidationException) and exc.extra:
        extra["errors"] = exc.extra
    title = {
        400: "Bad request",
        401: "Not authenticated",
        404: "Not found",
        405: "Method not allowed",
    }
    status = exc.status_code
    if isinstance(exc, NotAuthorizedException):
        status = 401
    return problem(status, title.get(status, "Request failed"), str(exc.detail), request, **extra)


def handle_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem(
        HTTP_500_INTERNAL_SERVER_ERROR,
        "Internal error",
        "Something went wrong on our side; nothing was changed. The error has been logged.",
        request,
    )


EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    TokenRejected: handle_token,
    WebhookRejected: handle_webhook,
    DomainError: handle_domain,
    Unavailable: handle_domain,
    Rejected: handle_domain,
    OutcomeUnknown: handle_domain,
    StorageError: handle_domain,
    HTTPException: handle_http,
    Exception: handle_unexpected,
}
