"""How a send ends: the log record, `crm.notifications.sent|failed`, and for a failure a copy
in the DLQ for an operator to look at and replay."""

from __future__ import annotations

from datetime import UTC, datetime

from faststream.nats import NatsBroker

from crm_contracts import subjects
from crm_contracts.envelope import derived_id
from crm_contracts.events import NotificationFailed, NotificationSent
from crm_contracts.runtime.bus import publish_event
from crm_contracts.streams import CRM_DLQ
from notification.adapters.delivery_log import DeliveryLog
from notification.domain.deliveries import Delivery
from notification.domain.due import Due
from notification.metrics import FAILED, LATENCY, SENT, SKIPPED


class Outcomes:
    """The outcome recorder: the delivery log, the outcome events and the DLQ copy."""

    def __init__(self, broker: NatsBroker, log: DeliveryLog) -> None:
        self.broker = broker
        self.log = log

    def _fields(self, d: Delivery) -> dict[str, object]:
        return {
            "aggregate_id": d.id,
            "producer": "notification",
            "notification_id": d.id,
            "rule_id": d.rule_id,
            "channel": d.channel,
            "recipient_hash": d.recipient_hash,
            "trigger_event_id": d.trigger_event_id,
            "trigger_event_type": d.trigger_event_type,
            "attempts": max(d.attempts, 1),
        }

    async def sent(self, d: Delivery, correlation_id: str | None) -> None:
        now = datetime.now(UTC)
        planned = d.scheduled_for or now
        d = d.model_copy(
            update={
                "status": "sent",
                "sent_at": now,
                "updated_at": now,
                "reason": None,
                "latency_ms": max(0, int((now - planned).total_seconds() * 1000)),
            }
        )
        await self.log.put(d)
        await self.announce(d, correlation_id)
        SENT.labels(d.channel, d.rule_id).inc()
        LATENCY.labels(d.channel).observe((d.latency_ms or 0) / 1000)

    async def failed(self, d: Delivery, reason: str, due: Due) -> None:
        d = d.model_copy(
            update={"status": "failed", "reason": reason[:1000], "updated_at": datetime.now(UTC)}
        )
        await self.log.put(d)
        await self.announce(d, due.correlation_id)
        await self.broker.publish(  # the DLQ keeps what was to be sent, with why it was not
            due.body(),
            f"{subjects.DLQ_PREFIX}.crmrem.due.{due.key or due.rule_id}",
            headers={
                "Nats-Msg-Id": f"notification:{d.id}",
                "Crm-Dlq-Consumer": "notification_delivery",
                "Crm-Dlq-Reason": d.reason or "",
                "Crm-Dlq-Deliveries": str(d.attempts),
                "Crm-Notification-Id": d.id,
            },
            stream=CRM_DLQ,
        )
        FAILED.labels(d.channel, d.rule_id).inc()

    async def announce(self, d: Delivery, correlation_id: str | None) -> None:
        """The outcome event of a final record. Its id derives from the delivery, so saying it
        again (after a crash between the log and the bus) is dropped as a duplicate."""
        if d.status == "sent":
            event: NotificationSent | NotificationFailed = NotificationSent(
                event_id=derived_id("notification.sent", d.id),
                correlation_id=correlation_id,
                latency_ms=d.latency_ms or 0,
                **self._fields(d),
            )
        elif d.status == "failed":
            event = NotificationFailed(
                event_id=derived_id("notification.failed", d.id),
                correlation_id=correlation_id,
                reason=d.reason or "",
                **self._fields(d),
            )
        else:
            return
        await publish_event(self.broker, event)

    async def skipped(self, d: Delivery, reason: str) -> Delivery | None:
        done = await self.log.end(
            d.model_copy(
                update={"status": "skipped", "reason": reason, "updated_at": datetime.now(UTC)}
            )
        )
        if done is None:
            SKIPPED.labels(d.channel, d.rule_id).inc()
        return done
