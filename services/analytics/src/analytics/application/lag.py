"""Consumer lag (every durable consumer, with the age of its oldest unprocessed message), ack
rates and DLQ size as Prometheus gauges (docs/operations.md), read from JetStream every few
seconds: /metrics itself stays a cheap in-memory read."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from analytics.metrics import (
    ACK_PENDING,
    DLQ_MESSAGES,
    OLDEST_AGE,
    PENDING,
    RATE,
    REDELIVERED,
    STREAM_BYTES,
    STREAM_MESSAGES,
)


@dataclass(frozen=True)
class ConsumerLag:
    name: str  # the durable consumer
    pending: int  # not yet delivered to the consumer
    ack_pending: int  # delivered, not yet acknowledged
    ack_floor: int  # stream sequence acknowledged up to
    oldest_unprocessed_at: float | None  # unix time of the first unacknowledged message
    redelivered: int = 0  # being delivered again (unacknowledged after an earlier delivery)


@dataclass(frozen=True)
class StreamSize:
    name: str
    messages: int
    bytes: int


@dataclass(frozen=True)
class LagReading:
    consumers: list[ConsumerLag]  # every durable consumer of the CRM streams
    dlq_messages: int
    streams: list[StreamSize]


class LagSource(Protocol):
    """Reads every durable consumer's state and the DLQ size (adapters/jetstream.py)."""

    async def read(self) -> LagReading: ...


class LagMonitor:
    """Every service's consumers, not only the projection's: one place reads JetStream, so
    a stalled notification or deal-pipeline consumer shows (and alerts) too."""

    def __init__(self, source: LagSource, clock: Callable[[], float] = time.time) -> None:
        self.source = source
        self.clock = clock
        self._last: dict[str, tuple[float, int]] = {}  # consumer → (monotonic, ack floor)

    async def refresh(self) -> None:
        reading = await self.source.read()
        now = time.monotonic()
        for consumer in reading.consumers:
            name = consumer.name
            PENDING.labels(name).set(consumer.pending)
            ACK_PENDING.labels(name).set(consumer.ack_pending)
            REDELIVERED.labels(name).set(consumer.redelivered)
            oldest = consumer.oldest_unprocessed_at
            OLDEST_AGE.labels(name).set(0 if oldest is None else max(0, self.clock() - oldest))
            last = self._last.get(name)
            if last is not None and now > last[0]:
                RATE.labels(name).set(max(0, consumer.ack_floor - last[1]) / (now - last[0]))
            self._last[name] = (now, consumer.ack_floor)
        DLQ_MESSAGES.set(reading.dlq_messages)
        for stream in reading.streams:
            STREAM_MESSAGES.labels(stream.name).set(stream.messages)
            STREAM_BYTES.labels(stream.name).set(stream.bytes)
