"""The channels, each implementing the `Channel` port (`application.ports`), built from settings."""

from __future__ import annotations

from notification.adapters.channels.email import EmailChannel
from notification.adapters.channels.sms import SmsChannel
from notification.adapters.channels.telegram import TelegramChannel
from notification.adapters.channels.webhook import WebhookChannel
from notification.application.ports import Channel
from notification.settings import NotificationSettings


def build_channels(settings: NotificationSettings) -> dict[str, Channel]:
    channels: list[Channel] = [
        EmailChannel(settings),
        TelegramChannel(settings),
        SmsChannel(settings),
        WebhookChannel(settings),
    ]
    return {c.name: c for c in channels}


async def close_channels(channels: dict[str, Channel]) -> None:
    """At shutdown: the SMTP sessions kept open between sends say goodbye."""
    for channel in channels.values():
        if isinstance(channel, EmailChannel):
            await channel.close()
