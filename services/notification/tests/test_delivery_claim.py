"""A send that goes now is claimed with no read first (the claim is a compare-and-set from
"no record"), on a real nats-server with two connections as two replicas: a new send is
claimed once, a send the other replica holds or has done is found in the way; a send ended
untried (skipped) is written the same way, with no read, and never over one done before."""

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from notification.adapters.delivery_log import DeliveryLog
from notification.domain.deliveries import Delivery

from .test_kv_watch import reads_of
from .two_replicas import two_replicas

LEASE = timedelta(seconds=30)


def record(status: str = "sending") -> Delivery:
    now = datetime.now(UTC)
    return Delivery(
        id="e1.r1.someone",
        rule_id="r1",
        channel="email",
        recipient="manager:m1",
        recipient_hash="h",
        trigger_event_id="e1",
        trigger_event_type="deal.opened",
        status=status,
        updated_at=now,
    )


def test_a_new_send_is_claimed_once_with_no_read_and_the_other_replica_finds_it(nats_server):
    async def go() -> list[Any]:
        async with two_replicas(nats_server.url) as brokers:
            a, b = (DeliveryLog(x, ttl_days=1) for x in brokers)
            await a.bucket.kv()  # declared before anyone listens
            listener, asked = await reads_of(nats_server.url, "notification_deliveries")
            mine, _ = await a.claim(record(), LEASE)
            await listener.flush()
            first_reads = len(asked)
            held = await b.claim(record(), LEASE)  # `a` holds the lease
            assert mine is not None
            await a.put(mine.model_copy(update={"status": "sent", "lease_until": None}))
            done = await b.claim(record(), LEASE)  # b's last look was the lease: stale
            again = await a.claim(record(), LEASE)  # `a` knows its own final record
            await listener.close()
            return [mine.attempts, first_reads, held, done, again]

    attempts, first_reads, held, done, again = asyncio.run(go())
    assert (attempts, first_reads) == (1, 0)
    assert held[0] is None and held[1].status == "sending" and held[1].attempts == 1
    assert done[0] is None and done[1].status == "sent"
    assert again[0] is None and again[1].status == "sent"


def test_a_skip_is_written_with_no_read_and_never_over_a_send_done_elsewhere(nats_server):
    async def go() -> list[Any]:
        async with two_replicas(nats_server.url) as brokers:
            a, b = (DeliveryLog(x, ttl_days=1) for x in brokers)
            await a.bucket.kv()
            listener, asked = await reads_of(nats_server.url, "notification_deliveries")
            first = await a.end(record("skipped").model_copy(update={"id": "e2.r1.someone"}))
            await listener.flush()
            reads_of_a_new_skip = len(asked)
            mine, _ = await a.claim(record(), LEASE)  # `a` tries the send, then fails once
            assert mine is not None
            await a.put(mine.model_copy(update={"lease_until": None}))
            await b.end(record("skipped"))  # an open record: skipped, its try still counted
            skipped = await a.get(record().id)
            await a.put(mine.model_copy(update={"status": "sent", "lease_until": None}))
            in_the_way = await b.end(record("skipped"))  # b's last look was open: stale
            kept = await b.get(record().id)
            await listener.close()
            return [first, reads_of_a_new_skip, skipped, in_the_way, kept]

    first, reads, skipped, in_the_way, kept = asyncio.run(go())
    assert (first, reads) == (None, 0)
    assert (skipped.status, skipped.attempts) == ("skipped", 1)
    assert in_the_way.status == "sent" and kept.status == "sent"
