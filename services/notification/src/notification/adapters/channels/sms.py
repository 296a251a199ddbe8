"""SMS through an HTTP gateway: `POST <sms_gateway_url>` with `{"to", "text", "sender"}`."""

from __future__ import annotations

from notification.adapters.channels.http import post
from notification.application.ports import Outgoing
from notification.settings import NotificationSettings


class SmsChannel:
    name = "sms"

    def __init__(self, settings: NotificationSettings) -> None:
        self.settings = settings

    @property
    def configured(self) -> str | None:
        return None if self.settings.sms_gateway_url else "no SMS gateway URL"

    async def send(self, message: Outgoing) -> None:
        s = self.settings
        headers = {"Idempotency-Key": message.delivery_id}
        if s.sms_api_key:
            headers["Authorization"] = f"Bearer {s.sms_api_key}"
        assert s.sms_gateway_url is not None
        await post(
            s.sms_gateway_url,
            json={"to": message.to, "text": message.text, "sender": s.sms_sender},
            headers=headers,
            timeout=s.http_timeout,
            what="sms",
        )
