"""Submission keys already turned into a lead (NATS KV with a TTL of 24 h by default).

Checking a key is the hot path of every lead, so each replica follows the bucket with a KV
watch (`key_watch`) into a bounded local copy (`KeyIndex`) and answers from it without a round
trip; the bucket is asked only while that copy is not caught up (at start, after a reconnect)
or has evicted live keys. A key stored by another replica that the watch has not delivered yet is
still safe: the lead id, and so the Nats-Msg-Id, is derived from the key, so the stream drops
the repeat as a duplicate within its 5-minute window.

A key is stored after the lead's ack (as before), without a round trip of its own: it is
published to the bucket's subject without waiting for JetStream's ack, and the replica's own
watch, which delivers every write to the bucket anyway, is the ack (`echo`: taken as such
without decoding it, see `key_watch`). A key not seen back within
`CONFIRM_SECONDS` is published again (less and less often while it stays unseen). A crash
before the key is stored is the case the Nats-Msg-Id already covers (see `SubmitLead.deliver`);
on shutdown, keys not seen back yet are put with JetStream's ack."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from contextlib import suppress
from functools import lru_cache

from faststream.nats import NatsBroker
from nats.js.kv import KeyValue

from crm_contracts.runtime.bus import bus_connected
from crm_contracts.runtime.nats_send import send
from lead_intake.adapters.key_index import KeyIndex
from lead_intake.adapters.key_watch import KeyWatch
from lead_intake.adapters.kv import KV_TIMEOUT, bucket
from lead_intake.application.ports import Seen

log = logging.getLogger(__name__)
IDEMPOTENCY_BUCKET = "intake_idempotency"
DIGEST_BYTES = 16  # of the sha256 kept in memory: 128 bits never collide in practice
WRITE_BACKLOG = 10_000  # keys not seen back yet; beyond this the oldest is given up on
CONFIRM_SECONDS = 2.0  # a key not seen back on the watch by then is published again
RESEND_MAX_SECONDS = 60.0  # the longest wait between publishes of a key never seen back
CHECK_EVERY = 1.0  # seconds between checks of the connection (and sweeps of expired keys)
HASHED_KEYS = 1024  # keys between their `seen` and `remember`: far more than leads in flight


class IdempotencyStore:
    """Submission keys already turned into a lead, kept for `ttl` seconds."""

    def __init__(self, broker: NatsBroker, ttl: float, replicas: int, max_cached: int) -> None:
        self.broker = broker
        self.ttl = ttl
        self.replicas = replicas
        self.index = KeyIndex(ttl, max_cached)
        self.subject_prefix = f"$KV.{IDEMPOTENCY_BUCKET}."  # a key's write goes to prefix+key
        # kv key → (lead id, when to publish it again, publishes so far); oldest first
        self._unseen: dict[str, tuple[str, float, int]] = {}
        self._bucket_ready = False  # publishes before the bucket exists would go nowhere
        self._watching = False  # the watch is live: it will show this replica's writes
        self._dropped = 0  # keys given up on (backlog full) since last told

    @staticmethod
    def _key(key: str) -> str:
        return hashlib.sha256(key.encode()).hexdigest()  # any text → a valid KV key

    @staticmethod
    def _digest(kv_key: str) -> bytes:
        return bytes.fromhex(kv_key[: DIGEST_BYTES * 2])

    async def _bucket(self) -> KeyValue:
        return await bucket(self.broker, IDEMPOTENCY_BUCKET, self.ttl, self.replicas)

    @staticmethod
    @lru_cache(maxsize=HASHED_KEYS)
    def _hashed(key: str) -> tuple[str, bytes]:
        """(KV key, digest) of a submission key: pure, so kept for the `remember` that follows
        a `seen` of the same key."""
        kv_key = IdempotencyStore._key(key)
        return kv_key, IdempotencyStore._digest(kv_key)

    async def seen(self, key: str) -> Seen | None:
        """None also when NATS is down: then the stream's dedup window is the guard."""
        kv_key, digest = self._hashed(key)
        now = time.time()
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
        kv_key, digest = self._hashed(key)
        self.index.add(digest, lead_id, time.time())
        self._unseen.pop(kv_key, None)
        if len(self._unseen) >= WRITE_BACKLOG:  # still in this replica's index
            del self._unseen[next(iter(self._unseen))]
            self._dropped += 1  # told by the writer
        self._unseen[kv_key] = (lead_id, 0.0, 0)
        if self._bucket_ready and bus_connected(self.broker):
            await self._publish(kv_key, lead_id, time.monotonic())

    async def _publish(self, kv_key: str, lead_id: str, now: float) -> None:
        """A KV put as JetStream takes it (the bucket's subject), without waiting for the ack."""
        _, _, sent = self._unseen[kv_key]
        self._unseen[kv_key] = (lead_id, now + resend_after(sent), sent + 1)
        try:
            subject = self.subject_prefix + kv_key
            await send(self.broker.connection, subject, "", None, lead_id.encode())
        except Exception as exc:  # published again when due
            log.debug("publishing idempotency key failed, will retry: %r", exc)

    async def write_forever(self, retry_seconds: float = 1.0) -> None:
        """Publishes again the keys the watch has not shown back in time. A key must reach the
        bucket: the other replicas know it only from there, and once the stream's dedup window
        has passed nothing else stops them from taking a retry as a new lead."""
        while True:
            try:
                if bus_connected(self.broker):
                    await self._bucket()
                    self._bucket_ready = True
                    await self._publish_due(time.monotonic())
            except Exception as exc:
                log.warning("could not store idempotency keys, will retry: %r", exc)
            await asyncio.sleep(retry_seconds)

    async def _publish_due(self, now: float) -> None:
        if self._dropped:
            log.warning("gave up on storing %s idempotency keys (backlog full)", self._dropped)
            self._dropped = 0
        due = [(k, lead_id) for k, (lead_id, at, _) in self._unseen.items() if at <= now]
        late = sum(1 for k, _ in due if self._unseen[k][2])
        if late:
            log.warning("%s idempotency keys not stored yet, publishing them again", late)
        for kv_key, lead_id in due:
            if kv_key in self._unseen:
                await self._publish(kv_key, lead_id, now)

    async def flush(self, timeout: float) -> None:
        """On shutdown: the keys remembered so far reach the bucket (bounded by `timeout`):
        those the watch does not show back soon are put with JetStream's ack."""
        deadline = time.monotonic() + timeout
        with suppress(Exception):
            await asyncio.wait_for(self.broker.connection.flush(), timeout / 2)
        while self._unseen and self._watching and time.monotonic() < deadline - timeout / 2:
            await asyncio.sleep(0.02)  # in flight: the watch shows them shortly
        if not self._unseen:
            return
        with suppress(Exception):
            kv = await self._bucket()
            writes = list(self._unseen.items())
            results = await asyncio.wait_for(
                asyncio.gather(
                    *(kv.put(k, v.encode()) for k, (v, _, _) in writes), return_exceptions=True
                ),
                max(deadline - time.monotonic(), 0.1),
            )
            for (k, _), result in zip(writes, results, strict=True):
                if not isinstance(result, BaseException):
                    self._unseen.pop(k, None)
        if self._unseen:  # a retry of these after the stream's dedup window publishes again
            log.warning("%s idempotency keys could not be stored at shutdown", len(self._unseen))

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
        await self._bucket()
        watch = KeyWatch(IDEMPOTENCY_BUCKET, self)
        connection = self.broker.connection
        reconnects = connection.stats["reconnects"]
        try:
            await watch.start(connection)
            self._bucket_ready = self._watching = True
            # Checked once a second rather than per key: the watch itself never times out.
            while connection.stats["reconnects"] == reconnects and bus_connected(self.broker):
                await asyncio.sleep(CHECK_EVERY)
                self.index.expire(time.time())
            # The watch may miss keys while away: start over once back.
        finally:
            self.index.complete = self._watching = False
            with suppress(Exception):
                await watch.stop()

    # The watch's follower (see key_watch): only this adapter writes the bucket.

    def echo(self, key: str, value: bytes) -> bool:
        """Our own write shown back: it is stored (the ack), and the index has it already."""
        unseen = self._unseen.get(key)
        if unseen is None or unseen[0].encode() != value:
            return False
        del self._unseen[key]
        return True

    def changed(self, key: str, value: bytes | None, stamp: float) -> None:
        with suppress(ValueError):  # not a key this adapter wrote
            digest = self._digest(key)
            if value is None:
                self.index.discard(digest)
            else:
                self.index.add(digest, value.decode(), stamp)
                self._unseen.pop(key, None)  # stored: the ack of our own write

    def caught_up(self) -> None:
        self.index.complete = True


def resend_after(sent: int) -> float:
    """Seconds until a key published `sent` times before is published again if unseen."""
    return min(CONFIRM_SECONDS * 2**sent, RESEND_MAX_SECONDS)
