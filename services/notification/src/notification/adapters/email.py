"""E-mail over SMTP (aiosmtplib)."""

from __future__ import annotations

from email.message import EmailMessage as MimeMessage

import aiosmtplib

from notification.messages import EmailMessage
from notification.settings import NotificationSettings


class SmtpSender:
    def __init__(self, settings: NotificationSettings) -> None:
        self.settings = settings

    async def send(self, message: EmailMessage, message_id: str) -> None:
        mime = MimeMessage()
        mime["From"] = self.settings.smtp_sender
        mime["To"] = message.to
        mime["Subject"] = message.subject
        mime["Message-ID"] = f"<{message_id}@crm>"
        mime.set_content(message.body)
        await aiosmtplib.send(
            mime,
            hostname=self.settings.smtp_host,
            port=self.settings.smtp_port,
            username=self.settings.smtp_username,
            password=self.settings.smtp_password,
            start_tls=self.settings.smtp_starttls,
            timeout=self.settings.smtp_timeout,
        )
