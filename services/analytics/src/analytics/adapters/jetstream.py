"""What the analytics service reads from JetStream besides its subscription: the projection
consumer's lag, and a replay of the whole `CRM` stream for a rebuild."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import suppress
from typing import Any

from faststream.nats import NatsBroker
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.client import JetStreamContext
from nats.js.errors import NotFoundError

from analytics.application.lag import ConsumerLag, LagReading, StreamSize
from analytics.application.rebuild import Fetched
from crm_contracts import subjects
from crm_contracts.streams import CRM, CRM_DLQ, CRM_REMINDERS


class JetStreamLag:
    """Every durable consumer of the CRM and reminder streams, and the streams' sizes."""

    STREAMS = (CRM, CRM_REMINDERS)

    def __init__(self, broker: NatsBroker) -> None:
        self.broker = broker

    async def read(self) -> LagReading:
        js = self.broker.connection.jetstream()
        consumers = []
        for stream in self.STREAMS:
            for info in await js.consumers_info(stream):
                if not info.config.durable_name:
                    continue  # a replay's ephemeral consumer
                floor = info.ack_floor.stream_seq if info.ack_floor else 0
                waiting = (info.num_pending or 0) + (info.num_ack_pending or 0)
                consumers.append(
                    ConsumerLag(
                        name=info.config.durable_name,
                        pending=info.num_pending or 0,
                        ack_pending=info.num_ack_pending or 0,
                        ack_floor=floor,
                        oldest_unprocessed_at=(
                            await self._time_after(js, stream, floor, info.config)
                            if waiting
                            else None
                        ),
                        redelivered=info.num_redelivered or 0,
                    )
                )
        streams = []
        for stream in (*self.STREAMS, CRM_DLQ):
            state = (await js.stream_info(stream)).state
            streams.append(StreamSize(stream, state.messages, state.bytes))
        return LagReading(consumers, streams[-1].messages, streams)

    @staticmethod
    async def _time_after(
        js: JetStreamContext, stream: str, floor: int, config: ConsumerConfig
    ) -> float | None:
        """When the first message after the ack floor on the consumer's subjects was stored."""
        filters = config.filter_subjects or [config.filter_subject or ">"]
        times = []
        for subject in filters:
            with suppress(NotFoundError):
                message = await js.get_msg(stream, floor + 1, subject=subject, next=True)
                if message.time is not None:
                    times.append(message.time.timestamp())
        return min(times) if times else None


class JetStreamReplay:
    """An ephemeral pull consumer over the whole `CRM` stream, from sequence 1."""

    def __init__(self, broker: NatsBroker) -> None:
        self.broker = broker
        self._sub: Any = None

    async def open(self) -> None:
        self._sub = await self.broker.connection.jetstream().pull_subscribe(
            subjects.ALL,
            durable=None,  # ephemeral: the server forgets it when we are done
            stream=CRM,
            config=ConsumerConfig(
                deliver_policy=DeliverPolicy.ALL,
                ack_policy=AckPolicy.NONE,  # a replay needs no acks; it is repeatable
                inactive_threshold=300.0,
                mem_storage=True,
            ),
        )

    async def stream_end(self) -> int:
        js = self.broker.connection.jetstream()
        return int((await js.stream_info(CRM)).state.last_seq)

    async def fetch(self, batch_size: int) -> Fetched:
        try:
            messages: Sequence[Any] = await self._sub.fetch(batch_size, timeout=1.0)
        except TimeoutError:  # nats-py raises its own subclass or, at times, the bare one
            messages = []
        if not messages:
            return Fetched([], 0, (await self._sub.consumer_info()).num_pending)
        last = messages[-1].metadata
        return Fetched([m.data for m in messages], last.sequence.stream, last.num_pending)

    async def close(self) -> None:
        if self._sub is not None:
            with suppress(Exception):
                await self._sub.unsubscribe()
