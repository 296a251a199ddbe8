"""Submission keys answered from memory: the local copy of the KV bucket, and its trust rules."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from crm_contracts.runtime.bus import make_broker, start_when_reachable
from crm_contracts.runtime.tasks import cancel_and_wait
from lead_intake.adapters.idempotency import IdempotencyStore
from lead_intake.adapters.key_index import KeyIndex

DAY = 86400.0


@asynccontextmanager
async def two_replicas(url: str) -> AsyncIterator[tuple[IdempotencyStore, IdempotencyStore]]:
    """Two intake replicas' key stores on one bus, each following and writing the bucket."""
    brokers = [make_broker(url, f"replica-{n}") for n in range(2)]
    stores = [IdempotencyStore(b, DAY, 1, max_cached=1000) for b in brokers]
    tasks = []
    for broker, store in zip(brokers, stores, strict=True):
        await start_when_reachable(broker)
        tasks += [
            asyncio.create_task(store.follow_forever()),
            asyncio.create_task(store.write_forever()),
        ]
    try:
        yield stores[0], stores[1]
    finally:
        for task in tasks:  # repeated cancels: nats-py's own waits can swallow one
            await cancel_and_wait(task)
        for broker in brokers:
            await broker.stop()


def test_a_key_is_known_until_its_ttl_and_a_miss_is_final_only_when_caught_up():
    index = KeyIndex(ttl=DAY, max_keys=10)
    index.add(b"k1", "lead-1", stamp=1000.0)
    assert index.get(b"k1", now=1000.0 + DAY - 1) == "lead-1"
    assert index.get(b"k1", now=1000.0 + DAY) is None  # the bucket forgot it too
    assert not index.misses_are_final(now=2000.0)  # not caught up with the bucket yet
    index.complete = True
    assert index.misses_are_final(now=2000.0)
    index.expire(now=1000.0 + DAY)
    assert len(index) == 0


def test_evicting_a_live_key_makes_misses_ask_the_bucket_until_it_would_have_expired():
    index = KeyIndex(ttl=100.0, max_keys=2, complete=True)
    for n in range(3):
        index.add(f"k{n}".encode(), f"lead-{n}", stamp=10.0 + n)
    assert len(index) == 2 and index.get(b"k0", now=20.0) is None
    assert not index.misses_are_final(now=20.0)  # k0 may be anything the bucket holds
    assert index.misses_are_final(now=110.0)  # k0 would have expired by now


def test_a_key_one_replica_stores_is_answered_by_another_from_memory(nats_server):
    async def scenario() -> tuple[str | None, str | None, bool]:
        async with two_replicas(nats_server.url) as (a, b):
            await a.remember("form/key-1", "lead-1")
            await a.flush(5)
            digest = b._digest(b._key("form/key-1"))
            for _ in range(100):  # the watch delivers it shortly
                if b.index.complete and b.index.get(digest, now=0) is not None:
                    break
                await asyncio.sleep(0.05)
            seen = await b.seen("form/key-1")
            unseen = await b.seen("form/key-2")
            final = b.index.misses_are_final(now=time.time())
            return (seen.lead_id if seen else None), (unseen.lead_id if unseen else None), final

    seen, unseen, final = asyncio.run(scenario())
    assert (seen, unseen) == ("lead-1", None)
    assert final  # the watch caught up: a new key costs no KV read


def test_keys_stored_before_a_start_are_loaded_into_memory(nats_server):
    async def scenario() -> int:
        first = make_broker(nats_server.url, "before")
        await start_when_reachable(first)
        store = IdempotencyStore(first, DAY, 1, max_cached=1000)
        writer = asyncio.create_task(store.write_forever())
        for n in range(20):
            await store.remember(f"form/k-{n}", f"lead-{n}")
        await store.flush(5)
        writer.cancel()
        await first.stop()

        later = make_broker(nats_server.url, "after")
        await start_when_reachable(later)
        fresh = IdempotencyStore(later, DAY, 1, max_cached=1000)
        follow = asyncio.create_task(fresh.follow_forever())
        try:
            for _ in range(200):
                if fresh.index.complete:
                    break
                await asyncio.sleep(0.05)
            return len(fresh.index) if fresh.index.complete else -1
        finally:
            await cancel_and_wait(follow)
            await later.stop()

    assert asyncio.run(scenario()) == 20


def test_a_key_write_that_never_reaches_the_bucket_is_published_again(nats_server):
    """Key writes wait for no ack: the writer's own watch showing the key back is the ack, and
    a key it does not show back in time is published again."""

    async def scenario() -> tuple[str | None, int]:
        async with two_replicas(nats_server.url) as (a, b):
            for _ in range(100):
                if a._watching and b.index.complete:
                    break
                await asyncio.sleep(0.05)
            a.subject_prefix, prefix = "lost.", a.subject_prefix  # the first publish goes nowhere
            await a.remember("form/key-lost", "lead-lost")
            a.subject_prefix = prefix
            digest = b._digest(b._key("form/key-lost"))
            for _ in range(200):  # published again after CONFIRM_SECONDS
                if b.index.get(digest, now=time.time()) is not None and not a._unseen:
                    break
                await asyncio.sleep(0.05)
            return b.index.get(digest, now=time.time()), len(a._unseen)

    assert asyncio.run(scenario()) == ("lead-lost", 0)


async def caught_up(*stores: IdempotencyStore) -> None:
    for _ in range(200):
        if all(s._watching and s.index.complete for s in stores):
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the watches did not catch up")


def test_own_writes_come_back_as_acks_without_being_decoded_and_others_are_followed(
    nats_server, monkeypatch
):
    """The writer's watch takes its own keys back as echoes (nothing decoded); the other
    replica takes each as a change."""
    changes: dict[str, list[str]] = {"a": [], "b": []}

    async def scenario() -> tuple[int, int]:
        async with two_replicas(nats_server.url) as (a, b):
            await caught_up(a, b)
            for name, store in (("a", a), ("b", b)):
                followed = store.changed

                def counted(key, value, stamp, name=name, followed=followed):  # type: ignore[no-untyped-def]
                    changes[name].append(key)
                    followed(key, value, stamp)

                monkeypatch.setattr(store, "changed", counted)
            for n in range(30):
                await a.remember(f"form/echo-{n}", f"lead-{n}")
            for _ in range(200):
                if not a._unseen and len(changes["b"]) == 30:
                    break
                await asyncio.sleep(0.05)
            known = sum(
                b.index.get(b._digest(b._key(f"form/echo-{n}")), time.time()) is not None
                for n in range(30)
            )
            return len(a._unseen), known

    assert asyncio.run(scenario()) == (0, 30)
    assert changes["a"] == []
    assert len(changes["b"]) == 30


def test_a_deleted_or_purged_key_is_forgotten_by_every_replica(nats_server):
    async def scenario() -> list[bool]:
        async with two_replicas(nats_server.url) as (a, b):
            await caught_up(a, b)
            for key in ("form/gone-1", "form/gone-2", "form/kept"):
                await a.remember(key, f"lead-{key}")
            await a.flush(5)
            kv = await a._bucket()
            await kv.delete(a._key("form/gone-1"))
            await kv.purge(a._key("form/gone-2"))
            digests = [b._digest(b._key(k)) for k in ("form/gone-1", "form/gone-2", "form/kept")]
            for _ in range(200):
                known = [
                    store.index.get(d, time.time()) is not None for store in (a, b) for d in digests
                ]
                if known == [False, False, True] * 2:
                    break
                await asyncio.sleep(0.05)
            return known

    assert asyncio.run(scenario()) == [False, False, True] * 2
