"""A batch subscriber that hands each fetch over as it comes.

FastStream 0.7's batch pull subscriber fetches again and again until the batch is full or
its timeout has passed (it guards against nats-py returning part of a batch early). So a batch
short of full always waited out the whole timeout: a lead waited up to a second in the deal
pipeline's batch of 50 before its deal was opened, however little traffic there was. Our
fetch (`nats_fetch`) waits for a first message and then takes what JetStream has by then, up
to the batch, so one fetch is one batch: what came while the last batch was handled, at
once. A backlog still comes in full batches (JetStream sends what it has up to the batch).

The analytics projection keeps FastStream's gathering: every batch it writes is a part in
each table it touches, and the reports pay for many small parts (docs/architecture.md)."""

from __future__ import annotations

import time
from contextlib import suppress
from typing import TypeVar

from faststream.nats.subscriber.usecases import BatchPullStreamSubscriber
from nats.aio.msg import Msg
from nats.errors import ConnectionClosedError
from nats.js.errors import ServiceUnavailableError

S = TypeVar("S")


class EagerBatchSubscriber(BatchPullStreamSubscriber):
    __slots__ = ()

    # Seconds a batch gathers more once its first messages were already waiting when it was
    # fetched (they came while the last batch was handled), unless it fills: set by `eager`.
    linger: float = 0.0

    async def _consume_pull(self) -> None:
        """FastStream's loop, with one fetch per batch (a few more while it lingers). A fetch
        that fails leaves its messages unacked, for JetStream to deliver again."""
        size, timeout = self.pull_sub.batch_size, self.pull_sub.timeout
        while self.running:
            fetched_at = time.time()
            messages = await self._fetch(size, timeout)
            if messages and self.linger and _waited(messages, fetched_at):
                deadline = time.monotonic() + self.linger
                while len(messages) < size and (left := deadline - time.monotonic()) > 0:
                    more = await self._fetch(size - len(messages), left)
                    if not more:  # nothing by the deadline, or the connection is gone
                        break
                    messages += more
            if messages and self.running:
                await self.consume(messages)

    async def _fetch(self, size: int, timeout: float | None) -> list[Msg]:
        assert self.subscription, "the subscription is made before the loop starts"
        # nats' TimeoutError is a TimeoutError: nothing came within the timeout.
        with suppress(TimeoutError, ConnectionClosedError, ServiceUnavailableError):
            return await self.subscription.fetch(batch=size, timeout=timeout)
        return []


def _waited(messages: list[Msg], fetched_at: float) -> bool:
    """The first message was stored before the fetch began (wall clocks of JetStream and of
    this process): it waited for the last batch to be handled, so the consumer is busy."""
    return messages[0].metadata.timestamp.timestamp() < fetched_at


def eager(subscriber: S, linger: float = 0.0) -> S:
    """The batch subscriber (as `router.subscriber(..., batch=True)` made it), handing each
    fetch over as it comes; use as the decorator's decorator: `@eager(router.subscriber(…))`.
    `linger`: while busy (a fetch found messages waiting), how long a batch gathers more
    unless it fills, so that a steady stream comes in fewer, larger batches; a message that
    comes to a quiet bus never waits."""
    if type(subscriber) is not BatchPullStreamSubscriber:
        raise TypeError(f"not a batch pull subscriber: {type(subscriber).__name__}")
    subscriber.__class__ = EagerBatchSubscriber  # type: ignore[assignment]  # a subclass, no new slots
    subscriber.linger = linger  # type: ignore[attr-defined]
    return subscriber
