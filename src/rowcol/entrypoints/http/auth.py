"""Bearer-token (and browser session cookie) authentication and the guards built on it."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult
from litestar.types import ASGIApp

from rowcol.core.domain.errors import Forbidden
from rowcol.core.domain.ids import AdvisorId
from rowcol.core.domain.tenancy import Actor, Role
from rowcol.core.services.features import FeatureService
from rowcol.ports.tokens import TokenCodec, TokenRejected

SESSION_COOKIE = "rowcol_session"
"""A browser's sign-in: the same token the API takes, in an HttpOnly, SameSite=Strict cookie."""
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def same_origin(connection: ASGIConnection[Any, Any, Any, Any]) -> bool:
    """The browser says the request comes from one of RowCol's own pages (or was typed
    in): `Sec-Fetch-Site` is same-origin or none, or, without it, the Origin header names
    this host. A request that says neither is not trusted."""
    site = connection.headers.get("sec-fetch-site")
    if site is not None:
        return site in ("same-origin", "none")
    origin = connection.headers.get("origin")
    if not origin or origin == "null":
        return False
    host = connection.headers.get("host", "")
    return bool(host) and urlsplit(origin).netloc.lower() == host.lower()


def require_same_origin(connection: ASGIConnection[Any, Any, Any, Any]) -> None:
    """Cookies ride along on cross-site requests; a change made with one must come from
    RowCol's own pages (bearer-token calls carry no ambient credential and skip this)."""
    if not same_origin(connection):
        raise Forbidden(
            "cross-site request refused: a change made with a signed-in browser must come "
            "from RowCol's own pages"
        )


class BearerAuth(AbstractAuthenticationMiddleware):
    """Takes `Authorization: Bearer <token>`, or else the browser's session cookie."""

    def __init__(self, app: ASGIApp, tokens: TokenCodec, exclude: list[str]) -> None:
        super().__init__(app, exclude=exclude)
        self._tokens = tokens

    async def authenticate_request(
        self, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> AuthenticationResult:
        header = connection.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if not header:
            session = connection.cookies.get(SESSION_COOKIE)
            if not session:
                raise TokenRejected("missing bearer token (Authorization: Bearer <token>)")
            actor = self._tokens.verify(session)
            if connection.scope.get("method", "GET") not in SAFE_METHODS:
                require_same_origin(connection)
            return AuthenticationResult(user=actor, auth=session)
        if scheme.lower() != "bearer" or not token.strip():
            raise TokenRejected("Authorization header must be 'Bearer <token>'")
        actor = self._tokens.verify(token.strip())
        return AuthenticationResult(user=actor, auth=token)


def actor_of(connection: ASGIConnection[Any, Any, Any, Any]) -> Actor:
    user = connection.scope.get("user")
    if not isinstance(user, Actor):
        raise TokenRejected("not authenticated")
    return user


async def feature_guard(
    connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
) -> None:
    """Routes name their feature in `opt["feature"]`; the path's advisor must have it."""
    feature = handler.opt.get("feature")
    if feature is None:
        return
    features: FeatureService = connection.app.state.services.features
    advisor_id = AdvisorId(str(connection.path_params["advisor_id"]))
    await features.require(actor_of(connection), advisor_id, feature)


def requires_role(*roles: Role) -> Any:
    allowed = frozenset(roles)

    def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        actor = actor_of(connection)
        if actor.role not in allowed:
            names = ", ".join(sorted(r.value for r in allowed))
            raise Forbidden(f"role {actor.role.value} may not do this (needs one of: {names})")

    return guard
