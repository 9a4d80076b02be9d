"""E-mail through the configured SMTP server (smtplib on a worker thread: one connection per batch).

Without ECABINET_SMTP_HOST nothing is sent and nothing fails: reminders then reach people in the app."""

from __future__ import annotations

import asyncio
import logging
import smtplib
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import formataddr

from backend.config import Settings

log = logging.getLogger(__name__)


def configured(settings: Settings) -> bool:
    return bool(settings.smtp_host)


async def send(settings: Settings, recipients: Sequence[tuple[str, str]], subject: str, body: str) -> int:
    """One message to each (name, address); returns how many the server accepted (0 when not configured
    or unreachable: a mail problem must not stop reminders in the app)."""
    if not configured(settings) or not recipients:
        return 0
    try:
        return await asyncio.to_thread(_send, settings, recipients, subject, body)
    except (OSError, smtplib.SMTPException) as exc:
        log.warning("e-mail not sent (%s:%s): %s", settings.smtp_host, settings.smtp_port, exc)
        return 0


def _send(settings: Settings, recipients: Sequence[tuple[str, str]], subject: str, body: str) -> int:
    sent = 0
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=15) as smtp:
        if settings.smtp_starttls:
            smtp.starttls()
        if settings.smtp_user:
            smtp.login(settings.smtp_user, settings.smtp_password)
        for name, address in recipients:
            msg = EmailMessage()
            msg["From"] = settings.smtp_from
            msg["To"] = formataddr((name, address))
            msg["Subject"] = subject
            msg.set_content(body)
            try:
                smtp.send_message(msg)
                sent += 1
            except smtplib.SMTPRecipientsRefused:
                log.warning("the SMTP server refused %s", address)
    return sent
