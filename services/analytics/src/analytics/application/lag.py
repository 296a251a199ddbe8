"""Consumer lag, projection rate and DLQ size as Prometheus gauges (docs/operations.md), read from
JetStream every few seconds: /metrics itself stays a cheap in-memory read."""

from __future__ import annotations

import asyncio
import logging
import time
from contextlib import suppress
from dataclasses import dataclass
from typing import Protocol

from analytics.metrics import ACK_PENDING, DLQ_MESSAGES, PENDING, RATE

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LagReading:
    pending: int  # not yet delivered to the consumer
    ack_pending: int  # delivered, not yet acknowledged
    ack_floor: int  # stream sequence acknowledged up to
    dlq_messages: int


class LagSource(Protocol):
    """Reads the consumer's state and the DLQ size (adapters/jetstream.py)."""

    async def read(self, consumer: str) -> LagReading: ...


class LagMonitor:
    def __init__(self, source: LagSource, interval: float, consumer: str):
        self.source = source
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
        reading = await self.source.read(self.consumer)
        PENDING.labels(self.consumer).set(reading.pending)
        ACK_PENDING.labels(self.consumer).set(reading.ack_pending)
        now, floor = time.monotonic(), reading.ack_floor
        if self._last is not None and now > self._last[0]:
            RATE.labels(self.consumer).set(max(0, floor - self._last[1]) / (now - self._last[0]))
        self._last = (now, floor)
        DLQ_MESSAGES.set(reading.dlq_messages)

    async def _loop(self) -> None:
        while not self._stopping:
            try:
                await self.refresh()
            except Exception as exc:  # NATS away for a moment: keep the last values, retry
                log.warning("could not read consumer lag: %r", exc)
            await asyncio.sleep(self.interval)
