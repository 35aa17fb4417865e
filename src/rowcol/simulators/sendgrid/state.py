"""An in-memory SendGrid account: API keys, dynamic templates, every accepted message,
rate-limit windows and the Event Webhook outbox.

An accepted (non-sandbox) message is recorded in `messages` and queues delivery events
for each recipient: `processed`, then `delivered`, or `bounce` for an address at
`bounce.example`. Events wait in `outbox` until `deliver_webhooks` (in `app`) posts them,
signed with the account's EC P-256 key, as SendGrid's signed Event Webhook does.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from rowcol.demodata.generator import DemoFirm

DEFAULT_API_KEY: Final = "SG.rowcol-simulator-key.0123456789abcdefghijklmnopqrstuvwxyzABCDEFG"
BOUNCE_DOMAIN: Final = "bounce.example"
MAX_MESSAGE_BYTES: Final = 30 * 1024 * 1024
"""SendGrid's total message size limit is believed to be 30 MB (unverified)."""
DEFAULT_RATE_LIMIT: Final = 600
DEFAULT_RATE_WINDOW_SECONDS: Final = 60
SEED_UPDATED_AT: Final = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)

_NAMESPACE: Final = uuid.UUID("6f9d3c56-2b0e-4c8f-9a51-0d5f6e7a8b9c")
_P256_ORDER: Final = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


@dataclass(frozen=True, slots=True)
class TemplateSeed:
    key: str
    name: str
    subject: str
    html: str
    plain: str


ROWCOL_TEMPLATES: Final = (
    TemplateSeed(
        "weekly_digest",
        "RowCol weekly digest",
        "{{business_name}}: your week in cash",
        "<h1>{{business_name}}</h1><p>Runway: {{runway_days}} days</p>",
        "{{business_name}}\nRunway: {{runway_days}} days",
    ),
    TemplateSeed(
        "collection_reminder",
        "RowCol collection reminder",
        "Invoice {{invoice_number}} from {{business_name}} is due",
        "<p>Invoice {{invoice_number}} for {{amount}} was due on {{due_date}}.</p>",
        "Invoice {{invoice_number}} for {{amount}} was due on {{due_date}}.",
    ),
    TemplateSeed(
        "payment_alert",
        "RowCol payment alert",
        "Payment alert for {{business_name}}",
        "<p>{{summary}}</p>",
        "{{summary}}",
    ),
)


def dynamic_template_id(key: str) -> str:
    """A deterministic dynamic template id: `d-` and 32 lower-case hex digits."""
    return "d-" + uuid.uuid5(_NAMESPACE, f"template:{key}").hex


def legacy_template_id(key: str) -> str:
    """A deterministic legacy template id: a 36-character UUID."""
    return str(uuid.uuid5(_NAMESPACE, f"legacy-template:{key}"))


TEMPLATE_IDS: Final = {seed.key: dynamic_template_id(seed.key) for seed in ROWCOL_TEMPLATES}
"""RowCol's dynamic templates by purpose, as every seeded account holds them."""


def _utc_now() -> datetime:
    return datetime.now(UTC)


