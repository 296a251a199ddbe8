"""SMTP sessions to the gateway, kept open from send to send: a new connection per e-mail
(connect, EHLO, STARTTLS, login, QUIT) cost more CPU than the message itself."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

import aiosmtplib

from notification.settings import NotificationSettings


class SmtpPool:
    """At most `smtp_connections` sessions at once; an idle one is reused while the server
    keeps it open and it has been idle less than `smtp_idle_seconds`. A session that saw any
    error is closed, never reused: its state is unknown (a failed send is retried as before)."""

    def __init__(self, settings: NotificationSettings) -> None:
        self.settings = settings
        self._idle: list[tuple[aiosmtplib.SMTP, float]] = []  # (session, idle since)
        self._slots: asyncio.Semaphore | None = None  # made in the loop that sends

    @contextlib.asynccontextmanager
    async def session(self) -> AsyncIterator[aiosmtplib.SMTP]:
        if self._slots is None:
            self._slots = asyncio.Semaphore(max(1, self.settings.smtp_connections))
        async with self._slots:
            smtp = self._reusable() or await self._connect()
            try:
                yield smtp
            except BaseException:
                smtp.close()
                raise
            self._idle.append((smtp, time.monotonic()))

    def _reusable(self) -> aiosmtplib.SMTP | None:
        fresh_since = time.monotonic() - self.settings.smtp_idle_seconds
        while self._idle:
            smtp, since = self._idle.pop()  # the most recent: least likely dropped
            if smtp.is_connected and since >= fresh_since:
                return smtp
            smtp.close()
        return None

    async def _connect(self) -> aiosmtplib.SMTP:
        s = self.settings
        smtp = aiosmtplib.SMTP(
            hostname=s.smtp_host,
            port=s.smtp_port,
            username=s.smtp_username,
            password=s.smtp_password,
            start_tls=s.smtp_starttls,
            timeout=s.smtp_timeout,
        )
        await smtp.connect()
        return smtp

    async def close(self) -> None:
        """Say goodbye to the idle sessions (at shutdown)."""
        idle, self._idle = self._idle, []
        for smtp, _ in idle:
            with contextlib.suppress(Exception):
                await smtp.quit(timeout=1.0)
            smtp.close()
