"""Bearer-token authentication and the guards built on it."""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult
from litestar.types import ASGIApp

from rowcol.core.domain.errors import Forbidden
from rowcol.core.domain.ids import AdvisorId
from rowcol.core.domain.tenancy import Actor, Role
from rowcol.core.services.features import FeatureService
from rowcol.ports.tokens import TokenCodec, TokenRejected


class BearerAuth(AbstractAuthenticationMiddleware):
    def __init__(self, app: ASGIApp, tokens: TokenCodec, exclude: list[str]) -> None:
        super().__init__(app, exclude=exclude)
        self._tokens = tokens

    async def authenticate_request(
        self, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> AuthenticationResult:
        header = connection.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if not header:
            raise TokenRejected("missing bearer token (Authorization: Bearer <token>)")
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