def sendgrid_time(moment: datetime) -> str:
    """Templates' `updated_at`: `YYYY-MM-DD HH:MM:SS` in UTC."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _token(*parts: str, length: int = 22) -> str:
    digest = hashlib.sha256("|".join(parts).encode()).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")[:length]


@dataclass(slots=True)
class SimTemplateVersion:
    version_id: str
    template_id: str
    name: str
    subject: str
    html_content: str
    plain_content: str
    active: int
    updated_at: datetime

    def to_json(self, *, full: bool) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.version_id,
            "template_id": self.template_id,
            "active": self.active,
            "name": self.name,
            "subject": self.subject,
            "updated_at": sendgrid_time(self.updated_at),
            "generate_plain_content": False,
            "editor": "code",
            "thumbnail_url": "",
        }
        if full:
            body["html_content"] = self.html_content
            body["plain_content"] = self.plain_content
        return body


@dataclass(slots=True)
class SimTemplate:
    template_id: str
    name: str
    generation: str
    updated_at: datetime
    versions: list[SimTemplateVersion] = field(default_factory=list)

    def to_json(self, *, full: bool = False) -> dict[str, Any]:
        return {
            "id": self.template_id,
            "name": self.name,
            "generation": self.generation,
            "updated_at": sendgrid_time(self.updated_at),
            "versions": [version.to_json(full=full) for version in self.versions],
        }

    @property
    def active_version(self) -> SimTemplateVersion | None:
        return next((v for v in self.versions if v.active == 1), None)


@dataclass(frozen=True, slots=True)
class SimAttachment:
    filename: str
    content_type: str | None
    content: bytes
    disposition: str


@dataclass(frozen=True, slots=True)
class SimMessage:
    """A Mail Send request SendGrid accepted, as it arrived."""

    x_message_id: str
    body: dict[str, Any]
    accepted_at: datetime
    sandbox: bool = False

    @property
    def personalizations(self) -> list[dict[str, Any]]:
        value: list[dict[str, Any]] = self.body["personalizations"]
        return value

    @property
    def recipients(self) -> list[str]:
        return [
            address["email"]
            for p in self.personalizations
            for kind in ("to", "cc", "bcc")
            for address in p.get(kind) or []
        ]

    @property
    def to(self) -> list[str]:
        return [address["email"] for address in self.personalizations[0]["to"]]

    @property
    def from_email(self) -> str:
        return str(self.body["from"]["email"])

    @property
    def from_name(self) -> str | None:
        name = self.body["from"].get("name")
        return str(name) if name is not None else None

    @property
    def subject(self) -> str | None:
        subject = self.personalizations[0].get("subject") or self.body.get("subject")
        return str(subject) if subject is not None else None

    @property
    def template_id(self) -> str | None:
        value = self.body.get("template_id")
        return str(value) if value is not None else None

    @property
    def template_data(self) -> dict[str, Any]:
        data: dict[str, Any] = self.personalizations[0].get("dynamic_template_data") or {}
        return data

    def _content(self, kind: str) -> str | None:
        for block in self.body.get("content") or []:
            if block.get("type") == kind:
                return str(block["value"])
        return None

    @property
    def text(self) -> str | None:
        return self._content("text/plain")

    @property
    def html(self) -> str | None:
        return self._content("text/html")

    @property
    def attachments(self) -> list[SimAttachment]:
        return [
            SimAttachment(
                filename=str(item["filename"]),
                content_type=item.get("type"),
                content=base64.b64decode(item["content"]),
                disposition=str(item.get("disposition", "attachment")),
            )
            for item in self.body.get("attachments") or []
        ]

    @property
    def categories(self) -> list[str]:
        return list(self.body.get("categories") or [])

    @property
    def custom_args(self) -> dict[str, str]:
        """The first personalization's custom args over the message-level ones."""
        merged: dict[str, str] = {}
        top = self.body.get("custom_args")
        if isinstance(top, dict):
            merged.update(top)
        merged.update(self.personalizations[0].get("custom_args") or {})
        return merged


@dataclass(frozen=True, slots=True)
class LoggedRequest:
    method: str
    path: str
    status: int


