"""SendGrid v3 JSON as it travels: the Mail Send body RowCol builds, and the answers
(errors, template pages) it reads.

Request structs omit unset fields, because SendGrid treats a present-but-empty field
(an empty `content` list, a null `template_id`) as an error. Answer structs ignore
unknown fields so that SendGrid adding fields breaks nothing.
"""

from __future__ import annotations

from typing import Any

import msgspec


class Wire(msgspec.Struct, forbid_unknown_fields=False, omit_defaults=True):
    """Base for every SendGrid payload."""


class Address(Wire):
    email: str
    name: str | None = None


class Personalization(Wire):
    to: list[Address]
    dynamic_template_data: dict[str, Any] | None = None
    custom_args: dict[str, str] | None = None
    """Carried onto every Event Webhook event of this personalization's recipients. Set
    here rather than at the top level: the spec types the top-level `custom_args` as a
    string, the personalization's as an object."""


class Content(Wire):
    type: str
    value: str


class Attachment(Wire):
    content: str
    """Base64, standard alphabet, no line breaks."""
    filename: str
    type: str
    disposition: str


class SandboxMode(Wire):
    enable: bool


class MailSettings(Wire):
    sandbox_mode: SandboxMode | None = None


class MailSend(Wire):
    """The body of POST /v3/mail/send."""

    personalizations: list[Personalization]
    from_: Address = msgspec.field(name="from")
    subject: str | None = None
    content: list[Content] | None = None
    attachments: list[Attachment] | None = None
    template_id: str | None = None
    categories: list[str] | None = None
    mail_settings: MailSettings | None = None


class ErrorItem(Wire):
    message: str = ""
    field: str | None = None
    help: Any = None


class ErrorResponse(Wire):
    errors: list[ErrorItem] = msgspec.field(default_factory=list)
    id: str | None = None


class TemplateVersion(Wire):
    id: str = ""
    template_id: str | None = None
    active: int = 0
    name: str | None = None
    subject: str | None = None
    updated_at: str | None = None


class Template(Wire):
    id: str
    name: str
    generation: str = "legacy"
    updated_at: str | None = None
    versions: list[TemplateVersion] = msgspec.field(default_factory=list)


class Metadata(Wire):
    self_: str | None = msgspec.field(default=None, name="self")
    next: str | None = None
    prev: str | None = None
    count: int | None = None


class TemplatesPage(Wire):
    """The answer of GET /v3/templates."""

    result: list[Template] = msgspec.field(default_factory=list)
    metadata: Metadata | None = msgspec.field(default=None, name="_metadata")
