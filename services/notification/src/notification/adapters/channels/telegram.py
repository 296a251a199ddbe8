"""Telegram Bot API `sendMessage`."""

from __future__ import annotations

from notification.adapters.channels.http import post
from notification.application.ports import Outgoing
from notification.domain.deliveries import SendError
from notification.settings import NotificationSettings


class TelegramChannel:
    name = "telegram"

    def __init__(self, settings: NotificationSettings) -> None:
        self.settings = settings

    @property
    def configured(self) -> str | None:
        return None if self.settings.telegram_bot_token else "no Telegram bot token"

    async def send(self, message: Outgoing) -> None:
        s = self.settings
        url = f"{s.telegram_base_url.rstrip('/')}/bot{s.telegram_bot_token}/sendMessage"
        text = f"{message.subject}\n\n{message.text}" if message.subject else message.text
        response = await post(
            url,
            json={"chat_id": message.to, "text": text, "disable_web_page_preview": True},
            timeout=s.http_timeout,
            what="telegram",
        )
        body = response.json() if response.content else {}
        if isinstance(body, dict) and body.get("ok") is False:
            raise SendError(f"telegram: {body.get('description', 'not ok')}", transient=False)
