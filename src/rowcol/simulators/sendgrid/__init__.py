"""A local SendGrid: Mail Send, dynamic templates and the signed Event Webhook."""

from rowcol.simulators.sendgrid.app import create_app, deliver_webhooks, validate_mail_send
from rowcol.simulators.sendgrid.state import (
    BOUNCE_DOMAIN,
    DEFAULT_API_KEY,
    ROWCOL_TEMPLATES,
    TEMPLATE_IDS,
    SendGridState,
    SimAttachment,
    SimMessage,
    SimTemplate,
    dynamic_template_id,
    legacy_template_id,
    seed_from_demo,
    seed_templates,
)

__all__ = [
    "BOUNCE_DOMAIN",
    "DEFAULT_API_KEY",
    "ROWCOL_TEMPLATES",
    "TEMPLATE_IDS",
    "SendGridState",
    "SimAttachment",
    "SimMessage",
    "SimTemplate",
    "create_app",
    "deliver_webhooks",
    "dynamic_template_id",
    "legacy_template_id",
    "seed_from_demo",
    "seed_templates",
    "validate_mail_send",
]
