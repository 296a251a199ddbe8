"""What a watched bucket keeps of its keys (`JsonBucket.recent`), on a real nats-server with
two connections as two replicas: the other replica's writes arrive through the watch without
a read, nothing goes back to an older revision, and nothing is answered that the bucket
would not hold."""

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import nats

from crm_contracts.runtime.bus import make_broker
from notification.adapters.buckets import JsonBucket

from .two_replicas import two_replicas

BUCKET = "notification_watched"
SECONDS = 1 / 86400  # a bucket's time to live is in days


def replicas(
    nats_url: str,
    scenario: Callable[[JsonBucket, JsonBucket], Awaitable[Any]],
    ttl_days: float | None = None,
) -> Any:
    """Runs `scenario` with the bucket opened on two connections, as two service replicas."""

    async def go() -> Any:
        async with two_replicas(nats_url) as brokers:
            a, b = (JsonBucket(x, BUCKET, ttl_days, watched=True) for x in brokers)
            return await scenario(a, b)

    return asyncio.run(go())


async def eventually(check: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "not within the time"
        await asyncio.sleep(0.01)


async def reads_of(nats_url: str, bucket: str) -> tuple[Any, list[bytes]]:
    """Every read of the bucket's keys from now on, as the server is asked (a connection of
    its own listening on the JetStream API subject)."""
    connection = await nats.connect(nats_url)
    asked: list[bytes] = []

    async def heard(message: Any) -> None:
        asked.append(message.data)

    await connection.subscribe(f"$JS.API.STREAM.MSG.GET.KV_{bucket}", cb=heard)
    await connection.flush()
    return connection, asked


def test_the_other_replicas_write_arrives_without_a_read(nats_server):
    async def scenario(a: JsonBucket, b: JsonBucket) -> list[Any]:
        await a.put("k", {"v": 1})
        await b.read("k")  # kept by `b`
        listener, asked = await reads_of(nats_server.url, BUCKET)
        await a.put("k", {"v": 2})
        await a.put("k", {"v": 3})
        await eventually(lambda: (b.recent("k") or ({}, 0))[0] == {"v": 3})
        await listener.flush()
        await listener.close()
        return [b.recent("k"), (await b.read("k")), asked]

    told, stored, asked = replicas(nats_server.url, scenario)
    assert told == stored == ({"v": 3}, 3)
    assert asked == []


def test_a_key_not_kept_is_not_answered_and_the_watch_adds_none(nats_server):
    async def scenario(a: JsonBucket, b: JsonBucket) -> list[Any]:
        await b.kv()  # watching
        await a.put("new", {"v": 1})
        await a.put("other", {"v": 1})
        await b.read("other")
        await a.put("other", {"v": 2})
        await eventually(lambda: (b.recent("other") or ({}, 0))[1] == 3)
        return [b.recent("new"), a.recent("new")]

    assert replicas(nats_server.url, scenario) == [None, ({"v": 1}, 1)]


def test_nothing_goes_back_to_an_older_revision(nats_server):
    async def scenario(a: JsonBucket, b: JsonBucket) -> list[Any]:
        await a.put("k", {"v": 1})
        await a.put("k", {"v": 2})
        await b.read("k")
        b.written("k", b'{"v": 1}', 1, time.time())  # a late word of the first write
        after_late = b.recent("k")
        b.written("k", b'{"v": 3}', 7, time.time())
        return [after_late, b.recent("k")]

    assert replicas(nats_server.url, scenario) == [({"v": 2}, 2), ({"v": 3}, 7)]


def test_a_delete_on_the_other_replica_is_told_and_a_not_found_read_forgets(nats_server):
    async def scenario(a: JsonBucket, b: JsonBucket) -> list[Any]:
        await a.put("gone", {"v": 1})
        await a.put("read", {"v": 1})
        await b.read("gone")
        await b.read("read")
        await a.delete("gone")
        await eventually(lambda: (b.recent("gone") or ({}, 0))[0] is None)
        told = b.recent("gone")
        # A read that finds nothing though a write was kept: the key is forgotten, not kept
        # as never written (the read may have been answered before the write).
        await a.delete("read")
        b.written("read", b'{"v": 1}', 2, time.time())  # as if the delete were not told yet
        await b.read("read")
        return [told[0], told[1] > 1, b.recent("read")]

    assert replicas(nats_server.url, scenario) == [None, True, None]


def test_what_the_bucket_has_expired_is_not_answered(nats_server):
    async def scenario(a: JsonBucket, b: JsonBucket) -> list[Any]:
        await a.put("k", {"v": 1})
        await b.read("k")
        kept = b.recent("k")
        await asyncio.sleep(2.5)
        return [kept, b.recent("k"), a.recent("k"), await b.read("k")]

    kept, after_b, after_a, stored = replicas(nats_server.url, scenario, ttl_days=2 * SECONDS)
    assert kept == ({"v": 1}, 1)
    assert after_b is None and after_a is None
    assert stored == (None, 0)  # the bucket's own answer, for comparison


def test_a_bucket_not_watched_answers_nothing_from_memory(nats_server):
    async def go() -> Any:
        broker = make_broker(nats_server.url, "test")
        await broker.connect()
        try:
            bucket = JsonBucket(broker, BUCKET)
            await bucket.put("k", {"v": 1})
            return bucket.recent("k"), bucket.known("k")
        finally:
            await broker.stop()

    assert asyncio.run(go()) == (None, ({"v": 1}, 1))


def test_a_write_that_is_not_json_is_forgotten_not_kept_stale(nats_server):
    async def scenario(a: JsonBucket, b: JsonBucket) -> Any:
        await a.put("k", {"v": 1})
        await b.read("k")
        await (await a.kv()).put("k", b"not json")  # written by something else
        await eventually(lambda: b.recent("k") is None)
        return b.known("k")

    assert replicas(nats_server.url, scenario) is None
