"""E-mail over SMTP (aiosmtplib), with STARTTLS and login when configured, over sessions kept
open between sends (`smtp_pool`)."""

from __future__ import annotations

import email.policy
from email.headerregistry import BaseHeader, HeaderRegistry
from email.message import EmailMessage
from functools import lru_cache

import aiosmtplib

from notification.adapters.channels.smtp_pool import SmtpPool
from notification.application.ports import Outgoing
from notification.domain.deliveries import SendError
from notification.settings import NotificationSettings

# Headers that repeat from mail to mail: parsed once (header objects are immutable).
_REPEATING = frozenset({"from", "to", "content-type", "content-transfer-encoding", "mime-version"})


class _ReusedHeaders(HeaderRegistry):
    """The standard header registry, minus its cost: it made a new header class for every
    header of every message, and parsed the same addresses again each time (most of the CPU
    of building an e-mail). The message and its bytes are the same."""

    @lru_cache(maxsize=64)  # noqa: B019 - one registry for the process
    def __getitem__(self, name: str) -> type[BaseHeader]:
        return super().__getitem__(name)

    @lru_cache(maxsize=1024)  # noqa: B019
    def _parsed(self, name: str, value: str) -> BaseHeader:
        return super().__call__(name, value)

    def __call__(self, name: str, value: str) -> BaseHeader:
        if name.lower() in _REPEATING:
            return self._parsed(name, value)
        return super().__call__(name, value)


POLICY = email.policy.default.clone(header_factory=_ReusedHeaders())


class EmailChannel:
    name = "email"

    def __init__(self, settings: NotificationSettings) -> None:
        self.settings = settings
        self.sessions = SmtpPool(settings)

    @property
    def configured(self) -> str | None:
        return None if self.settings.smtp_host else "no SMTP host"

    async def send(self, message: Outgoing) -> None:
        mime = EmailMessage(policy=POLICY)
        try:
            mime["From"] = self.settings.smtp_sender
            mime["To"] = message.to
            # A title with a line break must not break (or inject) headers.
            mime["Subject"] = " ".join(message.subject.split())
            mime["Message-ID"] = f"<{message.delivery_id}@crm>"  # lets a mail system drop repeats
            mime.set_content(message.text)
        except ValueError as exc:
            raise SendError(f"cannot build the e-mail: {exc}", transient=False) from exc
        try:
            async with self.sessions.session() as smtp:
                await smtp.send_message(mime)
        except aiosmtplib.SMTPRecipientsRefused as exc:
            raise SendError(f"smtp: recipient refused: {exc}", transient=False) from exc
        except aiosmtplib.SMTPResponseException as exc:
            raise SendError(f"smtp: {exc.code} {exc.message}", transient=exc.code < 500) from exc
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise SendError(f"smtp: {type(exc).__name__}: {exc}", transient=True) from exc

    async def close(self) -> None:
        await self.sessions.close()
