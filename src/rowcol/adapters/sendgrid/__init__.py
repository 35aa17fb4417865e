"""SendGrid: RowCol's email (Mail Send v3, dynamic templates) and its signed Event Webhook."""

from rowcol.adapters.sendgrid.client import (
    CALLER_KEY,
    MESSAGE_ID_ARG,
    SENDGRID_RATE_LIMIT,
    SendGridNotifier,
    TemplateSummary,
    mail_send_body,
    sendgrid_caller,
)
from rowcol.adapters.sendgrid.webhooks import SendGridWebhookVerifier, load_public_key

__all__ = [
    "CALLER_KEY",
    "MESSAGE_ID_ARG",
    "SENDGRID_RATE_LIMIT",
    "SendGridNotifier",
    "SendGridWebhookVerifier",
    "TemplateSummary",
    "load_public_key",
    "mail_send_body",
    "sendgrid_caller",
]
