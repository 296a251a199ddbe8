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

from contextlib import suppress
from typing import TypeVar

from faststream.nats.subscriber.usecases import BatchPullStreamSubscriber
from nats.aio.msg import Msg
from nats.errors import ConnectionClosedError
from nats.js.errors import ServiceUnavailableError

S = TypeVar("S")


class EagerBatchSubscriber(BatchPullStreamSubscriber):
    __slots__ = ()

    async def _consume_pull(self) -> None:
        """FastStream's loop, with one fetch per batch. A fetch that fails leaves its
        messages unacked, for JetStream to deliver again."""
        assert self.subscription, "the subscription is made before the loop starts"
        while self.running:
            messages: list[Msg] = []
            # nats' TimeoutError is a TimeoutError: nothing came within the timeout.
            with suppress(TimeoutError, ConnectionClosedError, ServiceUnavailableError):
                messages = await self.subscription.fetch(
                    batch=self.pull_sub.batch_size, timeout=self.pull_sub.timeout
                )
            if messages and self.running:
                await self.consume(messages)


def eager(subscriber: S) -> S:
    """The batch subscriber (as `router.subscriber(..., batch=True)` made it), handing each
    fetch over as it comes; use as the decorator's decorator: `@eager(router.subscriber(…))`."""
    if type(subscriber) is not BatchPullStreamSubscriber:
        raise TypeError(f"not a batch pull subscriber: {type(subscriber).__name__}")
    subscriber.__class__ = EagerBatchSubscriber  # type: ignore[assignment]  # a subclass, no new slots
    return subscriber
