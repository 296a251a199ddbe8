"""A generic webhook: JSON POSTed to the recipient URL, signed with HMAC-SHA256 of the body
(`X-CRM-Signature: sha256=<hex>`) so the receiver can check it came from us."""

from __future__ import annotations

import hashlib
import hmac
import json

from notification.adapters.channels.http import post
from notification.application.ports import Outgoing
from notification.settings import NotificationSettings


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class WebhookChannel:
    name = "webhook"

    def __init__(self, settings: NotificationSettings) -> None:
        self.settings = settings

    @property
    def configured(self) -> str | None:
        return None if self.settings.webhook_secret else "no webhook secret"

    async def send(self, message: Outgoing) -> None:
        assert self.settings.webhook_secret is not None
        body = json.dumps(
            {
                "delivery_id": message.delivery_id,
                "subject": message.subject,
                "text": message.text,
                **message.meta,
            },
            default=str,
        ).encode()
        headers = {
            "Content-Type": "application/json",
            "X-CRM-Signature": signature(self.settings.webhook_secret, body),
            "X-CRM-Delivery": message.delivery_id,
        }
        await post(
            message.to,
            content=body,
            headers=headers,
            timeout=self.settings.http_timeout,
            what="webhook",
        )
