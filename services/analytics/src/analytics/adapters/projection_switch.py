"""The projection's subscriber, started and stopped while the broker runs: an elected writer
consumes only while it holds the lease."""

from __future__ import annotations

from faststream.nats import NatsBroker, NatsRouter


class ProjectionSwitch:
    def __init__(self, broker: NatsBroker, router: NatsRouter) -> None:
        self.broker, self.router = broker, router

    async def on(self) -> None:
        # Included only now: a router included before the broker starts is started with it.
        # Once included, the broker also stops it at shutdown.
        self.broker.include_router(self.router)
        for subscriber in self.router.subscribers:
            await subscriber.start()

    async def off(self) -> None:
        """No batch is fetched any more once this begins; returns when the batch in flight is
        written (or after the broker's graceful timeout). What was fetched and not acked goes
        to the next writer after the consumer's ack wait."""
        for subscriber in self.router.subscribers:
            await subscriber.stop()
