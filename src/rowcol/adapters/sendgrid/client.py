"""SendGrid as RowCol's `Notifier`: Mail Send v3 over our own async httpx client.

The API key is the firm's (one SendGrid account sends for every business), so it comes
through the constructor and every call shares the RailCaller key "firm".

Mail Send has no idempotency key, so a send is never retried once it may have reached
SendGrid: a timeout or a dropped connection after the request went out surfaces as
`OutcomeUnknown` and is resolved from the Event Webhook (every event carries our
`rowcol_message_id` custom arg), never by sending again. A send IS retried after a
connection refused, a 429, or a 5xx. SendGrid documents a 5xx as "the message was not
accepted", so a retry should not duplicate; if SendGrid did accept a message and still
answered 5xx the retry would send it twice. A duplicate digest or reminder is accepted
as the lesser harm than silently dropping one.

Rate limits: SendGrid sends `X-RateLimit-Limit/Remaining/Reset` (reset in Unix seconds)
on every answer. Once `Remaining` reaches 0, the next call waits until `Reset` by the
injected clock and sleep, so RowCol does not spend a request just to be told 429.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Awaitable, Callable
from typing import Any, Final, NamedTuple, TypeVar
from urllib.parse import parse_qs, urlsplit

import httpx
import msgspec

from rowcol.adapters.railkit.httpx_errors import send as send_classified
from rowcol.adapters.railkit.resilience import RailCaller, RailHealthMonitor, RateLimit
from rowcol.adapters.sendgrid import wire
from rowcol.core.domain.errors import InvalidInput
from rowcol.core.domain.ids import Rail
from rowcol.core.domain.notifications import EmailMessage
from rowcol.core.domain.tenancy import check_email
from rowcol.ports.clock import Clock
from rowcol.ports.errors import OutcomeUnknown, Rejected, Unavailable
from rowcol.ports.notifier import Notifier

T = TypeVar("T", bound=wire.Wire)

DEFAULT_BASE_URL: Final = "https://api.sendgrid.com"
CALLER_KEY: Final = "firm"
MAIL_SEND_PATH: Final = "/v3/mail/send"
TEMPLATES_PATH: Final = "/v3/templates"
MAX_TEMPLATE_PAGE_SIZE: Final = 200
DYNAMIC_TEMPLATE_PREFIX: Final = "d-"
MESSAGE_ID_ARG: Final = "rowcol_message_id"

SENDGRID_RATE_LIMIT: Final = RateLimit(requests=600, per_seconds=60.0, concurrency=10)
"""SendGrid publishes no Mail Send limit (600/min applies to its other endpoints); this
ceiling keeps RowCol polite, and the `X-RateLimit-*` answers govern beyond it."""


def sendgrid_caller(
    monitor: RailHealthMonitor, *, rate_limit: RateLimit = SENDGRID_RATE_LIMIT, **options: Any
) -> RailCaller:
    """A RailCaller for SendGrid with RowCol's default rate limit."""
    return RailCaller(Rail.SENDGRID.value, monitor=monitor, rate_limit=rate_limit, **options)


class TemplateSummary(NamedTuple):
    """A dynamic template and the subject of its active version (None: no active one)."""

    template_id: str
    name: str
    subject: str | None


def _unique(addresses: tuple[str, ...]) -> list[str]:
    # SendGrid refuses an address twice in one personalization.
    return list(dict.fromkeys(addresses))


