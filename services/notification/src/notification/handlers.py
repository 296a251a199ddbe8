"""Bus consumers of the notification service."""

from __future__ import annotations

import hashlib
import logging

from faststream.nats import NatsBroker, NatsRouter
from faststream.nats.annotations import NatsMessage
from nats.js.errors import KeyNotFoundError
from prometheus_client import Counter

from crm_contracts import subjects
from crm_contracts.events import DealOpened
from crm_contracts.runtime.consuming import handle, work_queue
from notification.adapters.email import SmtpSender
from notification.messages import deal_opened_email
from notification.settings import NotificationSettings

log = logging.getLogger(__name__)
DEALS_OPENED_CONSUMER = "notification_deals_opened"
SENT_BUCKET = "notifications_sent"
RULE_DEAL_OPENED = "deal-opened-to-manager"
SENT = Counter("crm_notifications_sent_total", "Notifications sent", ["channel", "rule"])
SKIPPED = Counter("crm_notifications_duplicate_total", "Sends skipped as already done", ["rule"])


def send_key(event_id: str, rule: str, recipient: str) -> str:
    """KV key per event × rule × recipient; the recipient is hashed (keys allow few chars)."""
    digest = hashlib.sha256(recipient.lower().encode()).hexdigest()[:32]
    return f"{event_id}.{rule}.{digest}"


def build_router(settings: NotificationSettings, broker: NatsBroker) -> NatsRouter:
    router = NatsRouter()
    sender = SmtpSender(settings)

    @router.subscriber(
        subjects.DEALS_OPENED,
        **work_queue(DEALS_OPENED_CONSUMER, ack_wait=60),
        title="notification.deal_opened",
        description="E-mails the responsible manager when a deal is opened, once per event.",
    )
    async def on_deal_opened(message: NatsMessage) -> None:
        await handle(DEALS_OPENED_CONSUMER, message, broker, DealOpened, email_manager)

    async def email_manager(event: DealOpened) -> None:
        to = settings.manager_emails.get(event.manager_id or "", settings.default_manager_email)
        key = send_key(str(event.event_id), RULE_DEAL_OPENED, to)
        sent = await broker.key_value(SENT_BUCKET, ttl=settings.sent_ttl_days * 86400)
        try:
            await sent.get(key)
        except KeyNotFoundError:
            pass
        else:
            SKIPPED.labels(RULE_DEAL_OPENED).inc()
            return
        url = settings.deal_url_template.format(deal_id=event.deal_id)
        await sender.send(deal_opened_email(event, to, url), message_id=key)
        await sent.put(key, b"sent")  # only after the SMTP server took it
        SENT.labels("email", RULE_DEAL_OPENED).inc()
        log.info("e-mailed manager about a new deal", extra={"deal_id": event.deal_id})

    return router
