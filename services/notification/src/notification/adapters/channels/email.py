"""E-mail over SMTP (aiosmtplib), with STARTTLS and login when configured."""

from __future__ import annotations

from email.message import EmailMessage

import aiosmtplib

from notification.application.ports import Outgoing
from notification.domain.deliveries import SendError
from notification.settings import NotificationSettings


class EmailChannel:
    name = "email"

    def __init__(self, settings: NotificationSettings) -> None:
        self.settings = settings

    @property
    def configured(self) -> str | None:
        return None if self.settings.smtp_host else "no SMTP host"

    async def send(self, message: Outgoing) -> None:
        s = self.settings
        mime = EmailMessage()
        try:
            mime["From"] = s.smtp_sender
            mime["To"] = message.to
            # A title with a line break must not break (or inject) headers.
            mime["Subject"] = " ".join(message.subject.split())
            mime["Message-ID"] = f"<{message.delivery_id}@crm>"  # lets a mail system drop repeats
            mime.set_content(message.text)
        except ValueError as exc:
            raise SendError(f"cannot build the e-mail: {exc}", transient=False) from exc
        try:
            await aiosmtplib.send(
                mime,
                hostname=s.smtp_host,
                port=s.smtp_port,
                username=s.smtp_username,
                password=s.smtp_password,
                start_tls=s.smtp_starttls,
                timeout=s.smtp_timeout,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            raise SendError(f"smtp: recipient refused: {exc}", transient=False) from exc
        except aiosmtplib.SMTPResponseException as exc:
            raise SendError(f"smtp: {exc.code} {exc.message}", transient=exc.code < 500) from exc
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise SendError(f"smtp: {type(exc).__name__}: {exc}", transient=True) from exc
