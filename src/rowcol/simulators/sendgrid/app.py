"""The simulated SendGrid v3 API over HTTP: Mail Send, dynamic templates, the signed
Event Webhook's public key, and delivery of signed Event Webhook batches.

Clients authenticate with `Authorization: Bearer <API key>`. Errors come in SendGrid's
shape `{"errors": [{"message", "field", "help"}]}` with its statuses: 400 for an invalid
body, 401 for a missing or unknown key, 403 for an unverified sender, 413 for a message
over the size limit, 429 over the rate limit. Every answer carries `X-RateLimit-Limit`,
`X-RateLimit-Remaining` and `X-RateLimit-Reset` (Unix seconds) for its endpoint.

`help` is an object, as the spec types it (SendGrid has been seen sending a bare URL or
null there). Sandbox mode answers 200 with an empty body and no `X-Message-Id`, and the
message is kept in `state.sandboxed`, never delivered (both unverified against SendGrid).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import re
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, Final
from urllib.parse import urlencode

import httpx
from litestar import Litestar, Request, Response, get, post
from litestar.exceptions import HTTPException

from rowcol.simulators.faults import FaultPlan, fault_middleware
from rowcol.simulators.sendgrid.state import SendGridState, is_base64

Body = dict[str, Any]
Error = dict[str, Any]
Answer = tuple[int, Body | None, dict[str, str]]

MAX_PERSONALIZATIONS: Final = 1000
MAX_RECIPIENTS: Final = 1000
MAX_CATEGORIES: Final = 10
MAX_PAGE_SIZE: Final = 200
GENERATIONS: Final = frozenset({"legacy", "dynamic"})
SIGNATURE_HEADER: Final = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP_HEADER: Final = "X-Twilio-Email-Event-Webhook-Timestamp"

_EMAIL: Final = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_DOCS: Final = "https://www.twilio.com/docs/sendgrid/api-reference/mail-send/errors"
_FAULT_BODY: Final = {"errors": [{"message": "internal server error", "field": None}]}


def error(message: str, field: str | None = None, *, help_anchor: str | None = None) -> Error:
    item: Error = {"message": message, "field": field}
    if help_anchor is not None:
        item["help"] = {"url": f"{_DOCS}#{help_anchor}"}
    return item


def _errors(*items: Error) -> Body:
    return {"errors": list(items)}


def _json_response(status: int, body: Body | None, headers: dict[str, str]) -> Response[bytes]:
    if body is None:
        return Response(content=b"", status_code=status, headers=headers)
    return Response(
        content=json.dumps(body).encode(),
        status_code=status,
        headers=headers,
        media_type="application/json",
    )


def _bearer(request: Request[Any, Any, Any]) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


# Mail Send validation ------------------------------------------------------------------


def _addresses(value: Any, field: str, *, required: bool) -> tuple[list[str], list[Error]]:
    if value is None and not required:
        return [], []
    if not isinstance(value, list) or (required and not value):
        return [], [
            error(
                "The to array is required for all personalization objects, and must have at "
                "least one email object with a valid email address.",
                field,
                help_anchor="message.personalizations.to",
            )
        ]
    emails: list[str] = []
    problems: list[Error] = []
    for j, address in enumerate(value):
        email = address.get("email") if isinstance(address, dict) else None
        if not isinstance(email, str) or not _EMAIL.match(email):
            problems.append(
                error(
                    "Does not contain a valid address.",
                    f"{field}.{j}.email",
                    help_anchor="message.personalizations.to",
                )
            )
        else:
            emails.append(email.lower())
    return emails, problems


def _personalization_errors(body: Body) -> tuple[list[Error], bool]:
    """Errors of `personalizations`, and whether every personalization has a subject."""
    personalizations = body.get("personalizations")
    anchor = "message.personalizations"
    if not isinstance(personalizations, list) or not personalizations:
        return [
            error(
                "The personalizations field is required and must have at least one "
                "personalization.",
                "personalizations",
                help_anchor=anchor,
            )
        ], False
    if len(personalizations) > MAX_PERSONALIZATIONS:
        return [
            error(
                f"The personalizations field must have no more than {MAX_PERSONALIZATIONS} "
                "personalizations.",
                "personalizations",
                help_anchor=anchor,
            )
        ], False
    problems: list[Error] = []
    total = 0
    all_subjects = True
    for i, personalization in enumerate(personalizations):
        field = f"personalizations.{i}"
        if not isinstance(personalization, dict):
            problems.append(error("A personalization must be an object.", field))
            all_subjects = False
            continue
        seen: set[str] = set()
        for kind in ("to", "cc", "bcc"):
            emails, found = _addresses(
                personalization.get(kind), f"{field}.{kind}", required=kind == "to"
            )
            problems.extend(found)
            total += len(emails)
            for email in emails:
                if email in seen:
                    problems.append(
                        error(
                            "Each email address in the personalization block should be unique "
                            "between to, cc, and bcc. We found the first duplicate instance of "
                            f"[{email}] in the {field}.{kind} field.",
                            field,
                            help_anchor=anchor,
                        )
                    )
                    break
                seen.add(email)
        subject = personalization.get("subject")
        if subject is not None and (not isinstance(subject, str) or not subject):
            problems.append(
                error(
                    "The subject must be a string at least one character long.", f"{field}.subject"
                )
            )
        all_subjects = all_subjects and isinstance(subject, str) and bool(subject)
        data = personalization.get("dynamic_template_data")
        if data is not None and not isinstance(data, dict):
            problems.append(
                error(
                    "The dynamic_template_data must be an object.",
                    f"{field}.dynamic_template_data",
                )
            )
        args = personalization.get("custom_args")
        if args is not None and (
            not isinstance(args, dict) or not all(isinstance(v, str) for v in args.values())
        ):
            problems.append(
                error(
                    "Custom args must be an object of string values.",
                    f"{field}.custom_args",
                    help_anchor="message.custom_args",
                )
            )
    if total > MAX_RECIPIENTS:
        problems.append(
            error(
                f"The total number of recipients must be no more than {MAX_RECIPIENTS}.",
                "personalizations",
                help_anchor=anchor,
            )
        )
    return problems, all_subjects


def _content_errors(body: Body, template: bool) -> list[Error]:
    content = body.get("content")
    if content is None and template:
        return []
    if not isinstance(content, list) or not content:
        return [
            error(
                "Unless a valid template_id is provided, the content parameter is required. "
                "There must be at least one defined content block. We typically suggest both "
                "text/plain and text/html blocks are included, but only one block is required.",
                "content",
                help_anchor="message.content",
            )
        ]
    problems: list[Error] = []
    kinds = []
    for i, block in enumerate(content):
        kind = block.get("type") if isinstance(block, dict) else None
        value = block.get("value") if isinstance(block, dict) else None
        if not isinstance(kind, str) or not kind:
            problems.append(
                error(
                    "The content type must be a string at least one character in length.",
                    f"content.{i}.type",
                    help_anchor="message.content.type",
                )
            )
        if not isinstance(value, str) or not value:
            problems.append(
                error(
                    "The content value must be a string at least one character in length.",
                    f"content.{i}.value",
                    help_anchor="message.content.value",
                )
            )
        kinds.append(kind)
    order = {"text/plain": 0, "text/html": 1}
    ranks = [order.get(k, 2) if isinstance(k, str) else 2 for k in kinds]
    if ranks != sorted(ranks):
        problems.append(
            error(
                "If present, text/plain must be first, followed by text/html, followed by any "
                "other content.",
                "content.0.type",
                help_anchor="message.content.type",
            )
        )
    return problems


def _attachment_errors(body: Body) -> list[Error]:
    attachments = body.get("attachments")
    if attachments is None:
        return []
    anchor = "message.attachments"
    if not isinstance(attachments, list):
        return [error("The attachments field must be an array.", "attachments", help_anchor=anchor)]
    problems: list[Error] = []
    for i, item in enumerate(attachments):
        field = f"attachments.{i}"
        if not isinstance(item, dict):
            problems.append(error("An attachment must be an object.", field, help_anchor=anchor))
            continue
        content = item.get("content")
        if not isinstance(content, str) or not content:
            problems.append(
                error(
                    "The attachment content is required.",
                    f"{field}.content",
                    help_anchor="message.attachments.content",
                )
            )
        elif not is_base64(content):
            problems.append(
                error(
                    "The attachment content must be base64 encoded.",
                    f"{field}.content",
                    help_anchor="message.attachments.content",
                )
            )
        filename = item.get("filename")
        if not isinstance(filename, str) or not filename:
            problems.append(
                error(
                    "The attachment filename parameter is required.",
                    f"{field}.filename",
                    help_anchor="message.attachments.filename",
                )
            )
        kind = item.get("type")
        if kind is not None and (not isinstance(kind, str) or not kind or ";" in kind):
            problems.append(
                error(
                    "The attachment type must be a MIME type without ';'.",
                    f"{field}.type",
                    help_anchor="message.attachments.type",
                )
            )
        disposition = item.get("disposition", "attachment")
        if disposition not in ("attachment", "inline"):
            problems.append(
                error(
                    "The disposition must be either inline or attachment.",
                    f"{field}.disposition",
                    help_anchor="message.attachments.disposition",
                )
            )
        elif disposition == "inline" and not item.get("content_id"):
            problems.append(
                error(
                    "The content_id parameter is required when disposition is inline.",
                    f"{field}.content_id",
                    help_anchor="message.attachments.content_id",
                )
            )
    return problems


def _category_errors(body: Body) -> list[Error]:
    categories = body.get("categories")
    if categories is None:
        return []
    anchor = "message.categories"
    if not isinstance(categories, list) or not all(isinstance(c, str) for c in categories):
        return [
            error("The categories must be an array of strings.", "categories", help_anchor=anchor)
        ]
    if len(categories) > MAX_CATEGORIES:
        return [
            error(
                f"You may not have more than {MAX_CATEGORIES} categories per request.",
                "categories",
                help_anchor=anchor,
            )
        ]
    if len(set(categories)) != len(categories):
        return [error("The categories must be unique.", "categories", help_anchor=anchor)]
    if any(not c or len(c) > 255 for c in categories):
        return [
            error("A category must be 1-255 characters long.", "categories", help_anchor=anchor)
        ]
    return []


def validate_mail_send(body: Any, state: SendGridState) -> list[Error]:
    """SendGrid's checks of a Mail Send body, every failing one at once."""
    if not isinstance(body, dict):
        return [error("Bad Request")]
    problems, all_subjects = _personalization_errors(body)
    sender = body.get("from")
    email = sender.get("email") if isinstance(sender, dict) else None
    if not isinstance(email, str) or not _EMAIL.match(email):
        problems.append(
            error(
                "The from object must be provided for every email send. It is an object that "
                "requires the email parameter, but may also contain a name parameter.",
                "from.email",
                help_anchor="message.from",
            )
        )
    template_id = body.get("template_id")
    if template_id is not None:
        template = state.template(template_id) if isinstance(template_id, str) else None
        generation = "dynamic" if str(template_id).startswith("d-") else "legacy"
        if template is None or template.generation != generation:
            problems.append(
                error(
                    f"The template_id {template_id!r} does not match a {generation} template "
                    "of this account.",
                    "template_id",
                    help_anchor="message.template_id",
                )
            )
    subject = body.get("subject")
    if subject is not None and (not isinstance(subject, str) or not subject):
        problems.append(
            error("The subject must be a string at least one character long.", "subject")
        )
    elif subject is None and template_id is None and not all_subjects:
        problems.append(
            error(
                "The subject is required. You can get around this requirement if you use a "
                "template with a subject defined or if every personalization has a subject "
                "defined.",
                "subject",
                help_anchor="message.subject",
            )
        )
    problems.extend(_content_errors(body, template_id is not None))
    problems.extend(_attachment_errors(body))
    problems.extend(_category_errors(body))
    settings = body.get("mail_settings")
    sandbox = settings.get("sandbox_mode") if isinstance(settings, dict) else None
    if sandbox is not None and not (
        isinstance(sandbox, dict) and isinstance(sandbox.get("enable", False), bool)
    ):
        problems.append(
            error(
                "The sandbox_mode enable parameter must be a boolean.",
                "mail_settings.sandbox_mode.enable",
            )
        )
    return problems


