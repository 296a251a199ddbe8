"""Submission keys already turned into a lead (NATS KV with a TTL of 24 h by default).

Checking a key is the hot path of every lead, so each replica follows the bucket with a KV
watch into a bounded local copy (`KeyIndex`) and answers from it without a round trip; the
bucket is asked only while that copy is not caught up (at start, after a reconnect) or has
evicted live keys. A key stored by another replica that the watch has not delivered yet is
still safe: the lead id, and so the Nats-Msg-Id, is derived from the key, so the stream drops
the repeat as a duplicate within its 5-minute window.

A key is stored after the lead's ack (as before), written by a background writer so the
client does not wait for that second round trip; a crash before the write is the case the
Nats-Msg-Id already covers (see `SubmitLead.deliver`)."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from contextlib import suppress
from datetime import datetime

from faststream.nats import NatsBroker
from nats.js.kv import KV_DEL, KV_PURGE, KeyValue

from crm_contracts.runtime.bus import bus_connected
from lead_intake.adapters.key_index import KeyIndex
from lead_intake.adapters.kv import KV_TIMEOUT, bucket
from lead_intake.application.ports import Seen

log = logging.getLogger(__name__)
IDEMPOTENCY_BUCKET = "intake_idempotency"
DIGEST_BYTES = 16  # of the sha256 kept in memory: 128 bits never collide in practice
WRITE_BATCH = 256  # key writes in flight at once
WRITE_BACKLOG = 10_000  # beyond this, remembering waits for the writer
CHECK_EVERY = 1.0  # seconds between checks of the connection (and sweeps of expired keys)


class IdempotencyStore:
    """Submission keys already turned into a lead, kept for `ttl` seconds."""

    def __init__(self, broker: NatsBroker, ttl: float, replicas: int, max_cached: int) -> None:
        self.broker = broker
        self.ttl = ttl
        self.replicas = replicas
        self.index = KeyIndex(ttl, max_cached)
        self._writes: asyncio.Queue[tuple[str, str]] = asyncio.Queue(WRITE_BACKLOG)

    @staticmethod
    def _key(key: str) -> str:
        return hashlib.sha256(key.encode()).hexdigest()  # any text → a valid KV key

    @staticmethod
    def _digest(kv_key: str) -> bytes:
        return bytes.fromhex(kv_key[: DIGEST_BYTES * 2])

    async def _bucket(self) -> KeyValue:
        return await bucket(self.broker, IDEMPOTENCY_BUCKET, self.ttl, self.replicas)

    async def seen(self, key: str) -> Seen | None:
        """None also when NATS is down: then the stream's dedup window is the guard."""
        kv_key = self._key(key)
        digest, now = self._digest(kv_key), time.time()
        if lead_id := self.index.get(digest, now):
            return Seen(lead_id=lead_id)
        if self.index.misses_are_final(now):
            return None
        try:
            entry = await asyncio.wait_for((await self._bucket()).get(kv_key), KV_TIMEOUT)
        except Exception:
            return None
        return Seen(lead_id=(entry.value or b"").decode())

    async def remember(self, key: str, lead_id: str) -> None:
        kv_key = self._key(key)
        self.index.add(self._digest(kv_key), lead_id, time.time())
        await self._writes.put((kv_key, lead_id))

    async def write_forever(self, retry_seconds: float = 1.0) -> None:
        """Stores remembered keys in the bucket, many in flight at once (each put is bounded
        by the JetStream context's own timeout). A key that failed is tried again: the other
        replicas know a key only from the bucket, and once the stream's dedup window has
        passed nothing else stops them from taking a retry as a new lead."""
        while True:
            batch = [await self._writes.get()]
            while len(batch) < WRITE_BATCH and not self._writes.empty():
                batch.append(self._writes.get_nowait())
            failed = batch
            try:
                kv = await self._bucket()
                done = await asyncio.gather(
                    *(kv.put(k, v.encode()) for k, v in batch), return_exceptions=True
                )
                errors = [
                    (w, r) for w, r in zip(batch, done, strict=True) if isinstance(r, Exception)
                ]
                failed = [w for w, _ in errors]
                if errors:
                    raise errors[0][1]
            except Exception as exc:
                log.warning(
                    "could not record %s idempotency keys, will retry: %r", len(failed), exc
                )
            for write in failed:
                if self._writes.full():  # still in this replica's index; others may miss it
                    log.warning("dropping %s idempotency key writes", len(failed))
                    break
                self._writes.put_nowait(write)
            for _ in batch:
                self._writes.task_done()
            if failed:
                await asyncio.sleep(retry_seconds)

    async def flush(self, timeout: float) -> None:
        """On shutdown: the keys remembered so far reach the bucket (bounded by `timeout`)."""
        with suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._writes.join(), timeout)

    async def follow_forever(self, retry_seconds: float = 1.0) -> None:
        """Keeps the local copy caught up with the bucket, restarting the watch after any
        reconnect (the copy is not trusted for misses meanwhile)."""
        while True:
            if bus_connected(self.broker):
                try:
                    await self._follow()
                except Exception as exc:
                    log.warning("following submission keys failed, will retry: %r", exc)
            self.index.complete = False
            await asyncio.sleep(retry_seconds)

    async def _follow(self) -> None:
        watcher = await (await self._bucket()).watchall()
        watching = asyncio.create_task(self._watch(watcher))
        connection = self.broker.connection
        reconnects = connection.stats["reconnects"]
        try:
            # Checked once a second rather than per key: the watch itself never times out.
            while not watching.done():
                await asyncio.wait({watching}, timeout=CHECK_EVERY)
                if connection.stats["reconnects"] != reconnects or not bus_connected(self.broker):
                    return  # the watch may miss keys while away: start over once back
                self.index.expire(time.time())
            watching.result()
        finally:
            self.index.complete = False
            with suppress(Exception):
                await watcher.stop()
            watching.cancel()
            with suppress(BaseException):
                await watching

    async def _watch(self, watcher: KeyValue.KeyWatcher) -> None:
        async for entry in watcher:
            if entry is None:  # the bucket's keys so far are all in
                self.index.complete = True
                continue
            with suppress(ValueError):  # only this adapter writes the bucket
                digest = self._digest(entry.key)
                if entry.operation in (KV_DEL, KV_PURGE):
                    self.index.discard(digest)
                else:
                    self.index.add(digest, (entry.value or b"").decode(), stamp_of(entry))


def stamp_of(entry: KeyValue.Entry) -> float:
    """When the key was stored (the TTL counts from then)."""
    created: object = entry.created
    return created.timestamp() if isinstance(created, datetime) else time.time()
