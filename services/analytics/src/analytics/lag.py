"""Consumer lag, projection rate and DLQ size as Prometheus gauges (DESIGN §7), read from
JetStream every few seconds: /metrics itself stays a cheap in-memory read."""

from __future__ import annotations

import asyncio
import logging
import time
from contextlib import suppress

from faststream.nats import NatsBroker
from prometheus_client import Gauge

from analytics.handlers import PROJECTION_CONSUMER
from crm_contracts.streams import CRM, CRM_DLQ

log = logging.getLogger(__name__)
PENDING = Gauge(
    "crm_consumer_pending", "Stream messages not yet delivered to the consumer", ["consumer"]
)
ACK_PENDING = Gauge(
    "crm_consumer_ack_pending", "Messages delivered but not yet acknowledged", ["consumer"]
)
RATE = Gauge(
    "crm_consumer_acked_per_second",
    "Stream messages acknowledged per second over the last refresh",
    ["consumer"],
)
DLQ_MESSAGES = Gauge("crm_dlq_messages", "Messages parked in the CRM_DLQ stream")


class LagMonitor:
    def __init__(self, broker: NatsBroker, interval: float, consumer: str = PROJECTION_CONSUMER):
        self.broker = broker
        self.interval = interval
        self.consumer = consumer
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._last: tuple[float, int] | None = None  # (monotonic time, ack floor stream seq)

    async def start(self) -> None:
        """For `running_broker(on_started=...)`: the streams and the consumer exist by then."""
        self._task = asyncio.create_task(self._loop())

    async def stop(self) -> None:
        """Ends the loop. On Python 3.11 a cancellation can be swallowed by an `asyncio.wait_for`
        inside nats-py that completes at the same moment (a shutdown then hung for good), so
        the loop also checks a flag and the cancel is repeated until the task is done."""
        self._stopping = True
        task = self._task
        while task is not None and not task.done():
            task.cancel()
            await asyncio.wait({task}, timeout=0.2)
        if task is not None and not task.cancelled():
            with suppress(Exception):
                task.result()

    async def refresh(self) -> None:
        js = self.broker.connection.jetstream()
        info = await js.consumer_info(CRM, self.consumer)
        PENDING.labels(self.consumer).set(info.num_pending or 0)
        ACK_PENDING.labels(self.consumer).set(info.num_ack_pending or 0)
        now, floor = time.monotonic(), info.ack_floor.stream_seq if info.ack_floor else 0
        if self._last is not None and now > self._last[0]:
            RATE.labels(self.consumer).set(max(0, floor - self._last[1]) / (now - self._last[0]))
        self._last = (now, floor)
        DLQ_MESSAGES.set((await js.stream_info(CRM_DLQ)).state.messages)

    async def _loop(self) -> None:
        while not self._stopping:
            try:
                await self.refresh()
            except Exception as exc:  # NATS away for a moment: keep the last values, retry
                log.warning("could not read consumer lag: %r", exc)
            await asyncio.sleep(self.interval)