def mail_send_body(
    message: EmailMessage,
    *,
    from_email: str,
    from_name: str | None,
    sandbox: bool,
) -> wire.MailSend:
    """The Mail Send request for `message`; Rejected for a legacy (non-`d-`) template.

    The recipients share one personalization, so each sees the others in To, as the
    message's `to` says; SendGrid reports events per recipient either way."""
    personalization = wire.Personalization(
        to=[wire.Address(email) for email in _unique(message.to)],
        custom_args={MESSAGE_ID_ARG: message.message_id},
    )
    content: list[wire.Content] | None = None
    if message.template_id is not None:
        if not message.template_id.startswith(DYNAMIC_TEMPLATE_PREFIX):
            raise Rejected(
                f"template {message.template_id!r} is not a SendGrid dynamic template "
                f"(ids start with {DYNAMIC_TEMPLATE_PREFIX!r}); RowCol only sends dynamic "
                "templates, legacy templates take substitutions instead of template data"
            )
        personalization.dynamic_template_data = dict(message.template_data)
    else:
        # SendGrid wants text/plain before text/html, and no empty block.
        parts = [("text/plain", message.text), ("text/html", message.html)]
        content = [wire.Content(kind, value) for kind, value in parts if value] or None
    attachments = [
        wire.Attachment(
            content=base64.b64encode(attachment.content).decode("ascii"),
            filename=attachment.filename,
            type=attachment.content_type,
            disposition="attachment",
        )
        for attachment in message.attachments
    ]
    return wire.MailSend(
        personalizations=[personalization],
        from_=wire.Address(from_email, from_name),
        subject=message.subject or None,
        content=content,
        attachments=attachments or None,
        template_id=message.template_id,
        categories=[message.category] if message.category else None,
        mail_settings=wire.MailSettings(wire.SandboxMode(True)) if sandbox else None,
    )


def _errors(response: httpx.Response) -> list[tuple[str, str | None]]:
    """SendGrid's `errors[]` as (message, field); empty when the body is not that shape."""
    try:
        body = msgspec.json.decode(response.content, type=wire.ErrorResponse)
    except msgspec.MsgspecError:
        return []
    # SendGrid writes "no field" as null, and in some examples as the string "null".
    return [
        (e.message, e.field if e.field not in (None, "", "null") else None) for e in body.errors
    ]


def _refusal(response: httpx.Response, what: str) -> Exception:
    """A non-2xx answer that is not transient, as RowCol's failure."""
    status = response.status_code
    errors = _errors(response)
    detail = "; ".join(f"{m} (field {f})" if f else m for m, f in errors) or f"HTTP {status}"
    if status == 403 and any(field == "from" for _, field in errors):
        return Rejected(f"SendGrid refused the sender of {what} (HTTP 403): {detail}")
    if status in (401, 403):
        return Rejected(f"SendGrid API key rejected (HTTP {status}): {detail}")
    if status == 413:
        return Rejected(f"SendGrid refused {what} as too large: {detail}")
    if 400 <= status < 500:
        return Rejected(f"SendGrid refused {what} (HTTP {status}): {detail}")
    return Unavailable(f"SendGrid answered {what} with unexpected HTTP {status}: {detail}")


def _page_token(next_url: str | None) -> str | None:
    """Only the token of SendGrid's `next` link is followed, against our own base URL, so
    a link naming another host never receives the API key."""
    if not next_url:
        return None
    tokens = parse_qs(urlsplit(next_url).query).get("page_token")
    return tokens[0] if tokens else None


