"""The projection's subscriber, started and stopped while the broker runs: an elected writer
consumes only while it holds the lease; an own-copy replica stops it this way at shutdown."""

from __future__ import annotations

from faststream.nats import NatsBroker, NatsRouter

from analytics.application.ordered_batches import OrderedBatches


class ProjectionSwitch:
    def __init__(self, broker: NatsBroker, router: NatsRouter, batches: OrderedBatches) -> None:
        self.broker, self.router, self.batches = broker, router, batches

    async def on(self) -> None:
        self.batches.resume()
        # Included only now: a router included before the broker starts is started with it.
        # Once included, the broker also stops it at shutdown.
        self.broker.include_router(self.router)
        for subscriber in self.router.subscribers:
            await subscriber.start()

    async def off(self) -> None:
        """No batch is fetched or started any more once this begins; returns when the batch in
        flight is written, or has given up between two attempts at a store that refuses it
        (there is no timeout: an INSERT under way cannot be cut short). What was fetched and
        not acked goes to the next writer after the consumer's ack wait."""
        self.batches.stop_taking()  # a handler waiting to hand its batch over returns at once
        for subscriber in self.router.subscribers:
            await subscriber.stop()
        await self.batches.stop()
