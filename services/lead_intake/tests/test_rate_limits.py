"""The shared rate limits on a real nats-server: two limiters (as two replicas would hold) spend
from one bucket, concurrent takes settle by compare-and-set, and without NATS a replica limits
on its own."""

from __future__ import annotations

import asyncio

from crm_contracts.runtime.bus import bus_connected, make_broker, running_broker
from lead_intake.adapters.rate_limits import SharedRateLimit
from lead_intake.domain.abuse import RateLimiter

BURST = 7


def test_two_limiters_share_one_bucket_under_concurrent_takes(nats_server):
    async def scenario() -> list[float | None]:
        brokers = [make_broker(nats_server.url, f"replica-{i}") for i in range(2)]
        async with running_broker(brokers[0]), running_broker(brokers[1]):
            async with asyncio.timeout(20):
                while not all(bus_connected(b) for b in brokers):
                    await asyncio.sleep(0.05)
            limits = [SharedRateLimit(b, "ip", RateLimiter(0.001, BURST), 1) for b in brokers]
            return list(
                await asyncio.gather(*(limits[i % 2].take("10.0.0.1") for i in range(3 * BURST)))
            )

    waits = asyncio.run(scenario())
    assert waits.count(None) == BURST  # exact: no token comes back during the test
    assert all(w > 0 for w in waits if w is not None)


def test_without_nats_each_replica_limits_on_its_own():
    broker = make_broker("nats://127.0.0.1:1", "replica")  # never connected
    limit = SharedRateLimit(broker, "ip", RateLimiter(60, 2), 1)
    waits = [asyncio.run(limit.take("10.0.0.1")) for _ in range(3)]
    assert waits[:2] == [None, None] and waits[2] is not None and waits[2] > 0


def test_a_lagging_clock_refills_nothing():
    limiter = RateLimiter(per_minute=60, burst=1)
    bucket, wait = limiter.step(None, 100.0)
    assert wait is None
    bucket, wait = limiter.step(bucket, 50.0)  # another process, 50 s behind
    assert wait is not None and bucket == (0.0, 100.0)
    assert limiter.step(bucket, 101.0)[1] is None  # a second later by the bucket's clock


def test_takes_in_one_batch_are_allowed_in_order_while_tokens_last():
    limiter = RateLimiter(per_minute=60, burst=3)
    bucket, allowed, wait = limiter.step_many(None, 0.0, 5)
    assert (bucket, allowed) == ((0.0, 0.0), 3) and wait == 1.0
    assert limiter.step_many(bucket, 2.5, 4)[1:] == (2, 0.5)  # 2.5 tokens back: two takes