class SendGridState:
    """One SendGrid account. Thread-safe: the simulator serves it from its own thread."""

    def __init__(
        self,
        *,
        api_keys: tuple[str, ...] = (DEFAULT_API_KEY,),
        clock: Callable[[], datetime] = _utc_now,
        signing_seed: str = "rowcol-sendgrid-simulator",
        rate_limit: int = DEFAULT_RATE_LIMIT,
        rate_window_seconds: int = DEFAULT_RATE_WINDOW_SECONDS,
        max_message_bytes: int = MAX_MESSAGE_BYTES,
    ) -> None:
        self.lock = threading.RLock()
        self.api_keys: set[str] = set(api_keys)
        self.clock = clock
        self.rate_limit = rate_limit
        self.rate_window_seconds = rate_window_seconds
        self.max_message_bytes = max_message_bytes
        self.verified_senders: set[str] = set()
        """Addresses or `@domain`s allowed as `from`; empty: any sender is accepted."""
        self.templates: dict[str, SimTemplate] = {}
        self.messages: list[SimMessage] = []
        """Accepted, delivered messages, oldest first."""
        self.sandboxed: list[SimMessage] = []
        """Messages validated in sandbox mode: accepted, never delivered."""
        self.outbox: list[dict[str, Any]] = []
        self.requests: list[LoggedRequest] = []
        self.event_webhook_id = str(uuid.uuid5(_NAMESPACE, f"event-webhook:{signing_seed}"))
        self._windows: dict[tuple[str, str], tuple[int, int]] = {}
        self._counter = 0
        self._events = 0
        self._signing_seed = signing_seed
        self._key = _derive_key(signing_seed)

    # Templates -----------------------------------------------------------------------

    def add_template(
        self,
        name: str,
        subject: str,
        *,
        template_id: str | None = None,
        generation: str = "dynamic",
        html: str = "<p></p>",
        plain: str = "",
        active: bool = True,
        updated_at: datetime | None = None,
    ) -> SimTemplate:
        if template_id is None:
            template_id = (
                dynamic_template_id(name) if generation == "dynamic" else legacy_template_id(name)
            )
        moment = updated_at or self.clock()
        template = SimTemplate(template_id, name, generation, moment)
        template.versions.append(
            SimTemplateVersion(
                version_id=str(uuid.uuid5(_NAMESPACE, f"version:{template_id}:1")),
                template_id=template_id,
                name=f"{name} v1",
                subject=subject,
                html_content=html,
                plain_content=plain,
                active=1 if active else 0,
                updated_at=moment,
            )
        )
        with self.lock:
            self.templates[template_id] = template
        return template

    def template(self, template_id: str) -> SimTemplate | None:
        with self.lock:
            return self.templates.get(template_id)

    # Senders and keys ------------------------------------------------------------------

    def require_verified_sender(self, *senders: str) -> None:
        """Turns on Sender Identity checks: only these addresses or `@domain`s may send."""
        with self.lock:
            self.verified_senders.update(s.lower() for s in senders)

    def sender_verified(self, email: str) -> bool:
        with self.lock:
            if not self.verified_senders:
                return True
            email = email.lower()
            domain = "@" + email.rpartition("@")[2]
            return email in self.verified_senders or domain in self.verified_senders

    def key_valid(self, api_key: str) -> bool:
        with self.lock:
            return api_key in self.api_keys

    # Rate limits -----------------------------------------------------------------------

    def take_request(self, api_key: str, bucket: str) -> tuple[bool, dict[str, str]]:
        """Counts a request in its fixed window: (allowed, the X-RateLimit-* headers)."""
        now = int(self.clock().timestamp())
        window = max(1, self.rate_window_seconds)
        start = now - now % window
        with self.lock:
            started, used = self._windows.get((api_key, bucket), (start, 0))
            if started != start:
                used = 0
            allowed = used < self.rate_limit
            if allowed:
                used += 1
            self._windows[(api_key, bucket)] = (start, used)
        headers = {
            "X-RateLimit-Limit": str(self.rate_limit),
            "X-RateLimit-Remaining": str(max(0, self.rate_limit - used)),
            "X-RateLimit-Reset": str(start + window),
        }
        return allowed, headers

    # Messages and events ---------------------------------------------------------------

    def accept(self, body: dict[str, Any], *, sandbox: bool) -> SimMessage:
        """Records a validated Mail Send body; a delivered one also queues its events."""
        now = self.clock()
        with self.lock:
            self._counter += 1
            message = SimMessage(
                x_message_id=_token(self._signing_seed, "message", str(self._counter)),
                body=body,
                accepted_at=now,
                sandbox=sandbox,
            )
            if sandbox:
                self.sandboxed.append(message)
                return message
            self.messages.append(message)
            for n, email in enumerate(message.recipients):
                bounced = email.lower().endswith("@" + BOUNCE_DOMAIN)
                self._queue(message, email, n, "processed", now)
                if bounced:
                    self._queue(
                        message,
                        email,
                        n,
                        "bounce",
                        now + timedelta(seconds=2),
                        reason="550 5.1.1 The email account that you tried to reach does not exist",
                        status="5.1.1",
                        type="bounce",
                        bounce_classification="Invalid Address",
                    )
                else:
                    self._queue(
                        message,
                        email,
                        n,
                        "delivered",
                        now + timedelta(seconds=2),
                        response="250 2.0.0 OK",
                        tls=1,
                    )
            return message

    def add_event(
        self, message: SimMessage, email: str, event: str, **fields: Any
    ) -> dict[str, Any]:
        """Queues another event (open, click, dropped, ...) for one of the message's
        recipients."""
        with self.lock:
            index = message.recipients.index(email)
            return self._queue(message, email, index, event, self.clock(), **fields)

    def _queue(
        self,
        message: SimMessage,
        email: str,
        index: int,
        event: str,
        at: datetime,
        **fields: Any,
    ) -> dict[str, Any]:
        self._events += 1
        body: dict[str, Any] = {
            "email": email,
            "timestamp": int(at.timestamp()),
            "event": event,
            "smtp-id": f"<{message.x_message_id}@ismtpd0001p1las1.sendgrid.net>",
            "sg_event_id": _token(
                self._signing_seed, "event", message.x_message_id, email, event, str(self._events)
            ),
            "sg_message_id": f"{message.x_message_id}.filterdrecv-sim-{index}-0.0",
        }
        categories = message.categories
        if categories:
            body["category"] = categories[0] if len(categories) == 1 else categories
        for personalization in message.personalizations:
            addresses = [
                a["email"] for k in ("to", "cc", "bcc") for a in personalization.get(k) or []
            ]
            if email in addresses:
                top = message.body.get("custom_args")
                args = dict(top) if isinstance(top, dict) else {}
                args.update(personalization.get("custom_args") or {})
                for key, value in args.items():
                    body.setdefault(key, value)
                break
        body.update(fields)
        self.outbox.append(body)
        return body

    def take_events(self) -> list[dict[str, Any]]:
        with self.lock:
            events, self.outbox = self.outbox, []
            return events

    def requeue_events(self, events: list[dict[str, Any]]) -> None:
        with self.lock:
            self.outbox[:0] = events

    def find_by_rowcol_id(self, message_id: str) -> list[SimMessage]:
        """Accepted messages carrying RowCol's `rowcol_message_id` custom arg."""
        with self.lock:
            return [
                m for m in self.messages if m.custom_args.get("rowcol_message_id") == message_id
            ]

    def log(self, method: str, path: str, status: int) -> None:
        with self.lock:
            self.requests.append(LoggedRequest(method, path, status))

    def forget(self) -> None:
        """Drops messages, events, the request log and rate-limit windows; keeps templates
        and keys."""
        with self.lock:
            self.messages.clear()
            self.sandboxed.clear()
            self.outbox.clear()
            self.requests.clear()
            self._windows.clear()

    # Signing ---------------------------------------------------------------------------

    @property
    def public_key(self) -> str:
        """The Event Webhook verification key: base64 DER SubjectPublicKeyInfo."""
        der = self._key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return base64.b64encode(der).decode("ascii")

    def sign(self, body: bytes, timestamp: str) -> str:
        """Base64 DER ECDSA P-256/SHA-256 over `timestamp + body`, as SendGrid signs."""
        signature = self._key.sign(timestamp.encode("ascii") + body, ec.ECDSA(hashes.SHA256()))
        return base64.b64encode(signature).decode("ascii")