class SendGridNotifier(Notifier):
    """Sends RowCol's email through SendGrid's Mail Send v3 API with the firm's API key."""

    def __init__(
        self,
        *,
        api_key: str,
        from_email: str,
        caller: RailCaller,
        clock: Clock,
        base_url: str = DEFAULT_BASE_URL,
        from_name: str | None = None,
        sandbox: bool = False,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        timeout_seconds: float = 30.0,
        max_rate_limit_wait_seconds: float = 60.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if not api_key:
            raise InvalidInput("a SendGrid API key is required")
        self._from_email = check_email(from_email)
        self._from_name = from_name or None
        self._sandbox = sandbox
        self._caller = caller
        self._clock = clock
        self._sleep = sleep
        self._max_wait = max_rate_limit_wait_seconds
        self._resume_at: float | None = None
        self._client = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            timeout=timeout_seconds,
            headers={
                "Authorization": f"Bearer {api_key}",
                "Accept": "application/json",
                "User-Agent": "rowcol",
            },
            event_hooks={"response": [self._observe_rate_limit]},
            transport=transport,
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def send(self, message: EmailMessage) -> str:
        """Hands `message` to SendGrid; the `X-Message-Id` it answers (our message id when
        SendGrid sends none, as in sandbox mode)."""
        body = mail_send_body(
            message, from_email=self._from_email, from_name=self._from_name, sandbox=self._sandbox
        )
        try:
            content = msgspec.json.encode(body)
        except (TypeError, ValueError) as exc:
            raise Rejected(
                f"message {message.message_id}: template data is not JSON: {exc}"
            ) from exc

        async def attempt() -> httpx.Response:
            await self._wait_for_rate_limit()
            request = self._client.build_request(
                "POST",
                MAIL_SEND_PATH,
                content=content,
                headers={"Content-Type": "application/json"},
            )
            return await send_classified(self._client, request)

        response = await self._caller.call(
            CALLER_KEY, attempt, idempotent=False, name=f"POST {MAIL_SEND_PATH}"
        )
        if not response.is_success:
            raise _refusal(response, f"message {message.message_id}")
        return response.headers.get("x-message-id") or message.message_id

    async def list_templates(
        self, *, page_size: int = MAX_TEMPLATE_PAGE_SIZE
    ) -> list[TemplateSummary]:
        """Every dynamic template with the subject of its active version."""
        if not 1 <= page_size <= MAX_TEMPLATE_PAGE_SIZE:
            raise InvalidInput(f"page_size must be 1-{MAX_TEMPLATE_PAGE_SIZE}")
        summaries: list[TemplateSummary] = []
        token: str | None = None
        seen: set[str] = set()
        while True:
            params: dict[str, str | int] = {"generations": "dynamic", "page_size": page_size}
            if token is not None:
                params["page_token"] = token
            page = await self._get(TEMPLATES_PATH, params, wire.TemplatesPage, "templates")
            for template in page.result:
                active = next((v for v in template.versions if v.active == 1), None)
                summaries.append(
                    TemplateSummary(template.id, template.name, active.subject if active else None)
                )
            token = _page_token(page.metadata.next if page.metadata else None)
            if token is None or token in seen:
                return summaries
            seen.add(token)

    async def _get(self, path: str, params: dict[str, str | int], answer: type[T], what: str) -> T:
        async def attempt() -> httpx.Response:
            await self._wait_for_rate_limit()
            request = self._client.build_request("GET", path, params=params)
            return await send_classified(self._client, request)

        try:
            response = await self._caller.call(
                CALLER_KEY, attempt, idempotent=True, name=f"GET {path}"
            )
        except OutcomeUnknown as exc:
            raise Unavailable(f"SendGrid GET {path} gave no answer: {exc}") from exc
        if not response.is_success:
            raise _refusal(response, what)
        try:
            return msgspec.json.decode(response.content, type=answer)
        except msgspec.MsgspecError as exc:
            raise Unavailable(
                f"SendGrid answered GET {path} with an unreadable body: {exc}"
            ) from exc

    async def _observe_rate_limit(self, response: httpx.Response) -> None:
        remaining = response.headers.get("x-ratelimit-remaining")
        reset = response.headers.get("x-ratelimit-reset")
        if remaining is None:
            return
        try:
            exhausted = int(remaining) <= 0
            resume_at = float(reset) if reset is not None else None
        except ValueError:
            return
        self._resume_at = resume_at if exhausted else None

    async def _wait_for_rate_limit(self) -> None:
        if self._resume_at is None:
            return
        wait = self._resume_at - self._clock.now().timestamp()
        if wait <= 0:
            self._resume_at = None
            return
        if wait > self._max_wait:
            raise Unavailable(
                f"SendGrid rate limit exhausted for another {wait:.0f} s; nothing was sent"
            )
        await self._sleep(wait)
        self._resume_at = None
