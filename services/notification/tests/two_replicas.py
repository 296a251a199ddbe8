"""Two connections to one nats-server, as two replicas of the service (what each test of a
shared bucket runs on)."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from faststream.nats import NatsBroker

from crm_contracts.runtime.bus import make_broker


@asynccontextmanager
async def two_replicas(nats_url: str) -> AsyncIterator[tuple[NatsBroker, NatsBroker]]:
    brokers = [make_broker(nats_url, f"replica-{i}") for i in range(2)]
    for broker in brokers:
        await broker.connect()
    try:
        yield brokers[0], brokers[1]
    finally:
        for broker in brokers:
            await broker.stop()
