"""Messages RowCol sends to people: reports, reminders, alerts."""

from __future__ import annotations

from dataclasses import dataclass, field

from rowcol.core.domain.errors import InvalidInput
from rowcol.core.domain.tenancy import check_email


@dataclass(frozen=True, slots=True)
class Attachment:
    filename: str
    content_type: str
    content: bytes


@dataclass(frozen=True, slots=True)
class EmailMessage:
    message_id: str
    to: tuple[str, ...]
    subject: str
    template_id: str | None = None
    template_data: dict[str, object] = field(default_factory=dict)
    text: str | None = None
    html: str | None = None
    attachments: tuple[Attachment, ...] = ()
    category: str = "general"

    def __post_init__(self) -> None:
        if not self.to:
            raise InvalidInput("a message needs at least one recipient")
        object.__setattr__(self, "to", tuple(check_email(a) for a in self.to))
        if self.template_id is None and self.text is None and self.html is None:
            raise InvalidInput("a message needs a template or a body")
