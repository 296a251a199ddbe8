"""Delayed sends as JetStream message schedules in `CRM_REMINDERS` (nats-server ≥ 2.12).

A reminder `<key>` is a schedule message on `crmrem.schedule.<key>`; when its time comes the
server publishes its body to `crmrem.due.<key>`, where the delivery consumer takes it. The
server keeps one schedule per subject, so scheduling the same key again replaces it, and
purging the subject cancels it. Everything lives in the stream: a restart loses nothing."""

from __future__ import annotations

from datetime import UTC, datetime

from faststream.nats import NatsBroker
from nats.js.errors import NotFoundError

from crm_contracts.streams import CRM_REMINDERS, REMINDERS_PREFIX
from notification.adapters.own_plans import planned_by

SCHEDULE = f"{REMINDERS_PREFIX}.schedule"
DUE = f"{REMINDERS_PREFIX}.due"


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Reminders:
    def __init__(self, broker: NatsBroker, origin: str | None = None) -> None:
        self.broker = broker
        # A send due now carries the instance that planned it (own_plans.py).
        self.mark = planned_by(origin) if origin else {}

    async def _publish(self, subject: str, body: bytes, headers: dict[str, str]) -> None:
        await self.broker.publish(body, subject, headers=headers, stream=CRM_REMINDERS, timeout=5)

    async def due_now(self, key: str, body: bytes, msg_id: str) -> None:
        """No wait: straight to the due subject (the stream drops a repeat of `msg_id`)."""
        await self._publish(f"{DUE}.{key}", body, {"Nats-Msg-Id": msg_id} | self.mark)

    async def at(self, key: str, moment: datetime, body: bytes) -> None:
        headers = {
            "Nats-Schedule": f"@at {rfc3339(moment)}",
            "Nats-Schedule-Target": f"{DUE}.{key}",
        }
        await self._publish(f"{SCHEDULE}.{key}", body, headers)

    async def cron(self, key: str, expression: str, timezone: str, body: bytes) -> None:
        """A repeating schedule; left alone when the same one is already there."""
        headers = {
            "Nats-Schedule": expression,
            "Nats-Schedule-Target": f"{DUE}.{key}",
            "Nats-Schedule-Time-Zone": timezone,
        }
        js = self.broker.connection.jetstream()
        try:
            current = await js.get_last_msg(CRM_REMINDERS, f"{SCHEDULE}.{key}")
        except NotFoundError:
            current = None
        if (
            current is not None
            and current.data == body
            and all((current.headers or {}).get(k) == v for k, v in headers.items())
        ):
            return
        await self._publish(f"{SCHEDULE}.{key}", body, headers)

    async def cancel(self, key: str, including_children: bool = True) -> None:
        """Remove the reminder `key` (and `key.*`) whether it has fired yet or not."""
        js = self.broker.connection.jetstream()
        for base in (SCHEDULE, DUE):
            await js.purge_stream(CRM_REMINDERS, subject=f"{base}.{key}")
            if including_children:
                await js.purge_stream(CRM_REMINDERS, subject=f"{base}.{key}.>")

    async def pending(self, key: str) -> bool:
        js = self.broker.connection.jetstream()
        try:
            await js.get_last_msg(CRM_REMINDERS, f"{SCHEDULE}.{key}")
        except NotFoundError:
            return False
        return True