def _sandboxed(body: Body) -> bool:
    settings = body.get("mail_settings")
    mode = settings.get("sandbox_mode") if isinstance(settings, dict) else None
    return isinstance(mode, dict) and mode.get("enable") is True


# Paging ----------------------------------------------------------------------------------


def _encode_token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode().rstrip("=")


def _decode_token(token: str) -> int | None:
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    kind, _, number = text.partition(":")
    return int(number) if kind == "offset" and number.isdigit() else None


def _page_url(request: Request[Any, Any, Any], params: dict[str, str]) -> str:
    url = request.url
    base = f"{url.scheme}://{url.netloc}{url.path}"
    return f"{base}?{urlencode(params)}" if params else base


class _Api:
    def __init__(self, state: SendGridState) -> None:
        self.state = state

    def mail_send(self, raw: bytes, content_type: str) -> Answer:
        if len(raw) > self.state.max_message_bytes:
            return 413, _errors(error("content too large")), {}
        if "json" not in content_type.lower():
            return 400, _errors(error("Content-Type should be application/json.")), {}
        try:
            body = json.loads(raw)
        except ValueError:
            return 400, _errors(error("Bad Request")), {}
        problems = validate_mail_send(body, self.state)
        if problems:
            return 400, _errors(*problems), {}
        sender = str(body["from"]["email"])
        if not self.state.sender_verified(sender):
            return (
                403,
                _errors(
                    error(
                        "The from address does not match a verified Sender Identity. Mail cannot "
                        "be sent until this error is resolved. Visit "
                        "https://sendgrid.com/docs/for-developers/sending-email/sender-identity/ "
                        "to see the Sender Identity requirements",
                        "from",
                    )
                ),
                {},
            )
        if _sandboxed(body):
            self.state.accept(body, sandbox=True)
            return 200, None, {}
        message = self.state.accept(body, sandbox=False)
        return 202, None, {"X-Message-Id": message.x_message_id}

    def list_templates(self, request: Request[Any, Any, Any]) -> Answer:
        query = request.query_params
        page_size_text = query.get("page_size")
        try:
            page_size = int(page_size_text) if page_size_text is not None else 0
        except ValueError:
            page_size = 0
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            return (
                400,
                _errors(
                    error(
                        f"page_size should be an integer between 1 and {MAX_PAGE_SIZE}.",
                        "page_size",
                    )
                ),
                {},
            )
        wanted: set[str] = set()
        for generation in (query.get("generations") or "legacy").split(","):
            if generation.strip() not in GENERATIONS:
                return (
                    400,
                    _errors(
                        error(
                            "generations must be legacy, dynamic or legacy,dynamic.", "generations"
                        )
                    ),
                    {},
                )
            wanted.add(generation.strip())
        offset = 0
        token = query.get("page_token")
        if token:
            decoded = _decode_token(token)
            if decoded is None:
                return 400, _errors(error("page_token is invalid.", "page_token")), {}
            offset = decoded
        with self.state.lock:
            matching = [t for t in self.state.templates.values() if t.generation in wanted]
            page = [t.to_json() for t in matching[offset : offset + page_size]]
        params = {k: v for k, v in query.items() if k != "page_token"}
        metadata: Body = {
            "self": _page_url(request, dict(query.items())),
            "count": len(matching),
        }
        if offset + page_size < len(matching):
            metadata["next"] = _page_url(
                request, params | {"page_token": _encode_token(offset + page_size)}
            )
        if offset > 0:
            previous = dict(params)
            if offset - page_size > 0:
                previous["page_token"] = _encode_token(offset - page_size)
            metadata["prev"] = _page_url(request, previous)
        return 200, {"result": page, "_metadata": metadata}, {}

    def get_template(self, template_id: str) -> Answer:
        template = self.state.template(template_id)
        if template is None:
            return 404, _errors(error("resource not found", "template_id")), {}
        with self.state.lock:
            return 200, template.to_json(full=True), {}

    def signed_webhook_key(self, webhook_id: str) -> Answer:
        if webhook_id and webhook_id != self.state.event_webhook_id:
            return 404, {"errors": [{"message": "Invalid id provided."}]}, {}
        return 200, {"id": webhook_id, "public_key": self.state.public_key}, {}


