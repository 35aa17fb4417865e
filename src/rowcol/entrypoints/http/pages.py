"""Browser pages: signing in with a token, the page frame, and what every page shares.

A page and its JSON twin live at one path; `wants_html` tells them apart by the Accept
header. A browser signs in by pasting a token (or, in the demo, with one click per demo
user); the token then rides in the `rowcol_session` cookie.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

from litestar import MediaType, Request, Response, get, post
from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie
from litestar.datastructures.headers import Accept
from litestar.enums import RequestEncodingType
from litestar.params import Body, QueryParameter
from litestar.response import Redirect, Template
from msgspec import Struct

from rowcol.bootstrap import Services
from rowcol.core.domain.tenancy import Actor
from rowcol.core.services.portfolio import SignedIn
from rowcol.entrypoints.http.auth import SESSION_COOKIE, require_same_origin
from rowcol.ports.tokens import TokenRejected

_PUBLIC = {"exclude_from_auth": True}
SignInChoices = Sequence[tuple[str, str]]
"""(label, token) per demo user; empty outside the demo."""


def wants_html(connection: ASGIConnection[Any, Any, Any, Any]) -> bool:
    """A browser asking for a page: its Accept header prefers text/html to JSON. No Accept
    header, `*/*` and `application/json` get JSON."""
    accept = connection.headers.get("accept", "")
    if not accept:
        return False
    try:
        best = Accept(accept).best_match(["application/json", "text/html"])
    except ValueError:
        return False
    return best == "text/html"


def safe_next(target: str | None) -> str:
    """Only a path on this site: never another host (`//evil`, `https://...`)."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or "\\" in target:
        return "/"
    return target


def signin_redirect(connection: ASGIConnection[Any, Any, Any, Any]) -> Redirect:
    """Where a browser without a valid session goes: the sign-in page, then back here."""
    path = connection.url.path
    query = connection.url.query
    here = f"{path}?{query}" if query else path
    target = "/signin" if here == "/" else f"/signin?next={quote(here, safe='/')}"
    redirect = Redirect(target, status_code=303)
    if connection.cookies.get(SESSION_COOKIE):
        redirect.delete_cookie(SESSION_COOKIE, path="/")
    return redirect


def session_actor(connection: ASGIConnection[Any, Any, Any, Any]) -> Actor | None:
    """The actor of a valid session cookie, on routes outside the authentication."""
    token = connection.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    services: Services = connection.app.state.services
    try:
        return services.tokens.verify(token)
    except TokenRejected:
        return None


async def frame(
    request: Request[Any, Any, Any],
    advisor_id: str | None = None,
    *,
    signed: SignedIn | None = None,
) -> dict[str, Any]:
    """What base.html shows around a page: who is signed in, their role, and the advisor
    the navigation points at. Pages pass it as `frame` in their template context; one
    that has read who is signed in already passes it as `signed`."""
    user = request.scope.get("user")
    actor = user if isinstance(user, Actor) else session_actor(request)
    if actor is None:
        return {}
    if signed is None:
        services: Services = request.app.state.services
        signed = await services.portfolio.signed_in(actor)
    return {
        "name": signed.name,
        "role": actor.role.value.replace("_", " "),
        "advisor_id": advisor_id or actor.advisor_id,
        "advisors": len(signed.advisors),
    }


def bare_frame(connection: ASGIConnection[Any, Any, Any, Any]) -> dict[str, Any]:
    """The frame without storage (error pages): the signed-in user by id."""
    user = connection.scope.get("user")
    actor = user if isinstance(user, Actor) else session_actor(connection)
    if actor is None:
        return {}
    return {
        "name": actor.user_id,
        "role": actor.role.value.replace("_", " "),
        "advisor_id": actor.advisor_id,
        "advisors": 1,
    }


def _choices(request: Request[Any, Any, Any]) -> SignInChoices:
    found: SignInChoices = getattr(request.app.state, "sign_in_choices", ())
    return found


def _signin_page(
    request: Request[Any, Any, Any], *, next_path: str, error: str | None, status: int = 200
) -> Template:
    return Template(
        "signin.html",
        context={
            "next": next_path,
            "error": error,
            "choices": [label for label, _ in _choices(request)],
        },
        status_code=status,
        media_type=MediaType.HTML,
    )


@get("/signin", opt=_PUBLIC, include_in_schema=False)
async def signin_page(
    request: Request[Any, Any, Any],
    next_path: Annotated[str | None, QueryParameter(name="next", max_length=2000)] = None,
) -> Template:
    return _signin_page(request, next_path=safe_next(next_path), error=None)


class SignInForm(Struct, kw_only=True):
    token: str = ""
    choice: str = ""
    next: str = "/"


@post("/signin", opt=_PUBLIC, include_in_schema=False, status_code=303)
async def signin(
    request: Request[Any, Any, Any],
    data: Annotated[SignInForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
) -> Response[Any]:
    """Checks the token (pasted, or a demo user's by its button) and keeps it in the
    session cookie; a bad one shows the page again with the reason."""
    require_same_origin(request)
    target = safe_next(data.next)
    token = data.token.strip()
    choices = _choices(request)
    if not token and data.choice:
        index = int(data.choice) if data.choice.isdigit() else -1
        if not 0 <= index < len(choices):
            return _signin_page(request, next_path=target, error="unknown demo user", status=400)
        token = choices[index][1]
    if not token:
        return _signin_page(request, next_path=target, error="paste a token to sign in", status=400)
    services: Services = request.app.state.services
    try:
        services.tokens.verify(token)
    except TokenRejected as exc:
        return _signin_page(request, next_path=target, error=exc.reason, status=401)
    redirect: Response[Any] = Redirect(target, status_code=303)
    redirect.set_cookie(
        Cookie(
            key=SESSION_COOKIE,
            value=token,
            path="/",
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )
    )
    return redirect


@post("/signout", opt=_PUBLIC, include_in_schema=False, status_code=303)
async def signout(request: Request[Any, Any, Any]) -> Redirect:
    require_same_origin(request)
    redirect = Redirect("/signin", status_code=303)
    redirect.delete_cookie(SESSION_COOKIE, path="/")
    return redirect


@get("/", opt=_PUBLIC, include_in_schema=False)
async def home(request: Request[Any, Any, Any]) -> Response[Any]:
    """Signed in: the portfolio console of the actor's advisor (a firm admin with several
    advisors chooses one). Otherwise: what RowCol is, and the way to sign in."""
    from rowcol import __version__

    actor = session_actor(request)
    if actor is not None:
        services: Services = request.app.state.services
        signed = await services.portfolio.signed_in(actor)
        if len(signed.advisors) == 1:
            return Redirect(f"/advisor/{signed.advisors[0].advisor_id}/portfolio", status_code=303)
        if signed.advisors:
            return Template(
                "choose_advisor.html",
                context={"advisors": signed.advisors, "frame": await frame(request)},
                media_type=MediaType.HTML,
            )
    return Template(
        "home.html", context={"version": __version__, "frame": {}}, media_type=MediaType.HTML
    )


PAGE_ROUTES = [signin_page, signin, signout, home]