def _derive_key(seed: str) -> ec.EllipticCurvePrivateKey:
    digest = int.from_bytes(hashlib.sha256(f"sendgrid-signing:{seed}".encode()).digest(), "big")
    return ec.derive_private_key(digest % (_P256_ORDER - 1) + 1, ec.SECP256R1())


def is_base64(value: str) -> bool:
    try:
        base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


def seed_templates(state: SendGridState) -> None:
    for seed in ROWCOL_TEMPLATES:
        state.add_template(
            seed.name,
            seed.subject,
            template_id=TEMPLATE_IDS[seed.key],
            html=seed.html,
            plain=seed.plain,
            updated_at=SEED_UPDATED_AT,
        )


def seed_from_demo(
    firm: DemoFirm,
    *,
    clock: Callable[[], datetime] = _utc_now,
    api_keys: tuple[str, ...] = (DEFAULT_API_KEY,),
    **options: Any,
) -> SendGridState:
    """The firm's SendGrid account: RowCol's dynamic templates, the simulator's API key and
    an Event Webhook signing key derived from the firm id (the same firm, the same key)."""
    state = SendGridState(
        api_keys=api_keys, clock=clock, signing_seed=f"firm:{firm.firm.firm_id}", **options
    )
    seed_templates(state)
    return state