Handler = Callable[[Request[Any, Any, Any]], Awaitable[Answer]]


def _guarded(state: SendGridState, bucket: str, handler: Handler) -> Handler:
    """Authentication and the rate limit, in SendGrid's order, around an endpoint."""

    async def guarded(request: Request[Any, Any, Any]) -> Answer:
        key = _bearer(request)
        allowed, limits = state.take_request(key or "", bucket)
        if key is None:
            return 401, _errors(error("authorization required")), limits
        if not state.key_valid(key):
            return (
                401,
                _errors(error("The provided authorization grant is invalid, expired, or revoked")),
                limits,
            )
        if not allowed:
            return 429, _errors(error("too many requests")), limits
        status, body, headers = await handler(request)
        return status, body, limits | headers

    return guarded


def _respond(
    state: SendGridState, request: Request[Any, Any, Any], answer: Answer
) -> Response[bytes]:
    status, body, headers = answer
    state.log(request.method, request.url.path, status)
    return _json_response(status, body, headers)


def create_app(state: SendGridState, plan: FaultPlan | None = None) -> Litestar:
    api = _Api(state)

    async def mail(request: Request[Any, Any, Any]) -> Answer:
        return api.mail_send(await request.body(), request.headers.get("content-type", ""))

    async def templates(request: Request[Any, Any, Any]) -> Answer:
        return api.list_templates(request)

    send_mail = _guarded(state, "mail.send", mail)
    list_templates = _guarded(state, "templates", templates)

    @post("/v3/mail/send", status_code=202)
    async def mail_send(request: Request[Any, Any, Any]) -> Response[bytes]:
        return _respond(state, request, await send_mail(request))

    @get("/v3/templates")
    async def templates_list(request: Request[Any, Any, Any]) -> Response[bytes]:
        return _respond(state, request, await list_templates(request))

    async def one_template(request: Request[Any, Any, Any]) -> Answer:
        return api.get_template(str(request.path_params["template_id"]))

    async def webhook_key(request: Request[Any, Any, Any]) -> Answer:
        return api.signed_webhook_key(str(request.path_params.get("webhook_id", "")))

    get_template = _guarded(state, "templates", one_template)
    get_webhook_key = _guarded(state, "webhooks", webhook_key)

    @get("/v3/templates/{template_id:str}")
    async def template_get(request: Request[Any, Any, Any]) -> Response[bytes]:
        return _respond(state, request, await get_template(request))

    @get(
        [
            "/v3/user/webhooks/event/settings/signed",
            "/v3/user/webhooks/event/settings/signed/{webhook_id:str}",
        ]
    )
    async def signed_key(request: Request[Any, Any, Any]) -> Response[bytes]:
        return _respond(state, request, await get_webhook_key(request))

    def on_http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[bytes]:
        message = {404: "not found", 405: "method not allowed"}.get(
            exc.status_code, str(exc.detail).lower()
        )
        return _respond(state, request, (exc.status_code, _errors(error(message)), {}))

    def on_crash(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
        return _respond(state, request, (500, _errors(error("internal server error")), {}))

    return Litestar(
        route_handlers=[mail_send, templates_list, template_get, signed_key],
        middleware=[fault_middleware(plan or FaultPlan(), error_body=_FAULT_BODY)],
        exception_handlers={HTTPException: on_http_error, Exception: on_crash},
        request_max_body_size=None,
        debug=False,
    )


async def deliver_webhooks(
    state: SendGridState,
    url: str,
    *,
    duplicate: bool = False,
    reverse: bool = False,
    delay: float = 0.0,
    signed_at: datetime | None = None,
    batch_size: int | None = None,
    client: httpx.AsyncClient | None = None,
    timeout_seconds: float = 5.0,
) -> list[int]:
    """POSTs the pending events to `url` as JSON arrays, signed as SendGrid signs them.

    `duplicate` posts every batch twice (SendGrid re-sends a batch it got no 2xx for, with
    the same `sg_event_id`s), `reverse` sends events newest first, `delay` waits before
    sending, `signed_at` dates the signature (a stale one), `batch_size` splits the events
    (default: one batch). Answers the statuses, 0 for no answer; batches that got no 2xx
    go back to the outbox.
    """
    events = state.take_events()
    if reverse:
        events.reverse()
    if delay:
        await asyncio.sleep(delay)
    size = batch_size or max(1, len(events))
    batches = [events[i : i + size] for i in range(0, len(events), size)]
    statuses: list[int] = []
    failed: list[dict[str, Any]] = []
    owned = client is None
    http = client or httpx.AsyncClient(timeout=timeout_seconds)
    try:
        for batch in batches:
            body = json.dumps(batch, separators=(",", ":")).encode()
            delivered = False
            for _ in range(2 if duplicate else 1):
                moment = signed_at or state.clock()
                timestamp = str(int(moment.timestamp()))
                headers = {
                    "Content-Type": "application/json",
                    "User-Agent": "SendGrid Event API",
                    SIGNATURE_HEADER: state.sign(body, timestamp),
                    TIMESTAMP_HEADER: timestamp,
                }
                try:
                    response = await http.post(url, content=body, headers=headers)
                except httpx.HTTPError:
                    statuses.append(0)
                    continue
                statuses.append(response.status_code)
                delivered = delivered or response.is_success
            if not delivered:
                failed.extend(batch)
    finally:
        if owned:
            await http.aclose()
    state.requeue_events(failed)
    return statuses
